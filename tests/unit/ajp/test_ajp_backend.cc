// AJP13 container-side codec (ajp_backend.h): round trips through the front-end encoder and
// decoder (ajp_codec.h), golden packets for the container's small messages, rejections.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "idmb/ajp_backend.h"
#include "idmb/ajp_codec.h"

using namespace idmb::ajp;
using Bytes = std::vector<std::uint8_t>;

namespace {

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    auto l = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; };
    if (l(a[i]) != l(b[i])) return false;
  }
  return true;
}

Bytes encode_request(const ForwardRequest& r, std::size_t packet_size = kMinPacketSize) {
  Bytes out(packet_size, 0xEE);
  auto n = encode_forward_request(r, out);
  INFO((n.ok() ? std::string() : n.error()));
  REQUIRE(n.ok());
  out.resize(*n);
  return out;
}

// The payload of a server->container packet, after its header was checked.
Bytes request_payload(const Bytes& packet, std::size_t packet_size = kMinPacketSize) {
  auto len = decode_request_packet_header(std::span(packet).first(kHeaderSize), packet_size);
  INFO((len.ok() ? std::string() : len.error()));
  REQUIRE(len.ok());
  REQUIRE(std::size_t{*len} == packet.size() - kHeaderSize);
  return Bytes(packet.begin() + kHeaderSize, packet.end());
}

// The payload of a container->server packet, checked by the front end's own decoder.
Bytes response_payload(const Bytes& packet, std::size_t packet_size = kMinPacketSize) {
  auto len = decode_packet_header(std::span(packet).first(kHeaderSize), packet_size);
  INFO((len.ok() ? std::string() : len.error()));
  REQUIRE(len.ok());
  REQUIRE(std::size_t{*len} == packet.size() - kHeaderSize);
  return Bytes(packet.begin() + kHeaderSize, packet.end());
}

ForwardRequest full_request() {
  ForwardRequest r;
  r.method = "POST";
  r.protocol = "HTTP/1.1";
  r.uri = "/app/upload;jsessionid=abc.t1";
  r.remote_addr = "192.0.2.10";
  r.remote_host = "client.example";
  r.server_name = "www.example";
  r.server_port = 8443;
  r.is_ssl = true;
  r.headers = {{"Host", "www.example"}, {"Content-Length", "65536"},         {"Cookie", "JSESSIONID=abc.t1"},
               {"User-Agent", "wrk"},   {"X-Forwarded-For", "198.51.100.1"}, {"accept", "*/*"},
               {"X-Empty", ""}};
  r.secret = "s3cret";
  r.remote_user = "alice";
  r.auth_type = "Basic";
  r.query_string = "a=1&b=2";
  r.route = "t1";
  r.ssl_cert = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
  r.ssl_cipher = "TLS_AES_128_GCM_SHA256";
  r.ssl_session = "00FF";
  r.ssl_key_size = 128;
  r.request_attributes = {{"AJP_REMOTE_PORT", "50123"}, {"AJP_LOCAL_ADDR", "127.0.0.1"}};
  return r;
}

void check_same_request(const ForwardRequest& a, const ForwardRequest& b) {
  CHECK(a.method == b.method);
  CHECK(a.protocol == b.protocol);
  CHECK(a.uri == b.uri);
  CHECK(a.remote_addr == b.remote_addr);
  CHECK(a.remote_host == b.remote_host);
  CHECK(a.server_name == b.server_name);
  CHECK(a.server_port == b.server_port);
  CHECK(a.is_ssl == b.is_ssl);
  REQUIRE(a.headers.size() == b.headers.size());
  for (std::size_t i = 0; i < a.headers.size(); ++i) {
    INFO("header " << i << ": " << a.headers[i].name << " / " << b.headers[i].name);
    // Coded names come back in the table's (lower-case) spelling.
    CHECK(iequals(a.headers[i].name, b.headers[i].name));
    CHECK(a.headers[i].value == b.headers[i].value);
  }
  CHECK(a.secret == b.secret);
  CHECK(a.remote_user == b.remote_user);
  CHECK(a.auth_type == b.auth_type);
  CHECK(a.query_string == b.query_string);
  CHECK(a.route == b.route);
  CHECK(a.ssl_cert == b.ssl_cert);
  CHECK(a.ssl_cipher == b.ssl_cipher);
  CHECK(a.ssl_session == b.ssl_session);
  CHECK(a.ssl_key_size == b.ssl_key_size);
  REQUIRE(a.request_attributes.size() == b.request_attributes.size());
  for (std::size_t i = 0; i < a.request_attributes.size(); ++i) {
    CHECK(a.request_attributes[i].name == b.request_attributes[i].name);
    CHECK(a.request_attributes[i].value == b.request_attributes[i].value);
  }
}

