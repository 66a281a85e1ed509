"""URL mounts: what is forwarded, what is not, and that a path cannot leave its mount."""
from __future__ import annotations

import pytest

from httpc import RawConn, get, raw_request


def _is_tomcat_json(r) -> bool:
    return b'"contextPath"' in r.body


def test_mount_root_is_forwarded(stack):
    r = get(stack.port, "/app/")
    assert r.status == 200, r
    assert r.json()["contextPath"] == "/app"


@pytest.mark.parametrize("path", ["/escaped/x", "/nothing", "/", "/appx/echo", "/ap"])
def test_unmounted_path_is_not_forwarded(stack, path, logmark):
    r = get(stack.port, path)
    assert not _is_tomcat_json(r), r
    if path == "/":
        assert r.status == 200 and b"idmb test httpd" in r.body  # httpd's own index.html
    else:
        assert r.status == 404, r
    assert f'"GET {path} HTTP' not in logmark.tomcat_access()


def test_unmount_excludes(stack):
    r = get(stack.port, "/app/static/hello.txt")
    assert r.status == 200, r
    assert r.body == b"static-from-httpd\n"
    r = get(stack.port, "/app/static/missing.txt")
    assert r.status == 404 and not _is_tomcat_json(r), r
    # Sibling paths are still mounted.
    r = get(stack.port, "/app/staticx/y")
    assert r.status == 200 and r.json()["contextPath"] == "/app", r


@pytest.mark.parametrize("path", [
    "/app/..;/escaped/x",
    "/app/x/..;/..;/escaped/x",
    "/app/%2e%2e;/escaped/x",
    "/app/.;/..;/escaped/x",
    "/app/%2e%2e/escaped/x",
    "/app/..%3b/escaped/x",
    "/app/;/../escaped/x",
    "/app/..;jsessionid=1/escaped/x",
    "/app/static/..;/..;/escaped/x",
])
def test_path_does_not_escape_the_mount(stack, path):
    # Raw request: no client-side normalisation of the path.
    with RawConn(stack.port) as c:
        c.send(raw_request("GET", path, stack.port, headers={"Connection": "close"}))
        r = c.read_response()
    if r.status == 200 and _is_tomcat_json(r):
        assert r.json()["contextPath"] == "/app", f"{path} escaped the /app mount: {r.body[:300]!r}"
    else:
        assert r.status in (400, 403, 404), r
        assert not _is_tomcat_json(r) or r.json()["contextPath"] == "/app", r
