// AJP13 encoder: byte-exact golden packets, written out by hand from the wire format
// (AJP13_AND_PROXY.md 2.1-2.6), never produced by the encoder itself.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "idmb/ajp_codec.h"

using namespace idmb::ajp;
using Bytes = std::vector<std::uint8_t>;

namespace {

// Hex dump so a mismatch shows which byte differs.
std::string hex(const std::uint8_t* p, std::size_t n) {
  std::string out;
  char buf[4];
  for (std::size_t i = 0; i < n; ++i) {
    std::snprintf(buf, sizeof buf, "%02X", p[i]);
    if (i) out.push_back(i % 16 ? ' ' : '\n');
    out += buf;
  }
  return out;
}
std::string hex(const Bytes& b) { return hex(b.data(), b.size()); }

// Encodes into an 8192-byte packet and returns exactly the bytes written.
Bytes encode(const ForwardRequest& r, std::size_t packet_size = kMinPacketSize) {
  Bytes out(packet_size, 0xEE);
  auto n = encode_forward_request(r, out);
  INFO((n.ok() ? std::string() : n.error()));
  REQUIRE(n.ok());
  out.resize(*n);
  return out;
}

// The payload length in the golden header must agree with the array: catches hand-counting slips.
void check_golden_length(const Bytes& golden) {
  REQUIRE(golden.size() >= kHeaderSize);
  REQUIRE(std::size_t(golden[2] << 8 | golden[3]) == golden.size() - kHeaderSize);
}

ForwardRequest minimal_get() {
  ForwardRequest r;
  r.method = "GET";
  r.protocol = "HTTP/1.1";
  r.uri = "/";
  r.remote_addr = "10.0.0.7";
  r.server_name = "host";
  r.server_port = 80;
  return r;
}

}  // namespace

TEST_CASE("CPING is 12 34 00 01 0A", "[ajp]") {
  Bytes out(kMinPacketSize, 0xEE);
  REQUIRE(encode_cping(out) == 5);
  out.resize(5);
  CHECK(hex(out) == hex(Bytes{0x12, 0x34, 0x00, 0x01, 0x0A}));
}

TEST_CASE("method codes are the 27 AJP codes, case-sensitive", "[ajp]") {
  // In code order, six to a line.
  // clang-format off
  const char* methods[] = {"OPTIONS", "GET",     "HEAD",    "POST",       "PUT",         "DELETE",
                           "TRACE",   "PROPFIND", "PROPPATCH", "MKCOL",    "COPY",        "MOVE",
                           "LOCK",    "UNLOCK",  "ACL",     "REPORT",     "VERSION-CONTROL", "CHECKIN",
                           "CHECKOUT", "UNCHECKOUT", "SEARCH", "MKWORKSPACE", "UPDATE",    "LABEL",
                           "MERGE",   "BASELINE-CONTROL", "MKACTIVITY"};
  // clang-format on
  for (int i = 0; i < 27; ++i) {
    INFO(methods[i]);
    CHECK(method_code(methods[i]) == i + 1);
  }
  CHECK(method_code("get") == kStoredMethod);
  CHECK(method_code("PATCH") == kStoredMethod);
  CHECK(method_code("") == kStoredMethod);
  CHECK(method_code("GET ") == kStoredMethod);
}

TEST_CASE("request header codes match case-insensitively", "[ajp]") {
  CHECK(request_header_code("accept") == 0xA001);
  CHECK(request_header_code("Accept-Charset") == 0xA002);
  CHECK(request_header_code("ACCEPT-ENCODING") == 0xA003);
  CHECK(request_header_code("Accept-Language") == 0xA004);
  CHECK(request_header_code("Authorization") == 0xA005);
  CHECK(request_header_code("Connection") == 0xA006);
  CHECK(request_header_code("Content-Type") == 0xA007);
  CHECK(request_header_code("content-length") == 0xA008);
  CHECK(request_header_code("Cookie") == 0xA009);
  CHECK(request_header_code("Cookie2") == 0xA00A);
  CHECK(request_header_code("hOsT") == 0xA00B);
  CHECK(request_header_code("Pragma") == 0xA00C);
  CHECK(request_header_code("Referer") == 0xA00D);
  CHECK(request_header_code("User-Agent") == 0xA00E);
  CHECK(request_header_code("X-Custom") == 0);
  CHECK(request_header_code("") == 0);
  CHECK(request_header_code("Hosts") == 0);
  CHECK(request_header_code("Content-Language") == 0);  // a response code only
}