// Builds payloads byte by byte for the rejection cases.
struct Build {
  Bytes b;
  Build& u8(int v) {
    b.push_back(static_cast<std::uint8_t>(v));
    return *this;
  }
  Build& u16(int v) { return u8(v >> 8).u8(v & 0xFF); }
  Build& str(std::string_view s) {
    u16(static_cast<int>(s.size()));
    b.insert(b.end(), s.begin(), s.end());
    return u8(0);
  }
};

// FORWARD_REQUEST GET / up to (not including) its header count.
Build request_prefix(int method = 2) {
  Build b;
  b.u8(2).u8(method).str("HTTP/1.1").str("/").str("127.0.0.1").u16(0xFFFF).str("localhost").u16(80).u8(0);
  return b;
}

idmb::Status decode_copy(const Bytes& payload, ForwardRequest& out) {
  // An exact-size heap copy: ASan sees any read past the payload. Views point into it, so
  // callers only look at the status.
  static Bytes copy;
  copy = payload;
  return decode_forward_request(copy, out);
}

}  // namespace

TEST_CASE("method_name and request_header_name invert the front end's tables", "[ajp][backend]") {
  for (int code = 1; code <= 27; ++code) {
    std::string_view name = method_name(static_cast<std::uint8_t>(code));
    REQUIRE(!name.empty());
    CHECK(method_code(name) == code);
  }
  CHECK(method_name(0).empty());
  CHECK(method_name(28).empty());
  CHECK(method_name(kStoredMethod).empty());
  for (int low = 1; low <= 14; ++low) {
    const auto code = static_cast<std::uint16_t>(0xA000 | low);
    std::string_view name = request_header_name(code);
    REQUIRE(!name.empty());
    CHECK(request_header_code(name) == code);
  }
  CHECK(request_header_name(0xA000).empty());
  CHECK(request_header_name(0xA00F).empty());
  CHECK(request_header_name(0xB001).empty());
}

TEST_CASE("FORWARD_REQUEST round trip: every field the encoder writes comes back", "[ajp][backend]") {
  const ForwardRequest in = full_request();
  const Bytes packet = encode_request(in);
  const Bytes payload = request_payload(packet);
  CHECK(classify_request_message(payload) == RequestMessage::ForwardRequest);
  ForwardRequest out;
  auto s = decode_forward_request(payload, out);
  INFO((s.ok() ? std::string() : s.error()));
  REQUIRE(s.ok());
  check_same_request(in, out);
  CHECK(out.headers[0].name == "host");             // coded: the table's spelling
  CHECK(out.headers[4].name == "X-Forwarded-For");  // literal: as sent
}

TEST_CASE("FORWARD_REQUEST round trip: stored method, null remote_host, no attributes", "[ajp][backend]") {
  ForwardRequest in;
  in.method = "PATCH";
  in.protocol = "HTTP/1.0";
  in.uri = "/x";
  in.remote_addr = "::1";
  in.server_name = "";
  in.server_port = 65535;
  const Bytes payload = request_payload(encode_request(in));
  ForwardRequest out;
  out.remote_host = "stale";  // decode clears what a previous request left
  out.headers = {{"stale", "stale"}};
  REQUIRE(decode_forward_request(payload, out).ok());
  check_same_request(in, out);
  CHECK(!out.remote_host.has_value());
  CHECK(out.headers.empty());
}

TEST_CASE("FORWARD_REQUEST round trip: IdmEnvAttribute's attributes follow the built-in ones", "[ajp][backend]") {
  ForwardRequest in = full_request();
  const std::size_t built_in = in.request_attributes.size();
  in.configured_attributes = {{"Shib-Identity-Provider", "https://idp.example/"}, {"eppn", ""}};
  const Bytes payload = request_payload(encode_request(in));
  ForwardRequest out;
  REQUIRE(decode_forward_request(payload, out).ok());
  REQUIRE(out.request_attributes.size() == built_in + 2);
  CHECK(out.request_attributes[built_in].name == "Shib-Identity-Provider");
  CHECK(out.request_attributes[built_in].value == "https://idp.example/");
  CHECK(out.request_attributes[built_in + 1].name == "eppn");
  CHECK(out.request_attributes[built_in + 1].value.empty());

  in.configured_attributes = {{"", "x"}};  // never an empty name on the wire
  Bytes packet(kMinPacketSize);
  CHECK_FALSE(encode_forward_request(in, packet).ok());
}

