"""Response times per member (issue 13) through real httpd and Tomcat: the JSON's latency
fields and the Prometheus histograms after known slow and fast requests, and the IDMB_*
access-log variables (time at the backend, attempts, first member tried) in a real access log
written by mod_log_config, with one failover from a member nobody listens on.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

import balancer_api as bapi
import httpc
import stack as stk
from conftest import balancing_ajp_port, own_httpd

pytestmark = pytest.mark.idmbalance_only

SLOW_MS = 150


def members(stack, names=("t1", "t2")):
    return [stk.Member(t.name, balancing_ajp_port(t), route=t.route, secret=stack.secret)
            for t in stack.tomcats if t.name in names]


def artifacts_dir(stack) -> Path:
    build = os.environ.get("IDMB_BUILD_DIR")
    d = (Path(build).resolve() if build else stack.workdir) / "artifacts"
    d.mkdir(parents=True, exist_ok=True)
    return d


def test_latency_in_json_and_prometheus(stack):
    b = stk.Balancer("lat", members(stack), connect_timeout="2s", extra="IdmSlowStart 0")
    with own_httpd(stack, "latency", b) as h:
        port = h.config.port
        for i in range(10):  # round robin: 5 slow and 5 fast answers per member
            path = f"/app/slow?ms={SLOW_MS}" if i % 4 < 2 else "/app/echo"
            r = httpc.get(port, path, timeout=10)
            assert r.status == 200, r
        snap = bapi.snapshot(port, manager=False)
        assert snap["schema"] == 2
        assert snap["latency_buckets_ms"][0] == 1 and snap["latency_buckets_ms"][-1] == 60000
        by_name = bapi.members_of(snap, "lat")
        for name in ("t1", "t2"):
            lat = by_name[name]["latency"]
            total = lat["since_start"]
            assert total["count"] == 5, (name, total)
            assert sum(total["buckets"]) == 5
            # 2 or 3 of each member's 5 were slow: p99 is slow, the sum at least the sleeps.
            assert lat["since_start"]["p99_ms"] >= SLOW_MS * 0.9, (name, lat)
            assert total["sum_ms"] >= 2 * SLOW_MS, (name, total)
            assert lat["first_byte"]["count"] == 5
            assert lat["first_byte"]["p50_ms"] <= lat["since_start"]["p99_ms"]
            # A sliding 60 s: if the requests straddled a minute's end, the older minute counts
            # in part only.
            assert 0 < lat["last_minute"]["requests"] <= 5.001, lat
            assert lat["last_minute"]["p99_ms"] >= SLOW_MS * 0.9
            assert 0 < lat["requests_per_s"]["1m"] <= 5 / 60 + 0.001, lat
            assert lat["errors_per_s"]["1m"] == 0
            assert sum(lat["history"]["requests"][-2:]) == 5  # this minute (and the one before)
            assert len(lat["history"]["p99_ms"]) == 15

        prom = bapi.page(port, manager=False, fmt="prometheus")
        assert prom.status == 200
        text = prom.body.decode()
        assert "# TYPE idmbalance_member_response_seconds histogram" in text
        samples = bapi.parse_prometheus(text)
        for name in ("t1", "t2"):
            mine = [(n, lb, v) for n, lb, v in samples if lb.get("balancer") == "lat" and lb.get("member") == name]
            buckets = [(lb["le"], v) for n, lb, v in mine if n == "idmbalance_member_response_seconds_bucket"]
            assert buckets[-1] == ("+Inf", 5.0), buckets
            values = [v for _, v in buckets]
            assert values == sorted(values), "buckets are not cumulative"
            le = dict(buckets)
            assert le["0.1"] <= 2 and le["60"] == 5, buckets  # the 3 slow ones sit above 100 ms
            count = [v for n, _, v in mine if n == "idmbalance_member_response_seconds_count"]
            total_s = [v for n, _, v in mine if n == "idmbalance_member_response_seconds_sum"]
            assert count == [5.0] and total_s[0] >= 2 * SLOW_MS / 1000, (count, total_s)
        # For the report: the two members' response-time histograms as scraped.
        lines = [ln for ln in text.splitlines()
                 if ln.startswith("idmbalance_member_response_seconds") and 'balancer="lat"' in ln]
        (artifacts_dir(stack) / "latency-prometheus.txt").write_text("\n".join(lines) + "\n")


LOG_FORMAT = ('%>s %D %{IDMB_BACKEND_US}e %{IDMB_ATTEMPTS}e '
              '%{IDMB_FIRST_MEMBER}e %{IDMB_MEMBER}e %U')
LOG_LINE = re.compile(r'^(\d{3}) (\d+) (\S+) (\S+) (\S+) (\S+) (\S+)$')


def read_log(path: Path, expected: int, start: int):
    """The lines written after byte `start` (the work dir, and its log, outlive a run)."""
    def lines():
        if not path.exists():
            return None
        got = [ln for ln in path.read_bytes()[start:].decode().splitlines() if ln.strip()]
        return got if len(got) >= expected else None
    got = stk.wait_for(lines, 10, 0.1, f"{expected} lines in {path}")
    return [LOG_LINE.match(ln) for ln in got]


def test_backend_time_attempts_and_first_member_in_the_access_log(stack):
    # `deadmember` first in the config; nothing listens there, so a request that tries it
    # fails over to t1: two attempts, first member deadmember.
    dead = stk.Member("deadmember", stack.dead_port, secret=stack.secret)
    b = stk.Balancer("logtime", [dead] + members(stack, ("t1",)), connect_timeout="1s",
                     extra="IdmSlowStart 0")
    extra = (f'LogFormat "{LOG_FORMAT}" idmbtime\n'
             'CustomLog "{root}/logs/idmbtime.log" idmbtime\n')
    with own_httpd(stack, "logtime", b, extra=extra) as h:
        port = h.config.port
        log = h.config.root / "logs" / "idmbtime.log"
        start = log.stat().st_size if log.exists() else 0
        paths = [f"/app/slow?ms={SLOW_MS}", "/app/echo", "/app/echo", f"/app/slow?ms={SLOW_MS}"]
        for p in paths:
            assert httpc.get(port, p, timeout=10).status == 200
        assert httpc.get(port, "/not-mounted", timeout=10).status == 404
        parsed = read_log(log, len(paths) + 1, start)
    assert all(parsed), "unparsed log lines"
    forwarded = [m for m in parsed if m.group(7).startswith("/app/")]
    assert len(forwarded) == len(paths)
    failovers = 0
    for m in forwarded:
        status, total_us, backend_us, attempts, first, member, url = m.groups()
        assert status == "200" and member == "t1", m.group(0)
        assert 0 < int(backend_us) <= int(total_us), m.group(0)  # the backend's share of %D
        if url == "/app/slow":
            assert int(backend_us) >= SLOW_MS * 1000, m.group(0)
        if attempts == "2":
            assert first == "deadmember", m.group(0)
            failovers += 1
        else:
            assert attempts == "1" and first == "t1", m.group(0)
    # The first request to reach deadmember takes it out; the rest go to t1 directly.
    assert failovers == 1, [m.group(0) for m in forwarded]
    # Not forwarded: httpd's own 404 has no IDMB_* values ("-").
    local = [m for m in parsed if m.group(7) == "/not-mounted"]
    assert local and local[0].group(3) == "-" and local[0].group(4) == "-", local[0].group(0)
