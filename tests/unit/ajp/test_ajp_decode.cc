// AJP13 decoder: golden Tomcat packets, a rejection table, and a no-crash robustness loop.
#include <catch2/catch.hpp>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

#include "idmb/ajp_codec.h"

using namespace idmb::ajp;
using Bytes = std::vector<std::uint8_t>;

namespace {

// Builds rejection cases readably; the golden packets below are written out in full instead.
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

// A SEND_HEADERS payload with one literal header, for mutation into rejection cases.
Bytes send_headers(int status, std::string_view reason, std::string_view name, std::string_view value) {
  return Build{}.u8(4).u16(status).str(reason).u16(1).str(name).str(value).b;
}

// Decodes an exact-size heap copy, so ASan sees any read past the payload; the copy lives as
// long as the result's views do.
struct Decoded {
  explicit Decoded(const Bytes& payload) : copy(payload), result(decode_message(copy)) {}
  bool ok() const { return result.ok(); }
  const std::string& error() const { return result.error(); }
  const Message& operator*() const { return *result; }

  const Bytes copy;
  const idmb::Expected<Message> result;
};

bool within(std::string_view v, const Bytes& buf) {
  auto* p = reinterpret_cast<const char*>(buf.data());
  return v.empty() || (v.data() >= p && v.data() + v.size() <= p + buf.size());
}

// Tomcat's answer: 200 "200", Content-Type, two Set-Cookie, one literal header, WWW-Authenticate.
// Laid out by protocol field.
// clang-format off
const Bytes kSendHeadersPacket = {
    0x41, 0x42, 0x00, 0x43,                                            // 'AB', payload length 67
    0x04,                                                              // SEND_HEADERS
    0x00, 0xC8,                                                        // status 200
    0x00, 0x03, '2', '0', '0', 0x00,                                   // reason "200"
    0x00, 0x05,                                                        // num_headers
    0xA0, 0x01, 0x00, 0x09, 't', 'e', 'x', 't', '/', 'h', 't', 'm', 'l', 0x00,
    0xA0, 0x07, 0x00, 0x03, 'a', '=', '1', 0x00,                       // Set-Cookie
    0xA0, 0x07, 0x00, 0x03, 'b', '=', '2', 0x00,                       // Set-Cookie again
    0x00, 0x07, 'X', '-', 'T', 'r', 'a', 'c', 'e', 0x00, 0x00, 0x03, 'a', 'b', 'c', 0x00,
    0xA0, 0x0B, 0x00, 0x05, 'B', 'a', 's', 'i', 'c', 0x00,             // WWW-Authenticate
};
// clang-format on

Bytes payload_of(const Bytes& packet) { return Bytes(packet.begin() + kHeaderSize, packet.end()); }

}  // namespace

TEST_CASE("CPONG: 41 42 00 01 09", "[ajp]") {
  const Bytes packet = {0x41, 0x42, 0x00, 0x01, 0x09};
  auto len = decode_packet_header(std::span(packet).first(4), kMinPacketSize);
  REQUIRE(len.ok());
  CHECK(*len == 1);
  Decoded m(payload_of(packet));
  REQUIRE(m.ok());
  CHECK(std::holds_alternative<Cpong>(*m));
}

TEST_CASE("SEND_HEADERS with coded and literal names and a repeated Set-Cookie", "[ajp]") {
  auto len = decode_packet_header(std::span(kSendHeadersPacket).first(4), kMinPacketSize);
  REQUIRE(len.ok());
  REQUIRE(*len == kSendHeadersPacket.size() - kHeaderSize);

  const Bytes payload = payload_of(kSendHeadersPacket);
  auto m = decode_message(payload);
  INFO((m.ok() ? std::string() : m.error()));
  REQUIRE(m.ok());
  const auto& h = std::get<SendHeaders>(*m);
  CHECK(h.status == 200);
  CHECK(h.reason == "200");
  REQUIRE(h.headers.size() == 5);
  CHECK(h.headers[0].name == "Content-Type");
  CHECK(h.headers[0].value == "text/html");
  CHECK(h.headers[1].name == "Set-Cookie");
  CHECK(h.headers[1].value == "a=1");
  CHECK(h.headers[2].name == "Set-Cookie");
  CHECK(h.headers[2].value == "b=2");
  CHECK(h.headers[3].name == "X-Trace");
  CHECK(h.headers[3].value == "abc");
  CHECK(h.headers[4].name == "WWW-Authenticate");
  CHECK(h.headers[4].value == "Basic");
  // Views point into the payload, not into copies.
  CHECK(within(h.reason, payload));
  CHECK(within(h.headers[3].name, payload));
  for (const auto& hd : h.headers) CHECK(within(hd.value, payload));
}

