#!/usr/bin/env python3
"""A scripted AJP13 backend for faults Tomcat cannot produce (stdlib only, threads).

It reads FORWARD_REQUEST packets, takes the request URI and answers according to it:

    /fault/ok              valid 200 "ok" (drains any request body first), END_RESPONSE reuse=1
    /fault/slow-ok         as /fault/ok, after a pause of ?ms=N milliseconds (default 300, at
                           most 5000): concurrent requests then each hold a connection of their own
    /fault/garbage         random bytes (never starting with the 'AB' magic), then close
    /fault/truncated       a SEND_HEADERS packet cut short, then close
    /fault/overlong        packet header announcing 0xFFFF bytes (> packet size), a few bytes,
                           then the connection is held open (a proxy must not wait for the rest)
    /fault/hang            reads the request, never answers; holds the connection open
    /fault/reset-mid-body  SEND_HEADERS + one body chunk + half of the next, then RST (SO_LINGER 0)
    .../headers-close      a complete SEND_HEADERS (200, Content-Length 100), then close, no body:
                           a backend that died after its headers (any path ending so)
    /fault/badchunk        SEND_HEADERS + a SEND_BODY_CHUNK whose chunk length != packet len - 4
    /fault/cpong           answers the FORWARD_REQUEST with a CPONG (unexpected message type)
    /fault/reuse0          valid 200 "ok" with END_RESPONSE reuse=0, then holds the connection
                           open (a proxy must not send another request on it)
    /fault/bad-magic       a well-formed SEND_HEADERS but with magic 0x1234 instead of 'AB'
    /fault/badcode         SEND_HEADERS with an unknown coded header name (0xA0FF)
    /fault/wrong-cl        200 "ok" whose headers claim Content-Length: 1000 and
                           Transfer-Encoding: chunked (a proxy must not pass them on)
    /fault/header-crlf     200 "ok" with a CR LF inside a header value (response splitting)
    /fault/body            reads the request body strictly by the AJP rules (first packet
                           unsolicited iff Content-Length > 0, nothing unasked otherwise) and
                           answers 200 with X-Body-Length / X-Body-Sha256 / X-Violations
    anything else          404 "no such fault"

CPING (type 10) is answered with CPONG unless `cping_mode` is "ignore" (no answer), "close",
or "ignore_used" (a connection that served its last request before the mode was set is an idle
connection a firewall dropped silently: from its first unanswered CPING on, nothing on it is
answered; connections used since work).
Everything it sees is recorded (connections, requests, which connection served which request,
when a connection was closed and by whom) for the tests to query in-process.

Run standalone for manual experiments: python3 fake_ajp.py [--port P]
"""
from __future__ import annotations

import hashlib
import os
import select
import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from typing import Dict, List, Optional

HOLD_MAX_S = 30.0  # upper bound for how long a fault holds a connection open

METHODS = {1: "OPTIONS", 2: "GET", 3: "HEAD", 4: "POST", 5: "PUT", 6: "DELETE", 7: "TRACE",
           8: "PROPFIND", 9: "PROPPATCH", 10: "MKCOL", 11: "COPY", 12: "MOVE", 13: "LOCK",
           14: "UNLOCK", 15: "ACL", 16: "REPORT", 17: "VERSION-CONTROL", 18: "CHECKIN",
           19: "CHECKOUT", 20: "UNCHECKOUT", 21: "SEARCH", 22: "MKWORKSPACE", 23: "UPDATE",
           24: "LABEL", 25: "MERGE", 26: "BASELINE-CONTROL", 27: "MKACTIVITY"}
REQ_HEADERS = {0xA001: "accept", 0xA002: "accept-charset", 0xA003: "accept-encoding",
               0xA004: "accept-language", 0xA005: "authorization", 0xA006: "connection",
               0xA007: "content-type", 0xA008: "content-length", 0xA009: "cookie",
               0xA00A: "cookie2", 0xA00B: "host", 0xA00C: "pragma", 0xA00D: "referer",
               0xA00E: "user-agent"}
