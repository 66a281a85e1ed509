"""IdmRequestBodyBuffer (issue 9, item 9): a slow upload of up to that size is read by httpd
before a member is chosen, so it holds no max= place and no Tomcat thread while it trickles
in. Without it, only the first body packet is read first and the upload holds its place.

Each case has its own httpd: one member (t1) with max=1 and IdmQueueTimeout 300ms.
"""
from __future__ import annotations

import hashlib
import threading
import time

import pytest

import balancer_api as bapi
import stack as stk
from conftest import balancing_ajp_port, own_httpd
from httpc import get, request

pytestmark = pytest.mark.idmbalance_only

BODY = bytes(range(256)) * 160  # 40960 bytes: several AJP packets
FIRST = 10000                   # sent at once; the rest trickles in over TRICKLE_S
TRICKLE_S = 2.0


def one_place(stack, name: str, buffer: str):
    t1 = next(t for t in stack.tomcats if t.name == "t1")
    member = stk.Member("t1", balancing_ajp_port(t1), route="t1", secret=stack.secret, extra="max=1")
    extra = "IdmQueueTimeout 300ms" + (f"\nIdmRequestBodyBuffer {buffer}" if buffer else "")
    return own_httpd(stack, name, stk.Balancer(name, [member], extra=extra))


def trickled_body():
    yield BODY[:FIRST]
    rest = BODY[FIRST:]
    pieces = 10
    step = (len(rest) + pieces - 1) // pieces
    for i in range(0, len(rest), step):
        time.sleep(TRICKLE_S / pieces)
        yield rest[i:i + step]


def upload_while_getting(port: int, balancer: str):
    """Starts a slow upload, then a GET half a second in; returns (upload, get, busy seen)."""
    out = {}

    def upload():
        out["upload"] = request(port, "POST", "/app/echo?upload=1", body=trickled_body(), timeout=30,
                                headers={"Content-Length": str(len(BODY)),
                                         "Content-Type": "application/octet-stream"})

    t = threading.Thread(target=upload)
    t.start()
    try:
        time.sleep(0.5)
        busy = bapi.members_of(bapi.snapshot(port), balancer)["t1"]["busy"]
        r = get(port, "/app/echo?during=1", timeout=20)
    finally:
        t.join(timeout=30)
    return out["upload"], r, busy


def check_upload(up) -> None:
    assert up.status == 200, up
    js = up.json()
    assert js["bodyLength"] == len(BODY), js
    assert js["bodySha256"] == hashlib.sha256(BODY).hexdigest()


def test_a_buffered_slow_upload_holds_no_place(stack):
    with one_place(stack, "bodybuffer", "64k") as h:
        up, r, busy = upload_while_getting(h.port, "bodybuffer")
    assert busy == 0, "the upload took the member's only place before its body was in"
    assert r.status == 200, r
    check_upload(up)


def test_without_a_buffer_the_upload_holds_its_place(stack):
    """The contrast that shows what the buffer changes (and that the test above can fail)."""
    with one_place(stack, "nobodybuffer", "") as h:
        up, r, busy = upload_while_getting(h.port, "nobodybuffer")
    assert busy == 1
    assert r.status == 503, r
    check_upload(up)


def test_a_body_larger_than_the_buffer_still_arrives_whole(stack):
    with one_place(stack, "smallbodybuffer", "16k") as h:
        up = request(h.port, "POST", "/app/echo", body=trickled_body(), timeout=30,
                     headers={"Content-Length": str(len(BODY)), "Content-Type": "application/octet-stream"})
        check_upload(up)
        chunked = request(h.port, "POST", "/app/echo", body=trickled_body(), timeout=30, chunked=True,
                          headers={"Content-Type": "application/octet-stream"})
        check_upload(chunked)
