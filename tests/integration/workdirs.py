"""Where the test servers' files go (run_dir, outside the checkout), and reading them back.

Part of the integration harness (stack.py re-exports every name). Stdlib only.
"""
from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent

RUN_ROOT = Path("/tmp/idmbalance-run")  # not $TMPDIR: it may be private too


def run_dir(name: str) -> Path:
    """A directory for the servers' files (configs, htdocs, htpasswd, logs, CATALINA_BASE).

    apache2's children run as www-data, and a checkout may sit where www-data cannot go (a clone
    in /root is mode 0700), so these files never live in the checkout: they go to
    /tmp/idmbalance-run/<build dir digest>/<name>, one per build tree, each level mode 0755 and
    owned by us (a directory someone else made there is refused, not used).
    """
    build = os.environ.get("IDMB_BUILD_DIR")
    tree = str(Path(build).resolve()) if build else str(REPO)
    digest = hashlib.sha256(tree.encode()).hexdigest()[:12]
    path = RUN_ROOT / digest / name
    for p in (RUN_ROOT, RUN_ROOT / digest, path):
        p.mkdir(exist_ok=True)
        st = os.lstat(p)
        if not stat.S_ISDIR(st.st_mode) or st.st_uid != os.getuid():
            raise RuntimeError(f"{p} is not a directory of ours: remove it")
        os.chmod(p, 0o755)
    return path


def default_workdir() -> Path:
    return run_dir("integration-work")


def mkdirs(*paths: Path, mode: int = 0o755) -> None:
    for p in paths:
        p.mkdir(parents=True, exist_ok=True)
        os.chmod(p, mode)


def tail(path: Path, lines: int = 60, since: int = 0) -> str:
    """The last `lines` lines of a file, starting no earlier than byte offset `since`."""
    try:
        with open(path, "rb") as f:
            f.seek(since)
            data = f.read()
    except OSError as e:
        return f"<cannot read {path}: {e}>"
    text = data.decode("utf-8", errors="replace").splitlines()
    return "\n".join(text[-lines:])


def file_size(path: Path) -> int:
    try:
        return path.stat().st_size
    except OSError:
        return 0

