"""IdmMount BALANCER inside <Location> and <LocationMatch> (issue 11), and httpd's access rules
in and around such sections.

One httpd of its own on the session's Tomcats: balancer `loc` is t1 alone and `srv` t2 alone,
so a response's route names the balancer that forwarded it. Main server:
    IdmMount /app/* srv, IdmUnmount /app/nofwd/* *         (server rules)
    <Location /app> IdmMount loc                            (wins over the server's /app/*)
    <Location /app/viasrv> IdmUnmount loc, <Location /app/static> IdmUnmount *
    <LocationMatch ^/escaped/(one|two)(/|$)> IdmMount srv
    Require all denied in <Location /app/admin>, <LocationMatch ^/app/lmadmin(/|$)> and
    <Location /escaped/one/admin>
The decision is made on the path Tomcat will serve (";x" dropped, "..;" resolved), by httpd's
own location walk on that path, so the sections that mount a request are the ones whose rules
judge it.
"""
from __future__ import annotations

import pytest

import balancer_api as bapi
import stack as stk
from conftest import _members
from httpc import get, request
from test_access_rules import SPELLINGS, spell

pytestmark = pytest.mark.idmbalance_only

STATIC = "static file served by httpd\n"

LOCATIONS = """
IdmMount /app/* srv
IdmUnmount /app/nofwd/* *
<Location /app>
    IdmMount loc
</Location>
<Location /app/viasrv>
    IdmUnmount loc
</Location>
<Location /app/static>
    IdmUnmount *
</Location>
<Location /app/admin>
    Require all denied
</Location>
<LocationMatch "^/app/lmadmin(/|$)">
    Require all denied
</LocationMatch>
<LocationMatch "^/escaped/(one|two)(/|$)">
    IdmMount srv
</LocationMatch>
<Location /escaped/one/admin>
    Require all denied
</Location>
"""


def _balancer(stack, name: str, member: str) -> stk.Balancer:
    return stk.Balancer(name, _members(stack, names=(member,)), connect_timeout="2s", extra="IdmSlowStart 0\n")


@pytest.fixture(scope="module")
def loc(stack):
    cfg = stk.HttpdConfig(stack.workdir / "httpd-locmount", stk.free_port(), stack.frontend, stack.module,
                          balancers=[_balancer(stack, "loc", "t1"), _balancer(stack, "srv", "t2")],
                          extra=bapi.status_conf() + LOCATIONS)
    h = stk.Httpd(cfg)
    h.write()
    static = h.root / "htdocs" / "app" / "static"
    stk.mkdirs(static)
    (static / "x.txt").write_text(STATIC)
    check = h.configtest()
    assert check.returncode == 0, check.stdout + check.stderr
    h.start()
    try:
        yield h
    finally:
        h.stop()


def served_by(port: int, path: str) -> str:
    """The Tomcat that answered (t1: balancer loc, t2: srv), or "httpd"."""
    r = get(port, path)
    if r.status == 200 and (r.header("content-type") or "").startswith("application/json"):
        return r.json()["route"]
    return "httpd"


@pytest.mark.parametrize("path,expected", [
    ("/app/echo", "t1"),                  # the Location's mount wins over the server's /app/*
    ("/app;x/echo", "t1"),                # Tomcat's /app/echo
    ("/app/x/..;/echo", "t1"),
    ("/app/viasrv/echo", "httpd"),        # unmounted in a later <Location>: no fallback to srv
    ("/app/nofwd/echo", "httpd"),         # the server's IdmUnmount * holds for a location mount
    ("/escaped/one/echo", "t2"),          # <LocationMatch> mount
    ("/escaped/two", "t2"),
    ("/escaped/%6fne/echo", "t2"),        # httpd decodes it before the walk: /escaped/one/echo
    ("/escaped/three/echo", "httpd"),     # not matched by the expression
    ("/escaped/three/..;/one/echo", "t2"),  # Tomcat's /escaped/one/echo: judged as that
    ("/escaped/one/..;/three/echo", "httpd"),  # Tomcat's /escaped/three/echo: not mounted
    ("/escaped/one;x/../three/echo", "httpd"),
])
def test_location_mounts_choose_the_balancer(loc, path, expected):
    assert served_by(loc.config.port, path) == expected, path


