"""A response the module refuses takes no member out (issue 9, items 2 and 4).

The application can make Tomcat send a response that is valid AJP but not a valid HTTP
response: here /app/status?code=1000 (setStatus(1000)). That is one request's doing, not a sign
that the member is broken, so the client gets 502, the request is not tried on the other member,
and no member's health changes, however often it is sent. One httpd of its own: balancer
`strict` (t1+t2, IdmPanicThreshold 0, so that members taken out would really be out).
"""
from __future__ import annotations

import pytest

import balancer_api as bapi
import stack as stk
from conftest import _members, own_httpd
from httpc import get

pytestmark = pytest.mark.idmbalance_only

BAD = "/app/status?code=1000"


@pytest.fixture(scope="module")
def strict(stack):
    balancer = stk.Balancer("strict", _members(stack), extra="IdmPanicThreshold 0\nIdmHealthCheck fall=1")
    with own_httpd(stack, "strict", balancer) as h:
        yield h


def test_invalid_status_gets_502_and_leaves_members_in(strict, logmark):
    tags = [f"refused-{i}" for i in range(6)]
    for tag in tags:
        r = get(strict.port, f"{BAD}&tag={tag}")
        assert r.status == 502, r
    # Each was tried once, on one member: another member would answer alike. (Each Tomcat writes
    # its access log line after the response, into its own file: wait for every one.)
    for tag in tags:
        assert logmark.wait_tomcat_access(f"tag={tag} ", 10), tag
    seen = logmark.tomcat_access()
    assert [seen.count(f"tag={tag} ") for tag in tags] == [1] * len(tags), seen
    members = bapi.members_of(bapi.snapshot(strict.port), "strict")
    assert {m["state"] for m in members.values()} == {"ok"}, members
    assert sum(m["errors"]["response"] for m in members.values()) == 6
    assert sum(m["errors"]["protocol"] for m in members.values()) == 0
    routes = {get(strict.port, "/app/echo").json()["route"] for _ in range(8)}
    assert routes == {"t1", "t2"}


def test_refused_response_is_logged_with_member_and_cause(strict):
    before = strict.error_log.read_text() if strict.error_log.exists() else ""
    assert get(strict.port, BAD + "&tag=logged").status == 502
    new = stk.wait_for(lambda: strict.error_log.read_text()[len(before):], 5, what="error log line")
    assert "of balancer strict: invalid response: SEND_HEADERS status 1000 out of range" in new, new


@pytest.mark.parametrize("code", [100, 101, 103])
def test_final_1xx_from_tomcat_gets_502(strict, code):
    # A 101 passed on would tell the client (or a proxy in front) that the connection now
    # speaks another protocol: the raw-tunnel trick. Tomcat sends no 1xx over AJP on its own.
    r = get(strict.port, f"/app/status?code={code}&tag=final-{code}")
    assert r.status == 502, r
    assert get(strict.port, "/app/echo").status == 200
