"""The users' layouts (issue 12): every conf/examples/*.conf started as it is in a real apache2,
in the harness's layout and in Debian's stock layout (example_layouts.py), in front of Tomcats
node1..node4 as the examples describe them; requests go through and sessions stick. Then two
front ends on the active/active example: sessions made through A (event MPM) are followed
through B (prefork) and back, and land on the same Tomcat every time, with no state shared.
"""
from __future__ import annotations

import re
from pathlib import Path
from typing import Dict, List, Optional, Sequence, Tuple

import pytest

import balancer_api as bapi
import example_layouts as ex
import stack as stk
from httpc import get

pytestmark = pytest.mark.idmbalance_only

EXAMPLES = ("two-tomcats.conf", "operator-selfservice.conf", "active-active.conf")
SESSIONS = 12
FOLLOW_ROUNDS = 3


@pytest.fixture(scope="module")
def examples_work():
    work = stk.run_dir("examples-work")
    stk.mkdirs(work)
    stk.kill_leftovers(work)
    return work


@pytest.fixture(scope="module")
def tomcats(examples_work):
    ts = ex.example_tomcats(examples_work, ("node1", "node2", "node3", "node4"))
    try:
        stk.start_tomcats(ts)
        yield ts
    finally:
        for t in ts:
            t.stop()


def started(layout: str, work: Path, tomcats, name: str, mpm: str = "event", tag: str = "") -> stk.Httpd:
    port = stk.free_port()
    text = ex.substitute(ex.example_text(name), ex.ajp_ports(tomcats), port)
    root = work / f"httpd-{layout}-{Path(name).stem}{tag}"
    module = stk.module_from_env("idmbalance")
    if layout == "private":
        h = ex.private_httpd(root, port, module, text, mpm=mpm)
    else:
        site = "<VirtualHost" in text
        h = ex.stock_httpd(root, port, module, text, kind="sites" if site else "conf",
                           name="idm.conf" if site else "idmbalance-app.conf", mpm=mpm)
    return ex.start_checked(h)


def echo(port: int, path: str, host: Optional[str] = None, sid: Optional[str] = None) -> dict:
    headers = {}
    if host:
        headers["Host"] = host
    if sid:
        headers["Cookie"] = f"JSESSIONID={sid}"
    r = get(port, path, headers=headers)
    assert r.status == 200, (port, host, path, r)
    return r.json()


def new_sessions(port: int, prefix: str, routes: Sequence[str], host: Optional[str] = None,
                 n: int = SESSIONS) -> List[Tuple[str, str]]:
    """n new sessions; each on one of `routes`, together on all of them."""
    out = []
    for i in range(n):
        js = echo(port, f"{prefix}/echo?session=1&n={i}", host)
        sid, route = js["sessionId"], js["route"]
        assert route in routes, f"{prefix} on {host}: new session on {route}, not one of {routes}"
        assert sid.endswith("." + route), js
        out.append((sid, route))
    got = sorted({r for _, r in out})
    assert got == sorted(routes), f"{n} new sessions went to {got}, not to every one of {routes}"
    return out


def follow(port: int, prefix: str, sessions, host: Optional[str] = None) -> None:
    """Each session's requests go to its own Tomcat, which knows the session."""
    for sid, route in sessions:
        js = echo(port, f"{prefix}/echo?session=1", host, sid)  # an unknown id would get a new one
        assert js["route"] == route, f"session {sid} went to {js['route']} through port {port}"
        assert js["requestedSessionId"] == sid and js["sessionId"] == sid, js


def check_app(port: int, prefix: str, routes: Sequence[str], host: Optional[str] = None):
    sessions = new_sessions(port, prefix, routes, host)
    for _ in range(FOLLOW_ROUNDS):
        follow(port, prefix, sessions, host)
    return sessions


def test_examples_are_substituted_in_addresses_only():
    ports = {name: 20000 + i for i, name in enumerate(ex.EXAMPLE_AJP_PORTS)}
    allowed = re.compile(r"^\s*(IdmMember \S+ +ajp://127\.0\.0\.1:\d+.*|<VirtualHost \*:\d+>)$")
    for name in EXAMPLES:
        text = ex.example_text(name)
        assert "Tested as it is by tests/integration/test_examples.py" in text, name
        assert "LoadModule" not in re.sub(r"#.*", "", text), f"{name}: a2enmod loads the module"
        changed = ex.changed_lines(text, ex.substitute(text, ports, 1234))
        assert changed, name
        assert all(allowed.match(line) for line in changed), (name, changed)


@pytest.mark.parametrize("layout", ["private", "stock"])
def test_two_tomcats(layout, examples_work, tomcats):
    h = started(layout, examples_work, tomcats, "two-tomcats.conf")
    try:
        check_app(h.port, "/app", ["node1", "node2"])
        # The unmount holds: httpd serves /app/static/ itself (nothing there: 404, no Tomcat).
        r = get(h.port, "/app/static/x.txt")
        assert r.status == 404 and b"route" not in r.body, r
        assert bapi.snapshot(h.port)["balancers"][0]["name"] == "app"
    finally:
        h.stop()


