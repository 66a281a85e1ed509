"""The mod_jk compatibility directives against the real Tomcats (issue 11).

One httpd of its own on the session's Tomcats (whose AJP connectors allow request attributes
named IDMBT_*, stack.ALLOWED_REQUEST_ATTRIBUTES):
- main server: balancer `app` (t1+t2) on /app/*, IdmEnvAttribute (JkEnvVar), IdmEnvIndicator
  (JkHTTPSIndicator, JkRemoteAddrIndicator) steered by SetEnvIf, `no-idmbalance` (no-jk) by
  SetEnvIf and by a RewriteRule's E=, IdmStripSession On, IdmMountCopy Off;
- vhosts: one without Idm* lines (inherits no mounts), one with IdmMountCopy On and
  IdmStripSession Off, one with its own mount and IdmEnvAttribute; one per balancer for
  IdmFailOnStatus CODE and -CODE, distance= and factors above 100.
"""
from __future__ import annotations

from collections import Counter

import pytest

import balancer_api as bapi
import stack as stk
from conftest import _members
from httpc import get, request

pytestmark = pytest.mark.idmbalance_only

STATIC = "static file served by httpd\n"
ATTRS = "IDMBT_SET,IDMBT_UNSET,IDMBT_DEFAULTED,IDMBT_SCOPED,IDMBT_OTHER,IDMBT_HTTPS,IDMBT_CLIENT"


def _balancer(stack, name: str, extra: str = "", member_extra=None) -> stk.Balancer:
    members = _members(stack)
    for m in members:
        m.extra = (member_extra or {}).get(m.name, "")
    return stk.Balancer(name, members, connect_timeout="2s", extra="IdmSlowStart 0\n" + extra)


@pytest.fixture(scope="module")
def jk(stack):
    ports = dict(zip(("plain", "copy", "own", "fos", "fosk", "near", "factor"), stk.free_ports(7)))
    modules = stk.APACHE_MODULES
    main = f"""
LoadModule setenvif_module "{modules}/mod_setenvif.so"
LoadModule rewrite_module "{modules}/mod_rewrite.so"
IdmMountCopy Off
IdmStripSession On
IdmEnvAttribute IDMBT_SET
IdmEnvAttribute IDMBT_UNSET
IdmEnvAttribute IDMBT_DEFAULTED fallback-value
IdmEnvAttribute IDMBT_SCOPED main-default
IdmEnvIndicator https IDMBT_HTTPS
IdmEnvIndicator remote_addr IDMBT_CLIENT
SetEnv IDMBT_SET from-setenv
SetEnvIf X-Idmbt-Front "^tls$" IDMBT_HTTPS=on IDMBT_CLIENT=203.0.113.9
SetEnvIf Request_URI "^/app/static/" no-idmbalance
RewriteEngine On
RewriteRule "^/app/rw/" "-" [E=no-idmbalance:1]
"""
    vhosts = [
        stk.VHost(ports["plain"]),
        stk.VHost(ports["copy"], extra='IdmMountCopy On\nIdmStripSession Off\n'
                                       'SetEnvIf Request_URI "^/app/static/" no-idmbalance'),
        stk.VHost(ports["own"], mounts=[stk.Mount("/app/*", "app")],
                  extra="IdmEnvAttribute IDMBT_SCOPED vhost-default"),
        stk.VHost(ports["fos"], mounts=[stk.Mount("/app/*", "fos")]),
        stk.VHost(ports["fosk"], mounts=[stk.Mount("/app/*", "fosk")]),
        stk.VHost(ports["near"], mounts=[stk.Mount("/app/*", "near")]),
        stk.VHost(ports["factor"], mounts=[stk.Mount("/app/*", "factor")]),
    ]
    balancers = [
        _balancer(stack, "app"),
        _balancer(stack, "fos", "IdmFailOnStatus 503 502"),
        _balancer(stack, "fosk", "IdmFailOnStatus -503"),
        _balancer(stack, "near", member_extra={"t1": "distance=0", "t2": "distance=7"}),
        _balancer(stack, "factor", "IdmMethod requests",
                  member_extra={"t1": "factor=33333", "t2": "factor=100000"}),
    ]
    cfg = stk.HttpdConfig(stack.workdir / "httpd-jkcompat", stk.free_port(), stack.frontend, stack.module,
                          balancers=balancers, mounts=[stk.Mount("/app/*", "app")], vhosts=vhosts,
                          extra=bapi.status_conf() + main)
    h = stk.Httpd(cfg)
    h.write()
    static = h.root / "htdocs" / "app" / "static"
    stk.mkdirs(static)
    (static / "x.txt").write_text(STATIC)
    (h.root / "htdocs" / "app" / "rw").mkdir(exist_ok=True)
    (h.root / "htdocs" / "app" / "rw" / "x.txt").write_text(STATIC)
    check = h.configtest()
    assert check.returncode == 0, check.stdout + check.stderr
    h.start()
    ports["main"] = cfg.port
    try:
        yield ports
    finally:
        h.stop()


def named(port: int, headers=None) -> dict:
    r = get(port, f"/app/echo?attrs={ATTRS}", headers=headers or {})
    assert r.status == 200, r
    return r.json()


# --- IdmEnvAttribute (JkEnvVar)

def test_env_attributes_reach_tomcat(jk):
    j = named(jk["main"])
    assert j["named"]["IDMBT_SET"] == "from-setenv"
    assert j["named"]["IDMBT_UNSET"] is None               # no DEFAULT: only when set
    assert j["named"]["IDMBT_DEFAULTED"] == "fallback-value"
    assert j["named"]["IDMBT_SCOPED"] == "main-default"