TEST_CASE("SEND_HEADERS: every response header code decodes to its canonical name", "[ajp]") {
  const char* names[] = {"Content-Type", "Content-Language", "Content-Length", "Date",   "Last-Modified",   "Location",
                         "Set-Cookie",   "Set-Cookie2",      "Servlet-Engine", "Status", "WWW-Authenticate"};
  for (int code = 1; code <= 11; ++code) {
    Bytes p = Build{}.u8(4).u16(200).str("200").u16(1).u16(0xA000 | code).str("v").b;
    Decoded m(p);
    REQUIRE(m.ok());
    CHECK(std::get<SendHeaders>(*m).headers.at(0).name == names[code - 1]);
  }
}

TEST_CASE("SEND_HEADERS: null reason and null value read as empty", "[ajp]") {
  Bytes p = Build{}.u8(4).u16(404).u16(0xFFFF).u16(1).str("X-Null").u16(0xFFFF).b;
  Decoded m(p);
  INFO((m.ok() ? std::string() : m.error()));
  REQUIRE(m.ok());
  const auto& h = std::get<SendHeaders>(*m);
  CHECK(h.status == 404);
  CHECK(h.reason.empty());
  CHECK(h.headers.at(0).value.empty());
}

TEST_CASE("END_RESPONSE reuse 1 and 0", "[ajp]") {
  const Bytes reuse = {0x41, 0x42, 0x00, 0x02, 0x05, 0x01};
  const Bytes close = {0x41, 0x42, 0x00, 0x02, 0x05, 0x00};
  REQUIRE(decode_packet_header(std::span(reuse).first(4), kMinPacketSize).value() == 2);

  Decoded a(payload_of(reuse));
  REQUIRE(a.ok());
  CHECK(std::get<EndResponse>(*a).reuse);
  Decoded b(payload_of(close));
  REQUIRE(b.ok());
  CHECK_FALSE(std::get<EndResponse>(*b).reuse);
  // Only an explicit 1 means reuse.
  Decoded c(Bytes{0x05, 0x02});
  REQUIRE(c.ok());
  CHECK_FALSE(std::get<EndResponse>(*c).reuse);
}

TEST_CASE("GET_BODY_CHUNK 8186: 41 42 00 03 06 1F FA", "[ajp]") {
  const Bytes packet = {0x41, 0x42, 0x00, 0x03, 0x06, 0x1F, 0xFA};
  REQUIRE(decode_packet_header(std::span(packet).first(4), kMinPacketSize).value() == 3);
  Decoded m(payload_of(packet));
  REQUIRE(m.ok());
  CHECK(std::get<GetBodyChunk>(*m).requested == 8186);
}

TEST_CASE("SEND_BODY_CHUNK: data and the empty flush chunk", "[ajp]") {
  SECTION("flush: 41 42 00 04 03 00 00 00") {
    const Bytes packet = {0x41, 0x42, 0x00, 0x04, 0x03, 0x00, 0x00, 0x00};
    REQUIRE(decode_packet_header(std::span(packet).first(4), kMinPacketSize).value() == 4);
    Decoded m(payload_of(packet));
    REQUIRE(m.ok());
    CHECK(std::get<BodyChunk>(*m).data.empty());
  }
  SECTION("three bytes") {
    const Bytes payload = {0x03, 0x00, 0x03, 'a', 'b', 'c', 0x00};
    auto m = decode_message(payload);
    REQUIRE(m.ok());
    auto data = std::get<BodyChunk>(*m).data;
    REQUIRE(data.size() == 3);
    CHECK(data.data() == payload.data() + 3);
    CHECK(data[2] == 'c');
  }
  SECTION("largest chunk Tomcat sends in an 8192 packet: 8184 bytes") {
    Bytes payload(8188, 'z');
    payload[0] = 0x03;
    payload[1] = 0x1F;
    payload[2] = 0xF8;
    payload.back() = 0x00;
    Decoded m(payload);
    REQUIRE(m.ok());
    CHECK(std::get<BodyChunk>(*m).data.size() == 8184);
  }
}