TEST_CASE("request attribute allow-list is Tomcat's default", "[ajp]") {
  for (const char* name :
       {"AJP_LOCAL_ADDR", "AJP_REMOTE_PORT", "AJP_SSL_PROTOCOL", "JK_LB_ACTIVATION",
        "javax.servlet.request.cipher_suite", "javax.servlet.request.key_size", "javax.servlet.request.ssl_session",
        "javax.servlet.request.X509Certificate", "jakarta.servlet.request.cipher_suite",
        "jakarta.servlet.request.key_size", "jakarta.servlet.request.ssl_session",
        "jakarta.servlet.request.X509Certificate", "jakarta.servlet.request.secure_protocol"}) {
    INFO(name);
    CHECK(is_allowed_request_attribute(name));
  }
  for (const char* name :
       {"", "AJP_FOO", "ajp_local_addr", "javax.servlet.request.secure_protocol",
        "jakarta.servlet.request.x509certificate", "CERT_ISSUER", "HTTPS_KEYSIZE", "SSL_CLIENT_CERT"}) {
    INFO(name);
    CHECK_FALSE(is_allowed_request_attribute(name));
  }
}

TEST_CASE("FORWARD_REQUEST GET with coded and literal headers, query, secret, route", "[ajp]") {
  ForwardRequest r;
  r.method = "GET";
  r.protocol = "HTTP/1.1";
  r.uri = "/app/index.jsp";
  r.remote_addr = "10.0.0.7";
  r.server_name = "www.example.com";
  r.server_port = 80;
  r.headers = {{"Host", "www.example.com"},
               {"accept", "*/*"},
               {"COOKIE", "JSESSIONID=abc.node1"},
               {"User-Agent", "curl/8.0"},
               {"X-Custom", "yes"}};
  r.query_string = "a=1&b=2";
  r.route = "node1";
  r.secret = "s3cret";

  // Laid out by protocol field.
  // clang-format off
  const Bytes golden = {
      0x12, 0x34, 0x00, 0xB4,  // magic, payload length 180
      0x02,                    // FORWARD_REQUEST
      0x02,                    // GET
      0x00, 0x08, 'H', 'T', 'T', 'P', '/', '1', '.', '1', 0x00,
      0x00, 0x0E, '/', 'a', 'p', 'p', '/', 'i', 'n', 'd', 'e', 'x', '.', 'j', 's', 'p', 0x00,
      0x00, 0x08, '1', '0', '.', '0', '.', '0', '.', '7', 0x00,  // remote_addr
      0xFF, 0xFF,                                                // remote_host: null, no NUL
      0x00, 0x0F, 'w', 'w', 'w', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm', 0x00,
      0x00, 0x50,  // server_port 80
      0x00,        // is_ssl
      0x00, 0x05,  // num_headers
      0xA0, 0x0B, 0x00, 0x0F, 'w', 'w', 'w', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm', 0x00,
      0xA0, 0x01, 0x00, 0x03, '*', '/', '*', 0x00,
      0xA0, 0x09, 0x00, 0x14, 'J', 'S', 'E', 'S', 'S', 'I', 'O', 'N', 'I', 'D', '=', 'a', 'b', 'c', '.', 'n', 'o',
      'd', 'e', '1', 0x00,
      0xA0, 0x0E, 0x00, 0x08, 'c', 'u', 'r', 'l', '/', '8', '.', '0', 0x00,
      0x00, 0x08, 'X', '-', 'C', 'u', 's', 't', 'o', 'm', 0x00, 0x00, 0x03, 'y', 'e', 's', 0x00,
      0x0C, 0x00, 0x06, 's', '3', 'c', 'r', 'e', 't', 0x00,       // secret first
      0x05, 0x00, 0x07, 'a', '=', '1', '&', 'b', '=', '2', 0x00,  // query_string
      0x06, 0x00, 0x05, 'n', 'o', 'd', 'e', '1', 0x00,            // route
      0xFF,                                                       // are_done
  };
  // clang-format on
  check_golden_length(golden);
  CHECK(hex(encode(r)) == hex(golden));
}

