"""httpd's access rules hold for the path Tomcat serves (issue 9, item 1).

Tomcat drops ";param" from every path segment and then resolves "..", so "/app/admin;x/p.jsp" and
"/other/..;/app/admin/p.jsp" are /app/admin/p.jsp to it (an encoded ";" is forwarded as the
path httpd judged, so it cannot differ either). httpd's Location walk must judge that
same path: the session stack has `<Location /app/admin>` and `<LocationMatch ^/app/lmadmin(/|$)>`
with `Require all denied`, and Basic auth on /app/secure/ (conftest.ACCESS_RULES, stack.py).
"""
from __future__ import annotations

import pytest

from httpc import get, request

# Each spelling means {base}/page.jsp to Tomcat; {base} is a protected path such as /app/admin.
SPELLINGS = [
    "{base};x/page.jsp",
    "{base};jsessionid=abc/page.jsp",
    "{app};x/{rest}/page.jsp",
    "/app/;/{rest}/page.jsp",
    "/app/x/..;/{rest}/page.jsp",
    "/other/..;/{rest_abs}/page.jsp",
    "/app//{rest};/page.jsp",
    "{base}/./;x/page.jsp",
    "{base}%3Bx/page.jsp",
]

PROTECTED = [("/app/admin", 403), ("/app/lmadmin", 403), ("/app/secure", 401)]


def spell(template: str, base: str) -> str:
    rest = base[len("/app/"):]
    return template.format(base=base, app="/app", rest=rest, rest_abs=base.lstrip("/"))


def case(path: str, code: int):
    # mod_proxy_ajp (mapping=servlet) forwards "%3B" as data, as Tomcat reads it, and judges that
    # path; we judge and forward the path without the parameter. Both agree with Tomcat.
    marks = [pytest.mark.idmbalance_only] if "%3B" in path else []
    return pytest.param(path, code, id=path, marks=marks)


CASES = [case(spell(t, base), code) for base, code in PROTECTED for t in SPELLINGS]


@pytest.mark.parametrize("path,code", CASES)
def test_get_with_path_parameters_meets_the_rule(stack, path, code):
    r = get(stack.port, path)
    assert r.status == code, (path, r.status, r.body[:200])


@pytest.mark.parametrize("path,code", CASES[:9] + CASES[-9:])
def test_post_body_never_reaches_tomcat(stack, path, code, logmark):
    tag = f"denied-post-{abs(hash(path)) % 10**8}"
    r = request(stack.port, "POST", path + f"?tag={tag}", body=b"x" * 1000,
                headers={"Content-Type": "application/octet-stream"})
    assert r.status == code, (path, r.status, r.body[:200])
    assert tag not in logmark.tomcat_access()


@pytest.mark.parametrize("path", ["/app/adminx/page.jsp", "/app/public;x/page.jsp",
                                  pytest.param("/app/public%3Bx/page.jsp", marks=pytest.mark.idmbalance_only)])
def test_allowed_neighbour_still_reaches_tomcat(stack, path):
    # Same prefix, another segment: not protected, so forwarded and served.
    r = get(stack.port, path)
    assert r.status == 200, (path, r)
    assert r.json()["route"] in ("t1", "t2")


def test_session_path_parameter_still_reaches_tomcat(stack):
    r = get(stack.port, "/app/echo;jsessionid=abc123.t1")
    assert r.status == 200, r
    assert r.json()["requestedSessionId"] == "abc123.t1"
