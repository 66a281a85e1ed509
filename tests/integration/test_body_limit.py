"""LimitRequestBody holds for forwarded requests (issue 9, item 5).

<Location /app/limited> has `LimitRequestBody 1000` (conftest.ACCESS_RULES). A Content-Length
over the limit is refused with 413 before anything reaches Tomcat; a chunked body is stopped at
the limit (413, the backend connection closed, so Tomcat sees the body end short).
"""
from __future__ import annotations

from httpc import request


def post(stack, tag: str, size: int, chunked: bool = False):
    body = b"x" * size
    return request(stack.port, "POST", f"/app/limited/echo?tag={tag}",
                   body=iter([body[i:i + 500] for i in range(0, size, 500)]) if chunked else body,
                   headers={"Content-Type": "application/octet-stream"}, chunked=chunked)


def test_content_length_over_the_limit_never_reaches_tomcat(stack, logmark):
    r = post(stack, "limit-cl", 5000)
    assert r.status == 413, r
    # Tomcat writes its access log line after the response: give it time to show up.
    assert not logmark.wait_tomcat_access("limit-cl", 3), logmark.tomcat_access()


def test_chunked_body_over_the_limit_is_stopped(stack, logmark):
    r = post(stack, "limit-chunked", 20000, chunked=True)
    assert r.status == 413, r


def test_bodies_within_the_limit_pass(stack):
    for chunked in (False, True):
        r = post(stack, f"limit-ok-{chunked}", 1000, chunked=chunked)
        assert r.status == 200, r
        assert r.json()["bodyLength"] == 1000
