"""The status and manager pages (issue 5), curl-level: every action changes routing as it
should for new and sticky requests; refused requests change nothing; values are escaped;
JSON and Prometheus agree and have the right content types.

Balancer `mgr` (t1+t2) is mounted at /app/* on stack.mgr_port, plus a mount pattern full of
HTML metacharacters (conftest.XSS_MOUNT). Each test puts members and factors back.
"""
from __future__ import annotations

import http.client
import json
import time
from collections import Counter
from typing import Dict, Optional, Tuple

import pytest

import balancer_api as bapi
from balancer_api import MANAGER_PATH, STATUS_PATH, Restore
from conftest import XSS_MOUNT, balancing_ajp_port
from httpc import get, request

pytestmark = pytest.mark.idmbalance_only

B = "mgr"


def new_routes(port: int, n: int, tag: str) -> Counter:
    return Counter(bapi.parallel(lambda i: bapi.echo_route(port, f"/app/echo?tid={tag}-{i}")["route"],
                                 range(n), workers=4))


def sticky(port: int, sid: str, url_form: bool = False) -> Tuple[str, Optional[str]]:
    if url_form:
        js = bapi.echo_route(port, f"/app/echo;jsessionid={sid}")
    else:
        js = bapi.echo_route(port, "/app/echo", {"Cookie": f"JSESSIONID={sid}"})
    return js["route"], js["requestedSessionId"]


@pytest.fixture
def sessions(stack) -> Dict[str, str]:
    """One session on each Tomcat through the mgr balancer: {"t1": sid, "t2": sid}."""
    port = stack.mgr_port
    out: Dict[str, str] = {}
    for i in range(20):
        sid, route = bapi.new_session(port, "/app", f"sess{i}")
        out.setdefault(route, sid)
        if len(out) == 2:
            return out
    raise AssertionError(f"20 new sessions did not land on both members: {out}")


@pytest.fixture
def restore(stack):
    with Restore(stack.mgr_port, B) as r:
        yield r


# ---------------------------------------------------------------------------------------------
# Formats


@pytest.mark.parametrize("path", [STATUS_PATH, MANAGER_PATH])
def test_json_format(stack, path):
    r = get(stack.mgr_port, path + "?format=json")
    assert r.status == 200, r
    assert r.header("Content-Type").split(";")[0].strip() == "application/json", r.headers
    js = json.loads(r.body)
    assert js["schema"] == 2
    assert ("nonce" in js) == (path == MANAGER_PATH), "the nonce belongs on the manager only"
    names = [b["name"] for b in js["balancers"]]
    for want in ("app", "weighted", "operator", "selfservice", B):
        assert want in names, names
    for b in js["balancers"]:
        for m in b["members"]:
            for k in ("name", "route", "address", "activation", "state", "factor", "busy",
                      "requests", "errors", "bytes_in", "bytes_out"):
                assert k in m, (b["name"], m)
    mgr = bapi.members_of(js, B)
    assert mgr["t1"]["route"] == "t1" and mgr["t2"]["route"] == "t2"
    assert mgr["t1"]["address"] == f"127.0.0.1:{balancing_ajp_port(stack.t1)}"


