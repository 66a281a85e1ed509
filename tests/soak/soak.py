#!/usr/bin/python3
"""Soak: a bounded run of mixed GET/POST traffic with sessions through mod_idmbalance in front of
two real Tomcats, while a Tomcat is restarted every --restart-every seconds (alternating a
clean stop and kill -9, alternating t1 and t2) and httpd gets `graceful` twice. Checks:

- no GET fails (GETs fail over); a POST answered 200 ran exactly once (its count in the
  answer is 1, and for a sample the other Tomcat never saw it); a POST gets 5xx only while a
  Tomcat is being killed or stopped (it was in flight there; those at a clean stop are
  counted apart);
- httpd closes a keep-alive connection before answering only around a graceful, and no POST
  so closed ran on either Tomcat;
- the members' request counters equal what the clients got: requests = answers that came
  from a Tomcat + failed attempts (errors);
- httpd children's RSS and descriptors stay flat (growth per 100k requests is reported), and
  backend connections stay within the pools' bound.

  tests/soak/soak.py --seconds 60                 # the short run (ctest -L soak)
  tests/soak/soak.py --requests 1000000           # the full run (about a million requests)

IDMB_MODULE (default: build/mod_idmbalance/mod_idmbalance.so) and IDMB_BUILD_DIR as for the
integration tests. Prints a summary and writes --json; exits 1 when a check fails.
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import random
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))

import balancer_api as bapi  # noqa: E402
import stack as stk  # noqa: E402

THREADS_PER_CHILD = 16
KILL_WINDOW_S = 3.0  # a POST 5xx this close to a Tomcat stop/kill was in flight there
# httpd closes keep-alive connections only at a graceful: its old children close the idle ones
# at once and the busy ones after their answer (bounded by KeepAliveTimeout, 15 s).
CLOSED_WINDOW_S = 20.0


@dataclass
class Tally:
    get_ok: int = 0
    get_failed: List[str] = field(default_factory=list)
    post_ok: int = 0
    post_5xx: List[float] = field(default_factory=list)  # monotonic times
    post_other: List[str] = field(default_factory=list)
    post_twice: List[str] = field(default_factory=list)
    post_checked: int = 0
    closed: List[float] = field(default_factory=list)  # keep-alive connection closed before an answer
    closed_posts: int = 0  # POSTs among them (checked on both Tomcats: none may have run)
    closed_posts_ran: List[str] = field(default_factory=list)
    get_5xx: int = 0
    answers: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Client(threading.Thread):
    def __init__(self, n: int, port: int, tomcats: List[stk.Tomcat], budget: "Budget", tally: Tally):
        super().__init__(daemon=True)
        self.rnd = random.Random(n)
        self.port, self.tomcats, self.budget, self.tally = port, tomcats, budget, tally
        self.session = n % 2 == 0  # half of the clients keep a session
        self.cookie: Optional[str] = None
        self.conn: Optional[http.client.HTTPConnection] = None
        self.rid = ""  # the current POST's X-Request-Id

    def _request(self, method: str, path: str, body: Optional[bytes], headers: Dict[str, str]):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=70)
        if self.cookie:
            headers["Cookie"] = self.cookie
        self.conn.request(method, path, body=body, headers=headers)
        r = self.conn.getresponse()
        data = r.read()
        for k, v in r.getheaders():
            if k.lower() == "set-cookie" and v.startswith("JSESSIONID="):
                self.cookie = v.split(";")[0]
        if (r.getheader("Connection") or "").lower() == "close":
            self.close()
        return r.status, data

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def run(self):
        while self.budget.take():
            is_get = self.rnd.random() < 0.7
            self.rid = uuid.uuid4().hex
            try:
                self.one_get() if is_get else self.one_post()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # httpd closed a keep-alive connection (graceful) before answering: a browser
                # retries a GET; a POST must not have run anywhere.
                with self.tally.lock:
                    self.tally.closed.append(time.monotonic())
                self.close()
                if not is_get:
                    self.check_closed_post()
            except (OSError, http.client.HTTPException) as e:
                with self.tally.lock:
                    self.tally.get_failed.append(f"client error {e!r}")
                self.close()
        self.close()

    def one_get(self):
        session = "1" if self.session and self.cookie is None else "0"
        status, data = self._request("GET", f"/app/echo?session={session}", None, {})
        with self.tally.lock:
            self.tally.answers += 1
            if status == 200:
                self.tally.get_ok += 1
            else:
                self.tally.get_failed.append(f"GET {status}")
                self.tally.get_5xx += status >= 500

    def one_post(self):
        rid = self.rid
        body = os.urandom(self.rnd.choice((64, 1024, 4096)))
        status, data = self._request("POST", "/app/count", body, {"X-Request-Id": rid,
                                                                  "Content-Type": "application/octet-stream"})
        with self.tally.lock:
            self.tally.answers += 1
        if status >= 500:
            with self.tally.lock:
                self.tally.post_5xx.append(time.monotonic())
            return
        if status != 200:
            with self.tally.lock:
                self.tally.post_other.append(f"POST {status}")
            return
        answer = json.loads(data)
        twice = answer["count"] != 1
        if not twice and self.rnd.random() < 0.05:  # the other Tomcat must not have run it
            other = [t for t in self.tomcats if t.route != answer["route"]]
            seen = other_count(other[0], rid) if other else 0
            twice = seen is not None and seen > 0
            with self.tally.lock:
                self.tally.post_checked += 1
        with self.tally.lock:
            self.tally.post_ok += 1
            if twice:
                self.tally.post_twice.append(rid)

    def check_closed_post(self):
        seen = [other_count(t, self.rid) for t in self.tomcats]
        with self.tally.lock:
            self.tally.closed_posts += 1
            if any(n for n in seen if n is not None):
                self.tally.closed_posts_ran.append(self.rid)


def other_count(t: stk.Tomcat, rid: str) -> Optional[int]:
    """The count of `rid` on Tomcat `t` over its HTTP connector; None while it is down."""
    try:
        c = http.client.HTTPConnection("127.0.0.1", t.http_port, timeout=5)
        c.request("GET", f"/app/count?id={rid}")
        r = c.getresponse()
        data = r.read()
        c.close()
        return json.loads(data)["count"] if r.status == 200 else None
    except (OSError, http.client.HTTPException, ValueError):
        return None


class Budget:
    """At most `requests` requests and `seconds` seconds, whichever ends first."""

    def __init__(self, requests: int, seconds: float):
        self.left = requests
        self.deadline = time.monotonic() + seconds
        self.lock = threading.Lock()
        self.taken = 0

    def take(self) -> bool:
        with self.lock:
            if self.left <= 0 or time.monotonic() >= self.deadline:
                return False
            self.left -= 1
            self.taken += 1
            return True

    def done(self) -> bool:
        with self.lock:
            return self.left <= 0 or time.monotonic() >= self.deadline


def proc_value(pid: int, key: str) -> Optional[int]:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def fd_count(pid: int) -> Optional[int]:
    """Descriptors other than sockets (sockets come and go with the pools and clients; they are
    bounded by the backend connection check)."""
    try:
        fds = os.listdir(f"/proc/{pid}/fd")
        return sum(1 for fd in fds if not os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"))
    except OSError:
        return None


def backend_connections(ports: List[int]) -> Dict[int, int]:
    """Established TCP connections whose remote end is one of `ports` (httpd's side)."""
    out = {p: 0 for p in ports}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            remote, state = parts[2], parts[3]
            port = int(remote.rsplit(":", 1)[1], 16)
            if state == "01" and port in out:
                out[port] += 1
    return out


@dataclass
class Sample:
    t: float
    requests: int
    rss_kb: Dict[int, int]
    fds: Dict[int, int]
    connections: Dict[int, int]
    children: int


def sample(h: stk.Httpd, budget: Budget, ports: List[int]) -> Sample:
    kids = h.children()
    rss = {p: v for p in kids if (v := proc_value(p, "VmRSS")) is not None}
    fds = {p: v for p in kids if (v := fd_count(p)) is not None}
    return Sample(time.monotonic(), budget.taken, rss, fds, backend_connections(ports), len(kids))


def growth_per_100k(samples: List[Sample], attr: str) -> Tuple[float, float]:
    """Per child pid: least-squares slope of `attr` against requests, per 100k requests, over
    the second half of its life (after warm-up). Returns (median, max) over pids with enough
    samples."""
    series: Dict[int, List[Tuple[int, int]]] = {}
    for s in samples:
        for pid, v in getattr(s, attr).items():
            series.setdefault(pid, []).append((s.requests, v))
    slopes = []
    for points in series.values():
        points = points[len(points) // 2:]
        if len(points) < 4 or points[-1][0] - points[0][0] < 5000:
            continue
        n = len(points)
        mx = sum(x for x, _ in points) / n
        my = sum(y for _, y in points) / n
        den = sum((x - mx) ** 2 for x, _ in points)
        if den:
            slopes.append(sum((x - mx) * (y - my) for x, y in points) / den * 100_000)
    if not slopes:
        return 0.0, 0.0
    slopes.sort()
    return slopes[len(slopes) // 2], slopes[-1]


def longest_life(samples: List[Sample]) -> int:
    """Requests the whole server served during the longest-lived child's samples."""
    first: Dict[int, int] = {}
    last: Dict[int, int] = {}
    for s in samples:
        for pid in s.rss_kb:
            first.setdefault(pid, s.requests)
            last[pid] = s.requests
    return max((last[p] - first[p] for p in first), default=0)


def rss_series(samples: List[Sample]) -> Dict[str, List[Tuple[int, int]]]:
    """Per child pid: (requests so far, RSS KiB), every 5th sample, to tell warm-up from growth."""
    out: Dict[str, List[Tuple[int, int]]] = {}
    for i, s in enumerate(samples):
        if i % 5 == 0 or i == len(samples) - 1:
            for pid, v in s.rss_kb.items():
                out.setdefault(str(pid), []).append((s.requests, v))
    return out


def chaos(stack: stk.Stack, budget: Budget, every: float, gracefuls: List[float], events: list) -> None:
    """Restarts a Tomcat every `every` s (clean stop and kill -9 alternating, t1 and t2 alternating)
    and runs httpd graceful at the given fractions of the time budget."""
    start = time.monotonic()
    total = budget.deadline - start
    requests = budget.taken + budget.left
    next_restart = start + every
    pending = sorted(gracefuls)  # fractions of the time or of the requests, whichever comes first
    n = 0
    while not budget.done():
        now = time.monotonic()
        if pending and (now >= start + pending[0] * total or budget.taken >= pending[0] * requests):
            pending.pop(0)
            events.append((time.monotonic(), "graceful start"))
            stack.httpd.graceful()
            events.append((time.monotonic(), "graceful"))
        if now >= next_restart:
            # stop t1, kill t2, stop t2, kill t1, ...: both ways on both Tomcats.
            how = ("stop", "kill")[n % 2]
            t = stack.tomcats[(n // 2 + n) % 2]
            events.append((time.monotonic(), f"{how} {t.name}"))
            t.stop() if how == "stop" else t.kill()
            events.append((time.monotonic(), f"{how} {t.name} done"))
            t.start()
            events.append((time.monotonic(), f"start {t.name}"))
            n += 1
            next_restart = time.monotonic() + every
        time.sleep(0.2)


def totals(port: int) -> Tuple[int, int]:
    members = bapi.members_of(bapi.snapshot(port), "app").values()
    return sum(m["requests"] for m in members), sum(m["errors_total"] for m in members)


def run(args) -> dict:
    module = stk.module_from_env("idmbalance")
    stack = stk.Stack(stk.run_dir("soak-work"), "idmbalance", module, tomcat_http=True,
                      extra_conf=bapi.status_conf())
    stack.up()
    try:
        h = stack.httpd
        ports = [t.ajp_port for t in stack.tomcats]
        requests0, errors0 = totals(h.port)
        budget = Budget(args.requests, args.seconds)
        tally = Tally()
        clients = [Client(i, h.port, stack.tomcats, budget, tally) for i in range(args.clients)]
        events: list = []
        chaos_thread = threading.Thread(target=chaos, args=(stack, budget, args.restart_every,
                                                            [1 / 3, 2 / 3], events), daemon=True)
        t0 = time.monotonic()
        for c in clients:
            c.start()
        chaos_thread.start()
        samples = []
        while not budget.done():
            samples.append(sample(h, budget, ports))
            time.sleep(args.sample_every)
        for c in clients:
            c.join(120)
        chaos_thread.join(180)
        elapsed = time.monotonic() - t0
        for t in stack.tomcats:  # both up again for the final numbers
            t.start()
        stk.wait_for(lambda: sum(m["busy"] for m in bapi.members_of(bapi.snapshot(h.port), "app").values()) == 0,
                     30, 0.2, "nothing in flight")
        samples.append(sample(h, budget, ports))
        requests1, errors1 = totals(h.port)
        return report(args, tally, events, samples, requests1 - requests0, errors1 - errors0, elapsed, ports)
    finally:
        stack.down()


def report(args, tally: Tally, events, samples, requests: int, errors: int, elapsed: float, ports) -> dict:
    kills = [t for t, what in events if what.startswith(("kill", "stop")) and not what.endswith("done")]
    ends = [t for t, what in events if what.endswith("done")]
    windows = list(zip(kills, ends))
    kind = [what.split()[0] for _, what in events if what.startswith(("kill", "stop")) and not what.endswith("done")]

    def near(t: float, how: str) -> bool:
        return any(a - KILL_WINDOW_S <= t <= b + KILL_WINDOW_S for (a, b), k in zip(windows, kind) if k == how)

    unexplained = [t for t in tally.post_5xx if not near(t, "kill") and not near(t, "stop")]
    at_stop = [t for t in tally.post_5xx if near(t, "stop") and not near(t, "kill")]
    g_starts = [t for t, what in events if what == "graceful start"]
    g_ends = [t for t, what in events if what == "graceful"]
    closed_elsewhere = [t for t in tally.closed if not any(a - 1 <= t <= b + CLOSED_WINDOW_S
                                                           for a, b in zip(g_starts, g_ends))]
    # Every attempt on a member counts one request; a failed one also one error; the answers
    # that came from a Tomcat are the rest (httpd's own 5xx followed a failed attempt or none).
    from_tomcat = tally.answers - len(tally.post_5xx) - tally.get_5xx
    rss_med, rss_max = growth_per_100k(samples, "rss_kb")
    # Children warm up (allocator arenas, thread stacks) over their first ~50k requests: judge
    # RSS only when some child served 100k requests or more.
    rss_judged = longest_life(samples) >= 100_000
    fd_med, fd_max = growth_per_100k(samples, "fds")
    max_children = max(s.children for s in samples)
    max_conn = {p: max(s.connections[p] for s in samples) for p in ports}
    conn_bound = max_children * THREADS_PER_CHILD + 2  # + the prober's probe
    result = {
        "requests_sent": tally.answers + len(tally.closed), "answers": tally.answers, "seconds": round(elapsed, 1),
        "req_per_s": round(tally.answers / elapsed, 1) if elapsed else 0,
        "get_ok": tally.get_ok, "get_failed": len(tally.get_failed), "get_failures": tally.get_failed[:10],
        "post_ok": tally.post_ok, "post_5xx": len(tally.post_5xx), "post_5xx_at_stop": len(at_stop),
        "post_5xx_unexplained": len(unexplained),
        "post_other": tally.post_other[:10], "post_ran_twice": len(tally.post_twice),
        "post_checked_on_other": tally.post_checked, "closed_by_httpd": len(tally.closed),
        "closed_outside_graceful": len(closed_elsewhere), "closed_posts": tally.closed_posts,
        "closed_posts_that_ran": len(tally.closed_posts_ran), "answers_from_tomcat": from_tomcat,
        "member_requests": requests, "member_failed_attempts": errors,
        "tomcat_restarts": len(kills), "gracefuls": sum(1 for _, w in events if w == "graceful"),
        "rss_kb_per_100k": {"median": round(rss_med, 1), "max": round(rss_max, 1)},
        "rss_judged": rss_judged,
        "rss_kb_last": sorted(samples[-1].rss_kb.values()),
        "fds_per_100k": {"median": round(fd_med, 2), "max": round(fd_max, 2)},
        "fds_last": sorted(samples[-1].fds.values()),
        "backend_connections_max": max_conn, "backend_connections_bound": conn_bound,
        "events": [(round(t - samples[0].t, 1), w) for t, w in events],
        "rss_series_kb": rss_series(samples),
    }
    checks = {
        "no GET failed": not tally.get_failed,
        "POST 200 ran once": not tally.post_twice,
        "POST 5xx only at a Tomcat kill/stop": not unexplained,
        "no other POST answer": not tally.post_other,
        "member counters = answers from Tomcat + failed attempts": requests == from_tomcat + errors,
        "connections closed only at a graceful": not closed_elsewhere,
        "no POST closed before its answer ran": not tally.closed_posts_ran,
        "backend connections within the pools": all(v <= conn_bound for v in max_conn.values()),
        "RSS flat (< 1 MB per 100k requests; judged on children of >= 100k requests)":
            rss_max < 1024 or not rss_judged,
        "no fd leak (non-socket fds, < 1 per 100k requests)": fd_max < 1,
        "Tomcats restarted": len(kills) >= 1,
    }
    result["checks"] = checks
    return result


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--requests", type=int, default=1_000_000)
    p.add_argument("--seconds", type=float, default=6 * 3600)
    p.add_argument("--clients", type=int, default=12)
    p.add_argument("--restart-every", type=float, default=30.0)
    p.add_argument("--sample-every", type=float, default=2.0)
    p.add_argument("--json", type=Path, default=None)
    args = p.parse_args()
    result = run(args)
    text = json.dumps(result, indent=2)
    print(text)
    out = args.json or Path(os.environ.get("IDMB_BUILD_DIR", "build")) / "artifacts" / "soak.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text + "\n")
    failed = [name for name, ok in result["checks"].items() if not ok]
    print("soak: " + ("FAILED: " + "; ".join(failed) if failed else "all checks passed") + f" ({out})")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
