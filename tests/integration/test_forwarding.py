"""Request and response mapping through httpd -> AJP -> Tomcat and back."""
from __future__ import annotations

import hashlib
import os
import time
import uuid

import pytest

import stack as stk
from httpc import (RawConn, connection, echo, get, header_values, raw_request, request, sha256,
                   stream_pattern_sha256)

MiB = 1024 * 1024


def test_get_reaches_tomcat_with_request_details(stack):
    r = get(stack.port, "/app/echo?x=1")
    assert r.status == 200, r
    assert r.header("Content-Type").startswith("application/json")
    j = r.json()
    assert j["contextPath"] == "/app"
    assert j["method"] == "GET"
    assert j["requestURI"] == "/app/echo"
    assert j["pathInfo"] == "/echo"
    assert j["queryString"] == "x=1"
    assert j["protocol"] == "HTTP/1.1"
    assert j["scheme"] == "http"
    assert j["isSecure"] is False
    assert j["serverName"] == "127.0.0.1"
    assert j["serverPort"] == stack.port
    assert j["remoteAddr"] == "127.0.0.1"
    assert j["remotePort"] == r.local_port, "client port must reach Tomcat (AJP_REMOTE_PORT)"
    assert j["localAddr"] == "127.0.0.1"
    assert j["route"] in ("t1", "t2")
    assert header_values(j, "Host") == [f"127.0.0.1:{stack.port}"]
    assert j["bodyLength"] == 0
    # The secret travels as an AJP attribute, never as a request attribute or header.
    assert stack.secret not in r.body.decode()


def test_http10_request(stack):
    with RawConn(stack.port) as c:
        c.send(raw_request("GET", "/app/echo?v=10", stack.port, version="HTTP/1.0"))
        r = c.read_response()
    assert r.status == 200, r
    assert r.json()["protocol"] == "HTTP/1.0"


def test_round_robin_uses_both_members(stack):
    routes = [get(stack.port, "/app/echo").json()["route"] for _ in range(12)]
    assert set(routes) == {"t1", "t2"}, routes
    assert min(routes.count("t1"), routes.count("t2")) >= 4, routes


def test_head_has_no_body(stack, logmark):
    marker = uuid.uuid4().hex
    with RawConn(stack.port) as c:
        c.send(raw_request("HEAD", f"/app/echo?head={marker}", stack.port))
        h = c.read_response(head=True)
        assert h.status == 200, h
        assert h.header("X-Route") in ("t1", "t2"), "HEAD must be answered by Tomcat"
        # If any body bytes followed the HEAD answer, this next response would not parse.
        c.send(raw_request("GET", "/app/echo?after-head", stack.port))
        g = c.read_response()
    assert g.status == 200, g
    assert g.json()["queryString"] == "after-head"
    # Tomcat saw HEAD (not a GET whose body httpd then dropped).
    assert logmark.wait_tomcat_access(f'"HEAD /app/echo?head={marker} ')


@pytest.mark.parametrize("size", [0, 1, 8186, 8187, 10 * 1000 * 1000])
def test_post_body_digest(stack, size):
    body = os.urandom(size)
    r = request(stack.port, "POST", "/app/echo", body=body,
                headers={"Content-Type": "application/octet-stream"}, timeout=60)
    assert r.status == 200, r
    j = r.json()
    assert j["method"] == "POST"
    assert j["contentLength"] == size
    assert j["bodyLength"] == size
    assert j["bodySha256"] == sha256(body)


@pytest.mark.parametrize("size", [65530, 65531, 300000])
def test_post_body_digest_packet_size_65536(stack, size):
    """Through the vhost whose balancer uses 64 KiB AJP packets (Tomcat packetSize=65536)."""
    body = os.urandom(size)
    r = request(stack.big_port, "POST", "/app/echo", body=body, timeout=60)
    assert r.status == 200, r
    j = r.json()
    assert (j["bodyLength"], j["bodySha256"]) == (size, sha256(body))