TEST_CASE("FORWARD_REQUEST round trip at 65536-byte packets", "[ajp][backend]") {
  ForwardRequest in = full_request();
  const std::string big(40000, 'v');
  in.headers.push_back({"X-Big", big});
  const Bytes packet = encode_request(in, kMaxPacketSize);
  ForwardRequest out;
  const Bytes payload = request_payload(packet, kMaxPacketSize);  // `out` points into it
  REQUIRE(decode_forward_request(payload, out).ok());
  check_same_request(in, out);
}

TEST_CASE("request body packets round trip, and both end-of-body forms", "[ajp][backend]") {
  Bytes packet(kMinPacketSize, 0);
  const std::size_t n = max_request_body_chunk(kMinPacketSize);
  for (std::size_t i = 0; i < n; ++i) packet[kBodyChunkOverhead + i] = static_cast<std::uint8_t>(i * 7);
  const std::size_t size = finish_body_chunk(packet, n);
  packet.resize(size);
  const Bytes payload = request_payload(packet);
  auto data = decode_request_body_chunk(payload);
  REQUIRE(data.ok());
  REQUIRE(data->size() == n);
  CHECK(std::equal(data->begin(), data->end(), packet.begin() + kBodyChunkOverhead));

  Bytes end(kMinPacketSize, 0);
  end.resize(finish_body_chunk(end, 0));
  CHECK(end == Bytes{0x12, 0x34, 0x00, 0x02, 0x00, 0x00});
  auto e1 = decode_request_body_chunk(request_payload(end));
  REQUIRE(e1.ok());
  CHECK(e1->empty());
  // Tomcat's own end-of-body form: 12 34 00 00.
  const Bytes tomcat_end = {0x12, 0x34, 0x00, 0x00};
  auto e2 = decode_request_body_chunk(request_payload(tomcat_end));
  REQUIRE(e2.ok());
  CHECK(e2->empty());
}

TEST_CASE("CPING is classified; SHUTDOWN and others are not requests", "[ajp][backend]") {
  Bytes cping(16, 0);
  cping.resize(encode_cping(cping));
  CHECK(classify_request_message(request_payload(cping)) == RequestMessage::Cping);
  CHECK(classify_request_message(Bytes{0x07}) == RequestMessage::Shutdown);
  CHECK(classify_request_message(Bytes{0x08}) == RequestMessage::Unknown);
  CHECK(classify_request_message(Bytes{0x0A, 0x00}) == RequestMessage::Unknown);
  CHECK(classify_request_message(Bytes{}) == RequestMessage::Unknown);
}

TEST_CASE("container messages: golden bytes, and the front end's decoder reads them back", "[ajp][backend]") {
  Bytes buf(16, 0xEE);
  REQUIRE(encode_cpong(buf) == kCpongSize);
  CHECK(Bytes(buf.begin(), buf.begin() + kCpongSize) == Bytes{0x41, 0x42, 0x00, 0x01, 0x09});
  auto m = decode_message(response_payload(Bytes(buf.begin(), buf.begin() + kCpongSize)));
  REQUIRE(m.ok());
  CHECK(std::holds_alternative<Cpong>(*m));

  for (bool reuse : {true, false}) {
    REQUIRE(encode_end_response(reuse, buf) == kEndResponseSize);
    const Bytes packet(buf.begin(), buf.begin() + kEndResponseSize);
    CHECK(packet == Bytes{0x41, 0x42, 0x00, 0x02, 0x05, static_cast<std::uint8_t>(reuse ? 1 : 0)});
    auto e = decode_message(response_payload(packet));
    REQUIRE(e.ok());
    CHECK(std::get<EndResponse>(*e).reuse == reuse);
  }

  REQUIRE(encode_get_body_chunk(8186, buf) == kGetBodyChunkSize);
  const Bytes get(buf.begin(), buf.begin() + kGetBodyChunkSize);
  CHECK(get == Bytes{0x41, 0x42, 0x00, 0x03, 0x06, 0x1F, 0xFA});
  auto g = decode_message(response_payload(get));
  REQUIRE(g.ok());
  CHECK(std::get<GetBodyChunk>(*g).requested == 8186);

  // Too small a buffer is a caller bug: nothing written.
  Bytes tiny(4, 0xEE);
  CHECK(encode_cpong(tiny) == 0);
  CHECK(encode_end_response(true, tiny) == 0);
  CHECK(encode_get_body_chunk(1, tiny) == 0);
  CHECK(tiny == Bytes(4, 0xEE));
}

