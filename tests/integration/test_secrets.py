"""A secret Tomcat refuses is noticed (issue 9, item 8).

Tomcat answers every request with a wrong AJP secret with 403 and closes the connection, while
CPING (no secret in it) keeps passing. One httpd of its own: balancer `wrongsecret` with t1's
AJP port and a secret that is not t1's. The module logs it once and shows it on the status page
(that a normal answer clears it again is a unit test: health::note_secret_refusal).
"""
from __future__ import annotations

import pytest

import balancer_api as bapi
import stack as stk
from conftest import balancing_ajp_port, own_httpd
from httpc import get

pytestmark = pytest.mark.idmbalance_only


@pytest.fixture(scope="module")
def wrong(stack):
    t1 = next(t for t in stack.tomcats if t.name == "t1")
    members = [stk.Member("t1", balancing_ajp_port(t1), route="t1", secret="not-the-secret-0000")]
    with own_httpd(stack, "wrongsecret", stk.Balancer("wrongsecret", members)) as h:
        yield h


def test_wrong_secret_is_logged_once_and_shown(wrong):
    start = wrong.error_log.stat().st_size if wrong.error_log.exists() else 0  # logs outlive runs
    for _ in range(5):
        assert get(wrong.port, "/app/echo").status == 403
    member = bapi.members_of(bapi.snapshot(wrong.port), "wrongsecret")["t1"]
    assert member["secret_refused_ms"] > 0, member
    assert member["state"] == "ok"  # CPING passes: health alone would never tell
    with open(wrong.error_log, "rb") as f:
        f.seek(start)
        log = f.read().decode(errors="replace")
    assert log.count("as Tomcat does when the AJP secret does not match") == 1, log
    page = get(wrong.port, bapi.STATUS_PATH)
    assert b"AJP secret refused?" in page.body
    prom = get(wrong.port, bapi.STATUS_PATH + "?format=prometheus").body.decode()
    assert 'idmbalance_member_secret_refused{balancer="wrongsecret",member="t1",route="t1"} 1' in prom