@pytest.mark.parametrize("path", [STATUS_PATH, MANAGER_PATH])
def test_prometheus_format_matches_json(stack, path, sessions):
    port = stack.mgr_port
    # Some traffic first, so counters are not all zero (incl. request bytes and sticky hits).
    request(port, "POST", "/app/echo?tid=prom", body=b"x" * 1234)
    for route, sid in sessions.items():
        assert sticky(port, sid)[0] == route
    for _ in range(5):  # nothing else sends traffic, but check the two views were taken quietly
        js1 = json.loads(get(port, path + "?format=json").body)
        r = get(port, path + "?format=prometheus")
        js2 = json.loads(get(port, path + "?format=json").body)
        if bapi.table_state(js1) == bapi.table_state(js2):
            break
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("text/plain; version=0.0.4"), r.headers
    samples = bapi.parse_prometheus(r.body.decode())
    prom: Dict[tuple, float] = {}
    for name, labels, value in samples:
        key = (name, labels.get("balancer"), labels.get("member"),
               labels.get("class") or labels.get("state") or labels.get("activation") or labels.get("le"))
        assert key not in prom, f"duplicate sample {key}"
        prom[key] = value
    checked = 0
    for b in js1["balancers"]:
        for m in b["members"]:
            k = (b["name"], m["name"])

            def val(name, sub=None):
                v = prom.get((name, *k, sub))
                assert v is not None, f"no {name}{{{k},{sub}}} in the Prometheus text"
                return v
            assert val("idmbalance_member_requests_total") == m["requests"], k
            assert val("idmbalance_member_bytes_in_total") == m["bytes_in"], k
            assert val("idmbalance_member_bytes_out_total") == m["bytes_out"], k
            assert val("idmbalance_member_sticky_hits_total") == m["sticky_hits"], k
            assert val("idmbalance_member_busy") == m["busy"], k
            assert val("idmbalance_member_factor") == m["factor"], k
            for cls, n in m["errors"].items():
                assert val("idmbalance_member_errors_total", cls) == n, (k, cls)
            assert val("idmbalance_member_state", m["state"]) == 1, k
            assert val("idmbalance_member_activation", m["activation"]) == 1, k
            timed = m["latency"]["since_start"]["count"]
            assert val("idmbalance_member_response_seconds_count") == timed, k
            assert val("idmbalance_member_response_seconds_bucket", "+Inf") == timed, k
            assert val("idmbalance_member_drained") == (1 if m["drained"] else 0), k
            checked += 1
    assert checked >= 10
    mgr = bapi.members_of(js1, B)
    assert sum(m["bytes_out"] for m in mgr.values()) >= 1234
    assert all(m["sticky_hits"] >= 1 for m in mgr.values())


def test_html_escapes_values(stack):
    """The mgr balancer has a mount pattern with < > & " ' in it: the HTML shows it escaped,
    the JSON carries it exactly (with < > & as \\u00XX), and no page has a script."""
    for path in (STATUS_PATH, MANAGER_PATH):
        r = get(stack.mgr_port, path)
        assert r.status == 200, r
        assert r.header("Content-Type").startswith("text/html"), r.headers
        html = r.body.decode()
        assert "<script" not in html.lower(), "raw <script> in the HTML page"
        assert "&lt;script&gt;alert(&#39;x&#39;)&amp;&quot;&lt;/script&gt;" in html, \
            html[html.find("/xss/") - 20:html.find("/xss/") + 120]
        assert 'id="m-mgr-t2"' in html
    r = get(stack.mgr_port, MANAGER_PATH + "?format=json")
    assert b"<" not in r.body and b">" not in r.body, "JSON should escape < and >"
    assert XSS_MOUNT in bapi.balancer_of(r.json(), B)["mounts"]


def test_config_refuses_markup_in_route_and_names(stack):
    """Routes and names cannot carry markup at all: configtest refuses them (the renderers'
    escaping of every field is covered by the golden unit tests and the mount test above)."""
    for snippet, what in [
        (f"<IdmBalancer bad>\n IdmMember m1 ajp://127.0.0.1:{stack.t1.ajp_port} route=<script>\n</IdmBalancer>", "route"),
        (f"<IdmBalancer bad>\n IdmMember <b>x ajp://127.0.0.1:{stack.t1.ajp_port}\n</IdmBalancer>", "IdmMember"),
    ]:
        cfg = stack.httpd.config
        text = cfg.render() + "\n" + snippet + "\nIdmMount /bad/* bad\n"
        r = stack.httpd.configtest(text)
        assert r.returncode != 0, f"configtest accepted:\n{snippet}"
        assert what in r.stdout + r.stderr, r.stdout + r.stderr


# ---------------------------------------------------------------------------------------------
# Actions


