"""Backend faults from the scripted AJP backend (fake_ajp.py): right status, the faulty
connection is dropped, the next request works on a fresh backend connection, and the error
log names the member."""
from __future__ import annotations

import os
import re
import time

import pytest

import stack as stk
from httpc import RawConn, connection, get, raw_request, request, sha256

# fault -> expected status. mod_proxy_ajp answers 503 to every backend failure (also to a
# reply timeout unless `ping` is set); the issue asks for 502 (protocol error) / 504 (timeout).
FAULTS = ["garbage", "truncated", "overlong", "badchunk", "cpong", "badcode",
          # httpd's AJP decoder accepts either magic and then waits for a timeout.
          pytest.param("bad-magic", marks=pytest.mark.idmbalance_only)]
FRONTEND = stk.frontend_from_env()
PROTOCOL_ERROR_STATUS = 502 if FRONTEND == "idmbalance" else 503
TIMEOUT_STATUS = 504 if FRONTEND == "idmbalance" else 503
REPLY_TIMEOUT = 2.0  # IdmReplyTimeout of the `fault` balancer


def _member_lines(stack, logmark, member: str = "fake", port: int = 0):
    """Error-log lines at level warn or error that name the member."""
    ident = re.compile(stack.member_log_id(member, port or stack.fake.port))
    return [l for l in logmark.error_log().splitlines()
            if ident.search(l) and (":error]" in l or ":warn]" in l)]


def _ok_on_fresh_connection(stack, bad_conn: int):
    r = get(stack.port, "/fault/ok")
    assert r.status == 200 and r.body == b"ok", r
    assert r.header("X-Fake-Conn") != str(bad_conn), "the faulty backend connection was reused"


@pytest.mark.parametrize("fault", FAULTS)
def test_protocol_fault(stack, fault, logmark):
    fake = stack.fake
    t0 = time.monotonic()
    r = get(stack.port, f"/fault/{fault}", timeout=20)
    elapsed = time.monotonic() - t0
    assert r.status == PROTOCOL_ERROR_STATUS, r
    assert elapsed < REPLY_TIMEOUT * 0.9, f"{fault}: took {elapsed:.2f}s (waited for a timeout?)"
    rec = fake.last_request(f"/fault/{fault}")
    assert rec is not None and rec.time >= t0 - 1
    assert fake.wait_closed(rec.conn, 5), "the faulty backend connection was not closed"
    _ok_on_fresh_connection(stack, rec.conn)
    assert _member_lines(stack, logmark), "no error log line names the member:\n" + logmark.error_log()[-3000:]


def test_hang_gives_504_after_reply_timeout(stack, logmark):
    fake = stack.fake
    t0 = time.monotonic()
    r = get(stack.port, "/fault/hang", timeout=30)
    elapsed = time.monotonic() - t0
    assert r.status == TIMEOUT_STATUS, r
    assert REPLY_TIMEOUT * 0.8 <= elapsed <= REPLY_TIMEOUT + 4, f"504 after {elapsed:.2f}s"
    rec = fake.last_request("/fault/hang")
    assert fake.wait_closed(rec.conn, 5), "the hung backend connection was not closed"
    _ok_on_fresh_connection(stack, rec.conn)
    assert _member_lines(stack, logmark), "no error log line names the member"


def test_reset_mid_body_is_not_a_complete_response(stack, logmark):
    fake = stack.fake
    r = get(stack.port, "/fault/reset-mid-body", timeout=20)
    if r.status == 200:
        # Headers were already sent: the client must see an aborted body, never a clean end.
        assert not r.complete, f"a truncated response looked complete ({len(r.body)} bytes)"
        assert len(r.body) < 100000
    else:
        assert r.status == PROTOCOL_ERROR_STATUS, r
    rec = fake.last_request("/fault/reset-mid-body")
    _ok_on_fresh_connection(stack, rec.conn)
    assert _member_lines(stack, logmark), "no error log line names the member"


def test_backend_refused_gives_503(stack, logmark):
    t0 = time.monotonic()
    r = get(stack.port, "/dead/x", timeout=20)
    assert r.status == 503, r
    assert time.monotonic() - t0 < 5
    r = get(stack.port, "/dead/y", timeout=20)
    assert r.status == 503, r
    assert _member_lines(stack, logmark, "deadmember", stack.dead_port), logmark.error_log()[-3000:]


def test_fake_backend_saw_valid_requests(stack):
    """Every request the fake parsed carried the secret and a well-formed FORWARD_REQUEST."""
    r = get(stack.port, "/fault/ok?x=%2525&y=1")
    assert r.status == 200, r
    rec = stack.fake.last_request("/fault/ok")
    assert rec.secret_ok
    assert rec.query == "x=%2525&y=1"
    assert rec.request.protocol == "HTTP/1.1"
    assert rec.request.remote_addr == "127.0.0.1"
    assert rec.request.server_port == stack.port
    attrs = rec.request.attributes
    unknown = [k for k in attrs if k.startswith("req:") and k[4:] not in (
        "AJP_LOCAL_ADDR", "AJP_REMOTE_PORT", "AJP_SSL_PROTOCOL", "JK_LB_ACTIVATION")]
    assert not unknown, f"request attributes Tomcat would refuse: {unknown}"