def test_unmounted_location_is_served_by_httpd(loc):
    r = get(loc.config.port, "/app/static/x.txt")
    assert r.status == 200 and r.body.decode() == STATIC, r


def test_escape_out_of_a_location_mount_never_reaches_tomcat(loc, logmark):
    tag = "locmount-escape"
    r = request(loc.config.port, "POST", f"/escaped/one/..;/three/echo?tag={tag}", body=b"x" * 100,
                headers={"Content-Type": "application/octet-stream"})
    assert r.status != 200 or not (r.header("content-type") or "").startswith("application/json"), r
    assert tag not in logmark.tomcat_access()


PROTECTED = [("/app/admin", 403), ("/app/lmadmin", 403)]
ACCESS_CASES = [pytest.param(spell(t, base), code, id=spell(t, base)) for base, code in PROTECTED for t in SPELLINGS]
ACCESS_CASES += [pytest.param(p, 403, id=p) for p in (
    "/escaped/one/admin/page.jsp", "/escaped/one/admin;x/page.jsp", "/escaped/one;x/admin/page.jsp",
    "/escaped/three/..;/one/admin/page.jsp", "/escaped/one//admin/page.jsp", "/escaped/one/./admin/page.jsp",
    "/escaped/one/adm%69n/page.jsp", "/escaped/one/admin%3Bx/page.jsp", "/app/adm%69n/page.jsp")]


@pytest.mark.parametrize("path,code", ACCESS_CASES)
def test_access_rules_hold_in_and_around_location_mounts(loc, path, code, logmark):
    tag = f"locmount-denied-{abs(hash(path)) % 10**8}"
    r = request(loc.config.port, "POST", path + f"?tag={tag}", body=b"x" * 100,
                headers={"Content-Type": "application/octet-stream"})
    assert r.status == code, (path, r.status, r.body[:200])
    assert tag not in logmark.tomcat_access()


@pytest.mark.parametrize("path,expected", [("/app/adminx/page.jsp", "t1"), ("/escaped/one/adminx", "t2")])
def test_allowed_neighbours_are_forwarded(loc, path, expected):
    assert served_by(loc.config.port, path) == expected


def test_status_page_lists_the_mounting_sections(loc):
    snap = bapi.snapshot(loc.config.port, manager=False)
    assert "<Location /app>" in bapi.balancer_of(snap, "loc")["mounts"]
    srv = bapi.balancer_of(snap, "srv")["mounts"]
    assert srv[0] == "/app/*" and '<LocationMatch "^/escaped/(one|two)(/|$)">' in srv


BAD = [
    ("<Directory /tmp>\n    IdmMount loc\n</Directory>", "only directly inside <Location> or <LocationMatch>"),
    ("<Files x.txt>\n    IdmMount loc\n</Files>", "only directly inside <Location> or <LocationMatch>"),
    ("<Location /x>\n    <If \"-n '%{HTTP_HOST}'\">\n        IdmMount loc\n    </If>\n</Location>",
     "only directly inside <Location> or <LocationMatch>"),
    ("<Location /x>\n    IdmMount /x/* loc\n</Location>", "takes one argument, the balancer"),
    ("<Location /x>\n    IdmMount nosuch\n</Location>", "IdmMount nosuch in <Location /x>: no <IdmBalancer nosuch>"),
    ("<Location /x>\n    IdmUnmount nosuch\n</Location>", "no <IdmBalancer nosuch>"),
    ("IdmMount loc", "IdmMount takes two arguments"),
]


@pytest.mark.parametrize("snippet,message", BAD, ids=[f"bad-{i}" for i in range(len(BAD))])
def test_misplaced_location_mount_is_a_config_error(loc, snippet, message):
    r = loc.configtest(loc.config.render() + "\n" + snippet + "\n")
    out = r.stdout + r.stderr
    assert r.returncode != 0, out
    assert message in out, out
