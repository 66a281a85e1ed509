"""Balancing with two real Tomcats (issue 3): factors, session affinity across many httpd
children (event and prefork), disabled/stopped members, separate balancers, counters in the
shared table, and a graceful restart.

Balancers (conftest.py): `weighted` (t1 factor 3, t2 factor 1) on stack.weighted_port;
`operator` (t1+t2) on /app/* and `selfservice` (t2 only) on /escaped/* of stack.idm_port;
`app` (t1+t2) on the prefork httpd (8 children). Every request goes over a new connection.
Each test leaves members and factors as it found them.
"""
from __future__ import annotations

import sys
import time
from collections import Counter
from typing import Dict, List, Optional, Tuple

import pytest

import balancer_api as bapi
from balancer_api import Restore, RouteLog

pytestmark = pytest.mark.idmbalance_only

N_DISTRIBUTION = 400
STICKY_SESSIONS = 12
STICKY_COOKIE_REQUESTS = 15   # per session, cookie form
STICKY_URL_REQUESTS = 5       # per session, ;jsessionid= form


def report(msg: str) -> None:
    """Measured figures, visible with -s and in the CTest log."""
    print(f"[measure] {msg}", file=sys.stderr, flush=True)


def hit(port: int, path: str, sid: Optional[str] = None, url_form: bool = False) -> Tuple[str, Optional[str]]:
    """One GET on a new connection; returns (route that answered, session id Tomcat was sent)."""
    headers = {}
    if sid and url_form:
        base, _, query = path.partition("?")
        path = f"{base};jsessionid={sid}" + (f"?{query}" if query else "")
    elif sid:
        headers["Cookie"] = f"JSESSIONID={sid}"
    js = bapi.echo_route(port, path, headers)
    return js["route"], js["requestedSessionId"]


def make_sessions(port: int, n: int, tag: str, prefix: str = "/app") -> List[Tuple[str, str]]:
    return bapi.parallel(lambda i: bapi.new_session(port, prefix, f"{tag}-s{i}"), range(n), workers=4)


def sessions_on_both(port: int, tag: str, per_route: int = 3, limit: int = 40) -> Dict[str, List[str]]:
    """At least `per_route` sessions on each of t1 and t2 (bounded number of attempts)."""
    by_route: Dict[str, List[str]] = {"t1": [], "t2": []}
    for i in range(limit):
        sid, route = bapi.new_session(port, "/app", f"{tag}-s{i}")
        by_route[route].append(sid)
        if all(len(v) >= per_route for v in by_route.values()):
            return by_route
    raise AssertionError(f"{limit} new sessions did not land on both members: "
                         f"{ {k: len(v) for k, v in by_route.items()} }")


def sticky_round(port: int, sessions: List[Tuple[str, str]], tag: str, workers: int):
    """Every session: cookie and URL-form requests, all on new connections, in parallel."""
    jobs = []
    for si, (sid, route) in enumerate(sessions):
        for k in range(STICKY_COOKIE_REQUESTS):
            jobs.append((sid, route, False, f"/app/echo?tid={tag}-c{si}-{k}"))
        for k in range(STICKY_URL_REQUESTS):
            jobs.append((sid, route, True, f"/app/echo?tid={tag}-u{si}-{k}"))

    def run(job):
        sid, route, url_form, path = job
        got, requested = hit(port, path, sid, url_form)
        return sid, route, url_form, got, requested
    return bapi.parallel(run, jobs, workers=workers)


def check_sticky(results, lines: List[bapi.RouteLine], balancer: str) -> None:
    wrong = [(sid, url, want, got) for sid, want, url, got, _ in results if got != want]
    assert not wrong, f"{len(wrong)}/{len(results)} session requests left their Tomcat: {wrong[:5]}"
    lost = [(sid, url, req) for sid, _, url, _, req in results if req != sid]
    assert not lost, f"Tomcat was not sent the session id: {lost[:5]}"
    assert len(lines) == len(results)
    for l in lines:
        assert l.balancer == balancer, l
        assert l.sticky == "1" and l.route_changed == "0", l
        assert l.session_route == l.route == l.member, l


# ---------------------------------------------------------------------------------------------


