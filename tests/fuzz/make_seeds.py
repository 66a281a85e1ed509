#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets into tests/fuzz/corpus/<target>/.

The AJP seeds are the golden packets of tests/unit/ajp (written out again here); the others
are the inputs the unit tests use, in each target's input format (see the comment at the top
of each fuzz_*.cc). Run it again after changing a format: it rewrites the seed files it owns
(seed-*) and leaves other files (regression inputs, crash-*) alone.

    python3 tests/fuzz/make_seeds.py
"""
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SEP = b"\x1f"   # field separator of the structured targets
GROUP = b"\x1c"  # group separator of fuzz_config mode 3


def u16(v):
    return struct.pack(">H", v)


def s(text):
    """An AJP string: length, bytes, NUL."""
    if isinstance(text, str):
        text = text.encode()
    return u16(len(text)) + text + b"\x00"


def fields(*parts):
    return SEP.join(p.encode("latin-1") if isinstance(p, str) else p for p in parts)


# --- AJP (Tomcat -> httpd): the golden packets of tests/unit/ajp/test_ajp_decode.cc -------

SEND_HEADERS = bytes([
    0x41, 0x42, 0x00, 0x43, 0x04, 0x00, 0xC8, 0x00, 0x03]) + b"200\x00" + bytes([
    0x00, 0x05, 0xA0, 0x01]) + s("text/html") + bytes([0xA0, 0x07]) + s("a=1") + bytes([
    0xA0, 0x07]) + s("b=2") + s("X-Trace") + s("abc") + bytes([0xA0, 0x0B]) + s("Basic")
assert len(SEND_HEADERS) - 4 == 0x43
CPONG = bytes([0x41, 0x42, 0x00, 0x01, 0x09])
END_REUSE = bytes([0x41, 0x42, 0x00, 0x02, 0x05, 0x01])
END_CLOSE = bytes([0x41, 0x42, 0x00, 0x02, 0x05, 0x00])
GET_BODY = bytes([0x41, 0x42, 0x00, 0x03, 0x06, 0x1F, 0xFA])
FLUSH = bytes([0x41, 0x42, 0x00, 0x04, 0x03, 0x00, 0x00, 0x00])


def packet(payload):
    return b"AB" + u16(len(payload)) + payload


def chunk(data):
    return packet(b"\x03" + u16(len(data)) + data + b"\x00")


def all_codes_head():
    p = b"\x04" + u16(404) + s("Not Found") + u16(11)
    for code in range(1, 12):
        p += u16(0xA000 | code) + s("v%d" % code)
    return p


ajp_decode = {
    # mode 0 (a stream), packet size 8192
    "response": b"\x00" + SEND_HEADERS + chunk(b"<html>hello</html>") + FLUSH + END_REUSE,
    "cpong": b"\x00" + CPONG,
    "get-body-chunk": b"\x00" + GET_BODY + END_CLOSE,
    "all-header-codes": b"\x00" + packet(all_codes_head()),
    # packet size 65536 (index 2)
    "large-packet-size": b"\x08" + packet(b"\x03" + u16(64) + b"z" * 64 + b"\x00") + END_REUSE,
    # mode 2: one payload, no header; null reason and null value
    "raw-null-strings": b"\x02" + b"\x04" + u16(404) + u16(0xFFFF) + u16(1) + s("X-Null") + u16(0xFFFF),
    "raw-crlf-value": b"\x02" + b"\x04" + u16(200) + s("200") + u16(1) + s("X-A") + s("a\r\nSet-Cookie: x=1"),
    "raw-status-1000": b"\x02" + b"\x04" + u16(1000) + s("1000") + u16(0),
    # mode 3: a head from fields
    "head-fields": b"\x03" + fields(u16(200), "OK", "Content-Type", "text/html", "Set-Cookie", "a=1"),
    "head-fields-bad": b"\x03" + fields(u16(99), "Early", "X-A", "a\rb", "", "v"),
}


# --- AJP (httpd -> Tomcat): the requests of tests/unit/ajp/test_ajp_encode.cc --------------

def control(out_sel=0, present=0, flags=0, port=80, key_size=0, headers=0):
    c = bytes([out_sel, present, flags]) + u16(port) + u16(key_size) + bytes([headers])
    assert SEP not in c, "a control field must not contain the separator (ports 7936..8191)"
    return c


EMPTY14 = [""] * 8  # secret .. ssl_session

ajp_encode = {
    # GET with coded and literal headers, query, secret (bit 1), query (bit 4), route (bit 5)
    "get-golden": fields(control(present=0x32, headers=5), "GET", "HTTP/1.1", "/app/index.jsp", "10.0.0.7", "",
                         "www.example.com", "s3cret", "", "", "a=1&b=2", "node1", "", "", "",
                         "Host", "www.example.com", "accept", "*/*", "COOKIE", "JSESSIONID=abc.node1",
                         "User-Agent", "curl/8.0", "X-Custom", "yes"),
    # PATCH: stored method; remote_host set (bit 0)
    "patch-stored-method": fields(control(present=0x01, port=8443, headers=1), "PATCH", "HTTP/1.1", "/api/items/42",
                                  "192.168.1.20", "client.example.net", "www.example.com", *EMPTY14,
                                  "Content-Length", "2"),
    # HTTPS: every SSL attribute, key size, is_ssl, a request attribute, auth_type and remote_user
    "https-attributes": fields(control(present=0xCC, flags=0x07, port=443, key_size=128, headers=1), "GET",
                               "HTTP/1.1", "/", "10.0.0.7", "", "secure.example.com", "", "alice", "BASIC", "",
                               "", "-----CERT-----", "TLS_AES_128_GCM_SHA256", "0123abcd",
                               "HOST", "secure.example.com", "jakarta.servlet.request.secure_protocol", "TLSv1.3"),
    # A refused attribute name, a coded method by index (flags bit 3) and coded names by index
    "attribute-refused": fields(control(flags=0x08, headers=1), b"\x01", "HTTP/1.1", "/", "10.0.0.7", "", "h",
                                *EMPTY14, b"\x1d\x0a\x01", "h", "AJP_FOO", "bar"),
    # The exact-size boundary (bit 4: the model's size minus 1) and a 0x1E-expanded long value
    "exact-size-minus-one": fields(control(out_sel=0x30, headers=1), "GET", "HTTP/1.1", "/", "1.2.3.4", "", "h",
                                   *EMPTY14, "X-Big", b"\x1e\x01\x00abcdefgh"),
    # Literal header names of 0x9FFF bytes (the longest allowed) and 0xA000 (would read as a
    # code) in a 65536-byte packet; a value of 0xFFFF bytes (null's length) in 131072 bytes
    "name-limit-ok": fields(control(out_sel=3, headers=1), "GET", "HTTP/1.1", "/", "1.2.3.4", "", "h", *EMPTY14,
                            b"\x1e\x9f\xffX", "v"),
    "name-limit-code": fields(control(out_sel=3, headers=1), "GET", "HTTP/1.1", "/", "1.2.3.4", "", "h", *EMPTY14,
                              b"\x1e\xa0\x00X", "v"),
    "string-limit": fields(control(out_sel=14, headers=1), "GET", "HTTP/1.1", "/", "1.2.3.4", "", "h", *EMPTY14,
                           "X-A", b"\x1e\xff\xffv"),
    "nul-in-uri": fields(control(), "GET", "HTTP/1.1", "/a\x00b", "10.0.0.7", "", "h"),
}


# --- AJP, container side (decode_forward_request): payloads as httpd sends them ------------

def forward_request(method, attrs, headers, host=None, port=80, ssl=0, uri="/app/index.jsp"):
    p = b"\x02" + bytes([method]) + s("HTTP/1.1") + s(uri) + s("10.0.0.7")
    p += (s(host) if host is not None else u16(0xFFFF)) + s("www.example.com") + u16(port) + bytes([ssl])
    p += u16(len(headers)) + b"".join(headers)
    return p + b"".join(attrs) + b"\xff"


BACKEND_GET = forward_request(2, [b"\x0c" + s("s3cret"), b"\x05" + s("a=1&b=2"), b"\x06" + s("node1")],
                              [u16(0xA00B) + s("www.example.com"), u16(0xA009) + s("JSESSIONID=abc.node1"),
                               s("X-Custom") + s("yes")])

ajp_backend = {
    "get": b"\x00" + BACKEND_GET,
    "get-truncated": b"\x00" + BACKEND_GET[:-1],
    "patch-stored-method": b"\x00" + forward_request(0xFF, [b"\x0d" + s("PATCH")], [u16(0xA008) + s("2")],
                                                      host="client.example.net", port=8443),
    "https-attributes": b"\x00" + forward_request(
        2, [b"\x03" + s("alice"), b"\x04" + s("BASIC"), b"\x07" + s("-----CERT-----"),
            b"\x08" + s("TLS_AES_128_GCM_SHA256"), b"\x09" + s("0123abcd"), b"\x0b" + u16(128),
            b"\x0a" + s("AJP_REMOTE_PORT") + s("4711"), b"\x01" + s("/ctx"), b"\x02" + s("/servlet")],
        [u16(0xA00B) + s("secure.example.com")], port=443, ssl=1, uri="/"),
    "null-strings": b"\x00" + b"\x02\x02" + u16(0xFFFF) * 4 + s("h") + u16(80) + b"\x00" + u16(1) + s("X-A") +
                    u16(0xFFFF) + b"\xff",
    "body-chunk": b"\x01" + u16(5) + b"hello",
    "body-end": b"\x01",
}


# --- the others: inputs from the unit tests -----------------------------------------------

session_route = {
    "path-param": fields(b"\x01", "/app;jsessionid=ABC.node1/x.jsp?jsessionid=x.q", "", "", "", "a=1", "node2"),
    "cookies": fields(b"\x01", "/", 'JSESSIONID=abc.node1; other=1, JSESSIONID="q.node2"', "", "", "", "n3"),
    "custom-names": fields(b"\x00", "/x;sid=1.r1;sid=2.r2/y", "SID=a.b.c; sid = z.r_3 ", "sid", "sid", "q", "r-4"),
}

uri_mount = {
    "dotdot-semicolon": b"/app/..;/manager/html",
    "admin": b"/app/admin/x",
    "static-png": b"/static/img/a.png",
    "jsp": b"/dir/sub/page.jsp;jsessionid=1.n1",
    "double-slash": b"///a///b///",
    "above-root": b"/a/../..",
    "glob": b"/abc/x/y/z",
}

# control: flags, LimitRequestBody (u16), sent-as-is bits; then method, TE, CL, Connection, pairs.
request_prepare = {
    "get": fields(b"\x00\x00\x00\x00", "GET", "", "", "", "Host", "h", "Cookie", "a=1"),
    "post-length": fields(b"\x02\x03\xe8\x00", "POST", "", "12", "", "Host", "h", "Content-Length", "12"),
    "chunked": fields(b"\x01\x00\x00\x00", "PUT", "Chunked", "", "", "Transfer-Encoding", "Chunked", "TE", "x"),
    "listed": fields(b"\x0a\x00\x00\x05", "GET", "", "0", "close, X-A, Host", "X-A", "1", "Host", "h", "X-A", "2",
                     "Connection", "close, X-A, Host"),
    "trace-off": fields(b"\x04\x00\x00\x00", "TRACE", "", "", "", "Host", "h"),
    "too-large": fields(b"\x02\x00\x10\x00", "POST", "", "17", "", "Host", "h"),
}

http_rules = {
    "numbers": fields("18446744073709551615", "Content-Length", "close, X-Foo", "keep-alive, Upgrade"),
    "overflow": fields("18446744073709551616", "x-foo", " \tx-foo \t", "a,,b"),
    "host": fields("0100000", "Host", "Host, TE", "close"),
}

manager_form = {
    "member-action": b"\x00nonce=ab%2Fcd&balancer=lb&member=t1&action=disable",
    "factor": b"\x01balancer=lb&member=t1&factor=100",
    "settings": b"\x02nonce=n&balancer=lb&member=&method=p2c&sticky_force=on",
    "escapes": b"\x03a=x+y%20z&b%61d=%2541&c&&d==e&",
    "too-big": b"\x85a=xxxxxxxx&",
}

origin_host = {
    "origin": fields(b"\x01\x00\x00\x00\x00\x00\x01\x01", "https://Example.ORG", "example.org", "node1"),
    "referer": fields(b"\x00\x01", "http://user:pw@idm.example.org:8080/balancer-manager?x=1", "idm.example.org:8080",
                      "a"),
    "ipv6": fields(b"\x00\x02", "http://[::1]:8080/m", "[::1]:8080", ""),
    "rebinding": fields(b"\x00\x00", "http://evil.example/@idm.example.org", "node1.idm.example.org.", "x"),
    "localhost": fields(b"\x00\x01", "null", "LOCALHOST:80", "appx.example.net"),
}

config = {
    "durations": fields(b"\x00", "5", "5s", "250ms", "2m", "0", "4294967295ms", "4294968s", "1h", "MS"),
    "member-all": fields(b"\x01", "app1", "ajp://10.0.0.5:8010", "route=node1", "factor=42", "status=standby",
                         "domain=dc1.rack2", "redirect=node2", "secret=s3cr3t!", "max=10"),
    "member-ipv6": fields(b"\x01", "a.b", "AJP://[::1]:8009/", "Route=R1", "FACTOR=7"),
    "sticky": fields(b"\x02", "IdmSticky", "SESSIONID", ";sid", "force"),
    "health": fields(b"\x02", b"\x1d\x0a\x05", "interval=5s", "healthy_interval=off", "rise=3", "fall=2",
                     "uri=/health"),
    "balancer": fields(b"\x03", "IdmMember", "t1", "ajp://h1:8009", "redirect=t2", GROUP,
                       "IdmMember", "t2", "ajp://h2:8009", GROUP, "IdmPacketSize", "65536", GROUP,
                       "IdmPingAfterIdle", "0", GROUP, "IdmSecret", "bad secret"),
}

CORPORA = {
    "fuzz_ajp_decode": ajp_decode,
    "fuzz_ajp_encode": ajp_encode,
    "fuzz_ajp_backend": ajp_backend,
    "fuzz_session_route": session_route,
    "fuzz_uri_mount": uri_mount,
    "fuzz_http_rules": http_rules,
    "fuzz_request_prepare": request_prepare,
    "fuzz_manager_form": manager_form,
    "fuzz_origin_host": origin_host,
    "fuzz_config": config,
}


def main():
    total = 0
    for target, seeds in CORPORA.items():
        d = os.path.join(HERE, "corpus", target)
        os.makedirs(d, exist_ok=True)
        for old in os.listdir(d):
            if old.startswith("seed-"):
                os.remove(os.path.join(d, old))
        for name, data in seeds.items():
            with open(os.path.join(d, "seed-" + name), "wb") as f:
                f.write(data)
            total += len(data)
    print("wrote %d seeds, %d bytes" % (sum(len(v) for v in CORPORA.values()), total), file=sys.stderr)


if __name__ == "__main__":
    main()
