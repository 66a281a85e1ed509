"""Backend connection handling: keep-alive pooling, reuse rules, Tomcat restarts."""
from __future__ import annotations

import threading
import time

import stack as stk
from httpc import get

N_REQUESTS = 200


def _tw_and_est(port: int):
    socks = stk.tcp_sockets(port)
    tw = sum(1 for s in socks if s["state"] == "TIME_WAIT")
    est = sum(1 for s in socks if s["state"] == "ESTABLISHED" and s["remote"] == port)
    return tw, est


def test_keepalive_reuse_fake_backend(stack):
    fake = stack.fake
    conns0, reqs0 = fake.connection_count(), fake.request_count()
    deadline = time.monotonic() + 60
    for i in range(N_REQUESTS):
        r = get(stack.port, "/fault/ok")  # a new client connection each time
        assert r.status == 200 and r.body == b"ok", (i, r)
        assert time.monotonic() < deadline, "too slow"
    new_conns = fake.connection_count() - conns0
    assert fake.request_count() - reqs0 == N_REQUESTS
    assert new_conns <= 8, f"{N_REQUESTS} requests opened {new_conns} backend connections"


def test_keepalive_reuse_tomcat(stack):
    ports = [t.ajp_port for t in stack.tomcats]
    tw0 = sum(_tw_and_est(p)[0] for p in ports)
    deadline = time.monotonic() + 60
    for i in range(N_REQUESTS):
        r = get(stack.port, f"/app/echo?i={i}")
        assert r.status == 200, (i, r)
        assert time.monotonic() < deadline, "too slow"
    tw1 = sum(_tw_and_est(p)[0] for p in ports)
    est = sum(_tw_and_est(p)[1] for p in ports)
    assert est >= 1, "no established AJP connection left open: nothing is pooled"
    assert est <= 16, f"{est} established AJP connections after sequential requests"
    assert tw1 - tw0 <= 8, f"{tw1 - tw0} AJP connections were closed during {N_REQUESTS} requests"


def test_keepalive_one_client_connection(stack):
    """Many requests on one client keep-alive connection use one child: one backend connection."""
    from httpc import connection, request
    fake = stack.fake
    conns0 = fake.connection_count()
    c = connection(stack.port)
    try:
        for i in range(50):
            r = request(stack.port, "GET", "/fault/ok", conn=c)
            assert r.status == 200, (i, r)
    finally:
        c.close()
    assert fake.connection_count() - conns0 <= 2


def test_reuse0_connection_is_not_reused(stack):
    fake = stack.fake
    errors0 = len(fake.snapshot()["errors"])
    r = get(stack.port, "/fault/reuse0")
    assert r.status == 200 and r.body == b"ok", r
    rec = fake.last_request("/fault/reuse0")
    r2 = get(stack.port, "/fault/ok")
    assert r2.status == 200, r2
    assert r2.header("X-Fake-Conn") != str(rec.conn), "request sent on a reuse=0 connection"
    assert fake.wait_closed(rec.conn, 5), "the reuse=0 connection was not closed by the proxy"
    assert fake.snapshot()["errors"][errors0:] == []


def test_tomcat_restart_between_requests(stack):
    # Fill the pools of every child with connections to both Tomcats.
    threads = []
    results = []

    def burst():
        for _ in range(10):
            results.append(get(stack.port, "/app/echo").status)
    for _ in range(4):
        threads.append(threading.Thread(target=burst))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results.count(200) == 40
    before = {t.name: t.pid for t in stack.tomcats}

    restarters = [threading.Thread(target=t.restart) for t in stack.tomcats]
    for t in restarters:
        t.start()
    for t in restarters:
        t.join(120)
    assert all(t.is_running() and t.pid != before[t.name] for t in stack.tomcats)

    # The very next request must succeed although every pooled connection is now dead.
    r = get(stack.port, "/app/echo?after-restart")
    assert r.status == 200, r
    assert r.json()["counter"] <= 3, "counter should have restarted with the JVM"
    routes = set()
    for i in range(20):
        r = get(stack.port, f"/app/echo?after-restart={i}")
        assert r.status == 200, (i, r)
        routes.add(r.json()["route"])
    assert routes == {"t1", "t2"}
