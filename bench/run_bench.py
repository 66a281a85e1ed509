#!/usr/bin/env python3
"""mod_idmbalance against mod_jk, mod_proxy_ajp and httpd's own static-file ceiling.

Starts on 127.0.0.1 only: the instant AJP backend (tests/bench/instant_ajp.cc: answers every
FORWARD_REQUEST at once), two real Tomcats (tests/integration/stack.py), and four apache2
instances with identical MPM settings (event, fixed 2 children), keep-alive and sticky
sessions:

    idmbalance  <IdmBalancer inst|tc> + IdmMount          /inst/* -> instant, /app/* -> Tomcats
    jk          mod_jk lb workers inst|tc + JkMount        (Debian's libapache2-mod-jk)
    proxy_ajp   mod_proxy_ajp + mod_proxy_balancer, stickysession=JSESSIONID|jsessionid
    static      httpd serving /static/small.bin (100 B) and /static/100k.bin: the ceiling

Each front end has backend ports of its own (the instant backend listens on two ports per front
end, each Tomcat has one AJP connector per front end), so backend connections are counted per
front end. Scenarios, interleaved over rounds with the front-end order rotating:

    instant  GET 100 B at concurrency 1, 8, 32, 128, 512     (all four; the sweep)
    instant  GET 100 KB, POST 64 KB, sticky GET (cookie)      at --conns (default 32)
    tomcat   GET 100 B, GET 100 KB, POST 64 KB, sticky GET    at concurrency 1

Per run: req/s, p50/p99/p99.9 latency (wrk), errors (wrk non-2xx/3xx and socket errors, new
error-log lines), httpd CPU per request, peak RSS per httpd child, backend connections opened,
held (peak open during the run) and left idle after it, and the CPU of the backend, wrk and
everything else on the machine. Then instructions per small GET under callgrind (httpd -X,
instant backend) for each front end.

    bench/run_bench.sh [--quick]            (builds build-bench/ first; see bench/README.md)
    python3 bench/run_bench.py [--rounds 3] [--seconds 3] [--quick] [--no-callgrind]
    python3 bench/run_bench.py --callgrind-only idmbalance[,proxy_ajp,...]   (callgrind step only)

Output: one table (medians) with mod_idmbalance's ratios against each anchor and the static
ceiling, the targets, bench/results/<timestamp>.json and .png (throughput and p99 over
concurrency). The last two lines printed name the JSON and PNG files. Exit status 1 if a
mod_idmbalance run had an error. Stdlib only; needs wrk, apache2, libapache2-mod-jk, tomcat10,
a JDK, valgrind and gnuplot.
"""
from __future__ import annotations

import argparse
import dataclasses
import http.client
import json
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
sys.path.insert(0, str(REPO / "tests" / "integration"))
import stack  # noqa: E402  (tests/integration/stack.py)

SETUPS = ("idmbalance", "jk", "proxy_ajp", "static")
MODULES = SETUPS[:3]
ANCHORS = ("jk", "proxy_ajp")
LABEL = {"idmbalance": "mod_idmbalance", "jk": "mod_jk", "proxy_ajp": "mod_proxy_ajp",
         "static": "static file"}
SECRET = stack.DEFAULT_SECRET
SWEEP = (1, 8, 32, 128, 512)
SMALL, BIG, POST_BODY = 100, 100 * 1024, 64 * 1024
FORM_BODY = b"user=alice&password=secret"  # the small POST: a login form
INSTANT_ROUTES = ("i1", "i2")
INSTANT_SESSION = "0123456789ABCDEF0123456789ABCDEF.i2"  # sticky to i2
DEFAULT_BUILD = REPO / "build-bench"


T0 = time.monotonic()


def log(msg: str) -> None:
    print(f"[bench {time.monotonic() - T0:5.0f}s] {msg}", file=sys.stderr, flush=True)


def pattern(n: int) -> bytes:
    """The body every backend sends: 0,1,...,255,0,1,... (the test webapp's /app/binary)."""
    return (bytes(range(256)) * (n // 256 + 1))[:n]


# ---------------------------------------------------------------------------------------------
# Scenarios


@dataclasses.dataclass
class Scenario:
    backend: str    # "instant" | "tomcat"
    kind: str       # "get-small" | "get-100k" | "post-64k" | "post-form" | "sticky"
    conns: int
    setups: tuple

    @property
    def key(self) -> str:
        return f"{self.backend}/{self.kind}/c{self.conns}"

    @property
    def title(self) -> str:
        return {"get-small": "GET 100 B", "get-100k": "GET 100 KB", "post-64k": "POST 64 KB",
                "post-form": "POST form", "sticky": "sticky GET"}[self.kind]

    @property
    def method(self) -> str:
        return "POST" if self.kind.startswith("post-") else "GET"

    @property
    def body(self) -> Optional[bytes]:
        return {"post-64k": b"x" * POST_BODY, "post-form": FORM_BODY}.get(self.kind)

    @property
    def content_type(self) -> str:
        return "application/x-www-form-urlencoded" if self.kind == "post-form" else "application/octet-stream"

    def path(self, setup: str) -> str:
        if setup == "static":
            return "/static/100k.bin" if self.kind == "get-100k" else "/static/small.bin"
        n = BIG if self.kind == "get-100k" else SMALL
        if self.backend == "instant":
            return f"/inst/bench?n={n}"
        return "/app/echo" if self.kind == "post-64k" else f"/app/binary?n={n}"

    def cookie(self, tomcat_session: str) -> Optional[str]:
        if self.kind != "sticky":
            return None
        return "JSESSIONID=" + (INSTANT_SESSION if self.backend == "instant" else tomcat_session)


def scenarios(conns: int) -> List[Scenario]:
    out = [Scenario("instant", "get-small", c, SETUPS) for c in SWEEP]
    out += [Scenario("instant", "get-100k", conns, SETUPS),
            Scenario("instant", "post-64k", conns, MODULES),
            Scenario("instant", "post-form", conns, MODULES),
            Scenario("instant", "sticky", conns, MODULES)]
    out += [Scenario("tomcat", k, 1, MODULES) for k in ("get-small", "get-100k", "post-64k", "sticky")]
    return out


# ---------------------------------------------------------------------------------------------
# httpd configuration: rendered by the harness (tests/integration/httpd_conf.py)


def make_httpd(setup: str, workdir: Path, module: Path, port: int, tomcat_ports: List[int],
               instant_ports: List[int], threads: int, log_level: str) -> stack.Httpd:
    """One apache2 per setup, the same apart from the front end: event MPM with a fixed 2
    children (no child churn during a run), sticky sessions, no access log (the same for all
    four; what is measured is the forwarding); `static` has no balancer at all."""
    balancers, mounts = [], []
    if setup in MODULES:
        balancers = [
            stack.Balancer("tc", [stack.Member(n, p, route=n, secret=SECRET)
                                  for n, p in zip(("t1", "t2"), tomcat_ports)], sticky=True),
            stack.Balancer("inst", [stack.Member(n, p, route=n, secret=SECRET)
                                    for n, p in zip(INSTANT_ROUTES, instant_ports)], sticky=True),
        ]
        mounts = [stack.Mount("/app/*", "tc"), stack.Mount("/inst/*", "inst")]
    cfg = stack.HttpdConfig(workdir / f"httpd-{setup}", port, setup,
                            module if setup == "idmbalance" else None,
                            balancers=balancers, mounts=mounts, extra="MaxKeepAliveRequests 0\n",
                            log_level=log_level, threads_per_child=threads, start_servers=2,
                            fixed_processes=True, access_log=False)
    h = stack.Httpd(cfg)
    h.write()
    static = h.root / "htdocs" / "static"
    stack.mkdirs(static)
    (static / "small.bin").write_bytes(pattern(SMALL))
    (static / "100k.bin").write_bytes(pattern(BIG))
    r = h.configtest()
    if r.returncode != 0:
        raise RuntimeError(f"apache2 -t failed for {setup}:\n{r.stdout}{r.stderr}")
    return h


# ---------------------------------------------------------------------------------------------
# The instant backend


class Instant:
    """tests/bench/instant_ajp.cc: one process, two ports (routes i1, i2) per front end."""

    def __init__(self, binary: Path, workdir: Path, threads: int):
        self.binary, self.dir, self.threads = binary, workdir / "instant", threads
        self.ports = {s: stack.free_ports(2) for s in MODULES}
        self.stats_path = self.dir / "stats.json"
        self.proc: Optional[subprocess.Popen] = None
        self.seq = -1

    def start(self) -> None:
        stack.mkdirs(self.dir)
        cmd = [str(self.binary), "--threads", str(self.threads), "--body", str(SMALL),
               "--secret", SECRET, "--stats", str(self.stats_path), "--max-seconds", "3600"]
        for s in MODULES:
            for port, route in zip(self.ports[s], INSTANT_ROUTES):
                cmd += ["--listen", f"{port}:{route}"]
        self.log = open(self.dir / "instant.log", "ab")
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, start_new_session=True)
        for ports in self.ports.values():
            for p in ports:
                stack.wait_for(lambda: stack.port_open(p) or self.proc.poll() is not None, 10,
                               0.05, f"instant backend port {p}")
        if self.proc.poll() is not None:
            raise RuntimeError(f"instant backend exited: {stack.tail(self.dir / 'instant.log', 20)}")

    @property
    def pid(self) -> int:
        return self.proc.pid

    def snapshot(self) -> dict:
        """SIGUSR1: the backend writes its per-port counters (and resets the peaks)."""
        os.kill(self.proc.pid, signal.SIGUSR1)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            try:
                d = json.loads(self.stats_path.read_text())
                if d["seq"] > self.seq:
                    self.seq = d["seq"]
                    return d["ports"]
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.01)
        raise RuntimeError("instant backend did not write its stats")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc:
            self.log.close()


