"""Health probes with a health URL (IdmHealthCheck uri=...): a backend whose CPING answers but
whose application fails its health URL is taken out by the prober, without any user request;
one whose URL answers stays in. Runs on its own scripted backend and httpd, so the probes
disturb no other test's counts."""
from __future__ import annotations

import time

import pytest

import balancer_api as bapi
import stack as stk
from fake_ajp import FakeAjp

pytestmark = pytest.mark.idmbalance_only


@pytest.fixture(scope="module")
def probed(stack):
    fake = FakeAjp(secret=stack.secret).start()
    port = stk.free_port()
    health = "IdmHealthCheck interval=500ms healthy_interval=500ms rise=2 fall=2 uri={}"
    cfg = stk.HttpdConfig(
        stack.workdir / "httpd-health-uri", port, stack.frontend, stack.module,
        balancers=[
            stk.Balancer("hcgood", [stk.Member("good", fake.port, secret=stack.secret)],
                         connect_timeout="1s", ping_timeout="1s", extra=health.format("/fault/ok")),
            stk.Balancer("hcbad", [stk.Member("bad", fake.port, secret=stack.secret)],
                         connect_timeout="1s", ping_timeout="1s", extra=health.format("/fault/missing")),
        ],
        mounts=[stk.Mount("/good/*", "hcgood"), stk.Mount("/bad/*", "hcbad")],
        extra=bapi.status_conf())
    h = stk.Httpd(cfg).write_checked()
    try:
        h.start()
        yield port, fake, h
    finally:
        h.stop()
        fake.stop()


def test_failing_health_url_takes_the_member_out_and_passing_keeps_it(probed):
    port, fake, httpd = probed
    deadline = time.monotonic() + 15
    states = {}
    while time.monotonic() < deadline:
        snap = bapi.snapshot(port)
        states = {b: bapi.members_of(snap, b) for b in ("hcgood", "hcbad")}
        if states["hcbad"]["bad"]["state"] == "error" and states["hcgood"]["good"]["last_probe_ms"] > 0:
            break
        time.sleep(0.2)
    bad, good = states["hcbad"]["bad"], states["hcgood"]["good"]
    assert bad["state"] == "error", bad
    assert bad["last_probe_ok"] is False and bad["last_probe_ms"] > 0, bad
    assert good["state"] == "ok" and good["last_probe_ok"] is True, good
    # Taken out by probes alone: no user request was sent to either member.
    assert bad["requests"] == 0 and good["requests"] == 0, (bad, good)
    assert fake.last_request("/fault/missing") is not None, "the health URL was never requested"
    log = stk.tail(httpd.error_log, 400)
    assert "member bad" in log and "ok -> error" in log and "status 404" in log, log[-2000:]