ATTR_NAMES = {0x01: "context", 0x02: "servlet_path", 0x03: "remote_user", 0x04: "auth_type",
              0x05: "query_string", 0x06: "route", 0x07: "ssl_cert", 0x08: "ssl_cipher",
              0x09: "ssl_session", 0x0C: "secret", 0x0D: "stored_method"}


class ProtocolError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Encoding (container -> server, magic 'AB')


def packet(payload: bytes) -> bytes:
    return b"AB" + struct.pack(">H", len(payload)) + payload


def ajp_string(s: Optional[str]) -> bytes:
    if s is None:
        return b"\xff\xff"
    b = s.encode("latin-1")
    return struct.pack(">H", len(b)) + b + b"\x00"


def send_headers(status: int, reason: str, headers: List[tuple]) -> bytes:
    """headers: (name, value); name is a str (literal) or an int response code 0xA0xx."""
    out = bytearray(b"\x04" + struct.pack(">H", status) + ajp_string(reason)
                    + struct.pack(">H", len(headers)))
    for name, value in headers:
        if isinstance(name, int):
            out += struct.pack(">H", name)
        else:
            out += ajp_string(name)
        out += ajp_string(value)
    return packet(bytes(out))


def body_chunk(data: bytes) -> bytes:
    return packet(b"\x03" + struct.pack(">H", len(data)) + data + b"\x00")


def end_response(reuse: bool) -> bytes:
    return packet(b"\x05" + (b"\x01" if reuse else b"\x00"))


def get_body_chunk(n: int) -> bytes:
    return packet(b"\x06" + struct.pack(">H", n))


CPONG = packet(b"\x09")


# ---------------------------------------------------------------------------------------------
# Decoding (server -> container, magic 0x1234)


class Reader:
    def __init__(self, data: bytes):
        self.d = data
        self.i = 0

    def byte(self) -> int:
        if self.i + 1 > len(self.d):
            raise ProtocolError("read past end (byte)")
        v = self.d[self.i]
        self.i += 1
        return v

    def int16(self) -> int:
        if self.i + 2 > len(self.d):
            raise ProtocolError("read past end (int)")
        v = struct.unpack_from(">H", self.d, self.i)[0]
        self.i += 2
        return v

    def peek16(self) -> int:
        if self.i + 2 > len(self.d):
            raise ProtocolError("read past end (peek)")
        return struct.unpack_from(">H", self.d, self.i)[0]

    def string(self) -> Optional[str]:
        n = self.int16()
        if n == 0xFFFF:
            return None
        if self.i + n + 1 > len(self.d):
            raise ProtocolError("string past end")
        s = self.d[self.i:self.i + n].decode("latin-1")
        if self.d[self.i + n] != 0:
            raise ProtocolError("string not NUL-terminated")
        self.i += n + 1
        return s


@dataclass
class ForwardRequest:
    method: str
    protocol: str
    uri: str
    remote_addr: Optional[str]
    remote_host: Optional[str]
    server_name: Optional[str]
    server_port: int
    is_ssl: bool
    headers: List[tuple]
    attributes: Dict[str, object]

    def header(self, name: str) -> Optional[str]:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None


def parse_forward_request(payload: bytes) -> ForwardRequest:
    r = Reader(payload)
    if r.byte() != 2:
        raise ProtocolError("not a FORWARD_REQUEST")
    code = r.byte()
    method = METHODS.get(code, f"#{code}")
    protocol = r.string()
    uri = r.string()
    remote_addr = r.string()
    remote_host = r.string()
    server_name = r.string()
    server_port = r.int16()
    is_ssl = r.byte() != 0
    headers = []
    for _ in range(r.int16()):
        h = r.peek16()
        if h >> 8 == 0xA0:
            r.int16()
            if h not in REQ_HEADERS:
                raise ProtocolError(f"bad header code {h:#x}")
            name = REQ_HEADERS[h]
        else:
            name = r.string()
        headers.append((name, r.string()))
    attrs: Dict[str, object] = {}
    while True:
        a = r.byte()
        if a == 0xFF:
            break
        if a == 0x0A:
            name = r.string() or ""
            attrs["req:" + name] = r.string()
        elif a == 0x0B:
            attrs["ssl_key_size"] = r.int16()
        elif a in ATTR_NAMES:
            attrs[ATTR_NAMES[a]] = r.string()
        else:
            raise ProtocolError(f"unknown attribute code {a:#x}")
    if code == 0xFF:
        method = str(attrs.get("stored_method"))
    return ForwardRequest(method, protocol or "", uri or "", remote_addr, remote_host,
                          server_name, server_port, is_ssl, headers, attrs)