# ---------------------------------------------------------------------------------------------
# Measurements


WRK_LUA = r"""
wrk.method = "{method}"
{body}
{cookie}
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {{"requests":%d,"duration_us":%d,"bytes":%d,"connect":%d,"read":%d,' ..
    '"write":%d,"status":%d,"timeout":%d,"lat_mean_us":%.1f,"lat_p50_us":%d,' ..
    '"lat_p99_us":%d,"lat_p999_us":%d,"lat_max_us":%d}}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write,
    e.status, e.timeout, latency.mean, latency:percentile(50), latency:percentile(99),
    latency:percentile(99.9), latency.max))
end
"""


def wrk_script(path: Path, sc: Scenario, tomcat_session: str) -> Path:
    body = cookie = ""
    if sc.kind == "post-64k":
        body = f'wrk.body = string.rep("x", {POST_BODY})\n'
    elif sc.body is not None:
        body = f'wrk.body = "{sc.body.decode()}"\n'
    if sc.body is not None:
        body += f'wrk.headers["Content-Type"] = "{sc.content_type}"'
    c = sc.cookie(tomcat_session)
    if c:
        cookie = f'wrk.headers["Cookie"] = "{c}"'
    path.write_text(WRK_LUA.format(method=sc.method, body=body, cookie=cookie))
    return path


def run_wrk(url: str, seconds: int, conns: int, threads: int, lua: Path) -> dict:
    t = max(1, min(threads, conns))
    cmd = ["wrk", f"-t{t}", f"-c{conns}", f"-d{seconds}s", "--latency", "--timeout", "10s",
           "-s", str(lua), url]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    m = re.search(r"^WRKJSON (\{.*\})$", r.stdout, re.M)
    if r.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed (rc={r.returncode}):\n{r.stdout}\n{r.stderr}")
    s = json.loads(m.group(1))
    secs = s["duration_us"] / 1e6
    return {
        "rps": s["requests"] / secs, "requests": s["requests"], "mib_per_s": s["bytes"] / 2**20 / secs,
        "lat_avg_ms": s["lat_mean_us"] / 1000, "lat_p50_ms": s["lat_p50_us"] / 1000,
        "lat_p99_ms": s["lat_p99_us"] / 1000, "lat_p999_ms": s["lat_p999_us"] / 1000,
        "lat_max_ms": s["lat_max_us"] / 1000, "non_2xx_3xx": s["status"],
        "socket_errors": {k: s[k] for k in ("connect", "read", "write", "timeout")},
        "wrk_errors": s["status"] + s["connect"] + s["read"] + s["write"] + s["timeout"],
    }


def cpu_split_seconds(pids) -> Tuple[float, float]:
    """User and system CPU time of these processes (all their threads) so far."""
    tick = os.sysconf("SC_CLK_TCK")
    user = system = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        user += int(fields[11])
        system += int(fields[12])
    return user / tick, system / tick


