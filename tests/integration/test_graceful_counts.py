"""`apachectl graceful` every two seconds under load, on each MPM: the members' counters equal
what the clients got (requests and response bytes; the old generation's children count into
the table the new one reads), and no request fails that httpd itself did not close (a
keep-alive connection closed by an exiting child before any byte of an answer). mod_proxy_ajp
runs the same load in the same test, for comparison (printed as answers per second: the load
lasts five sleeps plus the time each graceful takes to be seen in the error log, which varies
by seconds with the machine's load, so the raw counts of two runs are not comparable)."""
from __future__ import annotations

import contextlib
import http.client
import random
import threading
import time
from dataclasses import dataclass, field
from typing import List

import pytest

import balancer_api as bapi
import stack as stk
from conftest import balancing_ajp_port

pytestmark = pytest.mark.idmbalance_only

MPMS = ("event", "worker", "prefork")
CLIENTS = 6
GRACEFULS = 4
GRACEFUL_EVERY_S = 2.0
MAX_REQUESTS_PER_CLIENT = 5000  # bound on the load loop besides its time


@dataclass
class Tally:
    ok: int = 0
    ok_body_bytes: int = 0
    other_status: int = 0   # answered, not 200: counted by the module, a failure for the test
    closed: int = 0         # connection closed before any answer: httpd's own doing
    errors: List[str] = field(default_factory=list)  # anything else
    seconds: float = 0.0    # how long the load ran
    lock: threading.Lock = field(default_factory=threading.Lock)


def client_loop(port: int, stop: threading.Event, tally: Tally, seed: int) -> None:
    rnd = random.Random(seed)
    conn = None
    for _ in range(MAX_REQUESTS_PER_CLIENT):
        if stop.is_set():
            break
        if conn is None:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        ms = rnd.choice((0, 0, 0, 20, 150))
        try:
            conn.request("GET", f"/app/slow?ms={ms}")
            r = conn.getresponse()
            body = r.read()
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            # Keep-alive connection closed by an exiting child: retried on a new one, as
            # browsers do. Only before the status line; a cut body is a failure below.
            with tally.lock:
                tally.closed += 1
            conn.close()
            conn = None
            continue
        except (OSError, http.client.HTTPException) as e:
            with tally.lock:
                tally.errors.append(repr(e))
            conn.close()
            conn = None
            continue
        with tally.lock:
            if r.status == 200:
                tally.ok += 1
                tally.ok_body_bytes += len(body)
            else:
                tally.other_status += 1
                tally.errors.append(f"status {r.status}")
        if r.getheader("Connection", "").lower() == "close":
            conn.close()
            conn = None
    if conn is not None:
        conn.close()


def load_with_gracefuls(h: stk.Httpd) -> Tally:
    tally = Tally()
    stop = threading.Event()
    threads = [threading.Thread(target=client_loop, args=(h.port, stop, tally, i), daemon=True)
               for i in range(CLIENTS)]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    try:
        for _ in range(GRACEFULS):
            time.sleep(GRACEFUL_EVERY_S)
            h.graceful()
        time.sleep(GRACEFUL_EVERY_S)
    finally:
        stop.set()
        for t in threads:
            t.join(60)
        tally.seconds = time.monotonic() - t0
    assert not any(t.is_alive() for t in threads), "a client did not stop"
    return tally


def totals(h: stk.Httpd) -> tuple:
    members = bapi.members_of(bapi.snapshot(h.port), "gc").values()
    return sum(m["requests"] for m in members), sum(m["bytes_in"] for m in members)


def members(stack) -> List[stk.Member]:
    return [stk.Member(t.name, balancing_ajp_port(t), route=t.route, secret=stack.secret)
            for t in stack.tomcats[:2]]


@contextlib.contextmanager
def front_end(stack, frontend: str, mpm: str):
    module = stack.module if frontend == "idmbalance" else None
    cfg = stk.HttpdConfig(stack.workdir / f"httpd-gc-{frontend}-{mpm}", stk.free_port(), frontend, module,
                          mpm=mpm, start_servers=4 if mpm == "prefork" else 2, threads_per_child=8,
                          balancers=[stk.Balancer("gc", members(stack), connect_timeout="2s")],
                          mounts=[stk.Mount("/app/*", "gc")],
                          extra=bapi.status_conf() if frontend == "idmbalance" else "")
    h = stk.Httpd(cfg).write_checked()
    h.start()
    try:
        yield h
    finally:
        h.stop()


@pytest.mark.parametrize("mpm", MPMS)
def test_graceful_restarts_lose_no_count_and_fail_no_request(stack, mpm):
    with front_end(stack, "idmbalance", mpm) as h:
        requests0, bytes0 = totals(h)
        ours = load_with_gracefuls(h)
        stk.wait_for(lambda: sum(m["busy"] for m in bapi.members_of(bapi.snapshot(h.port), "gc").values()) == 0,
                     15, 0.1, "nothing in flight")
        requests1, bytes1 = totals(h)
    with front_end(stack, "proxy_ajp", mpm) as p:
        theirs = load_with_gracefuls(p)
    print(f"{mpm}: mod_idmbalance ok={ours.ok} in {ours.seconds:.1f}s ({ours.ok / ours.seconds:.1f}/s) "
          f"closed-by-httpd={ours.closed} failed={len(ours.errors)}; "
          f"mod_proxy_ajp ok={theirs.ok} in {theirs.seconds:.1f}s ({theirs.ok / theirs.seconds:.1f}/s) "
          f"closed-by-httpd={theirs.closed} failed={len(theirs.errors)} {theirs.errors[:3]}")
    assert ours.ok > 100, "the load did not run"
    assert ours.errors == [], ours.errors[:10]
    assert requests1 - requests0 == ours.ok + ours.other_status
    assert bytes1 - bytes0 == ours.ok_body_bytes
