"""Per-member connection limit (max=) with a bounded wait: one slow Tomcat cannot take every
httpd thread; a request that finds no place in time gets 503 with Retry-After."""
from __future__ import annotations

import threading
import time

import pytest

import balancer_api as bapi
from httpc import get, request

pytestmark = pytest.mark.idmbalance_only


def test_full_member_answers_503_with_retry_after_and_frees_up(stack):
    port = stack.limited_port
    slow_result = {}

    def slow():
        slow_result["r"] = get(port, "/app/slow?ms=2500", timeout=20)

    t = threading.Thread(target=slow)
    t.start()
    try:
        time.sleep(0.5)  # the slow request holds the only place
        t0 = time.monotonic()
        r = get(port, "/app/echo", timeout=20)
        waited = time.monotonic() - t0
        assert r.status == 503, r
        assert r.header("Retry-After") == "1", r.headers
        assert 0.4 <= waited < 2.0, f"waited {waited:.2f}s for a place (IdmQueueTimeout 500ms)"
    finally:
        t.join(timeout=30)
    assert slow_result["r"].status == 200, slow_result
    # The place is free again: the next request is served.
    r = get(port, "/app/echo", timeout=20)
    assert r.status == 200, r


def test_waiting_request_gets_the_place_when_it_frees(stack):
    port = stack.limited_port
    results = {}

    def slow():
        results["slow"] = get(port, "/app/slow?ms=300", timeout=20)

    t = threading.Thread(target=slow)
    t.start()
    try:
        time.sleep(0.1)
        r = get(port, "/app/echo", timeout=20)  # waits < 500 ms, then gets the place
        assert r.status == 200, r
    finally:
        t.join(timeout=30)
    assert results["slow"].status == 200


def test_trace_enable_off_applies_to_mounted_urls(stack):
    """TraceEnable Off on this vhost: a TRACE under the mount is refused by httpd, never sent."""
    port = stack.limited_port
    before = bapi.members_of(bapi.snapshot(stack.mgr_port), "limited")["t1"]["requests"]
    r = request(port, "TRACE", "/app/echo")
    assert r.status == 405, r
    after = bapi.members_of(bapi.snapshot(stack.mgr_port), "limited")["t1"]["requests"]
    assert after == before, "the TRACE reached Tomcat"


def test_stalled_request_heads_hold_no_place(stack):
    # Issue 9, item 9: POST heads whose bodies never come are held in httpd (until its
    # Timeout), not in the member's max= place, so other clients are still served.
    import socket
    port = stack.limited_port
    stalled = []
    try:
        for i in range(6):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall((f"POST /app/echo?stalled={i} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
                       "Content-Type: application/octet-stream\r\nContent-Length: 1000\r\n\r\n").encode())
            stalled.append(s)
        time.sleep(0.3)
        for _ in range(3):
            r = get(port, "/app/echo", timeout=20)
            assert r.status == 200, r
        assert bapi.members_of(bapi.snapshot(port), "limited")["t1"]["busy"] == 0
    finally:
        for s in stalled:
            s.close()
