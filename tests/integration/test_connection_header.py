"""A client's Connection header cannot delete what Tomcat must see (issue 9, item 6).

Fields the client's Connection header lists are hop-by-hop for that client, so they may go —
but only the client's own fields as the client sent them: never Host, never a field an httpd
module set or changed (here `RequestHeader set` in <Location /app/hdr>, conftest.ACCESS_RULES).
"""
from __future__ import annotations

from typing import Dict, List

import pytest

from httpc import get

# mod_proxy_ajp forwards Connection and every field it lists: nothing to compare with.
pytestmark = pytest.mark.idmbalance_only


def tomcat_headers(js: dict) -> Dict[str, List[str]]:
    return {k.lower(): v for k, v in js["headers"].items()}


def test_connection_cannot_delete_host_or_httpd_fields(stack):
    r = get(stack.port, "/app/hdr/echo", headers={
        "Connection": "keep-alive, Host, X-Forwarded-User, X-Trace, X-Client-Hop, Cookie",
        "X-Client-Hop": "mine",
        "X-Trace": "from-client",
        "Cookie": "a=1",
    })
    assert r.status == 200, r
    seen = tomcat_headers(r.json())
    assert seen.get("host") == [f"127.0.0.1:{stack.port}"], seen
    assert seen.get("x-forwarded-user") == ["alice-from-httpd"], seen  # set by httpd alone
    assert seen.get("x-trace") == ["set-by-httpd"], seen  # the client's, replaced by httpd
    assert "x-client-hop" not in seen, seen  # the client's own, as it sent it: hop-by-hop
    assert "cookie" not in seen, seen


def test_listed_fields_elsewhere_behave_as_before(stack):
    r = get(stack.port, "/app/echo", headers={"Connection": "X-Client-Hop", "X-Client-Hop": "mine",
                                              "X-Other": "kept"})
    seen = tomcat_headers(r.json())
    assert "x-client-hop" not in seen and "connection" not in seen, seen
    assert seen.get("x-other") == ["kept"], seen