TEST_CASE("decode_packet_header rejections", "[ajp]") {
  auto header = [](Bytes h, std::size_t packet_size = kMinPacketSize) { return decode_packet_header(h, packet_size); };
  SECTION("truncated header") {
    for (std::size_t n = 0; n < 4; ++n) {
      Bytes h = Bytes{0x41, 0x42, 0x00, 0x01};
      h.resize(n);
      CHECK_FALSE(header(h).ok());
    }
  }
  SECTION("bad magic, including the server->container magic") {
    auto r = header({0x12, 0x34, 0x00, 0x01});
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Contains("0x1234"));
    CHECK_FALSE(header({0x41, 0x43, 0x00, 0x01}).ok());
    CHECK_FALSE(header({0x42, 0x41, 0x00, 0x01}).ok());
  }
  SECTION("zero length") { CHECK_FALSE(header({0x41, 0x42, 0x00, 0x00}).ok()); }
  SECTION("length past the buffer: the header shares the packet_size buffer") {
    CHECK(header({0x41, 0x42, 0x1F, 0xFC}).value() == 8188);
    auto r = header({0x41, 0x42, 0x1F, 0xFD});
    REQUIRE_FALSE(r.ok());
    CHECK_THAT(r.error(), Catch::Contains("8189") && Catch::Contains("8192"));
    CHECK_FALSE(header({0x41, 0x42, 0x20, 0x00}).ok());
    CHECK_FALSE(header({0x41, 0x42, 0xFF, 0xFF}).ok());
    CHECK(header({0x41, 0x42, 0xFF, 0xFC}, kMaxPacketSize).value() == 0xFFFC);
    CHECK_FALSE(header({0x41, 0x42, 0xFF, 0xFD}, kMaxPacketSize).ok());
    CHECK_FALSE(header({0x41, 0x42, 0x00, 0x01}, 4).ok());
    CHECK_FALSE(header({0x41, 0x42, 0x00, 0x01}, 0).ok());
  }
}

TEST_CASE("every proper prefix of a valid SEND_HEADERS is rejected", "[ajp]") {
  const Bytes payload = payload_of(kSendHeadersPacket);
  REQUIRE(Decoded(payload).ok());
  for (std::size_t n = 0; n < payload.size(); ++n) {
    INFO("prefix length " << n);
    Decoded m(Bytes(payload.begin(), payload.begin() + static_cast<std::ptrdiff_t>(n)));
    CHECK_FALSE(m.ok());
  }
}

TEST_CASE("decode_message rejection table", "[ajp]") {
  struct Case {
    const char* what;
    Bytes payload;
    const char* message;  // a substring the error must contain
  };
  const std::vector<Case> cases = {
      {"empty payload", {}, "empty"},
      {"type 0", {0x00}, "unknown AJP message type 0"},
      {"type 1", {0x01}, "unknown AJP message type 1"},
      {"type 2 FORWARD_REQUEST", {0x02}, "unknown AJP message type 2"},
      {"type 7 SHUTDOWN", {0x07}, "unknown AJP message type 7"},
      {"type 8 PING", {0x08}, "unknown AJP message type 8"},
      {"type 10 CPING", {0x0A}, "unknown AJP message type 10"},
      {"type 11", {0x0B, 0x00}, "unknown AJP message type 11"},
      {"type 255", {0xFF}, "unknown AJP message type 255"},
      {"unknown response header code A000", Build{}.u8(4).u16(200).str("200").u16(1).u16(0xA000).str("v").b,
       "unknown code 0xA000"},
      {"unknown response header code A00C", Build{}.u8(4).u16(200).str("200").u16(1).u16(0xA00C).str("v").b,
       "unknown code 0xA00C"},
      {"unknown response header code A0FF", Build{}.u8(4).u16(200).str("200").u16(1).u16(0xA0FF).str("v").b,
       "header 1 has unknown code"},
      {"chunk length shorter than packet", {0x03, 0x00, 0x01, 'a', 'b', 0x00}, "does not match"},
      {"chunk length longer than packet", {0x03, 0x00, 0x03, 'a', 'b', 0x00}, "does not match"},
      {"chunk without the trailing byte", {0x03, 0x00, 0x02, 'a', 'b'}, "does not match"},
      {"chunk with an extra byte", {0x03, 0x00, 0x02, 'a', 'b', 0x00, 0x00}, "does not match"},
      {"chunk trailing byte not NUL", {0x03, 0x00, 0x02, 'a', 'b', 0x01}, "trailing NUL"},
      {"chunk length field truncated", {0x03, 0x00}, "truncated"},
      {"flush chunk without trailing byte", {0x03, 0x00, 0x00}, "truncated"},
      {"chunk length 0xFFFF", {0x03, 0xFF, 0xFF, 0x00}, "does not match"},
      {"CR in header value", send_headers(200, "200", "X-A", "a\rb"), "header 1 value contains CR"},
      {"LF in header value", send_headers(200, "200", "X-A", "a\nSet-Cookie: x=1"), "header 1 value contains"},
      {"NUL in header value", send_headers(200, "200", "X-A", std::string_view("a\0b", 3)), "value contains"},
      {"CRLF in header name", send_headers(200, "200", "X-A\r\nX-B", "v"), "name contains"},
      {"LF in reason", send_headers(200, "OK\nX: y", "X-A", "v"), "reason contains"},
      {"empty header name", send_headers(200, "200", "", "v"), "empty name"},
      {"null header name", Build{}.u8(4).u16(200).str("200").u16(1).u16(0xFFFF).str("v").b, "empty name"},
      {"status 0", send_headers(0, "0", "X-A", "v"), "status 0"},
      {"status 99", send_headers(99, "99", "X-A", "v"), "status 99"},
      {"status 1000", send_headers(1000, "1000", "X-A", "v"), "status 1000"},
      {"trailing bytes after the last header", Build{}.u8(4).u16(200).str("200").u16(1).str("X-A").str("v").u8(0).b,
       "1 trailing bytes"},
      {"header count larger than the headers present", Build{}.u8(4).u16(200).str("200").u16(3).str("X-A").str("v").b,
       "truncated in header 2 name"},
      {"string without its NUL",
       Build{}.u8(4).u16(200).str("200").u16(1).u16(3).u8('X').u8('-').u8('A').u8('Z').str("v").b,
       "header 1 name not NUL-terminated"},
      {"value length past the end", Build{}.u8(4).u16(200).str("200").u16(1).str("X-A").u16(50).u8('v').u8(0).b,
       "truncated in header 1 value"},
      {"reason length past the end", Build{}.u8(4).u16(200).u16(0x7FFF).u8('O').u8(0).b, "truncated in reason"},
      {"END_RESPONSE too short", {0x05}, "END_RESPONSE"},
      {"END_RESPONSE too long", {0x05, 0x01, 0x00}, "END_RESPONSE"},
      {"GET_BODY_CHUNK too short", {0x06, 0x1F}, "GET_BODY_CHUNK"},
      {"GET_BODY_CHUNK too long", {0x06, 0x1F, 0xFA, 0x00}, "GET_BODY_CHUNK"},
      {"CPONG with extra bytes", {0x09, 0x00}, "CPONG"},
  };
  for (const auto& c : cases) {
    INFO(c.what);
    Decoded m(c.payload);
    REQUIRE_FALSE(m.ok());
    CHECK_THAT(m.error(), Catch::Contains(c.message));
  }
}