def test_disable_and_activate(stack, sessions, restore):
    port = stack.mgr_port
    bapi.set_activation(port, B, "t2", "disabled")
    assert new_routes(port, 20, "dis") == {"t1": 20}, "a disabled member got new requests"
    for url_form in (False, True):
        assert sticky(port, sessions["t2"], url_form) == ("t2", sessions["t2"])
        assert sticky(port, sessions["t1"], url_form) == ("t1", sessions["t1"])
    bapi.set_activation(port, B, "t2", "active")
    got = new_routes(port, 20, "act")
    assert set(got) == {"t1", "t2"} and abs(got["t1"] - got["t2"]) <= 4, got


def test_stop_and_activate(stack, sessions, restore):
    port = stack.mgr_port
    before = bapi.members_of(bapi.snapshot(port), B)
    bapi.set_activation(port, B, "t2", "stopped")
    assert new_routes(port, 20, "stop") == {"t1": 20}
    for url_form in (False, True):
        assert sticky(port, sessions["t2"], url_form)[0] == "t1", "a stopped member got its session"
    after = bapi.members_of(bapi.snapshot(port), B)
    assert after["t2"]["requests"] == before["t2"]["requests"], "a stopped member got requests"
    bapi.set_activation(port, B, "t2", "active")
    assert sticky(port, sessions["t2"]) == ("t2", sessions["t2"])
    assert set(new_routes(port, 10, "stop-act")) == {"t1", "t2"}


def test_standby(stack, sessions, restore):
    port = stack.mgr_port
    bapi.set_activation(port, B, "t2", "standby")
    assert new_routes(port, 20, "sb") == {"t1": 20}, "a standby member got new requests"
    assert sticky(port, sessions["t2"]) == ("t2", sessions["t2"]), "standby keeps its sessions"
    # With no active member left, the standby takes everything.
    bapi.set_activation(port, B, "t1", "stopped")
    assert new_routes(port, 10, "sb-only") == {"t2": 10}
    assert sticky(port, sessions["t1"])[0] == "t2"
    bapi.set_activation(port, B, "t1", "active")
    assert new_routes(port, 10, "sb-back") == {"t1": 10}
    bapi.set_activation(port, B, "t2", "active")
    assert set(new_routes(port, 10, "sb-act")) == {"t1", "t2"}


def test_factor_changes_share(stack, restore):
    port = stack.mgr_port
    bapi.command(port, B, "t1", factor=4)
    assert bapi.member_state(port, B, "t1")["factor"] == 4
    new_routes(port, 8, "f-warm")  # the clocks settle within about one round
    got = new_routes(port, 100, "f4")
    share = got["t1"] / 100
    assert 0.72 <= share <= 0.88, f"t1 share {share:.0%} at factor 4:1 (expected 80%): {got}"
    bapi.command(port, B, "t1", factor=1)
    new_routes(port, 8, "f-warm1")
    got = new_routes(port, 40, "f1")
    assert abs(got["t1"] - got["t2"]) <= 6, got


def test_factor_and_action_in_one_post(stack, restore):
    port = stack.mgr_port
    bapi.command(port, B, "t2", action="disable", factor=7)
    m = bapi.member_state(port, B, "t2")
    assert (m["activation"], m["factor"]) == ("disabled", 7), m


def test_reset_zeroes_counters(stack, sessions):
    port = stack.mgr_port
    request(port, "POST", "/app/echo?tid=reset", body=b"y" * 100)
    for sid in sessions.values():
        sticky(port, sid)
    before = bapi.members_of(bapi.snapshot(port), B)
    assert before["t1"]["requests"] > 0 and before["t1"]["sticky_hits"] > 0
    bapi.command(port, B, "t1", action="reset")
    after = bapi.members_of(bapi.snapshot(port), B)
    for k in ("requests", "bytes_in", "bytes_out", "sticky_hits", "errors_total"):
        assert after["t1"][k] == 0, (k, after["t1"][k])
    assert all(v == 0 for v in after["t1"]["errors"].values())
    assert after["t2"]["requests"] == before["t2"]["requests"], "reset of t1 touched t2"
    assert after["t1"]["activation"] == before["t1"]["activation"]
    # Counting goes on from zero.
    assert sticky(port, sessions["t1"])[0] == "t1"
    assert bapi.member_state(port, B, "t1")["requests"] == 1