# ---------------------------------------------------------------------------------------------
# The server


@dataclass
class ConnRecord:
    id: int
    accepted: float
    peer: tuple
    closed: Optional[float] = None
    closed_by: Optional[str] = None   # "peer" | "fake"
    requests: List[str] = field(default_factory=list)
    cpings: int = 0
    last_request: float = 0.0
    black_hole: bool = False  # "ignore_used": dropped by a firewall, nothing gets through


@dataclass
class RequestRecord:
    conn: int
    time: float
    method: str
    uri: str
    query: Optional[str]
    secret_ok: bool
    request: ForwardRequest
    body_length: int = 0
    body_sha256: str = ""
    violations: List[str] = field(default_factory=list)


class FakeAjp:
    def __init__(self, host: str = "127.0.0.1", port: int = 0, packet_size: int = 8192,
                 secret: Optional[str] = None):
        self.host = host
        self.packet_size = packet_size
        self.secret = secret
        self.cping_mode = "answer"       # "answer" | "ignore" | "close" | "ignore_used"
        self.lock = threading.Lock()
        self.conns: List[ConnRecord] = []
        self.requests: List[RequestRecord] = []
        self.errors: List[str] = []
        self._stop = threading.Event()
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self._sock.listen(128)
        self.port = self._sock.getsockname()[1]
        self._thread: Optional[threading.Thread] = None
        self._live: Dict[int, socket.socket] = {}

    # -- control
    @property
    def cping_mode(self) -> str:
        return self._cping_mode

    @cping_mode.setter
    def cping_mode(self, mode: str) -> None:
        self._cping_mode = mode
        self._mode_since = time.monotonic()  # "ignore_used": connections idle since are dropped

    def _dropped(self, rec: ConnRecord) -> bool:
        return (self.cping_mode == "ignore_used" and bool(rec.requests)
                and rec.last_request < self._mode_since)

    def start(self) -> "FakeAjp":
        self._thread = threading.Thread(target=self._accept_loop, name="fake-ajp-accept",
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        try:
            self._sock.close()
        except OSError:
            pass
        with self.lock:
            live = list(self._live.values())
        for s in live:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        if self._thread:
            self._thread.join(5)

    def connection_count(self) -> int:
        with self.lock:
            return len(self.conns)

    def request_count(self) -> int:
        with self.lock:
            return len(self.requests)

    def open_connections(self) -> int:
        with self.lock:
            return sum(1 for c in self.conns if c.closed is None)

    def snapshot(self) -> dict:
        with self.lock:
            return {"connections": len(self.conns), "requests": len(self.requests),
                    "open": sum(1 for c in self.conns if c.closed is None),
                    "errors": list(self.errors)}

    def last_request(self, uri_prefix: str = "") -> Optional[RequestRecord]:
        with self.lock:
            for r in reversed(self.requests):
                if r.uri.startswith(uri_prefix):
                    return r
        return None

    def conn(self, conn_id: int) -> ConnRecord:
        with self.lock:
            return self.conns[conn_id]

    def wait_closed(self, conn_id: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.conn(conn_id).closed is not None:
                return True
            time.sleep(0.05)
        return False

    # -- internals
    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                s, peer = self._sock.accept()
            except OSError:
                return
            with self.lock:
                rec = ConnRecord(len(self.conns), time.monotonic(), peer)
                self.conns.append(rec)
                self._live[rec.id] = s
            threading.Thread(target=self._serve, args=(s, rec), name=f"fake-ajp-{rec.id}",
                             daemon=True).start()

    def _close(self, s: socket.socket, rec: ConnRecord, by: str, rst: bool = False) -> None:
        if rst:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        try:
            s.close()
        except OSError:
            pass
        with self.lock:
            if rec.closed is None:
                rec.closed = time.monotonic()
                rec.closed_by = by
            self._live.pop(rec.id, None)

    @staticmethod
    def _recv_exact(s: socket.socket, n: int) -> Optional[bytes]:
        buf = bytearray()
        while len(buf) < n:
            chunk = s.recv(n - len(buf))
            if not chunk:
                return None
            buf += chunk
        return bytes(buf)

    def _read_packet(self, s: socket.socket) -> Optional[bytes]:
        hdr = self._recv_exact(s, 4)
        if hdr is None:
            return None
        if hdr[:2] != b"\x12\x34":
            raise ProtocolError(f"bad magic {hdr[:2].hex()}")
        n = struct.unpack(">H", hdr[2:])[0]
        if n > self.packet_size - 4:
            raise ProtocolError(f"packet too long: {n}")
        data = self._recv_exact(s, n)
        if data is None:
            raise ProtocolError("EOF inside packet")
        return data

    def _hold(self, s: socket.socket, rec: ConnRecord) -> None:
        """Keep the connection open until the peer closes it (or HOLD_MAX_S)."""
        s.settimeout(0.2)
        deadline = time.monotonic() + HOLD_MAX_S
        while time.monotonic() < deadline and not self._stop.is_set():
            try:
                d = s.recv(65536)
            except socket.timeout:
                continue
            except OSError:
                break
            if not d:
                break
            with self.lock:  # a proxy must never send anything on a connection we left dead
                self.errors.append(f"conn {rec.id}: {len(d)} bytes received on a dead connection")
        self._close(s, rec, "peer" if time.monotonic() < deadline else "fake")

    def _read_body(self, s: socket.socket, req: ForwardRequest) -> int:
        """Drain the request body the way Tomcat does: first packet unsolicited if CL > 0."""
        cl = req.header("content-length")
        total = 0
        if cl is not None and int(cl) > 0:
            remaining = int(cl)
            while True:
                data = self._read_packet(s)
                if data is None:
                    raise ProtocolError("EOF in body")
                if len(data) < 2:
                    break
                n = struct.unpack(">H", data[:2])[0]
                if n == 0:
                    break
                total += n
                remaining -= n
                if remaining <= 0:
                    break
                s.sendall(get_body_chunk(self.packet_size - 6))
        elif cl is None and req.method not in ("GET", "HEAD", "OPTIONS", "DELETE"):
            # No Content-Length (e.g. chunked upload): ask for the body.
            for chunk in self._pull_body(s):
                total += len(chunk)
        return total

    def _pull_body(self, s: socket.socket):
        """Asks for the body with GET_BODY_CHUNK until the empty packet; yields each chunk."""
        while True:
            s.sendall(get_body_chunk(self.packet_size - 6))
            data = self._read_packet(s)
            if data is None:
                raise ProtocolError("EOF in body")
            n = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 0
            if n == 0:
                return
            yield data[2:2 + n]

    @staticmethod
    def _pending(s: socket.socket, wait: float) -> bool:
        r, _, _ = select.select([s], [], [], wait)
        return bool(r)

    def _read_body_strict(self, s: socket.socket, req: ForwardRequest,
                          record: RequestRecord) -> None:
        """Read the body exactly as the AJP rules allow and note every deviation."""
        h = hashlib.sha256()
        total = 0
        cl = req.header("content-length")
        viol = record.violations
        if cl is not None and int(cl) > 0:
            remaining = int(cl)
            first = True
            while remaining > 0:
                if not first:
                    s.sendall(get_body_chunk(self.packet_size - 6))
                elif not self._pending(s, 5):
                    viol.append("first body packet not sent unsolicited")
                    s.sendall(get_body_chunk(self.packet_size - 6))
                first = False
                data = self._read_packet(s)
                if data is None:
                    raise ProtocolError("EOF in body")
                n = struct.unpack(">H", data[:2])[0] if len(data) >= 2 else 0
                if n != len(data) - 2:
                    viol.append(f"body packet length {n} != payload {len(data) - 2}")
                if n == 0:
                    viol.append(f"empty body packet with {remaining} bytes outstanding")
                    break
                if n > self.packet_size - 6:
                    viol.append(f"body packet of {n} bytes > {self.packet_size - 6}")
                h.update(data[2:2 + n])
                total += n
                remaining -= n
            if remaining < 0:
                viol.append(f"{-remaining} body bytes more than Content-Length")
        else:
            if self._pending(s, 0.3):
                viol.append("unsolicited body packet without Content-Length > 0")
                return  # the connection is now out of step; the answer says so
            if cl is None and req.method not in ("GET", "HEAD", "OPTIONS", "DELETE"):
                for chunk in self._pull_body(s):
                    h.update(chunk)
                    total += len(chunk)
        record.body_length = total
        record.body_sha256 = h.hexdigest()

    def _serve(self, s: socket.socket, rec: ConnRecord) -> None:
        s.settimeout(HOLD_MAX_S)
        try:
            while not self._stop.is_set():
                data = self._read_packet(s)
                if data is None:
                    self._close(s, rec, "peer")
                    return
                if not data:
                    raise ProtocolError("empty packet")
                if rec.black_hole:
                    continue
                if data[0] == 10:   # CPING
                    with self.lock:
                        rec.cpings += 1
                    if self._dropped(rec):
                        rec.black_hole = True
                    elif self.cping_mode in ("answer", "ignore_used"):
                        s.sendall(CPONG)
                    elif self.cping_mode == "close":
                        self._close(s, rec, "fake")
                        return
                    continue
                if data[0] != 2:
                    raise ProtocolError(f"unexpected message type {data[0]}")
                req = parse_forward_request(data)
                path, _, _ = req.uri.partition("?")
                record = RequestRecord(
                    rec.id, time.monotonic(), req.method, path,
                    req.attributes.get("query_string"),
                    self.secret is None or req.attributes.get("secret") == self.secret, req)
                with self.lock:
                    rec.requests.append(path)
                    rec.last_request = time.monotonic()
                    self.requests.append(record)
                if self.secret is not None and req.attributes.get("secret") != self.secret:
                    s.sendall(send_headers(403, "403", []) + end_response(False))
                    self._close(s, rec, "fake")
                    return
                if not self._answer(s, rec, req, path, record):
                    return
        except (ProtocolError, OSError, ValueError) as e:
            with self.lock:
                self.errors.append(f"conn {rec.id}: {e}")
            self._close(s, rec, "fake")

    def _answer(self, s: socket.socket, rec: ConnRecord, req: ForwardRequest, path: str,
                record: RequestRecord) -> bool:
        """Answer one request; False when the connection is finished."""
        fault = path.rsplit("/", 1)[-1]
        if fault == "slow-ok":
            ms = 300
            for kv in (record.query or "").split("&"):
                k, _, v = kv.partition("=")
                if k == "ms" and v.isdigit():
                    ms = min(int(v), 5000)
            time.sleep(ms / 1000.0)
            fault = "ok"
        if fault in ("ok", "reuse0"):
            self._read_body(s, req)
            body = b"ok"
            hdrs = [(0xA001, "text/plain"), (0xA003, str(len(body))),
                    ("X-Fake-Conn", str(rec.id)), ("X-Fake-Method", req.method)]
            if req.method == "HEAD":
                s.sendall(send_headers(200, "OK", hdrs) + end_response(fault == "ok"))
            else:
                s.sendall(send_headers(200, "OK", hdrs) + body_chunk(body)
                          + end_response(fault == "ok"))
            if fault == "reuse0":
                self._hold(s, rec)
                return False
            return True
        if fault == "body":
            self._read_body_strict(s, req, record)
            hdrs = [(0xA001, "text/plain"), ("X-Fake-Conn", str(rec.id)),
                    ("X-Body-Length", str(record.body_length)),
                    ("X-Body-Sha256", record.body_sha256),
                    ("X-Violations", "; ".join(record.violations) or "none")]
            s.sendall(send_headers(200, "OK", hdrs) + body_chunk(b"ok") + end_response(True))
            return True
        if fault == "wrong-cl":
            self._read_body(s, req)
            hdrs = [(0xA001, "text/plain"), (0xA003, "1000"), ("Transfer-Encoding", "chunked"),
                    ("X-Fake-Conn", str(rec.id))]
            s.sendall(send_headers(200, "OK", hdrs) + body_chunk(b"ok") + end_response(True))
            return True
        if fault == "header-crlf":
            self._read_body(s, req)
            hdrs = [(0xA001, "text/plain"), ("X-Split", "a\r\nX-Injected: 1"),
                    ("X-Fake-Conn", str(rec.id))]
            s.sendall(send_headers(200, "OK", hdrs) + body_chunk(b"ok") + end_response(True))
            return True
        if fault == "badcode":
            bad = bytearray(send_headers(200, "OK", [(0xA001, "text/plain")]))
            # replace the coded name 0xA001 by 0xA0FF
            i = bad.index(b"\xa0\x01")
            bad[i + 1] = 0xFF
            s.sendall(bytes(bad) + body_chunk(b"ok") + end_response(True))
            self._hold(s, rec)
            return False
        if fault == "garbage":
            junk = bytearray(os.urandom(512))
            junk[0] = 0x7F  # never the 'AB' magic
            s.sendall(bytes(junk))
            time.sleep(0.5)
            self._close(s, rec, "fake")
            return False
        if fault == "truncated":
            full = send_headers(200, "OK", [(0xA001, "text/plain"), ("X-Long", "y" * 200)])
            s.sendall(full[: len(full) // 2])
            time.sleep(0.2)
            self._close(s, rec, "fake")
            return False
        if fault == "overlong":
            s.sendall(b"AB\xff\xff\x04" + b"\x00" * 64)
            self._hold(s, rec)
            return False
        if fault == "hang":
            self._hold(s, rec)
            return False
        if fault == "reset-mid-body":
            s.sendall(send_headers(200, "OK", [(0xA001, "application/octet-stream"),
                                               (0xA003, "100000")]))
            s.sendall(body_chunk(b"x" * 8000))
            nxt = body_chunk(b"y" * 8000)
            s.sendall(nxt[: len(nxt) // 2])
            time.sleep(0.3)
            self._close(s, rec, "fake", rst=True)
            return False
        if fault == "headers-close":
            self._read_body(s, req)
            s.sendall(send_headers(200, "OK", [(0xA001, "text/plain"), (0xA003, "100"),
                                               ("X-Fake-Conn", str(rec.id))]))
            time.sleep(0.1)
            self._close(s, rec, "fake")
            return False
        if fault == "badchunk":
            data = b"z" * 10
            bad = packet(b"\x03" + struct.pack(">H", 100) + data + b"\x00")  # says 100, has 10
            s.sendall(send_headers(200, "OK", [(0xA001, "text/plain")]) + bad + end_response(True))
            self._hold(s, rec)
            return False
        if fault == "cpong":
            s.sendall(CPONG)
            self._hold(s, rec)
            return False
        if fault == "bad-magic":
            good = send_headers(200, "OK", [(0xA001, "text/plain")])
            s.sendall(b"\x12\x34" + good[2:])
            self._hold(s, rec)
            return False
        self._read_body(s, req)
        body = b"no such fault\n"
        s.sendall(send_headers(404, "404", [(0xA001, "text/plain")]) + body_chunk(body)
                  + end_response(True))
        return True


def main() -> None:
    import argparse
    ap = argparse.ArgumentParser(description="scripted AJP13 test backend")
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--secret")
    args = ap.parse_args()
    f = FakeAjp(port=args.port, secret=args.secret).start()
    print(f"fake AJP backend on 127.0.0.1:{f.port}", flush=True)
    try:
        while True:
            time.sleep(5)
            print(f.snapshot(), flush=True)
    except KeyboardInterrupt:
        f.stop()


if __name__ == "__main__":
    main()
