"""idmbalance-migrate as a command: usage, exit codes, FILE:LINE messages (no servers)."""
import subprocess
from pathlib import Path

import pytest

import migrate_setup as ms

TOOL = ms.migrate_tool()
pytestmark = pytest.mark.skipif(not TOOL.exists(), reason=f"{TOOL} is not built")


def run(*args):
    return subprocess.run([str(TOOL), *args], capture_output=True, text=True, timeout=60)


def test_usage_and_version():
    assert run().returncode == 2
    bad = run("--frobnicate", "x.conf")
    assert bad.returncode == 2 and "unknown option --frobnicate" in bad.stderr
    assert run("--workers").returncode == 2
    v = run("--version")
    assert v.returncode == 0 and v.stdout.startswith("idmbalance-migrate ")


def test_exit_1_with_file_and_line(tmp_path: Path):
    missing = run(str(tmp_path / "none.conf"))
    assert missing.returncode == 1 and "none.conf: error: cannot read" in missing.stderr
    conf = tmp_path / "httpd.conf"
    conf.write_text("# x\nJkWorkersFile workers.properties\n")
    (tmp_path / "workers.properties").write_text("worker.list=lb\nnot a property\n")
    bad = run("--server-root", str(tmp_path), str(conf))
    assert bad.returncode == 1
    assert f"{tmp_path}/workers.properties:2: error:" in bad.stderr
    assert bad.stdout == ""


def test_exit_0_with_warnings(tmp_path: Path):
    conf = tmp_path / "httpd.conf"
    conf.write_text("JkWorkersFile w.properties\nJkMount /app/* lb\nJkAutoAlias /srv\n")
    (tmp_path / "w.properties").write_text(
        "worker.list=lb\nworker.t1.port=8009\nworker.t1.socket_keepalive=1\n"
        "worker.lb.type=lb\nworker.lb.balance_workers=t1\n")
    done = run("--server-root", str(tmp_path), str(conf))
    assert done.returncode == 0, done.stderr
    assert "IdmMount /app/* lb" in done.stdout
    assert f"{tmp_path}/w.properties:3: warning: worker.t1.socket_keepalive" in done.stderr
    assert f"{conf}:3: warning: JkAutoAlias" in done.stderr