def test_recover_is_answered(stack):
    port = stack.mgr_port
    before = bapi.table_state(bapi.snapshot(port))
    bapi.command(port, B, "t1", action="recover")  # asserts the 303
    r = bapi.command(port, B, "t1", action="recover", expect=200, accept_json=True)
    assert r.header("Content-Type").startswith("application/json")
    assert r.json()["ok"] is True
    assert bapi.table_state(bapi.snapshot(port)) == before, "recover changed a healthy member"


def test_json_answer_for_scripts(stack, restore):
    port = stack.mgr_port
    r = bapi.command(port, B, "t2", action="disable", expect=200, accept_json=True)
    js = r.json()
    assert js["ok"] is True and isinstance(js.get("message"), str), js
    assert bapi.member_state(port, B, "t2")["activation"] == "disabled"


def test_balancer_settings_are_shown(stack):
    """Balancer-level fields are accepted and shown (routing by method is not tested here)."""
    port = stack.mgr_port
    try:
        bapi.command(port, B, method="busyness", sticky_force="on")
        b = bapi.balancer_of(bapi.snapshot(port), B)
        assert (b["method"], b["sticky"]["force"]) == ("busyness", True), b
    finally:
        bapi.command(port, B, method="requests", sticky_force="off")
    b = bapi.balancer_of(bapi.snapshot(port), B)
    assert (b["method"], b["sticky"]["force"]) == ("requests", False), b


def test_post_redirects_to_the_page(stack, restore):
    port = stack.mgr_port
    r = bapi.command(port, B, "t2", factor=2)
    assert r.header("Location").endswith(MANAGER_PATH)
    page = get(port, r.header("Location") if r.header("Location").startswith("/") else MANAGER_PATH)
    assert page.status == 200 and b'id="m-mgr-t2"' in page.body


# ---------------------------------------------------------------------------------------------
# Refusals: nothing changes


def _refusals(stack):
    """(id, callable returning a Response, expected status). Each would stop mgr/t2 if obeyed."""
    port = stack.mgr_port
    host = f"127.0.0.1:{port}"
    evil = "http://evil.example"

    def fields(n: Optional[str]):
        out = [] if n is None else [("nonce", n)]
        return out + [("balancer", B), ("member", "t2"), ("action", "stop")]

    def good():
        return bapi.nonce(port)
    return [
        ("no-nonce", lambda: bapi.post_form(port, fields(None)), 403),
        ("empty-nonce", lambda: bapi.post_form(port, fields("")), 403),
        ("wrong-nonce", lambda: bapi.post_form(port, fields("0" * len(good()))), 403),
        ("short-nonce", lambda: bapi.post_form(port, fields(good()[:-1])), 403),
        ("foreign-origin", lambda: bapi.post_form(port, fields(good()), {"Origin": evil}), 403),
        ("null-origin", lambda: bapi.post_form(port, fields(good()), {"Origin": "null"}), 403),
        ("foreign-referer", lambda: bapi.post_form(port, fields(good()),
                                                   {"Referer": f"{evil}/balancer-manager"}), 403),
        ("other-port-origin", lambda: bapi.post_form(port, fields(good()),
                                                     {"Origin": f"http://127.0.0.1:{port + 1}"}), 403),
        ("same-origin-foreign-referer", lambda: bapi.post_form(
            port, fields(good()), {"Origin": f"http://{host}", "Referer": f"{evil}/x"}), 403),
        ("get-with-query", lambda: get(port, MANAGER_PATH + "?" + "&".join(
            f"{k}={v}" for k, v in fields(good()))), 200),
        ("get-json-with-query", lambda: get(port, MANAGER_PATH + "?format=json&" + "&".join(
            f"{k}={v}" for k, v in fields(good()))), 200),
        ("post-to-status", lambda: bapi.post_form(port, fields(good()), path=STATUS_PATH), 405),
        ("put-to-manager", lambda: request(port, "PUT", MANAGER_PATH, body=b"x=1"), 405),
        ("unknown-field", lambda: bapi.post_form(port, fields(good()) + [("evil", "1")]), 400),
        ("bad-factor", lambda: bapi.post_form(port, [("nonce", good()), ("balancer", B),
                                                     ("member", "t2"), ("factor", "0")]), 400),
        ("unknown-action", lambda: bapi.post_form(port, [("nonce", good()), ("balancer", B),
                                                         ("member", "t2"), ("action", "explode")]), 400),
        ("unknown-member", lambda: bapi.post_form(port, [("nonce", good()), ("balancer", B),
                                                         ("member", "t9"), ("action", "stop")]), 404),
        ("unknown-balancer", lambda: bapi.post_form(port, [("nonce", good()), ("balancer", "nope"),
                                                           ("member", "t2"), ("action", "stop")]), 404),
        ("member-of-other-balancer", lambda: bapi.post_form(
            port, [("nonce", good()), ("balancer", "selfservice"), ("member", "t1"),
                   ("action", "stop")]), 404),
    ]