def test_chunked_upload(stack):
    sizes = [1, 100, 8186, 8187, 65536, 3, 100000, 7]
    chunks = [os.urandom(n) for n in sizes]
    r = request(stack.port, "POST", "/app/echo", body=iter(chunks), chunked=True,
                headers={"Content-Type": "application/octet-stream"}, timeout=60)
    assert r.status == 200, r
    j = r.json()
    whole = b"".join(chunks)
    assert j["bodyLength"] == len(whole)
    assert j["bodySha256"] == sha256(whole)
    assert not header_values(j, "Content-Length") or header_values(j, "Content-Length") == [str(len(whole))]


@pytest.mark.parametrize("method,with_body", [
    ("PUT", True), ("DELETE", False), ("PATCH", True), ("PROPFIND", True), ("OPTIONS", False),
    ("MKCOL", False), ("LOCK", True), ("REPORT", True), ("PROPPATCH", True), ("SEARCH", True),
])
def test_methods(stack, method, with_body):
    body = (f"<x>{method}</x>" * 50).encode() if with_body else None
    headers = {"Content-Type": "application/xml"} if with_body else {}
    r = request(stack.port, method, "/app/echo/m", body=body, headers=headers)
    assert r.status == 200, r
    j = r.json()
    assert j["method"] == method
    if body:
        assert (j["bodyLength"], j["bodySha256"]) == (len(body), sha256(body))


@pytest.mark.parametrize("path", [
    "/app/a%20b/%C3%A9",
    "/app/x%2525y",
    "/app/100%25/done",
    "/app/a+b/c;p=1/d",
    # mod_proxy re-canonicalises the path and decodes unreserved characters (%7E -> ~).
    pytest.param("/app/%7Euser/%41%42c", marks=pytest.mark.idmbalance_only),
    "/app/sp%20ace/%22quoted%22/%3C%3E",
    "/app/unreserved-._~!$&'()*+,=:@/x",
])
def test_url_encoded_path_is_not_decoded_twice(stack, path):
    r = get(stack.port, path)
    assert r.status == 200, r
    j = r.json()
    assert j["contextPath"] == "/app"
    assert j["requestURI"] == path


@pytest.mark.parametrize("query", [
    "a=1&b=2",
    "q=%2525&x=a+b",
    "empty=&flag&=v",
    "s=%C3%A9%20%3D%26&t=%00",
    "x=/path?/again&y=:@!$'()*,;",
    "a=1&a=2&a=3",
])
def test_query_string_byte_exact(stack, query):
    r = get(stack.port, "/app/echo?" + query)
    assert r.status == 200, r
    assert r.json()["queryString"] == query


def test_request_headers_7k_intact(stack):
    """~7 KB of headers: fits one 8192-byte AJP packet with everything else."""
    hdrs = {f"X-Big-{i}": (f"{i}" * 1000)[:1000] for i in range(7)}
    hdrs["X-Mixed-Case-Name"] = "Value With  Spaces\tand tab"
    hdrs["Cookie"] = "JSESSIONIDX=abc; other=1"
    hdrs["Accept-Language"] = "de-CH, fr;q=0.8"
    j = echo(stack.port, "/app/echo", headers=hdrs)
    for k, v in hdrs.items():
        assert header_values(j, k) == [v], k


def test_request_headers_8k_intact_packet_size_65536(stack):
    """8+ KB of request headers through the 64 KiB-packet balancer."""
    hdrs = {f"X-Big-{i}": os.urandom(512).hex() for i in range(8)}  # 8 x 1024 bytes of values
    j = echo(stack.big_port, "/app/echo", headers=hdrs)
    for k, v in hdrs.items():
        assert header_values(j, k) == [v], k


def test_repeated_request_header(stack):
    with RawConn(stack.port) as c:
        c.send(raw_request("GET", "/app/echo", stack.port) [:-2]
               + b"X-Multi: one\r\nX-Multi: two\r\n\r\n")
        r = c.read_response()
    assert r.status == 200, r
    vals = header_values(r.json(), "X-Multi")
    # httpd merges repeated request headers into one comma-separated value.
    assert vals in (["one, two"], ["one", "two"]), vals


def test_binary_response_intact(stack):
    n = 256 * 300 + 17
    r = get(stack.port, f"/app/binary?n={n}")
    assert r.status == 200, r
    assert r.header("Content-Type") == "application/octet-stream"
    assert r.body == bytes(i % 256 for i in range(n))