def cpu_seconds(pids) -> float:
    """User + system CPU time of these processes (all their threads) so far."""
    return sum(cpu_split_seconds(pids))


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy so far (/proc/stat: everything but idle and iowait)."""
    f = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:9]]
    return (sum(f) - f[3] - f[4]) / os.sysconf("SC_CLK_TCK")


def children_cpu_seconds() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def reset_peak_rss(pids) -> None:
    for pid in pids:
        try:
            Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS
        except OSError:
            pass


class SocketSampler(threading.Thread):
    """Connections from httpd to the Tomcat ports, sampled every 100 ms while a run lasts:
    peak ESTABLISHED, and how many new ones were opened (a lower bound between samples)."""

    def __init__(self, ports: List[int]):
        super().__init__(daemon=True)
        self.ports = set(ports)
        self.before = set(stack.client_sockets(self.ports))
        self.seen, self.peak = set(), 0
        self.stop_event = threading.Event()

    def run(self):
        while not self.stop_event.is_set():
            socks = stack.client_sockets(self.ports)
            self.peak = max(self.peak, sum(1 for s in socks.values() if s == "01"))
            self.seen |= set(socks) - self.before
            self.stop_event.wait(0.1)

    def finish(self) -> dict:
        self.stop_event.set()
        self.join(5)
        socks = stack.client_sockets(self.ports)
        self.seen |= set(socks) - self.before
        est = sum(1 for s in socks.values() if s == "01")
        return {"opened": len(self.seen), "held": max(self.peak, est), "idle_after": est}


class LogWatch:
    """New lines in a log file since the last call."""

    def __init__(self, path: Path):
        self.path, self.offset = path, stack.file_size(path)

    def new_lines(self) -> list:
        size = stack.file_size(self.path)
        if size <= self.offset:
            return []
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            data = f.read(size - self.offset)
        self.offset = size
        return data.decode("utf-8", "replace").splitlines()


def fetch(port: int, path: str, method: str = "GET", body: Optional[bytes] = None,
          cookie: Optional[str] = None, timeout: float = 20,
          content_type: str = "application/octet-stream") -> tuple:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        headers = {"Cookie": cookie} if cookie else {}
        if body is not None:
            headers["Content-Type"] = content_type
        conn.request(method, path, body=body, headers=headers)
        r = conn.getresponse()
        return r.status, dict((k.lower(), v) for k, v in r.getheaders()), r.read()
    finally:
        conn.close()


def verify(sc: Scenario, setup: str, port: int, tomcat_session: str) -> None:
    """One request as wrk will send it: 200 and the right body (and route, when sticky)."""
    status, headers, data = fetch(port, sc.path(setup), sc.method, sc.body, sc.cookie(tomcat_session),
                                  content_type=sc.content_type)
    where = f"{setup} {sc.key} {sc.path(setup)}"
    if status != 200:
        raise RuntimeError(f"{where}: status {status}: {data[:200]!r}")
    if sc.method == "POST":
        got = (json.loads(data)["bodyLength"] if sc.backend == "tomcat"
               else int(headers.get("x-body-length", -1)))
        if got != len(sc.body):
            raise RuntimeError(f"{where}: backend saw a {got}-byte body, want {len(sc.body)}")
    else:
        want = pattern(BIG if sc.kind == "get-100k" else SMALL)
        if data != want:
            raise RuntimeError(f"{where}: {len(data)} bytes, want {len(want)} (or content differs)")
    if sc.kind == "sticky":
        want_route = INSTANT_SESSION.rsplit(".", 1)[1] if sc.backend == "instant" \
            else tomcat_session.rsplit(".", 1)[1]
        if headers.get("x-route") != want_route:
            raise RuntimeError(f"{where}: served by {headers.get('x-route')}, session is on {want_route}")


# ---------------------------------------------------------------------------------------------
# Callgrind: instructions per small GET, httpd -X, instant backend


MARK_PATH = "/callgrind-mark-404"          # a 404 from httpd itself in every front end
MARK_FUNCTION = "ap_send_error_response"  # called for that 404 only, never for a 200


def callgrind_functions(dump: Path) -> List[tuple]:
    """(self Ir, function) of every function in a dump, largest first (callgrind_annotate)."""
    r = subprocess.run(["callgrind_annotate", "--inclusive=no", "--threshold=100", "--auto=no",
                        str(dump)], capture_output=True, text=True, timeout=300)
    out: Dict[str, int] = {}
    for line in r.stdout.splitlines():
        m = re.match(r"^\s*([\d,]+)\s+\(\s*[\d.]+%\)\s+(\S.*)$", line)
        if m and "PROGRAM TOTALS" not in m.group(2) and not m.group(2).startswith("=>"):
            out[m.group(2)] = out.get(m.group(2), 0) + int(m.group(1).replace(",", ""))
    return sorted(((v, k) for k, v in out.items()), reverse=True)


def callgrind_warmup(args) -> int:
    """Warm-up GETs before the counted ones: enough for every worker thread to have served one
    (the event MPM hands a keep-alive connection's requests to worker after worker, and a
    thread's first request pays for its first allocations), except in a --quick smoke run."""
    return 50 if args.quick else max(200, 2 * args.threads_per_child)


def callgrind_one(setup: str, h: stack.Httpd, path: str, warm: int, n: int, outdir: Path) -> dict:
    """httpd -X under callgrind, one keep-alive connection: `warm` small GETs, a 404, `n` small
    GETs, a 404. --dump-before on the 404's error-response function writes a dump (and zeroes
    the counters) at each 404, so the second dump holds exactly the n requests (plus the tail
    of one 404 and the head of the next, which the mark costs below subtract). Then one 404
    alone (that mark cost), and for a module, n small form POSTs and a 404. httpd runs as
    www-data from the start: a process that changes its uid can no longer be steered by
    callgrind_control, and this needs no steering."""
    out = outdir / f"callgrind.{setup}.out"
    for old in outdir.glob(f"callgrind.{setup}.out*"):
        old.unlink()
    # httpd -X runs all ThreadsPerChild workers in one process; valgrind stops at 500 threads
    # unless told more (the listener, the prober and the MPM's own threads come on top).
    cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={out}", "--dump-instr=no",
           f"--max-threads={h.config.threads_per_child + 64}",
           f"--dump-before={MARK_FUNCTION}", str(stack.APACHE_BIN), "-X", "-d", str(h.root),
           "-f", str(h.conf_path)]
    vlog_path = outdir / f"valgrind.{setup}.log"
    t0 = time.monotonic()
    with open(vlog_path, "wb") as vlog:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=vlog, stderr=subprocess.STDOUT,
                             cwd=str(outdir), user="www-data", group="www-data", extra_groups=[],
                             start_new_session=True)
        try:
            stack.wait_for(lambda: stack.port_open(h.port) or p.poll() is not None, 180, 0.1,
                           f"httpd -X under callgrind ({setup})")
            if p.poll() is not None:
                raise RuntimeError(f"httpd -X under callgrind exited: {stack.tail(vlog_path, 20)}")
            t1 = time.monotonic()
            conn = http.client.HTTPConnection("127.0.0.1", h.port, timeout=60)

            def get(req_path: str, status: int, method: str = "GET") -> None:
                if method == "POST":
                    conn.request("POST", req_path, body=FORM_BODY,
                                 headers={"Content-Type": "application/x-www-form-urlencoded"})
                else:
                    conn.request(method, req_path)
                r = conn.getresponse()
                body = r.read()
                if r.status != status or (status == 200 and len(body) != SMALL):
                    raise RuntimeError(f"callgrind {setup} {method} {req_path}: status {r.status}, "
                                       f"{len(body)} bytes")
            try:
                for _ in range(warm):
                    get(path, 200)
                get(MARK_PATH, 404)            # dump 1: start-up and warm-up
                t2 = time.monotonic()
                for _ in range(n):
                    get(path, 200)
                get(MARK_PATH, 404)            # dump 2: the n requests
                t3 = time.monotonic()
                get(MARK_PATH, 404)            # dump 3: one 404 and nothing else (mark cost)
                if setup != "static":
                    for _ in range(n):
                        get(path, 200, "POST")
                    get(MARK_PATH, 404)        # dump 4: the n POSTs
            finally:
                conn.close()
        finally:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                p.wait(120)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(10)

    def total(i: int) -> int:
        f = Path(f"{out}.{i}")
        m = re.search(r"^(?:summary|totals):\s*(\d+)", f.read_text(errors="replace"), re.M) if f.is_file() else None
        if not m:
            raise RuntimeError(f"callgrind {setup}: no dump {f} (see {vlog_path})")
        return int(m.group(1))
    window, mark = total(2), total(3)
    per_request = (window - mark) / n
    per_post = (total(4) - mark) / n if setup != "static" else None
    log(f"  {setup}: start {t1 - t0:.1f}s, {warm} warm-up requests {t2 - t1:.1f}s, {n} requests "
        f"{t3 - t2:.1f}s; {per_request:,.0f} instructions/request"
        + (f", {per_post:,.0f} per small POST" if per_post else ""))
    # A dump taken mid-run charges the calls still active (the worker thread's frames: clone,
    # start_thread, the MPM's worker loop) with everything under them: leave those out.
    funcs = [(v, f) for v, f in callgrind_functions(Path(f"{out}.2")) if v < 0.5 * window]
    return {"requests": n, "warm": warm, "ir_window": window, "ir_mark_404": mark,
            "instructions_per_request": per_request, "instructions_per_small_post": per_post,
            "seconds": round(time.monotonic() - t0, 1),
            "top_self_per_request": [{"ir": round(v / n), "function": f} for v, f in funcs[:25]],
            "dump": f"{out}.2"}