TEST_CASE("FORWARD_REQUEST PATCH uses 0xFF and the stored_method attribute", "[ajp]") {
  ForwardRequest r;
  r.method = "PATCH";
  r.protocol = "HTTP/1.1";
  r.uri = "/api/items/42";
  r.remote_addr = "192.168.1.20";
  r.remote_host = "client.example.net";
  r.server_name = "www.example.com";
  r.server_port = 8080;
  r.headers = {{"Content-Length", "2"}};

  // Laid out by protocol field.
  // clang-format off
  const Bytes golden = {
      0x12, 0x34, 0x00, 0x68,  // payload length 104
      0x02,
      0xFF,  // SC_M_JK_STORED
      0x00, 0x08, 'H', 'T', 'T', 'P', '/', '1', '.', '1', 0x00,
      0x00, 0x0D, '/', 'a', 'p', 'i', '/', 'i', 't', 'e', 'm', 's', '/', '4', '2', 0x00,
      0x00, 0x0C, '1', '9', '2', '.', '1', '6', '8', '.', '1', '.', '2', '0', 0x00,
      0x00, 0x12, 'c', 'l', 'i', 'e', 'n', 't', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'n', 'e', 't', 0x00,
      0x00, 0x0F, 'w', 'w', 'w', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm', 0x00,
      0x1F, 0x90,  // 8080
      0x00,
      0x00, 0x01,
      0xA0, 0x08, 0x00, 0x01, '2', 0x00,                      // Content-Length: 2
      0x0D, 0x00, 0x05, 'P', 'A', 'T', 'C', 'H', 0x00,        // stored_method
      0xFF,
  };
  // clang-format on
  check_golden_length(golden);
  CHECK(hex(encode(r)) == hex(golden));
}

TEST_CASE("FORWARD_REQUEST over HTTPS: SSL attributes, 2-byte key size, secure_protocol", "[ajp]") {
  ForwardRequest r;
  r.method = "GET";
  r.protocol = "HTTP/1.1";
  r.uri = "/";
  r.remote_addr = "10.0.0.7";
  r.server_name = "secure.example.com";
  r.server_port = 443;
  r.is_ssl = true;
  r.headers = {{"HOST", "secure.example.com"}};
  r.request_attributes = {{"jakarta.servlet.request.secure_protocol", "TLSv1.3"}};
  r.ssl_key_size = 128;
  r.ssl_session = "0123abcd";
  r.ssl_cipher = "TLS_AES_128_GCM_SHA256";
  r.ssl_cert = "-----CERT-----";
  r.auth_type = "BASIC";
  r.remote_user = "alice";

  // Laid out by protocol field.
  // clang-format off
  const Bytes golden = {
      0x12, 0x34, 0x00, 0xD2,  // payload length 210
      0x02, 0x02,
      0x00, 0x08, 'H', 'T', 'T', 'P', '/', '1', '.', '1', 0x00,
      0x00, 0x01, '/', 0x00,
      0x00, 0x08, '1', '0', '.', '0', '.', '0', '.', '7', 0x00,
      0xFF, 0xFF,
      0x00, 0x12, 's', 'e', 'c', 'u', 'r', 'e', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm', 0x00,
      0x01, 0xBB,  // 443
      0x01,        // is_ssl
      0x00, 0x01,
      0xA0, 0x0B, 0x00, 0x12, 's', 'e', 'c', 'u', 'r', 'e', '.', 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o',
      'm', 0x00,
      0x03, 0x00, 0x05, 'a', 'l', 'i', 'c', 'e', 0x00,                                       // remote_user
      0x04, 0x00, 0x05, 'B', 'A', 'S', 'I', 'C', 0x00,                                       // auth_type
      0x07, 0x00, 0x0E, '-', '-', '-', '-', '-', 'C', 'E', 'R', 'T', '-', '-', '-', '-', '-', 0x00,  // ssl_cert
      0x08, 0x00, 0x16, 'T', 'L', 'S', '_', 'A', 'E', 'S', '_', '1', '2', '8', '_', 'G', 'C', 'M', '_', 'S',
      'H', 'A', '2', '5', '6', 0x00,                                                         // ssl_cipher
      0x09, 0x00, 0x08, '0', '1', '2', '3', 'a', 'b', 'c', 'd', 0x00,                        // ssl_session
      0x0B, 0x00, 0x80,                                                                      // key size: int
      0x0A,                                                                                  // req_attribute
      0x00, 0x27, 'j', 'a', 'k', 'a', 'r', 't', 'a', '.', 's', 'e', 'r', 'v', 'l', 'e', 't', '.', 'r', 'e', 'q',
      'u', 'e', 's', 't', '.', 's', 'e', 'c', 'u', 'r', 'e', '_', 'p', 'r', 'o', 't', 'o', 'c', 'o', 'l', 0x00,
      0x00, 0x07, 'T', 'L', 'S', 'v', '1', '.', '3', 0x00,
      0xFF,
  };
  // clang-format on
  check_golden_length(golden);
  CHECK(hex(encode(r)) == hex(golden));
}