@pytest.mark.idmbalance_only
def test_backend_content_length_is_checked_and_transfer_encoding_dropped(stack):
    """The backend claims Content-Length: 1000 and T-E chunked for a 2-byte body.

    Its T-E never reaches the client. Its Content-Length is checked against the body it
    really sends: a lie cuts the response off (the client sees it incomplete and the
    connection closes) instead of a response that looks whole with the wrong framing."""
    with RawConn(stack.port, timeout=10) as c:
        c.send(raw_request("GET", "/fault/wrong-cl", stack.port))
        r = c.read_response()
    assert r.status == 200, r
    assert not r.header_all("Transfer-Encoding") or r.header("Content-Length") is None, r.headers
    assert not r.complete, r
    _ok_on_fresh_connection(stack, -1)


@pytest.mark.idmbalance_only
def test_backend_content_length_passed_when_true(stack):
    """Tomcat's own Content-Length survives (downloads show their size; HEAD keeps it)."""
    r = get(stack.port, "/app/binary?n=1000")
    assert r.status == 200 and len(r.body) == 1000, r
    assert r.header("Content-Length") == "1000", r.headers


def test_response_header_with_crlf_is_not_split(stack):
    with RawConn(stack.port, timeout=10) as c:
        c.send(raw_request("GET", "/fault/header-crlf", stack.port, headers={"Connection": "close"}))
        r = c.read_response()
    assert r.header("X-Injected") is None, f"response splitting: {r.headers}"
    assert r.status in (200, 500, 502), r
    _ok_on_fresh_connection(stack, -1)


@pytest.mark.parametrize("kind,size", [("get", 0), ("cl", 0), ("cl", 1), ("cl", 8186),
                                       ("cl", 8187), ("cl", 50000), ("chunked", 20000)])
def test_request_body_follows_ajp_rules(stack, kind, size):
    """First body packet unsolicited iff Content-Length > 0; nothing unasked otherwise."""
    body = os.urandom(size)
    if kind == "get":
        r = request(stack.port, "GET", "/fault/body")
    elif kind == "cl":
        r = request(stack.port, "POST", "/fault/body", body=body,
                    headers={"Content-Type": "application/octet-stream"})
    else:
        chunks = [body[i:i + 3000] for i in range(0, len(body), 3000)]
        r = request(stack.port, "POST", "/fault/body", body=iter(chunks), chunked=True)
    assert r.status == 200, r
    assert r.header("X-Violations") == "none"
    assert int(r.header("X-Body-Length")) == size
    assert r.header("X-Body-Sha256") == sha256(body)


@pytest.mark.idmbalance_only
def test_connection_header_cannot_hide_content_length(stack):
    """A client listing Content-Length in Connection must not make Tomcat's framing differ
    from ours: the body would be left on the connection and read as the next AJP request
    (request smuggling, then responses for the wrong clients)."""
    body = os.urandom(514)
    r = request(stack.port, "POST", "/fault/body", body=body,
                headers={"Connection": "keep-alive, Content-Length",
                         "Content-Type": "application/octet-stream"})
    assert r.status == 200, r
    assert r.header("X-Violations") == "none", r.headers
    assert int(r.header("X-Body-Length")) == len(body)
    rec = stack.fake.last_request("/fault/body")
    cls = [v for k, v in rec.request.headers if k.lower() == "content-length"]
    assert cls == [str(len(body))], rec.request.headers


def test_cping_before_reusing_idle_connection(stack):
    fake = stack.fake
    c = connection(stack.port, timeout=20)  # one client connection: the same httpd child
    try:
        r1 = request(stack.port, "GET", "/fping/ok", conn=c)
        assert r1.status == 200, r1
        conn_id = int(r1.header("X-Fake-Conn"))
        cpings0 = fake.conn(conn_id).cpings
        time.sleep(1.5)  # longer than IdmPingAfterIdle 1s
        r2 = request(stack.port, "GET", "/fping/ok", conn=c)
        assert r2.status == 200, r2
    finally:
        c.close()
    assert r2.header("X-Fake-Conn") == str(conn_id), "the idle connection was not reused"
    assert fake.conn(conn_id).cpings > cpings0, "idle connection reused without CPING"


def test_idle_connection_without_cpong_is_replaced(stack):
    fake = stack.fake
    c = connection(stack.port, timeout=20)
    try:
        r1 = request(stack.port, "GET", "/fping/ok", conn=c)
        assert r1.status == 200, r1
        old = r1.header("X-Fake-Conn")
        fake.cping_mode = "ignore_used"  # the pooled connection is now a black hole
        time.sleep(1.5)
        t0 = time.monotonic()
        r2 = request(stack.port, "GET", "/fping/ok", conn=c)
        elapsed = time.monotonic() - t0
    finally:
        fake.cping_mode = "answer"
        c.close()
    assert r2.status == 200, r2
    assert r2.header("X-Fake-Conn") != old
    assert elapsed < 1 + 3, f"took {elapsed:.1f}s (IdmPingTimeout is 1s)"
    assert fake.wait_closed(int(old), 5), "the connection that missed its CPONG was not closed"