# ---------------------------------------------------------------------------------------------
# Summary, table, targets, chart


def median(xs):
    return statistics.median(xs) if xs else None


METRICS = ("rps", "lat_p50_ms", "lat_p99_ms", "lat_p999_ms", "httpd_cpu_us_per_req", "httpd_sys_share",
           "peak_rss_mb", "backend_opened", "backend_held", "backend_idle_after",
           "backend_cpu_us_per_req", "wrk_cpu_us_per_req", "other_cpu_cores")


def summarize(runs: list, scs: List[Scenario]) -> dict:
    """Medians over rounds per scenario and front end, and mod_idmbalance's ratios. For the sweep
    the backend connections are round 1's (fresh httpds, c ascending)."""
    out = {}
    for sc in scs:
        row = {}
        for setup in sc.setups:
            rs = [r for r in runs if r["scenario"] == sc.key and r["setup"] == setup]
            if not rs:
                continue
            m = {k: median([r[k] for r in rs if r.get(k) is not None]) for k in METRICS}
            m["errors"] = sum(r["errors"] for r in rs)
            m["rounds"] = len(rs)
            if sc.backend == "instant" and sc.kind == "get-small":
                first = min(rs, key=lambda r: r["round"])
                m["steady_backend"] = {k: m[k] for k in ("backend_opened", "backend_held", "backend_idle_after")}
                for k in ("backend_opened", "backend_held", "backend_idle_after"):
                    m[k] = first[k]
                m["backend_from"] = f"round {first['round']} (fresh httpd, c ascending)"
            row[setup] = m
        ratios = {}
        idm = row.get("idmbalance")
        if idm:
            for other in ("jk", "proxy_ajp", "static"):
                if other in row and row[other]["rps"]:
                    ratios[f"rps_x_{other}"] = idm["rps"] / row[other]["rps"]
                    per_round = []
                    for rnd in sorted({r["round"] for r in runs if r["scenario"] == sc.key}):
                        a = [r["rps"] for r in runs if r["scenario"] == sc.key and r["round"] == rnd
                             and r["setup"] == "idmbalance"]
                        b = [r["rps"] for r in runs if r["scenario"] == sc.key and r["round"] == rnd
                             and r["setup"] == other]
                        if a and b:
                            per_round.append(round(a[0] / b[0], 3))
                    ratios[f"rps_x_{other}_per_round"] = per_round
            anchors = [a for a in ANCHORS if a in row]
            if anchors:
                best = max(anchors, key=lambda a: row[a]["rps"])
                ratios["better_anchor"] = best
                ratios["rps_x_better_anchor"] = idm["rps"] / row[best]["rps"]
                for lat in ("lat_p50_ms", "lat_p99_ms", "lat_p999_ms"):
                    best_lat = min(row[a][lat] for a in anchors)
                    ratios[f"{lat}_x_better_anchor"] = idm[lat] / max(best_lat, 1e-6)
                held = row["jk"]["backend_held"] if "jk" in row else None
                ratios["backend_held_vs_jk"] = [idm["backend_held"], held]
        out[sc.key] = {"backend": sc.backend, "kind": sc.kind, "title": sc.title,
                       "conns": sc.conns, "setups": row, "ratios": ratios}
    return out


def pct(share):
    return None if share is None else share * 100


def fmt(v, spec):
    if v is None:
        m = re.match(r"\d+", spec)
        return "-".rjust(int(m.group(0)) if m else 1)
    return format(v, spec)


def print_table(summary: dict, rounds: int) -> None:
    print(f"\n== Medians of {rounds} round(s). Ratios on mod_idmbalance's rows: its req/s over "
          "mod_jk's, mod_proxy_ajp's and the static file's; its p99 over the better anchor's "
          "(lower p99 of the two). be = backend connections opened / held (peak open) / left "
          "idle: for the GET 100 B sweep from round 1 (fresh httpds, c ascending), else medians "
          "of the measured runs.")
    hdr = (f"{'backend':<8}{'scenario':<11}{'c':>4}  {'setup':<15}{'req/s':>9}{'p50ms':>8}"
           f"{'p99ms':>8}{'p99.9ms':>9}{'err':>5}{'httpd us/req':>13}{'sys%':>5}{'RSS MB':>7}"
           f"{'be open/held/idle':>19}{'be us/req':>10}{'oth cpu':>8}"
           f"{'x jk':>7}{'x proxy':>8}{'x static':>9}{'p99 x best':>11}")
    print(hdr)
    print("-" * len(hdr))
    for key, s in summary.items():
        first = True
        for setup in SETUPS:
            m = s["setups"].get(setup)
            if not m:
                continue
            be = (f"{fmt(m['backend_opened'], '.0f')}/{fmt(m['backend_held'], '.0f')}/"
                  f"{fmt(m['backend_idle_after'], '.0f')}") if setup != "static" else "-"
            line = (f"{s['backend'] if first else '':<8}{s['title'] if first else '':<11}"
                    f"{s['conns'] if first else '':>4}  {LABEL[setup]:<15}{fmt(m['rps'], '9.0f')}"
                    f"{fmt(m['lat_p50_ms'], '8.2f')}{fmt(m['lat_p99_ms'], '8.2f')}"
                    f"{fmt(m['lat_p999_ms'], '9.2f')}{m['errors']:>5d}"
                    f"{fmt(m['httpd_cpu_us_per_req'], '13.1f')}{fmt(pct(m['httpd_sys_share']), '5.0f')}"
                    f"{fmt(m['peak_rss_mb'], '7.1f')}"
                    f"{be:>19}{fmt(m['backend_cpu_us_per_req'], '10.1f')}"
                    f"{fmt(m['other_cpu_cores'], '8.2f')}")
            if setup == "idmbalance":
                r = s["ratios"]
                line += (f"{fmt(r.get('rps_x_jk'), '7.2f')}{fmt(r.get('rps_x_proxy_ajp'), '8.2f')}"
                         f"{fmt(r.get('rps_x_static'), '9.2f')}"
                         f"{fmt(r.get('lat_p99_ms_x_better_anchor'), '11.2f')}")
                if m["errors"]:
                    line += "  <-- ERRORS"
            print(line)
            first = False
    print("(sys%: the share of httpd's CPU spent in the kernel (socket I/O, wakeups); "
          "RSS MB: peak resident set of the largest httpd child during the run; be us/req: "
          "backend CPU per request; oth cpu: cores busy with anything but httpd, the backend "
          "and wrk: the other engineers' load)")


