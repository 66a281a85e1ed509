"""idmbalancectl (tools/idmbalancectl) against two real front ends and one that is down (issue 12).

Two httpds of this module's own on the session's Tomcats, with the same balancers: `ctl` (t1+t2,
/app/*) and `ctl2` (t2 only, /escaped/*), so t1 names one member and t2 two. Front end B's
manager wants Basic auth (the harness's htpasswd user); its read-only status page does not,
and the tests read both front ends' tables from there. The third URL is a port nothing
listens on. The tool runs as a command, as an operator or a deploy script runs it.
"""
from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from typing import Dict, List, Optional

import pytest

import balancer_api as bapi
import stack as stk
from conftest import _members
from httpc import get

pytestmark = pytest.mark.idmbalance_only

TOOL = stk.REPO / "tools" / "idmbalancectl" / "idmbalancectl"
USER = f"{stk.HTPASSWD_USER}:{stk.HTPASSWD_PASSWORD}"


def manager_conf(auth_file: Optional[str]) -> str:
    require = "Require ip 127.0.0.1"
    if auth_file:
        require = (f'AuthType Basic\n    AuthName "idmb manager"\n    AuthBasicProvider file\n'
                   f'    AuthUserFile "{auth_file}"\n    Require valid-user')
    return (f"IdmDrainQuietTime {int(bapi.DRAIN_QUIET_S * 1000)}ms\n"
            f'<Location "{bapi.STATUS_PATH}">\n    SetHandler idmbalance-status\n    Require ip 127.0.0.1\n</Location>\n'
            f'<Location "{bapi.MANAGER_PATH}">\n    SetHandler idmbalance-manager\n    {require}\n</Location>\n')


@pytest.fixture(scope="module")
def fronts(stack):
    htpasswd = stk.write_htpasswd(stack.workdir / "htpasswd-ctl", {stk.HTPASSWD_USER: stk.HTPASSWD_PASSWORD})
    started: List[stk.Httpd] = []
    try:
        for name, auth in (("a", None), ("b", str(htpasswd))):
            balancers = [stk.Balancer("ctl", _members(stack), connect_timeout="2s", extra="IdmSlowStart 0"),
                         stk.Balancer("ctl2", _members(stack, names=("t2",)), connect_timeout="2s")]
            cfg = stk.HttpdConfig(stack.workdir / f"httpd-ctl-{name}", stk.free_port(), stack.frontend,
                                  stack.module, balancers=balancers,
                                  mounts=[stk.Mount("/app/*", "ctl"), stk.Mount("/escaped/*", "ctl2")],
                                  extra=manager_conf(auth))
            started.append(stk.Httpd(cfg).write_checked().start())
        yield started
    finally:
        for h in started:
            h.stop()


def url(h: stk.Httpd) -> str:
    return f"http://127.0.0.1:{h.port}{bapi.MANAGER_PATH}"


@pytest.fixture(scope="module")
def down_url() -> str:
    return f"http://127.0.0.1:{stk.free_port()}{bapi.MANAGER_PATH}"


def ctl(*args: str, env: Optional[Dict[str, str]] = None, timeout: float = 60) -> subprocess.CompletedProcess:
    e = {k: v for k, v in os.environ.items() if not k.startswith("IDMBALANCECTL_")}
    e.update(env or {})
    return subprocess.run(["/usr/bin/python3", str(TOOL), *args], capture_output=True, text=True,
                          timeout=timeout, env=e)


def both(fronts, *args: str, **kw) -> subprocess.CompletedProcess:
    return ctl("--user", USER, "-f", url(fronts[0]), "-f", url(fronts[1]), *args, **kw)


def member(h: stk.Httpd, balancer: str, name: str) -> dict:
    return bapi.members_of(bapi.snapshot(h.port, manager=False), balancer)[name]