def test_new_sessions_follow_factors(stack):
    """400 requests without a session on weighted (3:1): t1 gets 75% +- 5%; the table's
    request counters and the route log agree with what the responses say."""
    port = stack.weighted_port
    tag = bapi.new_tag()
    log = RouteLog(stack.httpd.root)
    before = bapi.requests_by_member(port, "weighted")
    routes = bapi.parallel(lambda i: hit(port, f"/app/echo?tid={tag}-{i}")[0], range(N_DISTRIBUTION))
    counts = Counter(routes)
    share = counts["t1"] / N_DISTRIBUTION
    report(f"weighted 3:1, {N_DISTRIBUTION} new requests, 8 clients: t1={counts['t1']} "
           f"t2={counts['t2']} (t1 share {share:.1%})")
    assert set(counts) == {"t1", "t2"}, counts
    assert 0.70 <= share <= 0.80, f"t1 share {share:.1%}, expected 75% +- 5%: {counts}"
    after = bapi.requests_by_member(port, "weighted")
    delta = {m: after[m] - before[m] for m in after}
    assert delta == {"t1": counts["t1"], "t2": counts["t2"]}, (delta, counts)
    lines = log.wait(tag, N_DISTRIBUTION)
    assert Counter(l.member for l in lines) == counts
    assert all(l.balancer == "weighted" and l.member == l.route and l.session_route == "-"
               and l.sticky == "0" for l in lines), lines[:3]


def test_sticky_sessions_main_stack(stack):
    """Every later request of a session (cookie or ;jsessionid=) reaches the session's Tomcat,
    over new connections served by the session stack's children and threads (event MPM unless
    IDMB_MPM says otherwise)."""
    port = stack.idm_port
    tag = bapi.new_tag()
    log = RouteLog(stack.httpd.root)
    sessions = make_sessions(port, STICKY_SESSIONS, tag)
    assert {r for _, r in sessions} == {"t1", "t2"}, f"new sessions all on one member: {sessions}"
    before = bapi.members_of(bapi.snapshot(port), "operator")
    results = sticky_round(port, sessions, tag, workers=8)
    lines = [l for l in log.wait(tag, len(results) + len(sessions)) if f"tid={tag}-s" not in l.request]
    check_sticky(results, lines, "operator")
    after = bapi.members_of(bapi.snapshot(port), "operator")
    hits = sum(after[m]["sticky_hits"] - before[m]["sticky_hits"] for m in after)
    reqs = sum(after[m]["requests"] - before[m]["requests"] for m in after)
    assert hits == reqs == len(results), (hits, reqs, len(results))
    pids = {l.pid for l in lines}
    report(f"{stack.mpm}: {len(sessions)} sessions, {len(results)} sticky requests, 100% on their "
           f"Tomcat, served by {len(pids)} children")
    assert len(pids) >= 2, f"only {len(pids)} {stack.mpm} children served the sticky requests"


def test_sticky_sessions_prefork_8_children(stack, prefork):
    """The same with prefork and 8+ children: the choice is the same in every process, and the
    shared table's counters add up to the requests sent across all of them."""
    port = prefork.port
    kids = prefork.children()
    assert len(kids) >= 8, f"prefork httpd runs {len(kids)} children, expected >= 8"
    tag = bapi.new_tag()
    log = RouteLog(prefork.root)
    before = bapi.members_of(bapi.snapshot(port), "app")
    sessions = make_sessions(port, STICKY_SESSIONS, tag)
    assert {r for _, r in sessions} == {"t1", "t2"}, sessions
    results = sticky_round(port, sessions, tag, workers=16)
    all_lines = log.wait(tag, len(results) + len(sessions))
    lines = [l for l in all_lines if f"tid={tag}-s" not in l.request]
    check_sticky(results, lines, "app")
    pids = {l.pid for l in lines}
    report(f"prefork: {len(sessions)} sessions, {len(results)} sticky requests, 100% on their "
           f"Tomcat, served by {len(pids)} children")
    assert len(pids) >= 8, f"only {len(pids)} prefork children served the sticky requests"
    after = bapi.members_of(bapi.snapshot(port), "app")
    reqs = {m: after[m]["requests"] - before[m]["requests"] for m in after}
    hits = {m: after[m]["sticky_hits"] - before[m]["sticky_hits"] for m in after}
    assert sum(reqs.values()) == len(all_lines), (reqs, len(all_lines))
    assert reqs == dict(Counter(l.member for l in all_lines)), reqs
    assert hits == dict(Counter(l.member for l in lines)), hits


def test_counters_add_up_across_prefork_children(prefork):
    """600 requests from 24 parallel clients over the prefork children: the table counts each
    exactly once (no lost update across processes)."""
    port = prefork.port
    tag = bapi.new_tag()
    log = RouteLog(prefork.root)
    before = bapi.members_of(bapi.snapshot(port), "app")
    n = 600
    routes = bapi.parallel(lambda i: hit(port, f"/app/echo?tid={tag}-{i}")[0], range(n), workers=24)
    after = bapi.members_of(bapi.snapshot(port), "app")
    delta = {m: after[m]["requests"] - before[m]["requests"] for m in after}
    assert delta == dict(Counter(routes)), (delta, Counter(routes))
    assert sum(delta.values()) == n
    assert abs(delta["t1"] - delta["t2"]) <= n * 0.1, delta
    for m in after:
        assert after[m]["busy"] == 0, (m, after[m]["busy"])
        assert after[m]["bytes_in"] > before[m]["bytes_in"], m  # response bytes from Tomcat
    pids = {l.pid for l in log.wait(tag, n)}
    report(f"prefork: {n} requests over {len(pids)} children, counters delta {delta}")
    assert len(pids) >= 8