NOISE = 0.03  # within 3% counts as a tie on this shared machine, marked NEAR


def verdict(ok: bool, near: bool = False) -> str:
    return "MET" if ok else ("NEAR" if near else "NOT MET")


def cpu_ratio_note(idm: Optional[dict], other: Optional[dict], of: str = "") -> Optional[str]:
    """'httpd CPU per request xN[ of …] (kernel A% against B%)', or None without both figures."""
    if not idm or not other or not idm["httpd_cpu_us_per_req"] or not other["httpd_cpu_us_per_req"]:
        return None
    note = f"httpd CPU per request x{idm['httpd_cpu_us_per_req'] / other['httpd_cpu_us_per_req']:.2f}{of}"
    if idm.get("httpd_sys_share") is not None and other.get("httpd_sys_share") is not None:
        note += f" (kernel {pct(idm['httpd_sys_share']):.0f}% against {pct(other['httpd_sys_share']):.0f}%)"
    return note


def anchor_cost_note(s: dict) -> str:
    """Per request: httpd's CPU against the better anchor's, and the backend's, which every
    front end pays alike on the same cores."""
    idm, best = s["setups"].get("idmbalance"), s["setups"].get(s["ratios"]["better_anchor"])
    ratio = cpu_ratio_note(idm, best)
    if ratio is None:
        return ""
    note = "; " + ratio
    if idm.get("backend_cpu_us_per_req"):
        note += f", the backend {idm['backend_cpu_us_per_req']:.0f} us per request besides"
    return note + kernel_bound_note(idm, best)


def total_cpu_us(m: dict) -> Optional[float]:
    """Every CPU microsecond a request costs on this machine: httpd, the backend, wrk."""
    parts = (m.get("httpd_cpu_us_per_req"), m.get("wrk_cpu_us_per_req"))
    if any(p is None for p in parts):
        return None
    return sum(parts) + (m.get("backend_cpu_us_per_req") or 0)


def kernel_bound_note(idm: dict, other: dict) -> str:
    """The ratio mod_idmbalance would reach if its httpd spent nothing in user space, with the
    kernel's, the backend's and wrk's CPU per request as measured: on a CPU-bound machine the
    req/s ratio follows the ratio of CPU per request."""
    ours, theirs = total_cpu_us(idm), total_cpu_us(other)
    if ours is None or theirs is None or idm.get("httpd_sys_share") is None:
        return ""
    floor = ours - idm["httpd_cpu_us_per_req"] * (1 - idm["httpd_sys_share"])
    return f"; with no user-space cost at all: at most x{theirs / floor:.2f}" if floor > 0 else ""


def static_cost_note(sweep: list, callgrind: dict) -> str:
    """Where the distance to the static file goes: httpd's CPU per request (user and kernel)
    against the instructions it runs in user space."""
    s = next((s for s in sweep if s["conns"] == 32), sweep[-1])
    idm, static = s["setups"].get("idmbalance"), s["setups"].get("static")
    ratio = cpu_ratio_note(idm, static, " of the static file's")
    if ratio is None:
        return ""
    note = f"; at c{s['conns']} {ratio}"
    if callgrind.get("idmbalance") and callgrind.get("static"):
        x = callgrind["idmbalance"]["instructions_per_request"] / callgrind["static"]["instructions_per_request"]
        note += f", user-space instructions x{x:.2f}"
    return note + kernel_bound_note(idm, static)


def targets(summary: dict, callgrind: dict, runs: list) -> List[dict]:
    out = []

    def add(name, ok, value, near=False):
        out.append({"target": name, "verdict": verdict(ok, near), "value": value})

    sweep = [summary[f"instant/get-small/c{c}"] for c in SWEEP if f"instant/get-small/c{c}" in summary]
    if sweep:
        xs = [(s["conns"], s["ratios"].get("rps_x_static")) for s in sweep]
        worst = min(x for _, x in xs if x is not None)
        add("instant small GET >= 0.97x static file (every concurrency)", worst >= 0.97,
            ", ".join(f"c{c} x{x:.2f}" for c, x in xs) + static_cost_note(sweep, callgrind),
            worst >= 0.97 - NOISE)
        ps = [(s["conns"], s["ratios"].get("lat_p99_ms_x_better_anchor")) for s in sweep]
        worst = max(x for _, x in ps)
        add("p99 <= better anchor's at every concurrency (instant small GET)", worst <= 1.0,
            ", ".join(f"c{c} x{x:.2f}" for c, x in ps), worst <= 1.0 + NOISE)
        held = [(s["conns"], *s["ratios"]["backend_held_vs_jk"]) for s in sweep]
        steady = [(s["conns"], s["setups"]["idmbalance"]["steady_backend"]["backend_idle_after"],
                   s["setups"]["jk"]["steady_backend"]["backend_idle_after"]) for s in sweep]
        add("fewer backend connections held than mod_jk at every concurrency",
            all(a < b for _, a, b in held),
            "round 1 (fresh, c ascending), held: " + ", ".join(f"c{c} {a:.0f} vs {b:.0f}" for c, a, b in held)
            + "; all rounds (median), open after the run: "
            + ", ".join(f"c{c} {a:.0f} vs {b:.0f}" for c, a, b in steady))
    for kind, title in (("get-100k", "100 KB GET"), ("post-64k", "64 KB POST")):
        s = next((v for v in summary.values() if v["backend"] == "instant" and v["kind"] == kind), None)
        if s and "rps_x_better_anchor" in s["ratios"]:
            x = s["ratios"]["rps_x_better_anchor"]
            add(f"instant {title} >= 1.3x the better anchor ({LABEL[s['ratios']['better_anchor']]})",
                x >= 1.3, f"x{x:.2f}" + anchor_cost_note(s), x >= 1.3 - NOISE)
    if callgrind.get("idmbalance") and callgrind.get("proxy_ajp"):
        x = (callgrind["idmbalance"]["instructions_per_request"]
             / callgrind["proxy_ajp"]["instructions_per_request"])
        add("instructions per small GET <= 0.6x mod_proxy_ajp's", x <= 0.6, f"x{x:.2f}")
    errs = sum(r["errors"] for r in runs if r["setup"] == "idmbalance")
    add("zero errors (mod_idmbalance, every run)", errs == 0, f"{errs} error(s)")
    for s in summary.values():
        if s["backend"] != "tomcat" or "rps_x_better_anchor" not in s["ratios"]:
            continue
        r = s["ratios"]
        worst_lat = max(r["lat_p50_ms_x_better_anchor"], r["lat_p99_ms_x_better_anchor"])
        ok = r["rps_x_better_anchor"] >= 1.0 and worst_lat <= 1.0
        near = r["rps_x_better_anchor"] >= 1.0 - NOISE and worst_lat <= 1.0 + NOISE
        add(f"Tomcat {s['title']} c=1: req/s and p50/p99 no worse than the better anchor", ok,
            f"req/s x{r['rps_x_better_anchor']:.2f} ({LABEL[r['better_anchor']]}), "
            f"p50 x{r['lat_p50_ms_x_better_anchor']:.2f}, p99 x{r['lat_p99_ms_x_better_anchor']:.2f}",
            near)
    return out