@pytest.fixture(autouse=True)
def restored(fronts):
    """Every member active with factor 1 on both front ends after each test."""
    yield
    r = both(fronts, "activate", "ctl/t1")
    r2 = both(fronts, "activate", "ctl/t2")
    r3 = both(fronts, "factor", "ctl/t2", "1")
    assert r.returncode == r2.returncode == r3.returncode == 0, r.stderr + r2.stderr + r3.stderr


def test_status_of_two_front_ends_and_one_down(fronts, down_url):
    r = ctl("--user", USER, "-f", url(fronts[0]), "-f", url(fronts[1]), "-f", down_url, "status")
    assert r.returncode == 1, r
    assert f"idmbalancectl: {down_url}: unreachable" in r.stderr, r.stderr
    assert f"front end #3: {down_url}  ERROR unreachable" in r.stdout, r.stdout
    rows = [line.split() for line in r.stdout.splitlines()]
    ctl_t1 = [i for i, row in enumerate(rows) if row[:3] == ["ctl", "t1", "#1"]]
    assert ctl_t1 and rows[ctl_t1[0] + 1][0] == "#2", r.stdout
    assert "all front ends agree" in r.stdout


def test_status_json_and_differences(fronts):
    r = both(fronts, "status", "--json")
    assert r.returncode == 0, r.stderr
    js = json.loads(r.stdout)
    assert js["ok"] is True and [f["url"] for f in js["frontends"]] == [url(fronts[0]), url(fronts[1])]
    keys = [(m["balancer"], m["member"]) for m in js["members"]]
    assert keys == [("ctl", "t1"), ("ctl", "t2"), ("ctl2", "t2")], keys
    assert all(not m["differs"] for m in js["members"])
    # A change on A only: the table marks it.
    assert ctl("-f", url(fronts[0]), "disable", "t1").returncode == 0
    r = both(fronts, "status")
    assert r.returncode == 0 and "1 member(s) differ between front ends (marked !)" in r.stdout, r.stdout
    marked = [line for line in r.stdout.splitlines() if line.startswith("!")]
    assert len(marked) == 1 and "disabled !" in marked[0] and " t1 " in marked[0], r.stdout


def test_actions_reach_every_front_end(fronts):
    for action, activation in (("stop", "stopped"), ("standby", "standby"), ("disable", "disabled"),
                               ("activate", "active")):
        r = both(fronts, action, "t1")
        assert r.returncode == 0, (action, r.stderr)
        for h in fronts:
            assert member(h, "ctl", "t1")["activation"] == activation, (action, h.port)
        assert r.stdout.count("ctl/t1:") == 2, r.stdout
    r = both(fronts, "factor", "ctl/t2", "5")
    assert r.returncode == 0, r.stderr
    assert [member(h, "ctl", "t2")["factor"] for h in fronts] == [5, 5]
    assert [member(h, "ctl2", "t2")["factor"] for h in fronts] == [1, 1]
    for action in ("reset", "recover"):
        assert both(fronts, action, "ctl/t1").returncode == 0
    assert [member(h, "ctl", "t1")["requests"] for h in fronts] == [0, 0]


def test_one_front_end_down_or_refusing(fronts, down_url):
    r = ctl("--user", USER, "-f", url(fronts[0]), "-f", down_url, "-f", url(fronts[1]), "disable", "t1")
    assert r.returncode == 1
    assert f"idmbalancectl: {down_url}: unreachable" in r.stderr, r.stderr
    # The front ends that answered took the change all the same.
    assert [member(h, "ctl", "t1")["activation"] for h in fronts] == ["disabled", "disabled"]
    # Without credentials B refuses (401) and says so; A still changes.
    r = ctl("-f", url(fronts[0]), "-f", url(fronts[1]), "activate", "t1")
    assert r.returncode == 1 and f"{url(fronts[1])}: HTTP 401" in r.stderr, r.stderr
    assert [member(h, "ctl", "t1")["activation"] for h in fronts] == ["active", "disabled"]
    # Credentials in the URL work like --user, and are never printed.
    b = url(fronts[1]).replace("http://", f"http://{stk.HTPASSWD_USER}:wonder%20land@")
    r = ctl("-f", b, "activate", "t1")
    assert r.returncode == 0 and "wonder" not in r.stdout + r.stderr, r
    assert member(fronts[1], "ctl", "t1")["activation"] == "active"