TEST_CASE("decode_message survives random and mutated input", "[ajp]") {
  std::mt19937 rng(20260601);
  std::uniform_int_distribution<int> byte(0, 255);
  std::uniform_int_distribution<int> length(0, 64);
  const std::uint8_t types[] = {0x03, 0x04, 0x05, 0x06, 0x09};
  std::size_t accepted = 0;

  auto check = [&](const Bytes& p) {
    Decoded m(p);
    if (!m.ok()) {
      CHECK_FALSE(m.error().empty());
      return;
    }
    ++accepted;
    // Whatever is accepted is well-formed and only references the payload.
    if (auto* h = std::get_if<SendHeaders>(&*m)) {
      REQUIRE(within(h->reason, m.copy));
      for (const auto& hd : h->headers) {
        REQUIRE(!hd.name.empty());
        REQUIRE(within(hd.value, m.copy));
      }
    }
    if (auto* c = std::get_if<BodyChunk>(&*m)) REQUIRE(c->data.size() + 4 == m.copy.size());
  };

  // Pure noise, half of it with a valid type byte so the field parsers are reached.
  for (int i = 0; i < 20000; ++i) {
    Bytes p(static_cast<std::size_t>(length(rng)));
    for (auto& b : p) b = static_cast<std::uint8_t>(byte(rng));
    if (!p.empty() && (i & 1)) p[0] = types[static_cast<std::size_t>(byte(rng)) % 5];
    check(p);
  }
  // Byte flips of a valid SEND_HEADERS reach deeper than noise does.
  const Bytes base = payload_of(kSendHeadersPacket);
  for (int i = 0; i < 20000; ++i) {
    Bytes p = base;
    const int flips = 1 + byte(rng) % 4;
    for (int f = 0; f < flips; ++f) {
      p[static_cast<std::size_t>(byte(rng)) % p.size()] = static_cast<std::uint8_t>(byte(rng));
    }
    if (byte(rng) % 4 == 0) p.resize(static_cast<std::size_t>(byte(rng)) % p.size());
    check(p);
  }
  CHECK(accepted > 0);
}
