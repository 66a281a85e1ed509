"""pytest fixtures: one stack per session (two Tomcats, a fake AJP backend, one httpd).

Run:  IDMB_MODULE=build/mod_idmbalance/mod_idmbalance.so python3 -m pytest -q tests/integration
      IDMB_FRONTEND=proxy_ajp python3 -m pytest -q tests/integration   (checks the tests)
Env:  IDMB_BUILD_DIR (artifacts in $IDMB_BUILD_DIR/artifacts; the servers' work dir is
      stack.run_dir("integration-work"), under /tmp/idmbalance-run),
      IDMB_MPM=event|worker|prefork (default event).
"""
from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

import balancer_api as bapi  # noqa: E402
import stack as stk  # noqa: E402
from fake_ajp import FakeAjp  # noqa: E402

FRONTEND = stk.frontend_from_env()
_STATE: Dict[str, object] = {}


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "idmbalance_only: runs only against mod_idmbalance (mod_proxy_ajp differs)")
    try:
        _STATE["module"] = stk.module_from_env(FRONTEND)
    except RuntimeError as e:
        raise pytest.UsageError(f"mod_idmbalance integration tests: {e}")
    if stk.sanitizer_runtime(_STATE["module"]):
        _STATE["sanitizers"] = SanitizerWatch(stk.sanitizer_log_dir())


class SanitizerWatch:
    """Sanitizer reports of our apache2 processes (a module built with -DIDMB_SANITIZE=ON, see
    stack.apache_env): ASan's files asan.PID in `reports`, and what went to the httpds' error
    logs (stderr): UBSan writes there whatever UBSAN_OPTIONS=log_path says, as libubsan's
    __sanitizer_set_report_path call binds to the preloaded libasan's. The test during which a
    report appears errors at teardown; any report fails the session (pytest_sessionfinish)."""

    SIGNS = re.compile(r"runtime error:|Sanitizer")

    def __init__(self, reports: Path):
        self.reports = reports
        self.top = stk.run_dir("sanitizer").parent  # this build dir's servers: */*/logs/
        for f in reports.iterdir():  # an earlier run's
            f.unlink()
        self.seen_files: set = set()
        self.offsets = {f: self._id_size(f) for f in self._error_logs()}
        self.found: List[str] = []  # every report of the session

    def _error_logs(self) -> List[Path]:
        return sorted(self.top.glob("*/*/logs/error.log"))

    @staticmethod
    def _id_size(f: Path):
        try:
            st = f.stat()
        except OSError:
            return (None, 0)
        return (st.st_ino, st.st_size)

    def collect(self) -> List[str]:
        """Reports since the last call (also kept in self.found)."""
        new = []
        for f in sorted(self.reports.iterdir()):
            if f not in self.seen_files:
                self.seen_files.add(f)
                new.append(f"===== {f}\n{f.read_text(errors='replace')}")
        for f in self._error_logs():
            ino, size = self._id_size(f)
            old_ino, start = self.offsets.get(f, (ino, 0))
            if ino != old_ino or size < start:  # a new log (a work dir made again)
                start = 0
            self.offsets[f] = (ino, size)
            lines = stk.tail(f, 1000000, start).splitlines()
            hits = [i for i, line in enumerate(lines) if self.SIGNS.search(line)]
            if hits:
                new.append(f"===== {f}\n" + "\n".join(lines[hits[0]:hits[-1] + 60]))
        self.found += new
        return new