def test_client_cannot_add_or_set_attributes(jk):
    forged = {"IDMBT_UNSET": "forged", "IDMBT-UNSET": "forged", "IDMBT_OTHER": "forged",
              "IDMBT_SET": "forged"}
    j = named(jk["main"], headers=forged)
    assert j["named"]["IDMBT_UNSET"] is None
    assert j["named"]["IDMBT_OTHER"] is None  # not configured: never sent
    assert j["named"]["IDMBT_SET"] == "from-setenv"
    assert not any("forged" in str(v) for v in j["attributes"].values())


def test_vhost_attribute_list_adds_to_the_main_servers(jk):
    j = named(jk["own"])
    assert j["named"]["IDMBT_SCOPED"] == "vhost-default"  # the vhost's entry wins
    assert j["named"]["IDMBT_SET"] == "from-setenv"        # the main server's still apply
    assert j["named"]["IDMBT_DEFAULTED"] == "fallback-value"


# --- IdmEnvIndicator

def test_indicators_override_https_and_client_address(jk):
    plain = named(jk["main"])
    assert plain["isSecure"] is False and plain["scheme"] == "http"
    assert plain["remoteAddr"] == "127.0.0.1"
    fronted = named(jk["main"], headers={"X-Idmbt-Front": "tls"})
    assert fronted["isSecure"] is True and fronted["scheme"] == "https"
    assert fronted["remoteAddr"] == "203.0.113.9"
    # An indicator's variable is read, not sent.
    assert fronted["named"]["IDMBT_HTTPS"] is None and fronted["named"]["IDMBT_CLIENT"] is None


# --- no-idmbalance (no-jk) and IdmStripSession

def test_no_idmbalance_keeps_a_mounted_request_in_httpd(jk):
    r = get(jk["main"], "/app/static/x.txt")
    assert r.status == 200 and r.body.decode() == STATIC, r
    r = get(jk["main"], "/app/rw/x.txt")  # set by a RewriteRule's E=
    assert r.status == 200 and r.body.decode() == STATIC, r
    assert get(jk["main"], "/app/echo").json()["route"] in ("t1", "t2")  # the rest still goes to Tomcat


def test_strip_session_on_urls_httpd_serves(jk):
    r = get(jk["main"], "/app/static/x.txt;jsessionid=ABC123.t1")
    assert r.status == 200 and r.body.decode() == STATIC, r
    # A forwarded URL keeps its session parameter: Tomcat needs it.
    j = get(jk["main"], "/app/echo;jsessionid=ABC123.t1").json()
    assert j["requestedSessionId"] == "ABC123.t1"
    # IdmStripSession Off in this vhost: httpd looks for the file with the parameter.
    assert get(jk["copy"], "/app/static/x.txt;jsessionid=ABC123.t1").status == 404
    assert get(jk["copy"], "/app/static/x.txt").status == 200


# --- IdmMountCopy (JkMountCopy)

def test_mount_copy_off_in_main_server_reaches_vhosts_without_idm_lines(jk):
    r = get(jk["plain"], "/app/echo")
    assert r.status == 404, r  # httpd's own answer: nothing under htdocs/app/echo
    assert r.header("X-Route") is None


def test_mount_copy_on_in_a_vhost_inherits(jk):
    r = get(jk["copy"], "/app/echo")
    assert r.status == 200 and r.json()["route"] in ("t1", "t2"), r


# --- IdmFailOnStatus (fail_on_status)

def fail_status_errors(port: int, balancer: str) -> dict:
    return {n: m["errors"]["fail_status"] for n, m in bapi.members_of(bapi.snapshot(port), balancer).items()}


def test_fail_on_status_fails_over_and_blames(jk):
    r = get(jk["fos"], "/app/status?code=503&on=t1", headers={"Cookie": "JSESSIONID=abc.t1"})
    assert r.status == 200 and r.header("X-Route") == "t2", r
    assert fail_status_errors(jk["main"], "fos") == {"t1": 1, "t2": 0}
    # Not replayable (a body was read): 503 from httpd, Tomcat's answer not passed on.
    r = request(jk["fos"], "POST", "/app/status?code=502&on=t1", body=b"x=1",
                headers={"Cookie": "JSESSIONID=abc.t1", "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 503 and r.header("X-Route") is None, r
    assert fail_status_errors(jk["main"], "fos") == {"t1": 2, "t2": 0}


def test_negative_fail_on_status_fails_over_without_blame(jk):
    r = get(jk["fosk"], "/app/status?code=503&on=t1", headers={"Cookie": "JSESSIONID=abc.t1"})
    assert r.status == 200 and r.header("X-Route") == "t2", r
    members = bapi.members_of(bapi.snapshot(jk["main"]), "fosk")
    assert members["t1"]["errors_total"] == 0
    # An unlisted status is relayed as it is.
    r = get(jk["fosk"], "/app/status?code=500&on=t1", headers={"Cookie": "JSESSIONID=abc.t1"})
    assert r.status == 500 and r.header("X-Route") == "t1", r


# --- distance= and factors above 100

def test_distance_keeps_new_sessions_on_the_nearest_member(jk):
    routes = Counter(get(jk["near"], "/app/echo").json()["route"] for _ in range(20))
    assert routes == {"t1": 20}, routes
    # A session on the far member stays there.
    j = get(jk["near"], "/app/echo;jsessionid=ABC.t2").json()
    assert j["route"] == "t2"


def test_factors_above_100_split_alike(jk):
    routes = Counter(get(jk["factor"], "/app/echo").json()["route"] for _ in range(200))
    assert abs(routes["t2"] / 200 - 0.75) < 0.05, routes
