"""A bounded client load for the failover tests (stdlib only): worker threads, one request per
new client connection, every result kept with its start/end time, status, answering route and
session, so a test can say exactly which requests failed and when.

    load = Load(port, workers=24, duration=10, sessions=True, post_every=4, tag="kill")
    load.start(); ...; results = load.join()

A worker with `sessions` first creates a session (GET /app/echo?session=1) and then sends it
with every request as a cookie, taking a new session id from each echo answer the way a
browser takes Set-Cookie. With `post_every=N` every N-th request is a POST /app/count carrying a
unique X-Request-Id (the webapp counts executions per id; see CountServlet).
"""
from __future__ import annotations

import dataclasses
import json
import threading
import time
from typing import Dict, List, Optional, Tuple

from httpc import request


@dataclasses.dataclass
class Result:
    worker: int
    seq: int
    method: str
    path: str
    started: float                    # time.monotonic()
    ended: float
    status: int = 0                   # 0: no HTTP answer at all (see error)
    complete: bool = True             # False: the body was cut short
    route: Optional[str] = None       # the Tomcat that answered (JSON "route")
    error: Optional[str] = None
    request_id: Optional[str] = None  # POST /app/count: X-Request-Id
    cookie_route: Optional[str] = None  # route of the session id sent as cookie
    session_id: Optional[str] = None  # the session id after this response
    count: Optional[int] = None       # POST /app/count: executions of this id so far

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.complete and self.route is not None

    @property
    def elapsed(self) -> float:
        return self.ended - self.started


class Load:
    def __init__(self, port: int, workers: int, duration: float, *, sessions: bool = False,
                 post_every: int = 0, think: float = 0.01, timeout: float = 15.0,
                 tag: str = "load", path: str = "/app/echo", post_body: bytes = b"p" * 64):
        self.port = port
        self.workers = workers
        self.duration = duration
        self.sessions = sessions
        self.post_every = post_every
        self.think = think
        self.timeout = timeout
        self.tag = tag
        self.path = path
        self.post_body = post_body
        self._stop = threading.Event()
        self._threads: List[threading.Thread] = []
        self._lock = threading.Lock()
        self.results: List[Result] = []
        self.initial_sessions: Dict[int, Tuple[str, str]] = {}  # worker -> (session id, route)
        self.started_at = 0.0

    # -- control
    def start(self) -> "Load":
        self.started_at = time.monotonic()
        for w in range(self.workers):
            th = threading.Thread(target=self._run, args=(w,), name=f"load-{self.tag}-{w}", daemon=True)
            self._threads.append(th)
            th.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def join(self) -> List[Result]:
        """Waits for every worker (bounded: duration + one request timeout + slack)."""
        deadline = self.started_at + self.duration + self.timeout + 10
        for th in self._threads:
            th.join(max(0.1, deadline - time.monotonic()))
        alive = [th.name for th in self._threads if th.is_alive()]
        assert not alive, f"load workers still running after {self.duration + self.timeout + 10:.0f}s: {alive}"
        with self._lock:
            return sorted(self.results, key=lambda r: r.started)

    def snapshot(self) -> List[Result]:
        with self._lock:
            return list(self.results)

    # -- one worker
    def _one(self, w: int, seq: int, method: str, path: str, headers: Dict[str, str],
             body: Optional[bytes]) -> Result:
        res = Result(w, seq, method, path, time.monotonic(), 0.0)
        cookie = headers.get("Cookie", "")
        if cookie.startswith("JSESSIONID=") and "." in cookie:
            res.cookie_route = cookie.rsplit(".", 1)[1]
        res.request_id = headers.get("X-Request-Id")
        try:
            r = request(self.port, method, path, body=body, headers=headers, timeout=self.timeout)
            res.status, res.complete, res.error = r.status, r.complete, r.error
            if r.status == 200 and r.complete:
                try:
                    js = json.loads(r.body.decode("utf-8"))
                    res.route = js.get("route")
                    res.session_id = js.get("sessionId")
                    if isinstance(js.get("count"), int):
                        res.count = js["count"]
                except ValueError as e:
                    res.error = f"bad JSON: {e}: {r.body[:200]!r}"
            elif r.status != 200:
                res.error = r.body[:200].decode("latin-1", "replace")
        except Exception as e:  # noqa: BLE001 - every failure is a result
            res.error = repr(e)
        res.ended = time.monotonic()
        with self._lock:
            self.results.append(res)
        return res

    def _run(self, w: int) -> None:
        deadline = self.started_at + self.duration
        sid: Optional[str] = None
        seq = 0
        if self.sessions:
            for _ in range(3):
                res = self._one(w, seq, "GET", f"{self.path}?session=1&w={w}&new=1", {}, None)
                seq += 1
                if res.ok and res.session_id:
                    sid = res.session_id
                    self.initial_sessions[w] = (sid, res.route)
                    break
        while not self._stop.is_set() and time.monotonic() < deadline:
            headers: Dict[str, str] = {}
            if sid:
                headers["Cookie"] = f"JSESSIONID={sid}"
            if self.post_every and seq % self.post_every == self.post_every - 1:
                headers["X-Request-Id"] = f"{self.tag}-{w}-{seq}-{time.monotonic_ns()}"
                headers["Content-Type"] = "text/plain"
                self._one(w, seq, "POST", "/app/count", headers, self.post_body)
            else:
                q = f"session=1&w={w}&i={seq}" if self.sessions else f"w={w}&i={seq}"
                res = self._one(w, seq, "GET", f"{self.path}?{q}", headers, None)
                if res.ok and res.session_id:
                    sid = res.session_id  # Set-Cookie, as a browser would take it
            seq += 1
            if self.think:
                time.sleep(self.think)