def print_targets(ts: List[dict]) -> None:
    print("\n== Targets (measured and reported, not timed tests; NEAR: missed by less than "
          f"{NOISE:.0%}, inside this machine's noise)")
    for t in ts:
        print(f"  [{t['verdict']:^7}] {t['target']}: {t['value']}")


def print_callgrind(cg: dict) -> None:
    if not cg:
        return
    print("\n== Instructions per small GET (callgrind, httpd -X, instant backend, one keep-alive "
          "connection)")
    base = cg.get("proxy_ajp", {}).get("instructions_per_request")
    for setup in SETUPS:
        c = cg.get(setup)
        if not c:
            continue
        rel = f"  x{c['instructions_per_request'] / base:.2f} of mod_proxy_ajp" if base else ""
        print(f"  {LABEL[setup]:<15} {c['instructions_per_request']:>10,.0f} instructions/request"
              f"  ({c['requests']} requests){rel}")
    post_base = cg.get("proxy_ajp", {}).get("instructions_per_small_post")
    posts = [(s, cg[s]["instructions_per_small_post"]) for s in SETUPS
             if cg.get(s, {}).get("instructions_per_small_post")]
    if posts:
        print(f"  and per small POST ({len(FORM_BODY)}-byte form body):")
        for setup, v in posts:
            rel = f"  x{v / post_base:.2f} of mod_proxy_ajp" if post_base else ""
            print(f"  {LABEL[setup]:<15} {v:>10,.0f} instructions/request{rel}")
    if cg.get("idmbalance"):
        print("  mod_idmbalance, most self cost per request:")
        for f in cg["idmbalance"]["top_self_per_request"][:12]:
            print(f"    {f['ir']:>8,d}  {f['function']}")


def write_chart(summary: dict, base: Path) -> Optional[Path]:
    dat, gp, png = base.with_suffix(".dat"), base.with_suffix(".gp"), base.with_suffix(".png")
    rows = []
    for c in SWEEP:
        s = summary.get(f"instant/get-small/c{c}")
        if not s:
            continue
        vals = [c]
        for setup in SETUPS:
            m = s["setups"].get(setup)
            vals += [m["rps"], m["lat_p99_ms"]] if m else ["NaN", "NaN"]
        rows.append(" ".join(str(v) for v in vals))
    if not rows:
        return None
    dat.write_text("# c " + " ".join(f"{s}_rps {s}_p99ms" for s in SETUPS) + "\n" + "\n".join(rows) + "\n")
    plots_rps = ", ".join(f"'{dat}' using 1:{2 + 2 * i} with linespoints lw 2 title '{LABEL[s]}'"
                          for i, s in enumerate(SETUPS))
    plots_p99 = ", ".join(f"'{dat}' using 1:{3 + 2 * i} with linespoints lw 2 title '{LABEL[s]}'"
                          for i, s in enumerate(SETUPS))
    gp.write_text(f"""set terminal pngcairo size 1400,560 font ',11' noenhanced
set output '{png}'
set multiplot layout 1,2 title 'instant AJP backend, GET 100 B: medians ({base.name})'
set logscale x 2
set xrange [0.8:640]
set xtics (1, 8, 32, 128, 512)
set xlabel 'concurrency (wrk -c)'
set grid
set key top left
set ylabel 'requests/s'
set yrange [0:*]
plot {plots_rps}
set logscale y
set yrange [*:*]
set ylabel 'p99 latency (ms)'
plot {plots_p99}
unset multiplot
""")
    r = subprocess.run(["gnuplot", str(gp)], capture_output=True, text=True, timeout=60)
    if r.returncode != 0 or not png.is_file():
        log(f"gnuplot failed: {r.stderr.strip()}")
        return None
    return png


# ---------------------------------------------------------------------------------------------
# Main


def git_info() -> dict:
    def git(*a):
        return subprocess.run(["git", "-C", str(REPO), *a], capture_output=True, text=True).stdout.strip()
    return {"head": git("rev-parse", "--short", "HEAD"),
            "dirty": bool(git("status", "--porcelain", "--", "mod_idmbalance"))}


def build_type(module: Path) -> str:
    cache = module.parent.parent / "CMakeCache.txt"
    m = re.search(r"^CMAKE_BUILD_TYPE:\w+=(.*)$", cache.read_text(), re.M) if cache.is_file() else None
    return m.group(1) if m else "unknown"