TEST_CASE("remote_host: unset is null 0xFFFF, empty is 00 00 00", "[ajp]") {
  ForwardRequest r = minimal_get();
  // Laid out by protocol field.
  // clang-format off
  const Bytes null_host = {
      0x12, 0x34, 0x00, 0x2B,  // payload length 43
      0x02, 0x02,
      0x00, 0x08, 'H', 'T', 'T', 'P', '/', '1', '.', '1', 0x00,
      0x00, 0x01, '/', 0x00,
      0x00, 0x08, '1', '0', '.', '0', '.', '0', '.', '7', 0x00,
      0xFF, 0xFF,  // remote_host null: no NUL follows
      0x00, 0x04, 'h', 'o', 's', 't', 0x00,
      0x00, 0x50, 0x00,
      0x00, 0x00,  // no headers
      0xFF,
  };
  // clang-format on
  check_golden_length(null_host);
  CHECK(hex(encode(r)) == hex(null_host));

  r.remote_host = "";
  Bytes empty_host = null_host;
  empty_host[3] = 0x2C;
  empty_host.erase(empty_host.begin() + 32, empty_host.begin() + 34);
  empty_host.insert(empty_host.begin() + 32, {0x00, 0x00, 0x00});
  check_golden_length(empty_host);
  CHECK(hex(encode(r)) == hex(empty_host));
}

TEST_CASE("FORWARD_REQUEST refuses request attributes Tomcat would 403", "[ajp]") {
  ForwardRequest r = minimal_get();
  r.request_attributes = {{"AJP_REMOTE_PORT", "5555"}, {"AJP_FOO", "bar"}};
  Bytes out(kMinPacketSize);
  auto n = encode_forward_request(r, out);
  REQUIRE_FALSE(n.ok());
  CHECK_THAT(n.error(), Catch::Contains("AJP_FOO") && Catch::Contains("not accepted"));

  r.request_attributes = {{"javax.servlet.request.secure_protocol", "TLSv1.3"}};  // jakarta.* only
  CHECK_FALSE(encode_forward_request(r, out).ok());

  r.request_attributes = {{"AJP_REMOTE_PORT", "5555"}};
  CHECK(encode_forward_request(r, out).ok());
}