def test_ambiguous_unknown_and_status_page(fronts):
    before = [bapi.table_state(bapi.snapshot(h.port, manager=False)) for h in fronts]
    r = both(fronts, "stop", "t2")
    assert r.returncode == 1 and r.stderr.count("member 't2' is in balancers ctl, ctl2") == 2, r.stderr
    r = both(fronts, "stop", "ctl2/t1")
    assert r.returncode == 1 and "balancer 'ctl2' has no member 't1'" in r.stderr, r.stderr
    status_url = f"http://127.0.0.1:{fronts[0].port}{bapi.STATUS_PATH}"
    r = ctl("-f", status_url, "stop", "t1")
    assert r.returncode == 1 and "not the manager" in r.stderr, r.stderr
    assert [bapi.table_state(bapi.snapshot(h.port, manager=False)) for h in fronts] == before


def test_front_ends_from_config_file_and_environment(fronts, tmp_path):
    conf = tmp_path / "frontends"
    conf.write_text(f"# our two front ends\n{url(fronts[0])}\n{url(fronts[1])}  # b\n")
    r = ctl("--user", USER, "--config", str(conf), "status")
    assert r.returncode == 0 and f"front end #2: {url(fronts[1])}" in r.stdout, r
    r = ctl("--user", USER, "status", env={"IDMBALANCECTL_FRONTENDS": f"{url(fronts[0])},{url(fronts[1])}"})
    assert r.returncode == 0 and f"front end #2: {url(fronts[1])}" in r.stdout, r
    r = ctl("status")
    assert r.returncode == 2 and "no front end" in r.stderr


def test_drain_wait_then_activate(fronts):
    a, b = fronts
    sid, route = bapi.new_session(a.port)
    t0 = time.monotonic()
    r = both(fronts, "drain", "ctl/t1", "--wait", "--timeout", "30", "--interval", "0.5")
    took = time.monotonic() - t0
    assert r.returncode == 0, r.stderr
    assert "t1 drained on every front end" in r.stdout, r.stdout
    for h in fronts:
        m = member(h, "ctl", "t1")
        assert m["activation"] == "disabled" and m["drained"] is True, (h.port, m)
    assert took < 30
    # Drained, not cut off: a session on t1 still reaches t1; new sessions go to t2 only.
    if route == "t1":
        js = bapi.echo_route(b.port, "/app/echo", {"Cookie": f"JSESSIONID={sid}"})
        assert js["route"] == "t1"
    for h in fronts:
        assert {bapi.new_session(h.port)[1] for _ in range(4)} == {"t2"}
    r = both(fronts, "activate", "ctl/t1")
    assert r.returncode == 0
    assert [member(h, "ctl", "t1")["activation"] for h in fronts] == ["active", "active"]


def test_drain_times_out_while_a_session_is_in_use(fronts):
    a, _ = fronts
    for _ in range(6):
        sid, route = bapi.new_session(a.port)
        if route == "t1":
            break
    assert route == "t1", "no session on t1 in 6 tries"
    stop = threading.Event()

    def keep_using():  # a user still working on t1 through front end A, at most 20 s
        deadline = time.monotonic() + 20
        while not stop.is_set() and time.monotonic() < deadline:
            get(a.port, "/app/echo", headers={"Cookie": f"JSESSIONID={sid}"})
            stop.wait(0.3)
    th = threading.Thread(target=keep_using)
    th.start()
    try:
        r = both(fronts, "drain", "t1", "--wait", "--timeout", "4", "--interval", "0.5")
    finally:
        stop.set()
        th.join(30)
    assert r.returncode == 3, (r.returncode, r.stderr)
    assert f"idmbalancectl: {url(a)}: not drained after 4s" in r.stderr, r.stderr
    assert f"{url(fronts[1])}: not drained" not in r.stderr, r.stderr