OPERATOR = "operator.example.org"
SELFSERVICE = "selfservice.example.org"


@pytest.mark.parametrize("layout", ["private", "stock"])
def test_operator_selfservice(layout, examples_work, tomcats):
    h = started(layout, examples_work, tomcats, "operator-selfservice.conf")
    try:
        check_app(h.port, "/operator", ["node1", "node2"], OPERATOR)
        check_app(h.port, "/selfservice", ["node3", "node4"], SELFSERVICE)
        # Mounts are per virtual host: neither application through the other's name, nor,
        # in the stock layout, through the default host 000-default (in the private layout
        # the first of the example's vhosts is the default one, as httpd makes it).
        wrong = [(OPERATOR, "/selfservice/echo"), (SELFSERVICE, "/operator/echo")]
        if layout == "stock":
            wrong += [("127.0.0.1", "/operator/echo"), ("127.0.0.1", "/selfservice/echo")]
        for host, path in wrong:
            r = get(h.port, path, headers={"Host": host})
            assert r.status == 404 and b'"route"' not in r.body, (host, path, r)
        snap = bapi.snapshot(h.port)
        methods = {b["name"]: b["method"] for b in snap["balancers"]}
        assert methods == {"operator": "busyness", "selfservice": "requests"}, methods
        members = {b["name"]: sorted(m["name"] for m in b["members"]) for b in snap["balancers"]}
        assert members == {"operator": ["node1", "node2"], "selfservice": ["node3", "node4"]}
        mounts = {b["name"]: b["mounts"] for b in snap["balancers"]}
        assert mounts["operator"] == ["<Location /operator>"], mounts
        # The <Location> mount covers the section's path and below it, not a longer name.
        r = get(h.port, "/operatorx/echo", headers={"Host": OPERATOR})
        assert r.status == 404 and b'"route"' not in r.body, r
    finally:
        h.stop()


@pytest.mark.parametrize("layout", ["private", "stock"])
def test_active_active_one_front_end(layout, examples_work, tomcats):
    h = started(layout, examples_work, tomcats, "active-active.conf")
    try:
        check_app(h.port, "/app", ["node1", "node2"])
    finally:
        h.stop()


# ---------------------------------------------------------------------------------------------
# Two front ends, one config


@pytest.fixture(scope="module")
def two_front_ends(examples_work, tomcats):
    a = started("private", examples_work, tomcats, "active-active.conf", mpm="event", tag="-a")
    try:
        b = started("private", examples_work, tomcats, "active-active.conf", mpm="prefork", tag="-b")
    except BaseException:
        a.stop()
        raise
    try:
        yield a, b
    finally:
        b.stop()
        a.stop()


def shared_mappings(h: stk.Httpd) -> Dict[int, set]:
    """Per child: the inodes of its shared anonymous mappings (apr_shm without a file)."""
    out = {}
    for pid in h.children():
        try:
            maps = Path(f"/proc/{pid}/maps").read_text()
        except OSError:
            continue
        out[pid] = {int(line.split()[4]) for line in maps.splitlines()
                    if line.split()[1].endswith("s") and ("/dev/zero" in line or "SYSV" in line)}
    return out


def run_paths(h: stk.Httpd) -> Dict[str, str]:
    text = h.conf_path.read_text()
    return {d: re.search(rf"^{d}\s+(\S+)", text, re.M).group(1) for d in ("PidFile", "Mutex", "DefaultRuntimeDir")}


def app_requests(port: int) -> int:
    return sum(m["requests"] for m in bapi.members_of(bapi.snapshot(port), "app").values())


def test_two_front_ends_route_every_session_alike(two_front_ends):
    a, b = two_front_ends
    assert a.config.mpm == "event" and b.config.mpm == "prefork"
    assert a.conf_path.read_text().count("mpm_event") and b.conf_path.read_text().count("mpm_prefork")
    # Nothing in common: pid file, mutexes and run dir, and the table's shared memory.
    pa, pb = run_paths(a), run_paths(b)
    assert all(pa[k] != pb[k] for k in pa), (pa, pb)
    ma, mb = shared_mappings(a), shared_mappings(b)
    assert ma and mb, "no httpd children to look at"
    seg_a, seg_b = set.intersection(*ma.values()), set.intersection(*mb.values())
    assert seg_a and seg_b, f"no shared mapping common to all children: {ma} {mb}"
    assert not (set.union(*ma.values()) & set.union(*mb.values())), (ma, mb)
    before_b = app_requests(b.port)

    sessions = new_sessions(a.port, "/app", ["node1", "node2"], n=16)
    assert app_requests(b.port) == before_b, "front end B counted A's requests: a shared table?"
    for _ in range(FOLLOW_ROUNDS):
        follow(b.port, "/app", sessions)
        follow(a.port, "/app", sessions)
    assert app_requests(b.port) == before_b + FOLLOW_ROUNDS * len(sessions)
    # And the other way round: sessions new on B stick through A.
    back = new_sessions(b.port, "/app", ["node1", "node2"], n=8)
    follow(a.port, "/app", back)
    follow(b.port, "/app", back)
