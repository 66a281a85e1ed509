"""mod_ssl and httpd authentication in front: what Tomcat sees."""
from __future__ import annotations

import base64

import pytest

import stack as stk
from httpc import client_ssl_context, get, request


def _basic(user: str, pw: str) -> dict:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()}


@pytest.fixture(scope="module")
def ctx_cert(stack):
    return client_ssl_context(str(stack.pki["ca"]), str(stack.pki["client"]),
                              str(stack.pki["client_key"]))


@pytest.fixture(scope="module")
def ctx_nocert(stack):
    return client_ssl_context(str(stack.pki["ca"]))


def test_https_with_client_certificate(stack, ctx_cert):
    r = get(stack.https_port, "/app/echo?tls=1", https=True, ssl_context=ctx_cert)
    assert r.status == 200, r
    j = r.json()
    assert j["isSecure"] is True
    assert j["scheme"] == "https"
    assert j["serverPort"] == stack.https_port
    assert j["queryString"] == "tls=1"
    assert j["cipherSuite"], j["attributes"]
    assert isinstance(j["keySize"], int) and j["keySize"] > 0, j["attributes"]
    assert j["certSubjects"], "no jakarta.servlet.request.X509Certificate"
    assert "CN=Test User 42" in j["certSubjects"][0]
    assert "OU=Smart Cards" in j["certSubjects"][0]
    assert j["secureProtocol"] and j["secureProtocol"].startswith("TLS"), j["attributes"]


def test_https_without_client_certificate(stack, ctx_nocert):
    r = get(stack.https_port, "/app/echo", https=True, ssl_context=ctx_nocert)
    assert r.status == 200, r
    j = r.json()
    assert j["isSecure"] is True and j["scheme"] == "https"
    assert j["cipherSuite"]
    assert j["certSubjects"] is None


def test_https_post_body(stack, ctx_cert):
    import os
    from httpc import sha256
    body = os.urandom(200000)
    r = request(stack.https_port, "POST", "/app/echo", body=body, https=True, ssl_context=ctx_cert)
    assert r.status == 200, r
    assert r.json()["bodySha256"] == sha256(body)


def test_http_is_not_secure(stack):
    j = get(stack.port, "/app/echo").json()
    assert j["isSecure"] is False and j["scheme"] == "http"
    assert j["cipherSuite"] is None and j["certSubjects"] is None


def test_basic_auth_user_reaches_tomcat(stack):
    r = get(stack.port, "/app/secure/page", headers=_basic(stk.HTPASSWD_USER, stk.HTPASSWD_PASSWORD))
    assert r.status == 200, r
    j = r.json()
    assert j["remoteUser"] == stk.HTPASSWD_USER
    assert (j["authType"] or "").upper() == "BASIC"


def test_basic_auth_over_https(stack, ctx_cert):
    r = get(stack.https_port, "/app/secure/page", https=True, ssl_context=ctx_cert,
            headers=_basic(stk.HTPASSWD_USER, stk.HTPASSWD_PASSWORD))
    assert r.status == 200, r
    j = r.json()
    assert j["remoteUser"] == stk.HTPASSWD_USER and j["isSecure"] is True
    assert "CN=Test User 42" in j["certSubjects"][0]


@pytest.mark.parametrize("headers", [{}, _basic(stk.HTPASSWD_USER, "wrong"), _basic("bob", "x")])
def test_basic_auth_refused_is_not_forwarded(stack, headers, logmark):
    r = get(stack.port, "/app/secure/denied", headers=headers)
    assert r.status == 401, r
    assert b'"contextPath"' not in r.body
    assert "/app/secure/denied" not in logmark.tomcat_access()


def test_no_remote_user_without_auth(stack):
    j = get(stack.port, "/app/echo", headers={"Authorization": "Basic Zm9vOmJhcg=="}).json()
    assert j["remoteUser"] is None and j["authType"] is None