TEST_CASE("FORWARD_REQUEST that does not fit the packet fails and says the size", "[ajp]") {
  ForwardRequest r = minimal_get();
  const std::string filler(100, 'v');
  std::vector<std::string> names;
  for (int i = 0; i < 100; ++i) names.push_back("X-Filler-" + std::to_string(i));
  for (const auto& name : names) r.headers.push_back({name, filler});

  Bytes out(kMinPacketSize);
  auto n = encode_forward_request(r, out);
  REQUIRE_FALSE(n.ok());
  CHECK_THAT(n.error(), Catch::Contains("8192"));
  // It reports the full size needed: 47 + 10 * (13 + 103) + 90 * (14 + 103).
  CHECK_THAT(n.error(), Catch::Contains("needs 11737 bytes"));

  // The same request fits a 16 KiB packet.
  Bytes big(16384);
  auto m = encode_forward_request(r, big);
  REQUIRE(m.ok());
  CHECK(*m == 11737);

  // Exactly-fitting and one-byte-short buffers.
  Bytes exact(11737);
  CHECK(encode_forward_request(r, exact).ok());
  Bytes short_by_one(11736);
  CHECK_FALSE(encode_forward_request(r, short_by_one).ok());
}

TEST_CASE("FORWARD_REQUEST rejects oversized strings, NUL bytes and too many headers", "[ajp]") {
  Bytes out(kMaxPacketSize);

  SECTION("string of 0xFFFF bytes") {
    ForwardRequest r = minimal_get();
    const std::string huge(0xFFFF, 'a');
    r.headers = {{"X-Big", huge}};
    auto n = encode_forward_request(r, out);
    REQUIRE_FALSE(n.ok());
    CHECK_THAT(n.error(), Catch::Contains("request header 1 value") && Catch::Contains("65535"));
  }
  SECTION("literal header name that would read as a 0xA0xx code") {
    ForwardRequest r = minimal_get();
    const std::string name(0xA000, 'n');
    r.headers = {{name, "v"}};
    CHECK_FALSE(encode_forward_request(r, out).ok());
  }
  SECTION("NUL inside a value") {
    ForwardRequest r = minimal_get();
    r.headers = {{"X-A", std::string_view("a\0b", 3)}};
    auto n = encode_forward_request(r, out);
    REQUIRE_FALSE(n.ok());
    CHECK_THAT(n.error(), Catch::Contains("NUL"));
  }
  SECTION("NUL inside the URI") {
    ForwardRequest r = minimal_get();
    r.uri = std::string_view("/a\0b", 4);
    CHECK_FALSE(encode_forward_request(r, out).ok());
  }
  SECTION("empty literal header name") {
    ForwardRequest r = minimal_get();
    r.headers = {{"", "v"}};
    CHECK_FALSE(encode_forward_request(r, out).ok());
  }
  SECTION("more than 0xFFFF headers") {
    ForwardRequest r = minimal_get();
    r.headers.assign(0x10000, Header{"A", ""});
    auto n = encode_forward_request(r, out);
    REQUIRE_FALSE(n.ok());
    CHECK_THAT(n.error(), Catch::Contains("65536"));
  }
  SECTION("buffer smaller than the packet header") {
    ForwardRequest r = minimal_get();
    Bytes tiny(3);
    CHECK_FALSE(encode_forward_request(r, tiny).ok());
  }
}

TEST_CASE("request body packets", "[ajp]") {
  Bytes out(kMinPacketSize, 0xEE);
  CHECK(max_request_body_chunk(kMinPacketSize) == 8186);

  SECTION("n = 0 is the end-of-body packet httpd sends") {
    REQUIRE(finish_body_chunk(out, 0) == 6);
    CHECK(hex(out.data(), 6) == hex(Bytes{0x12, 0x34, 0x00, 0x02, 0x00, 0x00}));
  }
  SECTION("n = 1") {
    out[6] = 'x';
    REQUIRE(finish_body_chunk(out, 1) == 7);
    CHECK(hex(out.data(), 7) == hex(Bytes{0x12, 0x34, 0x00, 0x03, 0x00, 0x01, 'x'}));
  }
  SECTION("n = 8186 fills an 8192-byte packet") {
    REQUIRE(finish_body_chunk(out, 8186) == 8192);
    CHECK(hex(out.data(), 6) == hex(Bytes{0x12, 0x34, 0x1F, 0xFC, 0x1F, 0xFA}));
    CHECK(out[6] == 0xEE);  // the data is the caller's, untouched
  }
}
