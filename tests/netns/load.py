"""Clients with sessions, through the floating address, from inside the client namespace.

Each client opens a session (GET /app/echo?session=1), then alternates a GET of its session
and a POST /app/count with an id of its own, one connection per request, until told to stop
(bounded in count and time). Every request is recorded as an Attempt with its outcome:

- ok:      200, from the session's Tomcat, with the session unchanged;
- bad:     an answer that is not that (another status, another route, a new session);
- refused: the connection was never made (refused or no SYN-ACK): nothing was sent, so the
           request did not run anywhere; the client goes on with its next request;
- lost:    connected and sent, then no answer (reset, closed, timeout): in flight when its
           front end went away. A lost POST is not sent again: nobody knows if it ran.
"""
from __future__ import annotations

import dataclasses
import http.client
import json
import threading
import time
from typing import List, Optional, Tuple

import netns as nn

CONNECT_TIMEOUT = 0.5
READ_TIMEOUT = 3.0


@dataclasses.dataclass
class Attempt:
    client: int
    method: str
    rid: str
    start: float
    end: float
    outcome: str                 # ok | bad | refused | lost
    front: Optional[str] = None  # X-Front-End of the answer
    route: Optional[str] = None  # X-Route of the answer
    detail: str = ""


def exchange(host: str, method: str, path: str, headers: dict, body: bytes = b""
             ) -> Tuple[str, Optional[http.client.HTTPResponse], bytes, str]:
    """(phase, response, body, error): phase is "refused" when the connection was not made,
    "lost" when it was and no whole answer came, "answered" otherwise."""
    conn = http.client.HTTPConnection(host, 80, timeout=CONNECT_TIMEOUT)
    try:
        try:
            conn.connect()
        except OSError as e:
            return "refused", None, b"", repr(e)
        try:
            conn.sock.settimeout(READ_TIMEOUT)
            conn.request(method, path, body=body or None, headers=headers)
            resp = conn.getresponse()
            return "answered", resp, resp.read(), ""
        except (OSError, http.client.HTTPException) as e:
            return "lost", None, b"", repr(e)
    finally:
        conn.close()


class SessionClient(threading.Thread):
    def __init__(self, idx: int, ns: str, vip: str, stop: threading.Event, deadline: float,
                 max_requests: int = 20000, pause: float = 0.02):
        super().__init__(daemon=True, name=f"client-{idx}")
        self.idx = idx
        self.ns = ns
        self.vip = vip
        self.stop = stop
        self.deadline = deadline
        self.max_requests = max_requests
        self.pause = pause
        self.cookie: Optional[str] = None
        self.session_id: Optional[str] = None
        self.route: Optional[str] = None
        self.attempts: List[Attempt] = []
        self.error: Optional[BaseException] = None

    def _headers(self, extra: Optional[dict] = None) -> dict:
        h = {"Host": self.vip, "Connection": "close"}
        if self.cookie:
            h["Cookie"] = f"JSESSIONID={self.cookie}"
        h.update(extra or {})
        return h

    def _open_session(self) -> None:
        while not self.session_id and time.monotonic() < self.deadline and not self.stop.is_set():
            phase, resp, body, err = exchange(self.vip, "GET", "/app/echo?session=1", self._headers())
            if phase == "answered" and resp.status == 200:
                sid = json.loads(body)["sessionId"]
                self.cookie, self.session_id = sid, sid
                self.route = sid.rsplit(".", 1)[1]
                return
            time.sleep(0.1)

    def _one(self, n: int) -> Attempt:
        post = n % 2 == 1
        rid = f"c{self.idx}-{n}"
        start = time.monotonic()
        if post:
            phase, resp, body, err = exchange(
                self.vip, "POST", "/app/count", self._headers(
                    {"X-Request-Id": rid, "Content-Type": "application/x-www-form-urlencoded"}),
                b"step=1")
        else:
            phase, resp, body, err = exchange(self.vip, "GET", "/app/echo?session=1", self._headers())
        a = Attempt(self.idx, "POST" if post else "GET", rid, start, time.monotonic(),
                    phase if phase != "answered" else "ok", detail=err)
        if resp is not None:
            a.front = resp.getheader("X-Front-End")
            a.route = resp.getheader("X-Route")
            a.outcome, a.detail = self._judge(post, resp.status, body, a.route)
        return a

    def _judge(self, post: bool, status: int, body: bytes, route: Optional[str]) -> Tuple[str, str]:
        if status != 200:
            return "bad", f"status {status}"
        if route != self.route:
            return "bad", f"route {route}, session's is {self.route}"
        data = json.loads(body)
        if post and data.get("count") != 1:
            return "bad", f"count {data.get('count')}"
        if not post and data.get("sessionId") != self.session_id:
            return "bad", f"session {data.get('sessionId')} instead of {self.session_id}"
        return "ok", ""

    def run(self) -> None:
        try:
            nn.enter(self.ns)
            self._open_session()
            n = 0
            while (not self.stop.is_set() and n < self.max_requests
                   and time.monotonic() < self.deadline):
                self.attempts.append(self._one(n))
                n += 1
                time.sleep(self.pause)
        except BaseException as e:  # noqa: BLE001 - reported by the test
            self.error = e


def post_counts(ns: str, tomcat_addrs: List[str], rids: List[str]) -> dict:
    """{rid: [count on each Tomcat]} from CountServlet's GET, on the Tomcats' HTTP connectors
    (one keep-alive connection per Tomcat, from inside namespace `ns`)."""
    def query():
        out = {r: [] for r in rids}
        for addr in tomcat_addrs:
            conn = http.client.HTTPConnection(addr, 8080, timeout=5)
            try:
                for r in rids:
                    conn.request("GET", f"/app/count?id={r}")
                    resp = conn.getresponse()
                    out[r].append(json.loads(resp.read())["count"])
            finally:
                conn.close()
        return out
    return nn.run_in(ns, query, timeout=120)