REFUSAL_IDS = ["no-nonce", "empty-nonce", "wrong-nonce", "short-nonce", "foreign-origin",
               "null-origin", "foreign-referer", "other-port-origin", "same-origin-foreign-referer",
               "get-with-query", "get-json-with-query", "post-to-status", "put-to-manager",
               "unknown-field", "bad-factor", "unknown-action", "unknown-member",
               "unknown-balancer", "member-of-other-balancer"]


@pytest.mark.parametrize("case", REFUSAL_IDS)
def test_refused_requests_change_nothing(stack, case):
    port = stack.mgr_port
    cases = {cid: (fn, status) for cid, fn, status in _refusals(stack)}
    assert set(cases) == set(REFUSAL_IDS)
    fn, want = cases[case]
    before = bapi.table_state(bapi.snapshot(port))
    try:
        r = fn()
        assert r.status == want, (case, r)
        assert r.status != 303
        after = bapi.table_state(bapi.snapshot(port))
        assert after == before, f"{case}: the table changed"
        # And routing still uses t2.
        assert set(new_routes(port, 6, f"ref-{case}")) == {"t1", "t2"}
    finally:
        # If a refusal was obeyed after all, do not leave mgr/t2 stopped for the next test.
        if bapi.member_state(port, B, "t2")["activation"] != "active":
            bapi.set_activation(port, B, "t2", "active")


def test_same_origin_post_is_accepted(stack, restore):
    """The counterpart of the Origin/Referer refusals: our own origin passes."""
    port = stack.mgr_port
    host = f"127.0.0.1:{port}"
    r = bapi.post_form(port, [("nonce", bapi.nonce(port)), ("balancer", B), ("member", "t2"),
                              ("action", "disable")],
                       {"Origin": f"http://{host}", "Referer": f"http://{host}{MANAGER_PATH}"})
    assert r.status == 303, r
    assert bapi.member_state(port, B, "t2")["activation"] == "disabled"


def test_pages_are_for_localhost_only(stack, restore):
    """`Require ip 127.0.0.1` (as in the Debian conf): a client from 127.0.0.2 — still
    loopback — gets 403 from both pages and cannot post, even with a valid nonce."""
    port = stack.mgr_port
    good = bapi.nonce(port)
    before = bapi.table_state(bapi.snapshot(port))
    body = f"nonce={good}&balancer={B}&member=t2&action=stop"

    def from_other(method: str, path: str, body: Optional[str] = None) -> int:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=("127.0.0.2", 0))
        try:
            c.request(method, path, body=body,
                      headers={"Content-Type": "application/x-www-form-urlencoded"} if body else {})
            r = c.getresponse()
            r.read()
            return r.status
        finally:
            c.close()
    for path in (STATUS_PATH, STATUS_PATH + "?format=json", MANAGER_PATH,
                 MANAGER_PATH + "?format=prometheus"):
        assert from_other("GET", path) == 403, path
    assert from_other("POST", MANAGER_PATH, body) == 403
    assert bapi.table_state(bapi.snapshot(port)) == before
    # The same client reaches the balanced application: only the pages are restricted.
    assert from_other("GET", "/app/echo") == 200


