"""The apache2 process: Debian's binary with a private ServerRoot, started, restarted and
stopped; which front end and module to use; the sanitizer runtime for an instrumented module.

Part of the integration harness (stack.py re-exports every name). Stdlib only.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Dict, List, Optional

from httpd_conf import HttpdConfig
from procs import (all_pids, pid_alive, pids_with_arg, port_open, proc_cmdline, proc_ppid,
                   terminate_pids, wait_for)
from workdirs import REPO, file_size, mkdirs, run_dir, tail

APACHE_BIN = Path(os.environ.get("IDMB_APACHE2", "/usr/sbin/apache2"))
FRONTENDS = ("idmbalance", "proxy_ajp")


def frontend_from_env() -> str:
    fe = os.environ.get("IDMB_FRONTEND", "idmbalance").strip() or "idmbalance"
    if fe not in FRONTENDS:
        raise SystemExit(f"IDMB_FRONTEND={fe!r}: must be one of {', '.join(FRONTENDS)}")
    return fe


def module_from_env(frontend: str, required: bool = True) -> Optional[Path]:
    """The mod_idmbalance.so to load; error out clearly when it is needed and missing."""
    if frontend != "idmbalance":
        return None
    m = os.environ.get("IDMB_MODULE")
    if not m:
        guess = REPO / "build" / "mod_idmbalance" / "mod_idmbalance.so"
        if not required and guess.exists():
            return guess
        raise RuntimeError(
            "IDMB_MODULE is not set: point it at the built mod_idmbalance.so "
            "(or set IDMB_FRONTEND=proxy_ajp to run the suite against mod_proxy_ajp)")
    p = Path(m).resolve()
    if not p.is_file():
        raise RuntimeError(f"IDMB_MODULE={m}: no such file")
    return p


# A module built with -DIDMB_SANITIZE=ON (build-asan/, tests/sanitize/run.sh) needs libasan
# loaded first: apache2 is not instrumented, so the runtime is preloaded into it. conftest.py
# (SanitizerWatch) fails the session on any report in sanitizer_log_dir() or the error logs.

def sanitizer_runtime(module: Optional[Path]) -> Optional[str]:
    """The libasan.so.N that `module` links (GCC's -fsanitize=address), as ldd resolves it;
    None for an uninstrumented module or none (mod_proxy_ajp)."""
    if module is None:
        return None
    r = subprocess.run(["ldd", str(module)], capture_output=True, text=True, timeout=30)
    for line in r.stdout.splitlines():
        name, _, where = line.strip().partition(" => ")
        if name.startswith("libasan.so"):
            path = where.split(" (")[0].strip()
            if not path.startswith("/"):
                raise RuntimeError(f"{module} needs {name}, not found: {line.strip()}")
            return path
    return None


def sanitizer_log_dir() -> Path:
    """Where the sanitizers in our apache2 processes write reports (asan.PID, ubsan.PID). Owned
    by www-data: the children run as www-data, and ASan opens the file when it reports."""
    d = run_dir("sanitizer") / "reports"
    d.mkdir(exist_ok=True)
    shutil.chown(d, "www-data", "www-data")
    os.chmod(d, 0o770)
    return d


def apache_env(module: Optional[Path]) -> Optional[Dict[str, str]]:
    """apache2's environment: ours, plus the sanitizer runtime and options for a sanitized
    module (None, i.e. inherit ours, otherwise). The caller's ASAN_OPTIONS/UBSAN_OPTIONS come
    last, so they override these."""
    runtime = sanitizer_runtime(module)
    if not runtime:
        return None
    logs = sanitizer_log_dir()
    env = dict(os.environ)
    env["LD_PRELOAD"] = " ".join(filter(None, [runtime, env.get("LD_PRELOAD")]))
    # detect_leaks=0: httpd's processes exit holding memory on purpose (the process and config
    # pools, APR's allocator free lists, OpenSSL's globals), which LeakSanitizer would report as
    # leaks that are not ours. The unit tests (build-asan ctest -L unit) keep leak checks.
    # log_path: one file per process (asan.PID), kept apart from the error log. UBSan (GCC 12)
    # writes to stderr, i.e. the error log, all the same: libubsan's __sanitizer_set_report_path
    # call binds to the preloaded libasan's. Its reports there have no stack trace either: a
    # child is not dumpable after setuid(), so libubsan cannot read /proc/self/maps.
    # halt_on_error/abort_on_error: a report ends the process (SIGABRT).
    env["ASAN_OPTIONS"] = ":".join(filter(None, [
        "detect_leaks=0", "halt_on_error=1", "abort_on_error=1", f"log_path={logs}/asan",
        env.get("ASAN_OPTIONS")]))
    env["UBSAN_OPTIONS"] = ":".join(filter(None, [
        "print_stacktrace=1", "halt_on_error=1", "abort_on_error=1", f"log_path={logs}/ubsan",
        env.get("UBSAN_OPTIONS")]))
    return env


class Httpd:
    """Debian's apache2 binary with a private ServerRoot and our generated config."""

    def __init__(self, config: HttpdConfig):
        self.config = config
        self.root = config.root.resolve()
        self.conf_path = self.root / "conf" / "httpd.conf"

    @property
    def port(self) -> int:
        return self.config.port

    @property
    def error_log(self) -> Path:
        return self.root / "logs" / "error.log"

    @property
    def access_log(self) -> Path:
        return self.root / "logs" / "access.log"

    @property
    def pidfile(self) -> Path:
        return self.root / "run" / "httpd.pid"

    @property
    def jk_log(self) -> Path:
        """mod_jk's own log (the jk front end)."""
        return self.config.jk_log_path

    def url(self, path: str = "/") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def log_files(self) -> List[Path]:
        return [self.error_log, self.access_log]

    def write(self, text: Optional[str] = None) -> Path:
        mkdirs(self.root, self.root / "conf", self.root / "logs", self.root / "run",
               self.root / "htdocs")
        self.conf_path.write_text(text if text is not None else self.config.render())
        for path, body in self.config.files().items():
            path.write_text(body)
        return self.conf_path

    def _cmd(self, *args: str, conf: Optional[Path] = None) -> List[str]:
        return [str(APACHE_BIN), "-d", str(self.root), "-f", str(conf or self.conf_path), *args]

    def _env(self) -> Optional[Dict[str, str]]:
        return apache_env(self.config.module)

    def write_checked(self) -> "Httpd":
        """Writes the config and fails (RuntimeError) unless `apache2 -t` accepts it."""
        self.write()
        r = self.configtest()
        if r.returncode != 0:
            raise RuntimeError(f"apache2 -t failed:\n{r.stdout}{r.stderr}")
        return self

    def configtest(self, text: Optional[str] = None) -> subprocess.CompletedProcess:
        """`apache2 -t` on our config (or on `text`, written to a separate file)."""
        conf = self.conf_path
        if text is not None:
            mkdirs(self.root / "conf", self.root / "logs", self.root / "run")
            conf = self.root / "conf" / "configtest.conf"
            conf.write_text(text)
        return subprocess.run(self._cmd("-t", conf=conf), capture_output=True, text=True,
                              timeout=60, env=self._env())

    def main_pid(self) -> Optional[int]:
        try:
            pid = int(self.pidfile.read_text().strip())
        except (OSError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    def children(self) -> List[int]:
        main = self.main_pid()
        if not main:
            return []
        return [p for p in all_pids() if proc_ppid(p) == main]

    def is_running(self) -> bool:
        return self.main_pid() is not None

    def start(self, timeout: float = 30.0) -> "Httpd":
        if not self.conf_path.exists():
            self.write()
        if self.is_running():
            raise RuntimeError(f"httpd already running in {self.root}")
        try:
            self.pidfile.unlink()
        except FileNotFoundError:
            pass
        offset = file_size(self.error_log)
        r = subprocess.run(self._cmd("-k", "start"), capture_output=True, text=True, timeout=60,
                           env=self._env())
        if r.returncode != 0:
            raise RuntimeError(f"apache2 -k start failed (rc={r.returncode}):\n{r.stdout}{r.stderr}\n"
                               + tail(self.error_log, 30, offset))

        def ready():
            if self.main_pid() and port_open(self.port):
                return True
            if self.pidfile.exists() and not self.main_pid():
                raise RuntimeError("httpd exited during start-up:\n" + tail(self.error_log, 30, offset))
            return False
        try:
            wait_for(ready, timeout, 0.1, "httpd to start")
        except TimeoutError:
            raise TimeoutError("httpd did not start:\n" + tail(self.error_log, 30, offset))
        for v in self.config.vhosts:
            wait_for(lambda: port_open(v.port), timeout, 0.1, f"httpd port {v.port}")
        return self

    def graceful(self, timeout: float = 30.0) -> None:
        """apache2 -k graceful; waits until the new generation logs 'resuming normal operations'."""
        marker = "resuming normal operations"
        before = tail(self.error_log, 100000).count(marker)
        r = subprocess.run(self._cmd("-k", "graceful"), capture_output=True, text=True, timeout=60,
                           env=self._env())
        if r.returncode != 0:
            raise RuntimeError(f"apache2 -k graceful failed:\n{r.stdout}{r.stderr}")
        wait_for(lambda: tail(self.error_log, 100000).count(marker) > before, timeout, 0.1,
                 "httpd graceful restart")
        wait_for(lambda: port_open(self.port), timeout, 0.1, "httpd port after graceful")

    def stop(self, timeout: float = 15.0) -> None:
        main = self.main_pid()
        kids = self.children()
        if main:
            subprocess.run(self._cmd("-k", "stop"), capture_output=True, text=True, timeout=60,
                           env=self._env())
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline and pid_alive(main):
                time.sleep(0.1)
        # Whatever is left (main and children, found by our private ServerRoot path).
        left = set(kids) | set(pids_with_arg(str(self.root)))
        left = {p for p in left if pid_alive(p) and str(self.root) in " ".join(proc_cmdline(p))}
        if left:
            terminate_pids(left, 5)

    def describe(self) -> dict:
        return {"pid": self.main_pid(), "port": self.port, "root": str(self.root),
                "conf": str(self.conf_path), "vhost_ports": [v.port for v in self.config.vhosts]}