TEST_CASE("SEND_BODY_CHUNK: full, empty (flush) and too large", "[ajp][backend]") {
  Bytes data(max_response_body_chunk(kMinPacketSize));
  for (std::size_t i = 0; i < data.size(); ++i) data[i] = static_cast<std::uint8_t>(i);
  Bytes out(kMinPacketSize, 0xEE);
  auto n = encode_send_body_chunk(data, out);
  REQUIRE(n.ok());
  CHECK(*n == kMinPacketSize);
  out.resize(*n);
  const Bytes payload = response_payload(out);  // the views point into it
  auto m = decode_message(payload);
  REQUIRE(m.ok());
  auto chunk = std::get<BodyChunk>(*m).data;
  CHECK(Bytes(chunk.begin(), chunk.end()) == data);

  Bytes flush(16, 0xEE);
  auto f = encode_send_body_chunk({}, flush);
  REQUIRE(f.ok());
  flush.resize(*f);
  CHECK(flush == Bytes{0x41, 0x42, 0x00, 0x04, 0x03, 0x00, 0x00, 0x00});

  Bytes small(kMinPacketSize);
  data.push_back(0);
  auto too_big = encode_send_body_chunk(data, small);
  REQUIRE(!too_big.ok());
  CHECK_THAT(too_big.error(), Catch::Contains("does not fit"));
}

TEST_CASE("SEND_HEADERS round trip: coded names (any case), literal names, empty values", "[ajp][backend]") {
  SendHeaders in;
  in.status = 200;
  in.reason = "OK";
  in.headers = {{"Content-Type", "application/octet-stream"},
                {"content-length", "102400"},
                {"Set-Cookie", "JSESSIONID=ABC.i1; Path=/"},
                {"X-Route", "i1"},
                {"X-Empty", ""},
                {"WWW-Authenticate", "Basic"}};
  Bytes out(kMinPacketSize, 0xEE);
  auto n = encode_send_headers(in, out);
  INFO((n.ok() ? std::string() : n.error()));
  REQUIRE(n.ok());
  out.resize(*n);
  // Coded: 0xA001 right after the count; literal X-Route later.
  CHECK(out[4] == 0x04);
  const Bytes payload = response_payload(out);  // the views point into it
  auto m = decode_message(payload);
  INFO((m.ok() ? std::string() : m.error()));
  REQUIRE(m.ok());
  const auto& h = std::get<SendHeaders>(*m);
  CHECK(h.status == 200);
  CHECK(h.reason == "OK");
  REQUIRE(h.headers.size() == in.headers.size());
  CHECK(h.headers[0].name == "Content-Type");
  CHECK(h.headers[1].name == "Content-Length");  // sent coded, read back canonical
  CHECK(h.headers[3].name == "X-Route");         // literal
  for (std::size_t i = 0; i < in.headers.size(); ++i) {
    CHECK(iequals(h.headers[i].name, in.headers[i].name));
    CHECK(h.headers[i].value == in.headers[i].value);
  }
}

TEST_CASE("SEND_HEADERS refuses what the front end would refuse, and overflow", "[ajp][backend]") {
  Bytes out(kMinPacketSize);
  SendHeaders h;
  h.status = 99;
  CHECK_THAT(encode_send_headers(h, out).error(), Catch::Contains("out of range"));
  h.status = 1000;
  CHECK(!encode_send_headers(h, out).ok());
  h.status = 200;
  h.headers = {{"", "x"}};
  CHECK_THAT(encode_send_headers(h, out).error(), Catch::Contains("empty name"));
  std::string with_nul("a\0b", 3);
  h.headers = {{"X-A", with_nul}};
  CHECK_THAT(encode_send_headers(h, out).error(), Catch::Contains("NUL"));
  const std::string big(9000, 'x');
  h.headers = {{"X-Big", big}};
  auto r = encode_send_headers(h, out);
  REQUIRE(!r.ok());
  CHECK_THAT(r.error(), Catch::Contains("packet size is 8192"));
  Bytes large(kMaxPacketSize);
  CHECK(encode_send_headers(h, large).ok());
}

TEST_CASE("decode_request_packet_header rejections", "[ajp][backend]") {
  CHECK(!decode_request_packet_header(Bytes{0x12, 0x34, 0x00}, kMinPacketSize).ok());
  CHECK_THAT(decode_request_packet_header(Bytes{0x41, 0x42, 0x00, 0x01}, kMinPacketSize).error(),
             Catch::Contains("magic"));
  CHECK(decode_request_packet_header(Bytes{0x12, 0x34, 0x1F, 0xFC}, kMinPacketSize).ok());  // 8188
  CHECK_THAT(decode_request_packet_header(Bytes{0x12, 0x34, 0x1F, 0xFD}, kMinPacketSize).error(),
             Catch::Contains("exceeds"));
  CHECK(*decode_request_packet_header(Bytes{0x12, 0x34, 0x00, 0x00}, kMinPacketSize) == 0);
}