def test_disabled_member_keeps_its_sessions_and_gets_no_new_ones(stack):
    port = stack.idm_port
    tag = bapi.new_tag()
    by_route = sessions_on_both(port, tag)
    log = RouteLog(stack.httpd.root)
    with Restore(port, "operator", ["t2"]):
        bapi.set_activation(port, "operator", "t2", "disabled")
        before = bapi.members_of(bapi.snapshot(port), "operator")
        new = bapi.parallel(lambda i: hit(port, f"/app/echo?tid={tag}-n{i}")[0], range(40))
        assert Counter(new) == {"t1": 40}, f"a disabled member got new requests: {Counter(new)}"
        jobs = [(sid, url) for sid in by_route["t2"] for url in (False, True) for _ in range(3)]
        old = bapi.parallel(lambda j: hit(port, f"/app/echo?tid={tag}-o", j[0], j[1]), jobs)
        assert all(r == "t2" and req == sid for (r, req), (sid, _) in zip(old, jobs)), old
        after = bapi.members_of(bapi.snapshot(port), "operator")
        assert after["t2"]["requests"] - before["t2"]["requests"] == len(jobs)
        assert after["t2"]["sticky_hits"] - before["t2"]["sticky_hits"] == len(jobs)
        assert after["t1"]["requests"] - before["t1"]["requests"] == 40
        lines = log.wait(f"tid={tag}-o", len(jobs))
        assert all(l.member == "t2" and l.sticky == "1" and l.route_changed == "0" for l in lines)
    # Active again: new sessions reach t2 again.
    again = bapi.parallel(lambda i: hit(port, f"/app/echo?tid={tag}-a{i}")[0], range(20))
    assert set(again) == {"t1", "t2"}, Counter(again)


def test_stopped_member_gets_nothing(stack):
    port = stack.idm_port
    tag = bapi.new_tag()
    by_route = sessions_on_both(port, tag)
    log = RouteLog(stack.httpd.root)
    with Restore(port, "operator", ["t2"]):
        bapi.set_activation(port, "operator", "t2", "stopped")
        before = bapi.members_of(bapi.snapshot(port), "operator")
        new = bapi.parallel(lambda i: hit(port, f"/app/echo?tid={tag}-n{i}")[0], range(30))
        assert Counter(new) == {"t1": 30}, Counter(new)
        jobs = [(sid, url) for sid in by_route["t2"] for url in (False, True) for _ in range(2)]
        moved = bapi.parallel(lambda j: hit(port, f"/app/echo?tid={tag}-m", j[0], j[1])[0], jobs)
        assert set(moved) == {"t1"}, f"a stopped member's sessions did not move: {moved}"
        after = bapi.members_of(bapi.snapshot(port), "operator")
        assert after["t2"]["requests"] == before["t2"]["requests"], "a stopped member got requests"
        assert after["t1"]["requests"] - before["t1"]["requests"] == 30 + len(jobs)
        lines = log.wait(f"tid={tag}-m", len(jobs))
        for l in lines:
            assert (l.member, l.session_route, l.route_changed, l.sticky) == ("t1", "t2", "1", "0"), l
        # t1's own sessions are unaffected.
        for sid in by_route["t1"]:
            assert hit(port, f"/app/echo?tid={tag}-k", sid)[0] == "t1"
    # Active again: the t2 sessions are back on t2 (Tomcat t2 still has them).
    for sid in by_route["t2"]:
        assert hit(port, f"/app/echo?tid={tag}-b", sid) == ("t2", sid)