def test_status_handler_is_read_only(stack):
    port = stack.mgr_port
    before = bapi.table_state(bapi.snapshot(port))
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        body = f"nonce={bapi.nonce(port)}&balancer={B}&member=t2&action=stop".encode()
        r = request(port, method, STATUS_PATH, body=body,
                    headers={"Content-Type": "application/x-www-form-urlencoded"})
        assert r.status == 405, (method, r)
    r = get(port, STATUS_PATH)
    assert r.status == 200 and b"<form" not in r.body and b"nonce" not in r.body
    assert bapi.table_state(bapi.snapshot(port)) == before


def test_drained_is_reported(stack, sessions, restore):
    """A disabled member is 'drained' once nothing is in flight and no sticky request came
    for IdmDrainQuietTime (2 s in the test config)."""
    port = stack.mgr_port
    bapi.set_activation(port, B, "t2", "disabled")
    assert sticky(port, sessions["t2"])[0] == "t2"
    m = bapi.member_state(port, B, "t2")
    assert m["drained"] is False, m
    assert m["last_sticky_ms"] > 0
    deadline = time.monotonic() + bapi.DRAIN_QUIET_S + 5
    while not bapi.member_state(port, B, "t2")["drained"]:
        assert time.monotonic() < deadline, "a quiet disabled member never became drained"
        time.sleep(0.2)
    assert bapi.member_state(port, B, "t1")["drained"] is False  # active: never drained


def test_unknown_session_ids_open_no_session_on_a_disabled_member(stack, sessions, restore):
    """Issue 9.7: a forged or stale id naming a disabled member (`JSESSIONID=x.t2`) does not open
    a session there. A GET that Tomcat answers with a new session goes to an active member as a
    new session instead; the member's real sessions stay; and such requests, however many, do
    not hold the drain open. A POST cannot be run twice: Tomcat's answer is delivered."""
    port = stack.mgr_port
    bapi.set_activation(port, B, "t2", "disabled")

    def forged_get(i: int) -> None:
        js = bapi.echo_route(port, f"/app/echo?session=1&tid=forged-{i}",
                             {"Cookie": f"JSESSIONID=FORGED{i}.t2"})
        assert js["route"] == "t1", js
        assert js["requestedSessionId"] == f"FORGED{i}.t2", js  # the request arrived as sent
        opened = [c for c in js["_set_cookie"] if c.startswith("JSESSIONID=")]
        assert len(opened) == 1 and opened[0].split(";")[0].endswith(".t1"), js["_set_cookie"]

    forged_get(0)
    # The real session is still served by its member, with no new cookie.
    js = bapi.echo_route(port, "/app/echo?session=1", {"Cookie": f"JSESSIONID={sessions['t2']}"})
    assert js["route"] == "t2" and js["sessionId"] == sessions["t2"], js
    assert not [c for c in js["_set_cookie"] if c.startswith("JSESSIONID=")], js["_set_cookie"]

    r = request(port, "POST", "/app/echo?session=1", body=b"x=1",
                headers={"Cookie": "JSESSIONID=FORGEDPOST.t2", "Content-Type": "application/x-www-form-urlencoded"})
    assert r.status == 200 and r.json()["route"] == "t2", r

    # Forged GETs keep coming; the member still drains once its real session is quiet.
    deadline = time.monotonic() + bapi.DRAIN_QUIET_S + 6
    i = 1
    while not bapi.member_state(port, B, "t2")["drained"]:
        assert time.monotonic() < deadline, "forged session ids kept a disabled member from draining"
        forged_get(i)
        i += 1
        time.sleep(0.2)
    assert i > 3, "the member drained before the forged requests had a chance to hold it"


def test_manager_change_is_listed_in_events(stack, restore):
    port = stack.mgr_port
    t0 = bapi.snapshot(port)["generated_ms"]
    bapi.set_activation(port, B, "t2", "disabled")
    snap = bapi.snapshot(port)
    mine = [e for e in snap["events"] if e["balancer"] == B and e["member"] == "t2"
            and e["time_ms"] >= t0 - 1000]
    assert mine, f"no event for {B}/t2 after disabling it: {snap['events'][:5]}"
    html = get(port, MANAGER_PATH).body.decode()
    assert "No events recorded." not in html
