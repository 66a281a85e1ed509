"""idmbalance-migrate against real mod_jk, for what needs the mod_jk-compatibility directives
(IdmMountCopy, a JkMount inside <Location> as an exact-path IdmMount, the no-idmbalance variable): the same setup as
test_migrate_vs_mod_jk.py plus a VirtualHost with JkMountCopy Off, one without any JkMountCopy
(mod_jk's default is Off: the main server's mounts are not inherited), a `JkMount WORKER` inside
a <Location>, SetEnvIf ... no-jk, and JkEnvVar. Both front ends must answer the corpus alike."""
import http.client
import json

import pytest

import migrate_setup as ms
import stack as stk
from test_migrate_vs_mod_jk import get, served_by

pytestmark = pytest.mark.skipif(not ms.JK_MODULE.exists(), reason="libapache2-mod-jk is not installed")


def compat_extra(off_port: int, none_port: int) -> str:
    return f"""
LoadModule setenvif_module "{stk.APACHE_MODULES}/mod_setenvif.so"
SetEnvIf Request_URI "^/app/nojkenv/" no-jk
SetEnvIf Request_URI "^/app/echo" IDMBT_SET=from-setenvif
JkEnvVar IDMBT_SET
JkEnvVar IDMBT_UNSET
JkEnvVar IDMBT_DEFAULTED fallback-value
<Location /escaped/located>
    JkMount selfservice
</Location>
Listen 127.0.0.1:{off_port}
<VirtualHost 127.0.0.1:{off_port}>
    ServerName 127.0.0.1
    JkMountCopy Off
    JkMount /escaped/* selfservice
</VirtualHost>
Listen 127.0.0.1:{none_port}
<VirtualHost 127.0.0.1:{none_port}>
    ServerName 127.0.0.1
</VirtualHost>
"""


@pytest.fixture(scope="module")
def fronts(stack):
    t3 = stk.Tomcat(stack.workdir, "t3compat", route="t3",
                    ajp=[stk.AjpConnector(stk.free_port(), 8192, stack.secret)],
                    webapps={"/app": stack.apps["app"], "/escaped": stack.apps["escaped"]})
    t3.write_base()
    t3.start(timeout=120)
    ports = {"t1": stack.t1.ajp[-1].port, "t2": stack.t2.ajp[-1].port, "t3": t3.ajp_port}
    httpds = {}
    try:
        for kind in ("jk", "idmb"):
            root = stack.workdir / f"httpd-migrate-compat-{kind}"
            vport, off_port, none_port = stk.free_ports(3)
            site = ms.write_inputs(root, ports, stack.secret, vport)
            site.write_text(site.read_text() + compat_extra(off_port, none_port))
            if kind == "jk":
                cfg = ms.JkHttpdConfig(root, stk.free_port(), "jk", None, extra=site.read_text(), log_level="info")
            else:
                done = ms.convert(site, root)
                assert done.returncode == 0, done.stderr
                assert "IdmMountCopy Off" in done.stdout, done.stdout
                cfg = stk.HttpdConfig(root, stk.free_port(), "idmbalance", stack.module, extra=done.stdout)
            h = stk.Httpd(cfg).write_checked()
            h.start()
            httpds[kind] = (h, {"main": h.port, "copy": vport, "off": off_port, "none": none_port})
        yield httpds
    finally:
        for h, _ in httpds.values():
            h.stop()
        t3.stop()


CORPUS = [
    ("main", "/app/nojkenv/x"), ("main", "/app/echo"), ("main", "/escaped/located"),
    ("main", "/escaped/located/more"),
    ("off", "/app/echo"), ("off", "/escaped/echo"),
    ("none", "/app/echo"), ("none", "/escaped/echo"),
    ("copy", "/app/echo"),
]


def test_compat_requests_served_alike(fronts):
    answers = {}
    for kind, (h, ports) in fronts.items():
        for where, path in CORPUS:
            status, headers = get(ports[where], path)
            answers.setdefault((where, path), {})[kind] = (status, served_by(headers) != "httpd")
    differ = {k: v for k, v in answers.items() if v["jk"] != v["idmb"]}
    assert not differ, f"mod_jk and the converted config differ: {differ}"
    # JkMountCopy Off and no JkMountCopy: the main server's /app/* is not forwarded there.
    assert answers[("off", "/app/echo")]["jk"][1] is False
    assert answers[("none", "/app/echo")]["jk"][1] is False
    assert answers[("copy", "/app/echo")]["jk"][1] is True


def test_env_attributes_arrive_alike(fronts):
    """JkEnvVar -> IdmEnvAttribute: Tomcat gets the same request attributes through both."""
    named = {}
    for kind, (h, ports) in fronts.items():
        c = http.client.HTTPConnection("127.0.0.1", ports["main"], timeout=30)
        try:
            c.request("GET", "/app/echo?attrs=IDMBT_SET,IDMBT_UNSET,IDMBT_DEFAULTED")
            r = c.getresponse()
            body = r.read()
            assert r.status == 200, (kind, r.status, body[:200])
            named[kind] = json.loads(body)["named"]
        finally:
            c.close()
    assert named["jk"] == {"IDMBT_SET": "from-setenvif", "IDMBT_UNSET": None,
                           "IDMBT_DEFAULTED": "fallback-value"}, named
    assert named["idmb"] == named["jk"], named
