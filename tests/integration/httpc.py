"""HTTP client helpers for the integration tests (stdlib only).

`request()` wraps http.client; `RawConn` speaks raw HTTP/1.1 over a socket so tests can send
malformed framing and check exactly what comes back (e.g. that a HEAD/204/304 answer has no
body: the next response on the same connection must start right after the headers).
"""
from __future__ import annotations

import hashlib
import http.client
import json
import socket
import ssl
import time
from dataclasses import dataclass
from typing import Dict, Iterable, List, Optional, Tuple, Union

DEFAULT_TIMEOUT = 30.0


@dataclass
class Response:
    status: int
    reason: str
    headers: List[Tuple[str, str]]
    body: bytes
    elapsed: float
    complete: bool = True           # False: body ended early (connection closed / reset)
    error: Optional[str] = None     # the exception that cut the body short, if any
    local_port: Optional[int] = None

    def header(self, name: str) -> Optional[str]:
        for k, v in self.headers:
            if k.lower() == name.lower():
                return v
        return None

    def header_all(self, name: str) -> List[str]:
        return [v for k, v in self.headers if k.lower() == name.lower()]

    def json(self) -> dict:
        return json.loads(self.body.decode("utf-8"))

    def __repr__(self) -> str:
        b = self.body[:200]
        return (f"Response({self.status} {self.reason!r}, {len(self.body)} bytes body={b!r}, "
                f"complete={self.complete}, error={self.error})")


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def connection(port: int, https: bool = False, ssl_context: Optional[ssl.SSLContext] = None,
               timeout: float = DEFAULT_TIMEOUT) -> http.client.HTTPConnection:
    if https:
        return http.client.HTTPSConnection("127.0.0.1", port, timeout=timeout, context=ssl_context)
    return http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)


def request(port: int, method: str, path: str, body: Union[bytes, Iterable[bytes], None] = None,
            headers: Optional[Dict[str, str]] = None, timeout: float = DEFAULT_TIMEOUT,
            https: bool = False, ssl_context: Optional[ssl.SSLContext] = None,
            conn: Optional[http.client.HTTPConnection] = None, chunked: bool = False) -> Response:
    """One request. A truncated body is reported (complete=False), not raised."""
    own = conn is None
    c = conn or connection(port, https, ssl_context, timeout)
    t0 = time.monotonic()
    try:
        c.request(method, path, body=body, headers=headers or {}, encode_chunked=chunked)
        local_port = c.sock.getsockname()[1] if c.sock else None
        r = c.getresponse()
        complete, error = True, None
        try:
            data = r.read()
        except http.client.IncompleteRead as e:
            data, complete, error = e.partial, False, repr(e)
        except (ConnectionError, socket.timeout, OSError) as e:
            data, complete, error = b"", False, repr(e)
        return Response(r.status, r.reason, r.getheaders(), data, time.monotonic() - t0,
                        complete, error, local_port)
    finally:
        if own:
            c.close()


def get(port: int, path: str, **kw) -> Response:
    return request(port, "GET", path, **kw)


def echo(port: int, path: str = "/app/echo", method: str = "GET", **kw) -> dict:
    r = request(port, method, path, **kw)
    assert r.status == 200, r
    return r.json()


def header_values(echo_json: dict, name: str) -> List[str]:
    """Header values from the echo servlet's JSON, name matched case-insensitively."""
    out = []
    for k, vs in echo_json["headers"].items():
        if k.lower() == name.lower():
            out.extend(vs)
    return out


# ---------------------------------------------------------------------------------------------
# Raw HTTP


class RawConn:
    """A raw HTTP/1.1 connection: send bytes, parse responses strictly."""

    def __init__(self, port: int, timeout: float = DEFAULT_TIMEOUT):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
        self.buf = b""

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *a):
        self.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def shutdown_write(self) -> None:
        self.sock.shutdown(socket.SHUT_WR)

    def _fill(self) -> bool:
        d = self.sock.recv(65536)
        if not d:
            return False
        self.buf += d
        return True

    def read_until(self, marker: bytes, limit: int = 1 << 20) -> bytes:
        while marker not in self.buf:
            if len(self.buf) > limit or not self._fill():
                raise EOFError(f"connection closed before {marker!r}; got {self.buf[:300]!r}")
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n: int) -> bytes:
        while len(self.buf) < n:
            if not self._fill():
                raise EOFError(f"closed after {len(self.buf)} of {n} bytes")
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_to_close(self, timeout: float = 5.0) -> bytes:
        self.sock.settimeout(timeout)
        try:
            while self._fill():
                pass
        except (socket.timeout, ConnectionError):
            pass
        out, self.buf = self.buf, b""
        return out

    def read_response(self, head: bool = False) -> Response:
        """Parse one response. head=True: the request was HEAD (no body whatever the headers)."""
        t0 = time.monotonic()
        raw = self.read_until(b"\r\n\r\n")
        lines = raw.decode("latin-1").split("\r\n")
        proto, status, *reason = lines[0].split(" ", 2)
        if not proto.startswith("HTTP/"):
            raise ValueError(f"bad status line {lines[0]!r}")
        status = int(status)
        headers = []
        for line in lines[1:]:
            if line:
                k, _, v = line.partition(":")
                headers.append((k.strip(), v.strip()))
        resp = Response(status, reason[0] if reason else "", headers, b"", 0.0)
        if head or status in (204, 304) or 100 <= status < 200:
            resp.elapsed = time.monotonic() - t0
            return resp
        te = (resp.header("Transfer-Encoding") or "").lower()
        cl = resp.header("Content-Length")
        try:
            if "chunked" in te:
                body = b""
                while True:
                    size_line = self.read_until(b"\r\n")
                    size = int(size_line.split(b";")[0].strip(), 16)
                    if size == 0:
                        self.read_until(b"\r\n")  # no trailers expected
                        break
                    body += self.read_exact(size)
                    self.read_until(b"\r\n")
                resp.body = body
            elif cl is not None:
                resp.body = self.read_exact(int(cl))
            else:
                resp.body = self.read_to_close()
        except (EOFError, ConnectionError, socket.timeout) as e:
            resp.complete = False
            resp.error = repr(e)
            resp.body = self.buf
        resp.elapsed = time.monotonic() - t0
        return resp


def raw_request(method: str, path: str, port: int, headers: Optional[Dict[str, str]] = None,
                body: bytes = b"", version: str = "HTTP/1.1") -> bytes:
    h = {"Host": f"127.0.0.1:{port}"}
    h.update(headers or {})
    lines = [f"{method} {path} {version}"] + [f"{k}: {v}" for k, v in h.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def stream_pattern_sha256(total: int) -> str:
    """SHA-256 of /app/stream's pattern: byte i = i % 251."""
    block = bytes(i % 251 for i in range(65536 + 251))
    h = hashlib.sha256()
    done = 0
    while done < total:
        n = min(65536, total - done)
        off = done % 251
        h.update(block[off:off + n])
        done += n
    return h.hexdigest()


def client_ssl_context(ca: str, cert: Optional[str] = None, key: Optional[str] = None) -> ssl.SSLContext:
    ctx = ssl.create_default_context(cafile=ca)
    if cert:
        ctx.load_cert_chain(cert, key)
    return ctx