def test_two_balancers_stay_separate(stack):
    """operator (t1+t2) on /app/*, selfservice (t2) on /escaped/* of the same vhost: each
    request goes to its own balancer's members and counters; a change to operator/t2 leaves
    selfservice/t2 alone."""
    port = stack.idm_port
    tag = bapi.new_tag()
    log = RouteLog(stack.httpd.root)
    snap0 = bapi.snapshot(port)
    assert bapi.balancer_of(snap0, "operator")["mounts"] == ["/app/*"]
    assert bapi.balancer_of(snap0, "selfservice")["mounts"] == ["/escaped/*"]
    assert list(bapi.members_of(snap0, "selfservice")) == ["t2"]
    op0, ss0 = bapi.members_of(snap0, "operator"), bapi.members_of(snap0, "selfservice")
    made = 0
    t1_session = None
    while t1_session is None and made < 10:
        sid, route = bapi.new_session(port, "/app", f"{tag}-x{made}")
        made += 1
        t1_session = sid if route == "t1" else None
    assert t1_session, "10 new sessions on operator, none on t1"
    n = 30
    app = bapi.parallel(lambda i: hit(port, f"/app/echo?tid={tag}-a{i}")[0], range(n))
    ss = bapi.parallel(lambda i: hit(port, f"/escaped/echo?tid={tag}-e{i}")[0], range(n))
    # A session of the other balancer's t1 means nothing to selfservice: still t2.
    ss_cookie = bapi.parallel(lambda i: hit(port, f"/escaped/echo?tid={tag}-c{i}", t1_session)[0],
                              range(10))
    counts = Counter(app)
    assert set(counts) == {"t1", "t2"} and abs(counts["t1"] - counts["t2"]) <= 6, counts
    assert set(ss) == {"t2"} and set(ss_cookie) == {"t2"}, (Counter(ss), Counter(ss_cookie))
    snap1 = bapi.snapshot(port)
    op1, ss1 = bapi.members_of(snap1, "operator"), bapi.members_of(snap1, "selfservice")
    assert ss1["t2"]["requests"] - ss0["t2"]["requests"] == n + 10
    op_delta = {m: op1[m]["requests"] - op0[m]["requests"] for m in op1}
    assert sum(op_delta.values()) == n + made, (op_delta, n, made)
    lines = log.wait(tag, made + 2 * n + 10)
    for l in lines:
        want = "selfservice" if l.request.startswith("GET /escaped/") else "operator"
        assert l.balancer == want, l
    assert Counter(l.balancer for l in lines) == {"operator": n + made, "selfservice": n + 10}

    with Restore(port, "operator", ["t2"]):
        bapi.set_activation(port, "operator", "t2", "stopped")
        assert bapi.member_state(port, "selfservice", "t2")["activation"] == "active"
        ss = bapi.parallel(lambda i: hit(port, f"/escaped/echo?tid={tag}-s{i}")[0], range(10))
        assert set(ss) == {"t2"}, "stopping operator/t2 affected selfservice/t2"
        app = bapi.parallel(lambda i: hit(port, f"/app/echo?tid={tag}-t{i}")[0], range(10))
        assert set(app) == {"t1"}


@pytest.mark.parametrize("which", ["main", "prefork8"])
def test_graceful_restart_keeps_counters_and_manager_edits(stack, prefork, which):
    """apachectl graceful: the counters carry over and manager edits (factor 5, disabled)
    survive; on the session stack (event MPM by default) and the 8-child prefork httpd."""
    httpd, port, balancer = ((stack.httpd, stack.weighted_port, "weighted") if which == "main"
                             else (prefork, prefork.port, "app"))
    mpm = httpd.config.mpm
    tag = bapi.new_tag()
    bapi.parallel(lambda i: hit(port, f"/app/echo?tid={tag}-p{i}"), range(20))
    with Restore(port, balancer, ["t2"]):
        bapi.command(port, balancer, "t2", factor=5)
        bapi.set_activation(port, balancer, "t2", "disabled")
        before = bapi.snapshot(port)
        old_kids = set(httpd.children())
        httpd.graceful()
        # Wait (bounded) until the old children are gone, so the next page is the new generation's.
        deadline = time.monotonic() + 20
        while old_kids & set(httpd.children()) and time.monotonic() < deadline:
            time.sleep(0.1)
        after = bapi.snapshot(port)
        assert after["generation"] > before["generation"], (before["generation"], after["generation"])
        mb, ma = bapi.members_of(before, balancer), bapi.members_of(after, balancer)
        for m in mb:
            for k in ("requests", "bytes_in", "bytes_out", "sticky_hits", "errors_total"):
                assert ma[m][k] >= mb[m][k], (m, k, mb[m][k], ma[m][k])
            assert ma[m]["requests"] == mb[m]["requests"], (m, mb[m]["requests"], ma[m]["requests"])
        assert sum(ma[m]["requests"] for m in ma) > 0
        assert ma["t2"]["factor"] == 5, "a manager factor edit was lost in the graceful restart"
        assert ma["t2"]["activation"] == "disabled", "a manager activation edit was lost"
        # The carried-over table is the live one: new requests add to it (t2 is disabled).
        routes = bapi.parallel(lambda i: hit(port, f"/app/echo?tid={tag}-q{i}")[0], range(10))
        assert set(routes) == {"t1"}, Counter(routes)
        m2 = bapi.members_of(bapi.snapshot(port), balancer)
        assert m2["t1"]["requests"] == ma["t1"]["requests"] + 10
        report(f"graceful ({mpm}): generation {before['generation']} -> {after['generation']}, "
               f"requests {[mb[m]['requests'] for m in mb]} -> {[ma[m]['requests'] for m in ma]}")
