"""Crash reaping: httpd children killed with `kill -9` while requests are in flight give back
what they held. `busy` returns to the true value within seconds and a member at its `max=`
limit takes requests again, under the event, worker and prefork MPMs (the parent's
child_status hook releases a dead child's process record; see README, "The shared worker
table")."""
from __future__ import annotations

import contextlib
import os
import signal
import threading
import time

import pytest

import balancer_api as bapi
import stack as stk
from conftest import balancing_ajp_port
from httpc import get

pytestmark = pytest.mark.idmbalance_only

MPMS = ("event", "worker", "prefork")
MAX = 4
SLOW_MS = 8000  # long enough to be in flight at the kill, short enough to free Tomcat soon
REAP_WITHIN_S = 5.0


@contextlib.contextmanager
def mpm_httpd(stack, name: str, mpm: str, balancer: stk.Balancer, extra: str = ""):
    """An httpd of this module's own under `mpm`: `balancer` at /app/*, the status pages."""
    cfg = stk.HttpdConfig(stack.workdir / f"httpd-{name}-{mpm}", stk.free_port(), stack.frontend, stack.module,
                          mpm=mpm, start_servers=4 if mpm == "prefork" else 2, threads_per_child=8,
                          balancers=[balancer], mounts=[stk.Mount("/app/*", balancer.name)],
                          extra=bapi.status_conf() + extra)
    h = stk.Httpd(cfg).write_checked()
    h.start()
    try:
        yield h
    finally:
        h.stop()


def busy(h: stk.Httpd, balancer: str, member: str) -> int:
    return bapi.member_state(h.port, balancer, member)["busy"]


def slow_requests(h: stk.Httpd, n: int, ms: int) -> list:
    """`n` slow GETs in threads; returns the threads (their results do not matter: killed)."""
    def one():
        try:
            get(h.port, f"/app/slow?ms={ms}", timeout=ms / 1000 + 20)
        except OSError:  # its child was killed under it
            pass
    threads = []
    for _ in range(n):
        t = threading.Thread(target=one, daemon=True)
        t.start()
        threads.append(t)
    return threads


@pytest.mark.parametrize("mpm", MPMS)
def test_killed_children_release_busy_and_max_places(stack, mpm):
    t1 = stack.tomcats[0]
    member = stk.Member(t1.name, balancing_ajp_port(t1), route=t1.route, secret=stack.secret,
                        extra=f"max={MAX}")
    balancer = stk.Balancer("reap", [member], connect_timeout="2s", extra="    IdmQueueTimeout 200ms")
    with mpm_httpd(stack, "reap", mpm, balancer) as h:
        assert get(h.port, "/app/echo").status == 200
        slow_requests(h, MAX, SLOW_MS)
        stk.wait_for(lambda: busy(h, "reap", t1.name) == MAX, 15, 0.1, f"{MAX} requests in flight")
        assert get(h.port, "/app/echo", timeout=10).status == 503  # full: every max= place is held

        victims = h.children()
        assert victims
        for pid in victims:
            os.kill(pid, signal.SIGKILL)
        t0 = time.monotonic()
        stk.wait_for(lambda: not any(stk.pid_alive(p) and p in h.children() for p in victims), 10, 0.05,
                     "the killed children to be gone")

        def released():
            try:
                return busy(h, "reap", t1.name) == 0
            except Exception:  # no child to answer yet: the parent is starting new ones
                return False
        stk.wait_for(released, REAP_WITHIN_S, 0.1, "busy to return to 0 after kill -9")
        reaped_after = time.monotonic() - t0

        # The true value from here on: new requests count from 0 and the member takes them.
        slow_requests(h, 2, 3000)
        stk.wait_for(lambda: busy(h, "reap", t1.name) == 2, 10, 0.1, "2 new requests in flight")
        assert get(h.port, "/app/echo", timeout=10).status == 200  # 3 of 4 places: usable
        assert busy(h, "reap", t1.name) == 2
        stk.wait_for(lambda: busy(h, "reap", t1.name) == 0, 15, 0.1, "the new requests to finish")

        log = h.error_log.read_text(errors="replace")
        assert "requests in flight; released: reap/" + t1.name in log, log[-3000:]
        print(f"{mpm}: {len(victims)} children killed with {MAX} requests in flight; busy back to 0 "
              f"after {reaped_after:.2f}s")
