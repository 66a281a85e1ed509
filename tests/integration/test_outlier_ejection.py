"""Outlier ejection (IdmOutlierDetection) in front of the real Tomcats: a member whose answers
fail while its peer's succeed is ejected, logged as an event, skipped by new requests while its
peer serves them, and back by probing after its ejection time; never more than max_ejected
members go at once; with the option off nothing is ejected.

Errors come from the test webapp (/app/status?code=503&on=t2: 503 on t2 only), counted through
IdmFailOnStatus 503 (a member fault that fails over, so clients still get 200). `fall` is set
high, and every third request is one that succeeds everywhere, so that the consecutive-fault
rule does not take the member out first. The max-percent test
adds two scripted AJP members (fake_ajp.py answers 404 to every /app path) as a second and third
bad member beside the two Tomcats, since the webapp fails on one route only.
One httpd, one balancer per port; all short timings (1 s interval, seconds of ejection)."""
from __future__ import annotations

import time

import pytest

import balancer_api as bapi
import stack as stk
from fake_ajp import FakeAjp
from httpc import get

pytestmark = pytest.mark.idmbalance_only

EJECT_S = 4
COMMON = ("IdmHealthCheck interval=500ms healthy_interval=1s rise=2 fall=100\n"
          "IdmSlowStart 1s\n")
DETECT = "IdmOutlierDetection on interval=1s min_requests=5 ejection_time={}s"
BAD_T2 = ["/app/status?code=503&on=t2", "/app/status?code=503&on=t2", "/app/echo"]


@pytest.fixture(scope="module")
def od(stack):
    fake = FakeAjp(secret=stack.secret).start()
    ports = {"on": stk.free_port(), "off": stk.free_port(), "max": stk.free_port()}

    def tomcats(prefix):
        return [stk.Member(f"{prefix}{t.name}", t.ajp_port, route=t.route, secret=stack.secret)
                for t in stack.tomcats]

    fakes = [stk.Member(f"fake{i}", fake.port, route=f"fake{i}", secret=stack.secret) for i in (1, 2)]
    balancers = [
        stk.Balancer("odon", tomcats(""), connect_timeout="1s",
                     extra=COMMON + "IdmFailOnStatus 503\n" + DETECT.format(EJECT_S)),
        stk.Balancer("odoff", tomcats("off"), connect_timeout="1s",
                     extra=COMMON + "IdmFailOnStatus 503\nIdmOutlierDetection off"),
        stk.Balancer("odmax", tomcats("max") + fakes, connect_timeout="1s",
                     extra=COMMON + "IdmFailOnStatus 404\n" + DETECT.format(60) + " max_ejected=25"),
    ]
    cfg = stk.HttpdConfig(
        stack.workdir / "httpd-outlier", ports["on"], stack.frontend, stack.module,
        balancers=balancers, mounts=[stk.Mount("/app/*", "odon")],
        vhosts=[stk.VHost(ports["off"], mounts=[stk.Mount("/app/*", "odoff")]),
                stk.VHost(ports["max"], mounts=[stk.Mount("/app/*", "odmax")])],
        extra=bapi.status_conf())
    h = stk.Httpd(cfg).write_checked()
    try:
        h.start()
        yield ports, h
    finally:
        h.stop()
        fake.stop()


def members(port, balancer):
    return bapi.members_of(bapi.snapshot(port), balancer)


def load_until(port, paths, done, seconds, max_requests=2000):
    """Sends `paths` in turn until done() (checked every 10 requests) or the time or count runs
    out; every answer must be 200 (failed attempts fail over). Returns whether done() came true."""
    if isinstance(paths, str):
        paths = [paths]
    deadline = time.monotonic() + seconds
    for i in range(max_requests):
        path = paths[i % len(paths)]
        r = get(port, path)
        assert r.status == 200, (path, r)
        if i % 10 == 9:
            if done():
                return True
            if time.monotonic() > deadline:
                return False
    return done()


def test_erroring_member_is_ejected_peers_serve_and_it_returns(od):
    ports, httpd = od
    port = ports["on"]
    ejected = lambda: members(port, "odon")["t2"]["state"] == "ejected"
    assert load_until(port, BAD_T2, ejected, 15), members(port, "odon")
    t2 = members(port, "odon")["t2"]
    assert t2["outlier_ejections"] == 1, t2
    assert t2["ejected_until_ms"] > t2["state_since_ms"], t2
    # New requests go to the peer while t2 is out.
    before = members(port, "odon")
    for _ in range(10):
        r = get(port, "/app/echo")
        assert r.status == 200 and r.json()["route"] == "t1", r
    after = members(port, "odon")
    if after["t2"]["state"] == "ejected":
        assert after["t2"]["requests"] == before["t2"]["requests"], (before, after)
    # The event and the log line name member and cause.
    events = [e["text"] for e in bapi.snapshot(port)["events"] if e.get("member") == "t2"]
    assert any("ok -> ejected" in e and "outlier: error rate" in e for e in events), events
    log = stk.tail(httpd.error_log, 400)
    assert "member t2" in log and "-> ejected" in log and "outlier: error rate" in log, log[-2000:]
    # Back by probing once its time is up (recovering = slow start), not before.
    deadline = time.monotonic() + EJECT_S + 10
    while time.monotonic() < deadline and members(port, "odon")["t2"]["state"] == "ejected":
        time.sleep(0.2)
    t2 = members(port, "odon")["t2"]
    assert t2["state"] in ("recovering", "ok"), t2
    assert t2["state_since_ms"] >= t2["ejected_until_ms"], t2
    events = [e["text"] for e in bapi.snapshot(port)["events"] if e.get("member") == "t2"]
    assert any(e.startswith("ejected -> ") and "good probe" in e for e in events), events
    served = {get(port, "/app/echo").json()["route"] for _ in range(20)}
    assert "t2" in served, served


def test_never_more_than_max_ejected(od):
    ports, _ = od
    port = ports["max"]
    seen_both = []

    def one_out():
        m = members(port, "odmax")
        out = [n for n, v in m.items() if v["state"] == "ejected"]
        if len(out) > 1:
            seen_both.append(out)
        return len(out) == 1
    assert load_until(port, "/app/echo", one_out, 15), members(port, "odmax")
    # Three more intervals of load: the other bad member stays in (25% of four is one).
    end = time.monotonic() + 3.5
    while time.monotonic() < end:
        load_until(port, "/app/echo", lambda: False, 0.5, max_requests=50)
        one_out()
    m = members(port, "odmax")
    out = sorted(n for n, v in m.items() if v["state"] == "ejected")
    assert not seen_both and len(out) == 1 and out[0] in ("fake1", "fake2"), (seen_both, m)
    assert m["maxt1"]["state"] == "ok" and m["maxt2"]["state"] == "ok", m
    other = "fake2" if out[0] == "fake1" else "fake1"
    assert m[other]["outlier_ejections"] == 0 and m[other]["errors"]["fail_status"] > 5, m[other]


def test_off_nothing_is_ejected(od):
    ports, _ = od
    port = ports["off"]
    load_until(port, BAD_T2, lambda: False, 3.0, max_requests=300)
    m = members(port, "odoff")
    assert m["offt2"]["errors"]["fail_status"] >= 20, m
    assert m["offt2"]["state"] == "ok" and m["offt2"]["outlier_ejections"] == 0, m
    assert all("ejected" not in e["text"] for e in bapi.snapshot(port)["events"]
               if e.get("balancer") == "odoff")