def callgrind_only(args, module: Path, instant_bin: Path) -> int:
    """--callgrind-only: the instant backend and the chosen front ends' httpd -X under
    callgrind, as at the end of a full run, and nothing else (the `tc` balancer points at
    ports nobody listens on; no request goes there)."""
    setups = [s.strip() for s in args.callgrind_only.split(",")]
    if any(s not in SETUPS for s in setups):
        log(f"--callgrind-only: front ends are {', '.join(SETUPS)}")
        return 2
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(
        prefix="bench-cg-", dir=stack.run_dir("bench")))
    workdir = workdir.resolve()
    stack.mkdirs(workdir)
    stack.kill_leftovers(workdir)
    cgdir = workdir / "callgrind"
    stack.mkdirs(cgdir)
    module_copy = workdir / "mod_idmbalance.so"
    shutil.copy(module, module_copy)
    os.chmod(module_copy, 0o644)
    instant = Instant(instant_bin, workdir, args.backend_threads)
    callgrind: dict = {}
    try:
        instant.start()
        small = Scenario("instant", "get-small", 1, SETUPS)
        for setup in setups:
            h = make_httpd(setup, workdir, module_copy, stack.free_port(), stack.free_ports(2),
                           instant.ports.get(setup, [0, 0]), args.threads_per_child, args.log_level)
            subprocess.run(["chown", "-R", "www-data:www-data", str(h.root), str(cgdir)],
                           check=True, timeout=60)
            log(f"callgrind: {setup}, {args.callgrind_requests} small GETs")
            callgrind[setup] = callgrind_one(setup, h, small.path(setup),
                                             callgrind_warmup(args), args.callgrind_requests, cgdir)
    finally:
        instant.stop()
        stack.kill_leftovers(workdir)
    print_callgrind(callgrind)
    for setup, c in callgrind.items():
        print(f"dump ({setup}): {c['dump']}")
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--module", default=os.environ.get(
        "IDMB_MODULE", str(DEFAULT_BUILD / "mod_idmbalance" / "mod_idmbalance.so")))
    ap.add_argument("--instant", default=os.environ.get(
        "IDMB_INSTANT_AJP", str(DEFAULT_BUILD / "tests" / "bench" / "idmb_instant_ajp")),
        help="the instant backend binary (target idmb_instant_ajp)")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved rounds (default 3)")
    ap.add_argument("--seconds", type=int, default=3, help="per measured run (default 3)")
    ap.add_argument("--warmup", type=int, default=3,
                    help="Tomcat warm-up (JIT) through each front end, s (default 3)")
    ap.add_argument("--threads", type=int, default=2, help="wrk -t (default 2)")
    ap.add_argument("--conns", type=int, default=32,
                    help="wrk -c for the instant 100 KB, POST and sticky runs (default 32)")
    ap.add_argument("--threads-per-child", type=int, default=max(SWEEP) + 8,
                    help=f"httpd ThreadsPerChild, 2 children (default {max(SWEEP) + 8}: one child alone can "
                         "serve the largest -c)")
    ap.add_argument("--backend-threads", type=int, default=2, help="instant backend threads (2)")
    ap.add_argument("--callgrind-requests", type=int, default=1000,
                    help="small GETs counted under callgrind per front end (default 1000)")
    ap.add_argument("--no-callgrind", action="store_true")
    ap.add_argument("--callgrind-only", metavar="SETUPS",
                    help="only the callgrind step for these comma-separated front ends (e.g. "
                         "idmbalance,proxy_ajp): no Tomcats, no load, no results files")
    ap.add_argument("--only", help="comma-separated scenario keys or prefixes, e.g. instant/get-small")
    ap.add_argument("--log-level", default="warn", help="httpd LogLevel (default warn)")
    ap.add_argument("--quick", action="store_true",
                    help="1 round of 1 s runs, 1 s warm-up, 300 callgrind requests (under 2 min)")
    ap.add_argument("--workdir", help="default: a new /tmp/idmbalance-run/bench-* (kept, with the logs)")
    ap.add_argument("--results", default=str(BENCH / "results"))
    args = ap.parse_args(argv)
    if args.quick:
        args.rounds, args.seconds, args.warmup, args.callgrind_requests = 1, 1, 1, 300

    module, instant_bin = Path(args.module).resolve(), Path(args.instant).resolve()
    need = [(module, "mod_idmbalance.so (bench/run_bench.sh builds it, or --module)"),
            (instant_bin, "idmb_instant_ajp (bench/run_bench.sh builds it, or --instant)"),
            (stack.APACHE_MODULES / "mod_jk.so", "mod_jk (libapache2-mod-jk)")]
    tools = ["wrk", "gnuplot"] + ([] if args.no_callgrind else ["valgrind", "callgrind_control",
                                                                 "callgrind_annotate"])
    if args.callgrind_only:
        tools = ["valgrind", "callgrind_annotate"]
    need += [(Path(shutil.which(t) or f"/nonexistent/{t}"), t) for t in tools]
    for path, what in need:
        if not path.is_file():
            log(f"missing {what}: {path}  (scripts/install-deps.sh installs the packages)")
            return 2

    if args.callgrind_only:
        return callgrind_only(args, module, instant_bin)

    scs = scenarios(args.conns)
    if args.only:
        keys = [k.strip() for k in args.only.split(",")]
        scs = [s for s in scs if any(s.key.startswith(k) for k in keys)]
    n_runs = sum(len(s.setups) for s in scs) * args.rounds
    log(f"{len(scs)} scenarios, {n_runs} measured runs of {args.seconds}s "
        f"(about {n_runs * (args.seconds + 0.6) / 60:.1f} min of load)")

    # Under /tmp/idmbalance-run (stack.run_dir): www-data (the httpd children) can read it.
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(
        prefix="bench-", dir=stack.run_dir("bench")))
    workdir = workdir.resolve()
    stack.mkdirs(workdir)
    stack.kill_leftovers(workdir)

    def on_sigterm(*_):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_sigterm)
    started = time.strftime("%Y%m%d-%H%M%S")
    t_start = time.monotonic()
    load_start = os.getloadavg()
    instant: Optional[Instant] = None
    tomcats: List[stack.Tomcat] = []
    httpds: Dict[str, stack.Httpd] = {}
    runs: list = []
    callgrind: dict = {}
    final: List[str] = []
    status = 2
    try:
        log(f"work dir {workdir}")
        apps = stack.cached_webapp(stack.run_dir("bench") / "webapp-cache")
        instant = Instant(instant_bin, workdir, args.backend_threads)
        instant.start()
        log(f"instant backend up (pid {instant.pid}): "
            + ", ".join(f"{s} {p}" for s, p in instant.ports.items()))
        for name in ("t1", "t2"):
            t = stack.Tomcat(workdir, name, route=name,
                             ajp=[stack.AjpConnector(stack.free_port(), 8192, SECRET) for _ in MODULES],
                             webapps={"/app": apps["app"]})
            t.write_base()
            tomcats.append(t)
        t0 = time.monotonic()
        stack.start_tomcats(tomcats, timeout=120)
        log(f"Tomcats up in {time.monotonic() - t0:.0f}s")
        tomcat_ports = {s: [t.ajp[i].port for t in tomcats] for i, s in enumerate(MODULES)}
        ports = dict(zip(SETUPS, stack.free_ports(len(SETUPS))))
        # A copy www-data can read (httpd -X runs as www-data under callgrind; a checkout may
        # be mode 0700).
        module_copy = workdir / "mod_idmbalance.so"
        shutil.copy(module, module_copy)
        os.chmod(module_copy, 0o644)
        for setup in SETUPS:
            httpds[setup] = make_httpd(setup, workdir, module_copy, ports[setup],
                                       tomcat_ports.get(setup, [0, 0]), instant.ports.get(setup, [0, 0]),
                                       args.threads_per_child, args.log_level)
            httpds[setup].start()
        log("httpd up: " + ", ".join(f"{s} :{p}" for s, p in ports.items()))
        errlogs = {s: [LogWatch(h.error_log)] + ([LogWatch(h.jk_log)] if s == "jk" else [])
                   for s, h in httpds.items()}

        # A real Tomcat session for the sticky runs (whichever Tomcat issued it).
        status, _, data = fetch(ports["idmbalance"], "/app/echo?session=1")
        tomcat_session = json.loads(data)["sessionId"] if status == 200 else ""
        if "." not in tomcat_session:
            raise RuntimeError(f"no Tomcat session: {status} {data[:200]!r}")
        log(f"Tomcat session for the sticky runs: {tomcat_session}")

        for sc in scs:
            for setup in sc.setups:
                verify(sc, setup, ports[setup], tomcat_session)
        log("every front end answers every scenario with 200 and the right body (and route)")

        luas: Dict[str, Path] = {}

        def lua_for(sc: Scenario) -> Path:
            if sc.key not in luas:
                luas[sc.key] = wrk_script(workdir / f"wrk-{sc.key.replace('/', '-')}.lua", sc, tomcat_session)
            return luas[sc.key]

        def measure(sc: Scenario, setup: str, rnd: int, seconds: int, record: bool = True) -> dict:
            h = httpds[setup]
            for w in errlogs[setup]:
                w.new_lines()
            kids = h.children()
            pids = [p for p in [h.main_pid(), *kids] if p]
            reset_peak_rss(kids)
            be_pids = [instant.pid] if sc.backend == "instant" else [t.pid for t in tomcats]
            sampler = None
            if setup != "static":
                if sc.backend == "instant":
                    before = instant.snapshot()
                else:
                    sampler = SocketSampler(tomcat_ports[setup])
                    sampler.start()
            split0 = cpu_split_seconds(pids)
            be0, ch0, busy0 = cpu_seconds(be_pids), children_cpu_seconds(), machine_busy_seconds()
            res = run_wrk(h.url(sc.path(setup)), seconds, sc.conns, args.threads, lua_for(sc))
            user, system = (a - b for a, b in zip(cpu_split_seconds(pids), split0))
            cpu = user + system
            be, ch, busy = (cpu_seconds(be_pids) - be0, children_cpu_seconds() - ch0,
                            machine_busy_seconds() - busy0)
            n = max(res["requests"], 1)
            secs = res["requests"] / max(res["rps"], 1e-9)
            rss = [stack.proc_status_kb(p, "VmHWM") for p in kids]
            res.update(scenario=sc.key, setup=setup, round=rnd, seconds=seconds, conns=sc.conns,
                       httpd_cpu_us_per_req=cpu * 1e6 / n,
                       httpd_sys_share=(system / cpu) if cpu > 0 else None,
                       backend_cpu_us_per_req=(be * 1e6 / n) if setup != "static" else None,
                       wrk_cpu_us_per_req=ch * 1e6 / n,
                       other_cpu_cores=max(0.0, busy - cpu - (be if setup != "static" else 0) - ch) / max(secs, 1e-3),
                       peak_rss_mb=max([r for r in rss if r] or [0]) / 1024,
                       backend_opened=None, backend_held=None, backend_idle_after=None)
            if setup != "static":
                if sc.backend == "instant":
                    after = instant.snapshot()
                    mine = [str(p) for p in instant.ports[setup]]
                    res["backend_opened"] = sum(after[p]["accepted"] - before[p]["accepted"] for p in mine)
                    res["backend_held"] = sum(after[p]["peak_open"] for p in mine)
                    res["backend_idle_after"] = sum(after[p]["open"] for p in mine)
                    res["backend_errors"] = sum(after[p]["errors"] - before[p]["errors"] for p in mine)
                else:
                    c = sampler.finish()
                    res["backend_opened"], res["backend_held"], res["backend_idle_after"] = \
                        c["opened"], c["held"], c["idle_after"]
            lines = [l for w in errlogs[setup] for l in w.new_lines()]
            res["log_lines"] = len(lines)
            res["log_excerpt"] = lines[:10]
            res["errors"] = res["wrk_errors"] + len(lines) + res.get("backend_errors", 0)
            if lines:
                log(f"{setup} {sc.key} round {rnd}: {len(lines)} new log line(s), e.g. {lines[0]}")
            if res["errors"] and setup == "idmbalance":
                print(f"!!! mod_idmbalance {sc.key} round {rnd}: {res['wrk_errors']} wrk errors "
                      f"(non-2xx/3xx {res['non_2xx_3xx']}, socket {res['socket_errors']}), "
                      f"{len(lines)} log lines, {res.get('backend_errors', 0)} backend errors", flush=True)
            if record:
                runs.append(res)
            return res

        if any(sc.backend == "tomcat" for sc in scs):
            log(f"warm-up: {args.warmup}s of GET 100 B at c=8 through each module to each Tomcat (JIT)")
            for setup in MODULES:
                measure(Scenario("tomcat", "get-small", 8, MODULES), setup, 0, args.warmup, record=False)

        # Round 1 starts from freshly started httpds and runs the sweep with c ascending: its
        # backend connection counts are what each concurrency needs (later rounds start with
        # the pools the previous round's c=512 left).
        for setup in MODULES:
            httpds[setup].stop()
            httpds[setup].start()
        log("module httpds restarted: empty backend pools for round 1")
        for rnd in range(1, args.rounds + 1):
            log(f"round {rnd}/{args.rounds}")
            for i, sc in enumerate(scs):
                k = (rnd - 1 + i) % len(sc.setups)
                order = sc.setups[k:] + sc.setups[:k]
                cells = []
                for setup in order:
                    r = measure(sc, setup, rnd, args.seconds)
                    cells.append(f"{setup} {r['rps']:.0f}/s p99 {r['lat_p99_ms']:.2f}ms"
                                 + (f" ERR {r['errors']}" if r["errors"] else ""))
                print(f"  r{rnd} {sc.key:<24} " + " | ".join(cells), flush=True)

        for sc in scs:  # still right after the load
            for setup in sc.setups:
                verify(sc, setup, ports[setup], tomcat_session)

        for h in httpds.values():
            h.stop()
        if not args.no_callgrind:
            cgdir = workdir / "callgrind"
            stack.mkdirs(cgdir)
            small = Scenario("instant", "get-small", 1, SETUPS)
            for setup in SETUPS:
                # httpd -X runs as www-data from the start: it writes its logs, pid and shm there.
                subprocess.run(["chown", "-R", "www-data:www-data", str(httpds[setup].root), str(cgdir)],
                               check=True, timeout=60)
                log(f"callgrind: {setup}, {args.callgrind_requests} small GETs")
                callgrind[setup] = callgrind_one(setup, httpds[setup], small.path(setup),
                                                 callgrind_warmup(args), args.callgrind_requests, cgdir)

        summary = summarize(runs, scs)
        print_table(summary, args.rounds)
        print_callgrind(callgrind)
        ts = targets(summary, callgrind, runs)
        print_targets(ts)

        out = Path(args.results)
        out.mkdir(parents=True, exist_ok=True)
        base = out / started
        png = write_chart(summary, base)
        json_path = base.with_suffix(".json")
        json_path.write_text(json.dumps({
            "started": started, "elapsed_s": round(time.monotonic() - t_start, 1),
            "host": {"node": platform.node(), "nproc": os.cpu_count(), "kernel": platform.release(),
                     "loadavg_start": load_start, "loadavg_end": os.getloadavg()},
            "git": git_info(), "module": str(module), "build_type": build_type(module),
            "workdir": str(workdir),
            "options": {k: v for k, v in vars(args).items()},
            "setup": {"httpd": f"apache2 event MPM, 2 children x {args.threads_per_child} threads "
                               "(fixed), KeepAlive On, MaxKeepAliveRequests 0, no access log; one "
                               "instance per front end",
                      "tomcat": "2 x Tomcat 10 (t1, t2), one AJP connector per front end, maxThreads 200",
                      "instant": f"idmb_instant_ajp, {args.backend_threads} threads, ports {instant.ports}",
                      "ports": ports, "tomcat_ports": tomcat_ports, "tomcat_session": tomcat_session},
            "summary": summary, "callgrind": callgrind, "targets": ts, "runs": runs,
            "png": str(png) if png else None,
        }, indent=2) + "\n")
        idm_errors = sum(r["errors"] for r in runs if r["setup"] == "idmbalance")
        print(f"\nload average (1 min) start/end: {load_start[0]:.1f}/{os.getloadavg()[0]:.1f} on "
              f"{os.cpu_count()} CPUs; {time.monotonic() - t_start:.0f}s; logs in {workdir}")
        final = [f"json: {json_path}", f"png:  {png if png else '(gnuplot failed)'}"]
        status = 1 if idm_errors else 0
    except KeyboardInterrupt:
        log("interrupted")
        status = 130
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        log("stopping httpd, Tomcats and the instant backend")
        for h in httpds.values():
            try:
                h.stop()
            except Exception as e:  # noqa: BLE001 - keep stopping the rest
                log(f"httpd stop: {e}")
        for t in tomcats:
            t.stop()
        if instant:
            instant.stop()
        stack.kill_leftovers(workdir)
    sys.stderr.flush()
    for line in final:  # the last lines: where the results are
        print(line, flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