TEST_CASE("request body chunk rejections", "[ajp][backend]") {
  CHECK(!decode_request_body_chunk(Bytes{0x00}).ok());
  CHECK(!decode_request_body_chunk(Bytes{0x00, 0x02, 'a'}).ok());  // says 2, has 1
  CHECK(!decode_request_body_chunk(Bytes{0x00, 0x00, 'a'}).ok());  // says 0, has 1
  CHECK(decode_request_body_chunk(Bytes{0x00, 0x01, 'a'}).ok());
}

TEST_CASE("every proper prefix of a valid FORWARD_REQUEST is rejected", "[ajp][backend]") {
  const Bytes payload = request_payload(encode_request(full_request()));
  ForwardRequest out;
  for (std::size_t cut = 0; cut < payload.size(); ++cut) {
    INFO("cut at " << cut);
    CHECK(!decode_copy(Bytes(payload.begin(), payload.begin() + cut), out).ok());
  }
  CHECK(decode_copy(payload, out).ok());
}

TEST_CASE("FORWARD_REQUEST rejection table", "[ajp][backend]") {
  struct Case {
    const char* what;
    Bytes payload;
    const char* error;
  };
  const std::vector<Case> cases = {
      {"not type 2", Build{}.u8(0x0A).b, "not a FORWARD_REQUEST"},
      {"method code 0", request_prefix(0).u16(0).u8(0xFF).b, "unknown method code 0"},
      {"method code 28", request_prefix(28).u16(0).u8(0xFF).b, "unknown method code 28"},
      {"stored method without its name", request_prefix(0xFF).u16(0).u8(0xFF).b, "without its name"},
      {"stored method attribute with a coded method", request_prefix(2).u16(0).u8(0x0D).str("GET").u8(0xFF).b,
       "stored method with method code 2"},
      {"unknown header code", request_prefix().u16(1).u16(0xA00F).str("x").u8(0xFF).b, "unknown code 0xA00F"},
      {"header count larger than the headers", request_prefix().u16(2).u16(0xA00B).str("h").u8(0xFF).b, "header 2"},
      {"unterminated header value", request_prefix().u16(1).u16(0xA00B).u16(1).u8('h').u8('x').u8(0xFF).b,
       "not NUL-terminated"},
      {"unknown attribute code", request_prefix().u16(0).u8(0x0E).str("x").u8(0xFF).b, "unknown attribute code 0x0E"},
      {"no terminator", request_prefix().u16(0).u8(0x05).str("a=1").b, "before the 0xFF terminator"},
      {"trailing bytes", request_prefix().u16(0).u8(0xFF).u8(0).b, "1 trailing bytes"},
      {"truncated key size", request_prefix().u16(0).u8(0x0B).u8(1).b, "ssl_key_size"},
      {"request attribute without value", request_prefix().u16(0).u8(0x0A).str("AJP_REMOTE_PORT").b,
       "request attribute value"},
  };
  ForwardRequest out;
  for (const auto& c : cases) {
    INFO(c.what);
    auto s = decode_copy(c.payload, out);
    REQUIRE(!s.ok());
    CHECK_THAT(s.error(), Catch::Contains(c.error));
  }
  // Context and servlet_path (0x01, 0x02) are read and ignored, as Tomcat does.
  CHECK(decode_copy(request_prefix().u16(0).u8(0x01).str("/app").u8(0x02).str("/s").u8(0xFF).b, out).ok());
}

TEST_CASE("decode_forward_request survives random and mutated input", "[ajp][backend]") {
  const Bytes valid = request_payload(encode_request(full_request()));
  std::mt19937 rng(20240601);
  ForwardRequest out;
  for (int i = 0; i < 20000; ++i) {
    Bytes p = valid;
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) p[rng() % p.size()] = static_cast<std::uint8_t>(rng());
    if (rng() % 4 == 0) p.resize(rng() % p.size());
    (void)decode_copy(p, out);  // must not crash or read past the copy (ASan)
  }
  for (int i = 0; i < 5000; ++i) {
    Bytes p(rng() % 64);
    for (auto& b : p) b = static_cast<std::uint8_t>(rng());
    if (!p.empty()) p[0] = 0x02;
    (void)decode_copy(p, out);
    (void)decode_request_body_chunk(p);
  }
  SUCCEED();
}
