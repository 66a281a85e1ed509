"""Malformed client requests: the client gets a 4xx, the backend is not blamed, the next
request works."""
from __future__ import annotations

import os
import socket
import time

import pytest

from httpc import RawConn, get, header_values, raw_request


def _next_requests_work(stack, n: int = 6):
    # Round robin may be per httpd child: 6 requests over <= 4 children give some child two
    # consecutive requests, so both members must show up.
    n = max(n, 6)
    routes = set()
    for i in range(n):
        r = get(stack.port, f"/app/echo?next={i}")
        assert r.status == 200, (i, r)
        routes.add(r.json()["route"])
    assert routes == {"t1", "t2"}, f"a member was taken out of rotation: {routes}"


def _send_and_read(stack, data: bytes, half_close: bool = False, timeout: float = 20):
    with RawConn(stack.port, timeout=timeout) as c:
        c.send(data)
        if half_close:
            c.shutdown_write()
        try:
            return c.read_response()
        except (EOFError, ConnectionError, socket.timeout) as e:
            return e


def test_content_length_not_a_number(stack):
    r = _send_and_read(stack, raw_request("POST", "/app/echo", stack.port,
                                          headers={"Content-Length": "abc"}, body=b"abc"))
    assert not isinstance(r, Exception), r
    assert r.status == 400, r
    _next_requests_work(stack)


@pytest.mark.parametrize("cl", ["-1", "1 2", "0x10", "+5"])
def test_content_length_invalid_forms(stack, cl):
    r = _send_and_read(stack, raw_request("POST", "/app/echo", stack.port,
                                          headers={"Content-Length": cl}, body=b"hello"))
    assert not isinstance(r, Exception), r
    assert r.status == 400, r
    _next_requests_work(stack, 2)


def test_transfer_encoding_gzip(stack):
    r = _send_and_read(stack, raw_request("POST", "/app/echo", stack.port,
                                          headers={"Transfer-Encoding": "gzip"}, body=b"xxxx"))
    assert not isinstance(r, Exception), r
    assert r.status in (400, 501), r
    _next_requests_work(stack)


@pytest.mark.idmbalance_only  # mod_proxy_ajp answers 500 here (CVE-2022-26377 fix)
def test_transfer_encoding_gzip_chunked(stack, logmark):
    """T-E whose final coding is chunked: httpd core accepts it; the module must refuse."""
    body = b"5\r\nhello\r\n0\r\n\r\n"
    r = _send_and_read(stack, raw_request("POST", "/app/echo", stack.port,
                                          headers={"Transfer-Encoding": "gzip, chunked"},
                                          body=body))
    assert not isinstance(r, Exception), r
    assert r.status == 400, r
    assert '"POST /app/echo ' not in logmark.tomcat_access()
    _next_requests_work(stack)


def test_body_shorter_than_content_length(stack, logmark):
    """Client announces 100000 bytes, sends 10000 and half-closes: 400, backend not blamed."""
    t0 = time.monotonic()
    r = _send_and_read(stack, raw_request("POST", "/app/echo", stack.port,
                                          headers={"Content-Length": "100000",
                                                   "Content-Type": "application/octet-stream"},
                                          body=b"x" * 10000), half_close=True)
    elapsed = time.monotonic() - t0
    assert elapsed < 15, f"took {elapsed:.1f}s"
    if not isinstance(r, Exception):  # the client may also just see the connection close
        assert r.status == 400, r
    _next_requests_work(stack)


def test_header_larger_than_httpd_limit(stack):
    """A single 9 KB header line: httpd core refuses it (LimitRequestFieldSize 8190)."""
    r = _send_and_read(stack, raw_request("GET", "/app/echo", stack.port,
                                          headers={"X-Huge": "h" * 9000}))
    assert not isinstance(r, Exception), r
    assert r.status in (400, 413, 431), r
    _next_requests_work(stack, 2)


def test_headers_larger_than_ajp_packet(stack, logmark):
    """Two 4.6 KB headers pass httpd's limits but cannot fit one 8192-byte AJP packet."""
    hdrs = {"X-Half-1": "a" * 4600, "X-Half-2": "b" * 4600}
    r = _send_and_read(stack, raw_request("GET", "/app/echo?too-big", stack.port, headers=hdrs))
    assert not isinstance(r, Exception), r
    assert r.status in (400, 413), r
    _next_requests_work(stack)


def test_headers_larger_than_ajp_packet_fit_64k_packets(stack):
    hdrs = {"X-Half-1": "a" * 4600, "X-Half-2": "b" * 4600}
    with RawConn(stack.big_port) as c:
        c.send(raw_request("GET", "/app/echo", stack.big_port, headers=hdrs))
        r = c.read_response()
    assert r.status == 200, r
    j = r.json()
    assert header_values(j, "X-Half-1") == ["a" * 4600]
    assert header_values(j, "X-Half-2") == ["b" * 4600]


def test_body_the_servlet_does_not_read(stack):
    """Tomcat answers without reading a 1 MB body: the rest must be discarded, not pushed."""
    from httpc import connection, request
    body = os.urandom(1024 * 1024)
    c = connection(stack.port, timeout=30)
    try:
        r = request(stack.port, "POST", "/app/status?code=200", body=body, conn=c,
                    headers={"Content-Type": "application/octet-stream"})
        assert r.status == 200, r
        try:
            r2 = request(stack.port, "GET", "/app/echo?after-unread", conn=c)
        except (ConnectionError, OSError):
            r2 = None  # closing the client connection is also acceptable
        if r2 is not None:
            assert r2.status == 200 and r2.json()["queryString"] == "after-unread", r2
    finally:
        c.close()
    _next_requests_work(stack)
