"""idmbalance-migrate against real mod_jk (Debian's libapache2-mod-jk): the same mod_jk setup
(migrate_setup.py) runs once in an httpd with mod_jk and once, converted by the tool, in an
httpd with our module, in front of the same three Tomcats. A request corpus must get the same
answers from both: served by Tomcat or by httpd alike, with the same status; sessions stay on
their Tomcat through both front ends; the disabled member gets no new session in either; the
factors split new sessions alike."""
import http.client
import re
from collections import Counter
from typing import Dict, Optional, Tuple

import pytest

import migrate_setup as ms
import stack as stk

pytestmark = pytest.mark.skipif(not ms.JK_MODULE.exists(), reason="libapache2-mod-jk is not installed")

SESSIONS = 80  # new sessions per balancer: enough for the 3:1 split to show within a few percent


def get(port: int, path: str, cookie: Optional[str] = None) -> Tuple[int, Dict[str, str]]:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        c.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        r = c.getresponse()
        r.read()
        return r.status, {k.lower(): v for k, v in r.getheaders()}
    finally:
        c.close()


def served_by(headers: Dict[str, str]) -> str:
    """The Tomcat that answered (the webapp's X-Route header), or 'httpd'."""
    return headers.get("x-route", "httpd")


@pytest.fixture(scope="module")
def fronts(stack):
    t3 = stk.Tomcat(stack.workdir, "t3mig", route="t3", ajp=[stk.AjpConnector(stk.free_port(), 8192, stack.secret)],
                    webapps={"/app": stack.apps["app"], "/escaped": stack.apps["escaped"]})
    t3.write_base()
    t3.start(timeout=120)
    ports = {"t1": stack.t1.ajp[-1].port, "t2": stack.t2.ajp[-1].port, "t3": t3.ajp_port}
    httpds = {}
    try:
        for kind in ("jk", "idmb"):
            root = stack.workdir / f"httpd-migrate-{kind}"
            vport = stk.free_port()
            site = ms.write_inputs(root, ports, stack.secret, vport)
            if kind == "jk":
                extra = site.read_text()
                cfg = ms.JkHttpdConfig(root, stk.free_port(), "jk", None, extra=extra, log_level="info")
            else:
                done = ms.convert(site, root)
                assert done.returncode == 0, done.stderr
                (root / "conf" / "converted.conf").write_text(done.stdout)
                cfg = stk.HttpdConfig(root, stk.free_port(), "idmbalance", stack.module, extra=done.stdout)
            h = stk.Httpd(cfg).write_checked()
            h.start()
            httpds[kind] = (h, vport)
        yield httpds
    finally:
        for h, _ in httpds.values():
            h.stop()
        t3.stop()


CORPUS = [
    # (on the VirtualHost?, path)
    (False, "/app/echo"), (False, "/app/static/x.css"), (False, "/app/x/y?a=1"), (False, "/other"),
    (False, "/escaped/echo"), (False, "/jkstatus/"),
    # JkMount in <Location /escaped/loc>: that exact path only; in <Location /escaped/deny> with
    # Require all denied; in <LocationMatch "/escaped/lm/page.jsp">: the text as a path.
    (False, "/escaped/loc"), (False, "/escaped/loc/x"), (False, "/escaped/loc;x"), (False, "/escaped/deny"),
    (False, "/escaped/deny/x"), (False, "/escaped/lm/page.jsp"), (False, "/escaped/lm/pageXjsp"),
    (False, "/escaped/x/escaped/lm/page.jsp"), (True, "/escaped/loc"), (True, "/escaped/deny"),
    (True, "/escaped/echo"), (True, "/escaped"), (True, "/escaped/static/a.png"), (True, "/escaped/off/x"),
    (True, "/app/echo"), (True, "/app/nojk/x"), (True, "/app/static/x.css"),
]


def test_converted_config_has_no_jk_directive(fronts):
    h, _ = fronts["idmb"]
    text = (h.root / "conf" / "converted.conf").read_text()
    offending = [l for l in text.splitlines() if re.match(r"\s*Jk", l) or re.match(r"\s*LoadModule\s+jk_module", l)]
    assert not offending, offending


def test_same_requests_served_alike(fronts):
    answers = {}
    for kind, (h, vport) in fronts.items():
        for on_vhost, path in CORPUS:
            status, headers = get(vport if on_vhost else h.port, path)
            by = served_by(headers)
            answers.setdefault((on_vhost, path), {})[kind] = (status, "httpd" if by == "httpd" else "tomcat")
    differ = {k: v for k, v in answers.items() if v["jk"] != v["idmb"]}
    assert not differ, f"mod_jk and the converted config differ: {differ}"
    # The corpus is not trivial: both kinds of answer occur.
    kinds = {v["jk"][1] for v in answers.values()}
    assert kinds == {"httpd", "tomcat"}, answers


def new_sessions(port: int, path: str, n: int) -> Dict[str, str]:
    """n new sessions: cookie -> the Tomcat that created it."""
    out = {}
    for _ in range(n):
        status, headers = get(port, path + "?session=1")
        assert status == 200, (status, headers)
        m = re.search(r"JSESSIONID=([^;]+)", headers.get("set-cookie", ""))
        assert m, headers
        out["JSESSIONID=" + m.group(1)] = served_by(headers)
    return out


@pytest.mark.parametrize("balancer", ["operator", "selfservice"])
def test_sessions_factors_and_disabled_member(fronts, balancer):
    created = {}
    for kind, (h, vport) in fronts.items():
        port, path = (h.port, "/app/echo") if balancer == "operator" else (vport, "/escaped/echo")
        created[kind] = (port, path, new_sessions(port, path, SESSIONS))
    shares = {}
    for kind, (_, _, sessions) in created.items():
        count = Counter(sessions.values())
        shares[kind] = {route: count[route] / SESSIONS for route in ("t1", "t2", "t3")}
    if balancer == "operator":
        # t3 is disabled (activation=D): no new session in either; t1:t2 = 3:1.
        for kind in shares:
            assert shares[kind]["t3"] == 0, shares
            assert abs(shares[kind]["t1"] - 0.75) <= 0.05, shares
        assert abs(shares["jk"]["t1"] - shares["idmb"]["t1"]) <= 0.05, shares
    else:
        for kind in shares:
            assert shares[kind]["t1"] == 0 and abs(shares[kind]["t2"] - 0.5) <= 0.05, shares
    # Every session stays on its Tomcat through both front ends.
    moved = []
    for kind, (_, path, sessions) in created.items():
        for cookie, route in sessions.items():
            for other, (port, _, _) in created.items():
                _, headers = get(port, path, cookie)
                if served_by(headers) != route:
                    moved.append((kind, other, cookie, route, served_by(headers)))
    assert not moved, moved[:10]