@pytest.fixture(autouse=True)
def sanitizer_reports():
    watch: Optional[SanitizerWatch] = _STATE.get("sanitizers")
    if watch is None:
        yield
        return
    watch.collect()  # anything before this test fails the session, not this test
    yield
    new = watch.collect()
    if new:
        pytest.fail("sanitizer report(s) during this test:\n" + "\n".join(new), pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    watch: Optional[SanitizerWatch] = _STATE.get("sanitizers")
    if watch is not None:
        watch.collect()
        if watch.found:
            session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    watch: Optional[SanitizerWatch] = _STATE.get("sanitizers")
    if watch is not None and watch.found:
        terminalreporter.write_sep("=", f"{len(watch.found)} sanitizer report(s): the run fails",
                                   red=True, bold=True)
        terminalreporter.write_line("\n".join(watch.found))


def pytest_report_header(config):
    return [f"idmb front end: {FRONTEND}"
            + (f" (module {_STATE.get('module')})" if _STATE.get("module") else "")
            + (f"; sanitizer reports in {_STATE['sanitizers'].reports} and error logs"
               if _STATE.get("sanitizers") else "")]


def pytest_collection_modifyitems(config, items):
    if FRONTEND == "idmbalance":
        return
    skip = pytest.mark.skip(reason=f"idmbalance only (front end is {FRONTEND})")
    for item in items:
        if "idmbalance_only" in item.keywords:
            item.add_marker(skip)


class TestStack(stk.Stack):
    """The session's stack plus helpers the tests share."""

    fake: FakeAjp
    dead_port: int

    def member_log_id(self, member: str, port: int) -> str:
        """Regex for a member in the error log: our module logs its name, mod_proxy the URL."""
        if self.frontend == "idmbalance":
            return r"(?<![\w-])" + re.escape(member) + r"(?![\w-])"
        return re.escape(f"127.0.0.1:{port}")

    def children(self) -> List[int]:
        return self.httpd.children()


class LogMark:
    """Byte offsets of the log files at a point in time, to read what was written since."""

    def __init__(self, s: TestStack):
        self.stack = s
        self.files = [s.httpd.error_log, s.httpd.access_log] + [
            f for t in s.tomcats for f in (t.stdout_log, *sorted((t.base / "logs").glob("access*.log")))]
        self.offsets = {f: stk.file_size(f) for f in self.files}

    def error_log(self) -> str:
        f = self.stack.httpd.error_log
        return stk.tail(f, 100000, self.offsets.get(f, 0))

    def error_lines(self, pattern: str) -> List[str]:
        rx = re.compile(pattern)
        return [l for l in self.error_log().splitlines() if rx.search(l)]

    def tomcat_access(self) -> str:
        out = []
        for t in self.stack.tomcats:
            for f in sorted((t.base / "logs").glob("access*.log")):
                out.append(stk.tail(f, 100000, self.offsets.get(f, 0)))
        return "\n".join(out)

    def wait_tomcat_access(self, text: str, timeout: float = 5.0) -> bool:
        """Tomcat writes its access log line after the response: poll for it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if text in self.tomcat_access():
                return True
            time.sleep(0.05)
        return False

    def report(self, lines: int = 60) -> str:
        out = []
        for f in self.files:
            text = stk.tail(f, lines, self.offsets.get(f, 0))
            if text.strip():
                out.append(f"===== {f} (since test start, last {lines} lines)\n{text}")
        return "\n".join(out) or "(no log output during the test)"


@pytest.fixture(scope="session")
def fake():
    f = FakeAjp(secret=stk.DEFAULT_SECRET).start()
    yield f
    f.stop()


@pytest.fixture(scope="session")
def stack(fake):
    workdir = stk.default_workdir()
    dead_port = stk.free_port()  # nothing listens here: the `dead` balancer's member
    s = TestStack(workdir, FRONTEND, _STATE.get("module"), https=True, big_packets=True,
                  fake_port=fake.port, basic_auth=True, extra_ajp=1,
                  mpm=os.environ.get("IDMB_MPM", "event"))
    s.fake = fake
    s.dead_port = dead_port
    s.weighted_port, s.idm_port, s.mgr_port, s.limited_port = stk.free_ports(4)
    _STATE["stack"] = s
    orig_config = s.httpd_config

    def httpd_config(extra: str = "") -> stk.HttpdConfig:
        cfg = orig_config(extra)
        cfg.balancers.append(stk.Balancer("dead", [stk.Member("deadmember", dead_port,
                                                              secret=s.secret)],
                                          connect_timeout="1s"))
        cfg.mounts.append(stk.Mount("/dead/*", "dead"))
        # The fake backend again, with CPING before reusing a connection idle for 1 s.
        cfg.balancers.append(stk.Balancer("fping", [stk.Member("fakeping", fake.port,
                                                               secret=s.secret)],
                                          connect_timeout="2s", reply_timeout="5s",
                                          ping_timeout="1s", ping_after_idle="1s"))
        cfg.mounts.append(stk.Mount("/fping/*", "fping"))
        add_balancing_config(s, cfg)
        cfg.extra = (cfg.extra or "") + ACCESS_RULES
        return cfg
    s.httpd_config = httpd_config
    try:
        s.up()
    except BaseException:
        s.down()
        raise
    yield s
    _STATE.pop("stack", None)
    s.down()


# httpd access rules on mounted paths (test_access_rules.py; /app/secure/ needs Basic auth, see
# Stack), headers httpd sets there (test_connection_header.py) and a body limit (test_body_limit.py).
ACCESS_RULES = """
<Location "/app/admin">
    Require all denied
</Location>
<LocationMatch "^/app/lmadmin(/|$)">
    Require all denied
</LocationMatch>
<Location "/app/limited">
    LimitRequestBody 1000
</Location>
<Location "/app/hdr">
    RequestHeader set X-Forwarded-User "alice-from-httpd"
    RequestHeader set X-Trace "set-by-httpd"
</Location>
"""


# Balancers for the balancing, manager and browser tests (test_balancing.py, test_manager.py,
# test_browser.py). The webapp is deployed at /app (and /escaped) on both Tomcats, so each
# balancer gets its own vhost where /app/* is mounted on it.
XSS_MOUNT = "/xss/<script>alert('x')&\"</script>/*"


def balancing_ajp_port(t: stk.Tomcat) -> int:
    """The balancing tests' own AJP connector (Stack extra_ajp=1): their connection pools stay
    off the connector that `app` uses, whose connections test_connections.py counts."""
    return t.ajp[-1].port


def _members(s: stk.Stack, names=("t1", "t2"), factors: Optional[Dict[str, int]] = None):
    out = []
    for t in s.tomcats:
        if t.name in names:
            f = (factors or {}).get(t.name)
            out.append(stk.Member(t.name, balancing_ajp_port(t), route=t.route, secret=s.secret,
                                  extra=f"factor={f}" if f else ""))
    return out


def add_balancing_config(s: stk.Stack, cfg: stk.HttpdConfig) -> None:
    """weighted (t1 factor 3, t2 factor 1) on weighted_port; operator (t1+t2) on /app/* and
    selfservice (t2 only) on /escaped/* of idm_port; mgr (t1+t2) on mgr_port, with a mount
    pattern full of HTML metacharacters; the status/manager Locations; logs/balance.log."""
    # No slow start here: these tests re-activate members and then measure exact shares.
    steady = "IdmSlowStart 0"
    cfg.balancers += [
        stk.Balancer("weighted", _members(s, factors={"t1": 3, "t2": 1}), connect_timeout="2s",
                     extra=steady),
        stk.Balancer("operator", _members(s), connect_timeout="2s", extra=steady),
        stk.Balancer("selfservice", _members(s, names=("t2",)), connect_timeout="2s", extra=steady),
        stk.Balancer("mgr", _members(s), connect_timeout="2s", extra=steady),
    ]
    if s.frontend == "idmbalance":
        # One member that takes one request at a time, and waits at most 500 ms for a place.
        limited = _members(s, names=("t1",))
        limited[0].extra = (limited[0].extra + " max=1").strip()
        cfg.balancers.append(stk.Balancer("limited", limited, connect_timeout="2s",
                                          extra="IdmQueueTimeout 500ms"))
        cfg.vhosts.append(stk.VHost(s.limited_port, mounts=[stk.Mount("/app/*", "limited")],
                                    extra="TraceEnable Off"))
    mgr_mounts = [stk.Mount("/app/*", "mgr")]
    if s.frontend == "idmbalance":
        mgr_mounts.append(stk.Mount(XSS_MOUNT, "mgr"))
    cfg.vhosts += [
        stk.VHost(s.weighted_port, mounts=[stk.Mount("/app/*", "weighted")]),
        stk.VHost(s.idm_port, mounts=[stk.Mount("/app/*", "operator"),
                                      stk.Mount("/escaped/*", "selfservice")]),
        stk.VHost(s.mgr_port, mounts=mgr_mounts),
    ]
    extra = "\n" + bapi.route_log_conf()
    if s.frontend == "idmbalance":
        extra += bapi.status_conf()
    cfg.extra = (cfg.extra or "") + extra


@contextlib.contextmanager
def own_httpd(stack, name: str, balancer: stk.Balancer, extra: str = ""):
    """An httpd of a test module's own on the session's Tomcats: `balancer` mounted at /app/*,
    the status pages, anything in `extra`; stopped when the block ends."""
    cfg = stk.HttpdConfig(stack.workdir / f"httpd-{name}", stk.free_port(), stack.frontend, stack.module,
                          balancers=[balancer], mounts=[stk.Mount("/app/*", balancer.name)],
                          extra=bapi.status_conf() + extra)
    h = stk.Httpd(cfg).write_checked()
    h.start()
    try:
        yield h
    finally:
        h.stop()


@pytest.fixture(scope="session")
def prefork(stack):
    """A second httpd on the same Tomcats: prefork MPM with 8 children (StartServers,
    MinSpareServers 8), /app/* on balancer `app` (t1+t2), the status/manager pages and
    logs/balance.log."""
    port = stk.free_port()
    extra = bapi.route_log_conf()
    if stack.frontend == "idmbalance":
        extra += bapi.status_conf()
    cfg = stk.HttpdConfig(stack.workdir / "httpd-prefork", port, stack.frontend, stack.module,
                          mpm="prefork", start_servers=8,
                          balancers=[stk.Balancer("app", _members(stack), connect_timeout="2s")],
                          mounts=[stk.Mount("/app/*", "app")], extra=extra)
    h = stk.Httpd(cfg).write_checked()
    try:
        h.start()
        stk.wait_for(lambda: len(h.children()) >= 8, 20, 0.1, "8 prefork children")
        yield h
    finally:
        h.stop()


@pytest.fixture(autouse=True)
def logmark(stack, request) -> LogMark:
    """Log offsets at test start: failures print what the logs got during the test."""
    m = LogMark(stack)
    request.node._idmb_logmark = m
    return m


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed and rep.when in ("setup", "call"):
        s = _STATE.get("stack")
        mark: Optional[LogMark] = getattr(item, "_idmb_logmark", None)
        if s is not None:
            if mark is not None:
                rep.sections.append(("idmb logs", mark.report()))
            else:
                parts = [f"===== {f} (last 40 lines)\n{stk.tail(f, 40)}" for f in
                         [s.httpd.error_log] + [t.stdout_log for t in s.tomcats]]
                rep.sections.append(("idmb logs", "\n".join(parts)))