def test_three_set_cookie_headers(stack):
    r = get(stack.port, "/app/cookies")
    assert r.status == 200, r
    cookies = r.header_all("Set-Cookie")
    assert sorted(c.split(";")[0] for c in cookies) == ["a=1", "b=2", "c=3"], cookies
    assert r.body == b"cookies\n"


@pytest.mark.parametrize("code", [204, 304])
def test_no_body_status(stack, code):
    with RawConn(stack.port) as c:
        c.send(raw_request("GET", f"/app/status?code={code}", stack.port))
        r = c.read_response()
        assert r.status == code, r
        assert r.header("Transfer-Encoding") is None
        assert r.header("Content-Length") in (None, "0")
        # Any body bytes would break the parse of the next response on this connection.
        c.send(raw_request("GET", "/app/echo?after", stack.port))
        g = c.read_response()
    assert g.status == 200, g
    assert g.json()["queryString"] == "after"


@pytest.mark.parametrize("code", [201, 404, 410, 500, 503])
def test_status_codes_pass_through(stack, code):
    r = get(stack.port, f"/app/status?code={code}")
    assert r.status == code, r
    assert r.header("X-Route") in ("t1", "t2"), "the status must come from Tomcat"


def test_flush_sends_first_part_early(stack):
    with RawConn(stack.port) as c:
        t0 = time.monotonic()
        c.send(raw_request("GET", "/app/flush", stack.port))
        c.read_until(b"\r\n\r\n")
        c.read_until(b"first")
        t_first = time.monotonic()
        c.read_until(b"second")
        t_second = time.monotonic()
    assert t_first - t0 < 0.8, f"first part took {t_first - t0:.2f}s (should be flushed at once)"
    assert t_second - t_first >= 0.7, (
        f"second part {t_second - t_first:.2f}s after the first: the flush was not forwarded")


def _mem(pids):
    return {p: (stk.proc_status_kb(p, "VmRSS") or 0, stk.proc_status_kb(p, "VmHWM") or 0)
            for p in pids}


def test_stream_50mb_bounded_memory(stack):
    total = 50 * MiB
    expected = stream_pattern_sha256(total)
    kids = stack.children()
    assert kids, "no httpd children?"
    before = _mem(kids)
    c = connection(stack.port, timeout=60)
    try:
        c.request("GET", "/app/stream?mb=50")
        r = c.getresponse()
        assert r.status == 200
        h = hashlib.sha256()
        first = r.read(65536)
        h.update(first)
        got = len(first)
        time.sleep(2.0)  # a reader that lags: a buffering proxy would now hold the whole body
        during = _mem(kids)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            d = r.read(1 * MiB)
            if not d:
                break
            h.update(d)
            got += len(d)
    finally:
        c.close()
    after = _mem(kids)
    assert got == total
    assert h.hexdigest() == expected
    limit_kb = 32 * 1024
    for p in kids:
        if p not in after or after[p] == (0, 0):
            continue  # child went away
        rss0, hwm0 = before[p]
        growth = max(during[p][0] - rss0, after[p][1] - hwm0)
        assert growth < limit_kb, (f"httpd child {p} grew by {growth} kB while streaming 50 MiB "
                                   f"(before {before[p]}, during {during[p]}, after {after[p]})")


def test_session_cookie_from_tomcat(stack):
    r = get(stack.port, "/app/echo?session=1")
    assert r.status == 200, r
    j = r.json()
    assert j["sessionId"]
    cookies = r.header_all("Set-Cookie")
    assert any(c.startswith(f"JSESSIONID={j['sessionId']}") for c in cookies), cookies
    # Tomcat appends its jvmRoute to the session id.
    assert j["sessionId"].endswith("." + j["route"])


def test_client_headers_cannot_become_attributes(stack):
    j = echo(stack.port, "/app/echo", headers={
        "AJP_REMOTE_PORT": "1", "X-Remote-User": "mallory", "Remote-User": "mallory",
        "jakarta.servlet.request.X509Certificate": "forged", "Auth-Type": "Basic"})
    assert j["remoteUser"] is None
    assert j["authType"] is None
    assert j["certSubjects"] is None
    assert j["remotePort"] != 1
    assert not any("forged" in str(v) for v in j["attributes"].values())
