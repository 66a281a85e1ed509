#include <catch2/catch.hpp>

#include "idmb/forwarder.h"
#include "support/fake_streams.h"

using namespace idmb;
using namespace idmb::test;
using forward::BodyPlan;
using forward::Outcome;

namespace {

ajp::ForwardRequest simple_request(std::string_view method = "GET") {
  ajp::ForwardRequest r;
  r.method = method;
  r.protocol = "HTTP/1.1";
  r.uri = "/app/echo";
  r.remote_addr = "127.0.0.1";
  r.server_name = "localhost";
  r.server_port = 80;
  return r;
}

forward::Result run(FakeBackend& backend, FakeClient& client, BodyPlan body = {}, std::string_view method = "GET",
                    bool head = false) {
  std::vector<std::uint8_t> packet(8192);
  forward::ExchangeOptions options;
  options.head_request = head;
  options.reply_timeout_ms = 1234;
  return forward::exchange(simple_request(method), body, options, packet, backend, client);
}

Bytes concat(std::initializer_list<Bytes> parts) {
  Bytes all;
  for (const auto& p : parts) {
    all.insert(all.end(), p.begin(), p.end());
  }
  return all;
}

// Data bytes of a request-body packet (12 34 len(2) n(2) data).
std::string body_of(const Bytes& packet) {
  REQUIRE(packet.size() >= 4);
  REQUIRE(packet[0] == 0x12);
  REQUIRE(packet[1] == 0x34);
  if (packet.size() == 4) {
    return {};
  }
  std::size_t n = (packet[4] << 8) | packet[5];
  REQUIRE(packet.size() == n + 6);
  return std::string(packet.begin() + 6, packet.end());
}

// The packets (12 34 len(2) payload) one write carried, in order.
std::vector<Bytes> packets_of(const Bytes& write) {
  std::vector<Bytes> packets;
  std::size_t at = 0;
  while (at < write.size()) {
    REQUIRE(write.size() - at >= 4);
    const std::size_t end = at + 4 + ((write[at + 2] << 8) | write[at + 3]);
    REQUIRE(end <= write.size());
    packets.emplace_back(write.begin() + static_cast<long>(at), write.begin() + static_cast<long>(end));
    at = end;
  }
  return packets;
}

}  // namespace

TEST_CASE("GET: headers and body are relayed, reuse honoured", "[forward]") {
  FakeBackend backend;
  backend.reply_after_write(
      0, concat({send_headers(200, {{"Content-Type", "text/plain"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}}),
                 body_chunk("hello "), body_chunk("world"), end_response(true)}));
  FakeClient client;
  auto result = run(backend, client);
  CHECK(result.outcome == Outcome::Ok);
  CHECK(result.reuse_connection);
  CHECK(result.response_started);
  CHECK(client.status == 200);
  CHECK(client.received == "hello world");
  CHECK(client.headers.size() == 3);
  CHECK(result.bytes_from_backend == 11);
  CHECK(backend.timeout_ms == 1234);
  REQUIRE(backend.writes.size() == 1);  // the FORWARD_REQUEST only: no body packet for GET
  CHECK(backend.writes[0][4] == 0x02);
}

TEST_CASE("What the client holds goes out before a wait on the backend, not while packets are in hand", "[forward]") {
  SECTION("a response read at once is sent whole after END_RESPONSE") {
    FakeBackend backend;
    backend.reply_after_write(0, concat({send_headers(200, {}), body_chunk("ab"), end_response(true)}));
    FakeClient client;
    CHECK(run(backend, client).outcome == Outcome::Ok);
    CHECK(client.pending_at.empty());
    CHECK(client.received == "ab");
  }
  SECTION("a response that stops mid-way: the body so far goes out first, and a gone client is noticed") {
    FakeBackend backend;
    backend.reply_after_write(0, concat({send_headers(200, {}), body_chunk("ab")}));
    backend.when_drained = forward::IoStatus::Timeout;
    FakeClient client;
    CHECK(run(backend, client).outcome == Outcome::BackendTimeout);
    CHECK(client.pending_at == std::vector<std::size_t>{2});
    FakeBackend backend2;
    backend2.reply_after_write(0, concat({send_headers(200, {}), body_chunk("ab")}));
    FakeClient gone;
    gone.pending_fails = true;
    CHECK(run(backend2, gone).outcome == Outcome::ClientAborted);
    CHECK(gone.received == "ab");
  }
}

TEST_CASE("END_RESPONSE reuse=0 closes the connection", "[forward]") {
  FakeBackend backend;
  backend.reply_after_write(0, concat({send_headers(500, {}), end_response(false)}));
  FakeClient client;
  auto result = run(backend, client);
  CHECK(result.outcome == Outcome::Ok);
  CHECK_FALSE(result.reuse_connection);
}

TEST_CASE("Content-Length body: first packet unsolicited, the rest on GET_BODY_CHUNK", "[forward]") {
  std::string body(10000, 'x');
  body[8185] = 'y';  // the last byte of the first packet
  FakeBackend backend;
  // After FORWARD_REQUEST (write 0) nothing; after the first body packet (write 1) Tomcat asks for more.
  backend.reply_after_write(1, get_body_chunk(8186));
  backend.reply_after_write(2, concat({send_headers(200, {}), end_response(true)}));
  FakeClient client(body);
  client.read_size = 1000;  // the client delivers in small slices; packets are still filled
  auto result = run(backend, client, {BodyPlan::Kind::Length, body.size()}, "POST");
  CHECK(result.outcome == Outcome::Ok);
  REQUIRE(backend.writes.size() == 3);
  CHECK(body_of(backend.writes[1]) == body.substr(0, 8186));
  CHECK(body_of(backend.writes[2]) == body.substr(8186));
  CHECK(result.bytes_to_backend == body.size());
  CHECK(result.body_consumed);
}

TEST_CASE("A body that fits the packet after the request leaves in the same write", "[forward]") {
  FakeBackend backend;
  backend.reply_after_write(0, concat({send_headers(200, {}), end_response(true)}));
  FakeClient client("user=alice&password=secret");
  auto result = run(backend, client, {BodyPlan::Kind::Length, 26}, "POST");
  CHECK(result.outcome == Outcome::Ok);
  REQUIRE(backend.writes.size() == 1);
  const auto packets = packets_of(backend.writes[0]);
  REQUIRE(packets.size() == 2);
  CHECK(packets[0][4] == 0x02);  // FORWARD_REQUEST
  CHECK(body_of(packets[1]) == "user=alice&password=secret");
  CHECK(result.bytes_to_backend == 26);
  CHECK(result.reuse_connection);

  SECTION("one that does not fit goes in a packet of its own, whole, not cut to the space left") {
    const std::string big(8186, 'b');  // a whole packet's worth: no room beside the request head
    FakeBackend apart;
    apart.reply_after_write(1, concat({send_headers(200, {}), end_response(true)}));
    FakeClient uploader(big);
    auto r = run(apart, uploader, {BodyPlan::Kind::Length, big.size()}, "POST");
    CHECK(r.outcome == Outcome::Ok);
    REQUIRE(apart.writes.size() == 2);
    CHECK(packets_of(apart.writes[0]).size() == 1);
    CHECK(body_of(apart.writes[1]) == big);
  }
  SECTION("a client that sends less than its Content-Length: nothing reaches Tomcat") {
    FakeBackend untouched;
    FakeClient short_client("user=al", /*body_is_short=*/true);
    auto r = run(untouched, short_client, {BodyPlan::Kind::Length, 26}, "POST");
    CHECK(r.outcome == Outcome::ClientBodyError);
    CHECK(untouched.writes.empty());
    CHECK_FALSE(r.reuse_connection);
  }
}

TEST_CASE("Chunked body: nothing unsolicited, ends with an empty packet", "[forward]") {
  std::string body(9000, 'c');
  FakeBackend backend;
  backend.reply_after_write(0, get_body_chunk(8186));
  backend.reply_after_write(1, get_body_chunk(8186));
  backend.reply_after_write(2, get_body_chunk(8186));
  backend.reply_after_write(3, concat({send_headers(201, {}), end_response(true)}));
  FakeClient client(body);
  auto result = run(backend, client, {BodyPlan::Kind::Chunked, 0}, "POST");
  CHECK(result.outcome == Outcome::Ok);
  REQUIRE(backend.writes.size() == 4);
  CHECK(body_of(backend.writes[1]).size() == 8186);
  CHECK(body_of(backend.writes[2]).size() == 9000 - 8186);
  CHECK(body_of(backend.writes[3]).empty());
}

TEST_CASE("Tomcat asking for less than a packet gets no more than it asked", "[forward]") {
  std::string body(300, 'z');
  FakeBackend backend;
  backend.reply_after_write(0, get_body_chunk(100));
  backend.reply_after_write(1, concat({send_headers(200, {}), end_response(true)}));
  FakeClient client(body);
  auto result = run(backend, client, {BodyPlan::Kind::Chunked, 0}, "PUT");
  CHECK(result.outcome == Outcome::Ok);
  REQUIRE(backend.writes.size() == 2);
  CHECK(body_of(backend.writes[1]).size() == 100);
}

TEST_CASE("A chunked body that passes LimitRequestBody is stopped there: 413, connection closed", "[forward]") {
  FakeBackend backend;
  backend.reply_after_write(0, get_body_chunk(8186));
  FakeClient client(std::string(5000, 'b'));
  client.body_ends_with = forward::IoStatus::TooLarge;
  auto result = run(backend, client, {BodyPlan::Kind::Chunked, 0}, "POST");
  CHECK(result.outcome == Outcome::ClientBodyTooLarge);
  CHECK_FALSE(result.reuse_connection);
  CHECK(backend.writes.size() == 1);  // the request head only: no part of the body went
  CHECK(client.status == 0);
}

TEST_CASE("A body shorter than its Content-Length is the client's fault", "[forward]") {
  FakeBackend backend;
  FakeClient client("only ten b", /*body_is_short=*/true);
  auto result = run(backend, client, {BodyPlan::Kind::Length, 100}, "POST");
  CHECK(result.outcome == Outcome::ClientBodyError);
  CHECK_FALSE(result.reuse_connection);
  CHECK_FALSE(result.response_started);
}

TEST_CASE("Backend failures are classified", "[forward]") {
  FakeClient client;
  SECTION("closed before replying") {
    FakeBackend backend;
    auto result = run(backend, client);
    CHECK(result.outcome == Outcome::BackendClosed);
    CHECK(result.request_sent);
  }
  SECTION("no reply within the timeout") {
    FakeBackend backend;
    backend.when_drained = forward::IoStatus::Timeout;
    CHECK(run(backend, client).outcome == Outcome::BackendTimeout);
  }
  SECTION("garbage") {
    FakeBackend backend;
    backend.reply_after_write(0, {'H', 'T', 'T', 'P', '/', '1'});
    auto result = run(backend, client);
    CHECK(result.outcome == Outcome::ProtocolError);
    CHECK_FALSE(result.detail.empty());
  }
  SECTION("a second SEND_HEADERS") {
    FakeBackend backend;
    backend.reply_after_write(0, concat({send_headers(200, {}), send_headers(200, {})}));
    CHECK(run(backend, client).outcome == Outcome::ProtocolError);
  }
  SECTION("body before headers") {
    FakeBackend backend;
    backend.reply_after_write(0, body_chunk("x"));
    CHECK(run(backend, client).outcome == Outcome::ProtocolError);
  }
  SECTION("a well-formed head the application made invalid: refused, not a protocol fault") {
    for (int status : {0, 99, 1000, 65535}) {
      FakeBackend backend;
      backend.reply_after_write(0, concat({send_headers(status, {}), end_response(true)}));
      FakeClient fresh;
      auto result = run(backend, fresh);
      CAPTURE(status);
      CHECK(result.outcome == Outcome::InvalidResponse);
      CHECK_THAT(result.detail, Catch::Contains("out of range"));
      CHECK(fresh.status == 0);
      CHECK_FALSE(result.response_started);
    }
    FakeBackend backend;
    backend.reply_after_write(0, concat({send_headers(200, {{"X-A", "a\r\nSet-Cookie: x=1"}}), end_response(true)}));
    CHECK(run(backend, client).outcome == Outcome::InvalidResponse);
  }
  SECTION("a 1xx as the response (a 101 would open a tunnel past the front end): refused") {
    for (int status : {100, 101, 103, 199}) {
      FakeBackend backend;
      backend.reply_after_write(0, concat({send_headers(status, {{"Upgrade", "websocket"}}), end_response(true)}));
      FakeClient fresh;
      auto result = run(backend, fresh);
      CAPTURE(status);
      CHECK(result.outcome == Outcome::InvalidResponse);
      CHECK_THAT(result.detail, Catch::Contains("not a final response"));
      CHECK(fresh.status == 0);
    }
  }
  SECTION("END_RESPONSE before headers") {
    FakeBackend backend;
    backend.reply_after_write(0, end_response(true));
    CHECK(run(backend, client).outcome == Outcome::ProtocolError);
  }
  SECTION("closed mid-body, after the headers went out") {
    FakeBackend backend;
    backend.reply_after_write(0, concat({send_headers(200, {}), body_chunk("part")}));
    auto result = run(backend, client);
    CHECK(result.outcome == Outcome::BackendClosed);
    CHECK(result.response_started);
    CHECK_FALSE(result.reuse_connection);
  }
  SECTION("closed right after the headers: nothing reached the client yet") {
    FakeBackend backend;
    backend.reply_after_write(0, send_headers(200, {{"Content-Length", "100"}}));
    auto result = run(backend, client);
    CHECK(result.outcome == Outcome::BackendClosed);
    CHECK_FALSE(result.response_started);  // so an idempotent request may still go elsewhere
    CHECK(client.status == 200);           // recorded, but not sent
  }
  SECTION("write fails") {
    FakeBackend backend;
    backend.fail_writes_with = forward::IoStatus::Error;
    CHECK(run(backend, client).outcome == Outcome::BackendClosed);
  }
}

TEST_CASE("HEAD and 204/304 bodies are dropped, flush is passed on", "[forward]") {
  SECTION("HEAD") {
    FakeBackend backend;
    backend.reply_after_write(0, concat({send_headers(200, {}), body_chunk("nope"), end_response(true)}));
    FakeClient client;
    CHECK(run(backend, client, {}, "HEAD", /*head=*/true).outcome == Outcome::Ok);
    CHECK(client.received.empty());
  }
  SECTION("304") {
    FakeBackend backend;
    backend.reply_after_write(0, concat({send_headers(304, {}), body_chunk("nope"), end_response(true)}));
    FakeClient client;
    CHECK(run(backend, client).outcome == Outcome::Ok);
    CHECK(client.received.empty());
  }
  SECTION("flush") {
    FakeBackend backend;
    backend.reply_after_write(
        0, concat({send_headers(200, {}), body_chunk("a"), body_chunk(""), body_chunk("b"), end_response(true)}));
    FakeClient client;
    CHECK(run(backend, client).outcome == Outcome::Ok);
    CHECK(client.flushes == 1);
    CHECK(client.received == "ab");
  }
}

TEST_CASE("A client that goes away ends the exchange without blaming the backend", "[forward]") {
  FakeBackend backend;
  backend.reply_after_write(0, concat({send_headers(200, {}), body_chunk("a"), end_response(true)}));
  FakeClient client;
  client.gone = true;
  auto result = run(backend, client);
  CHECK(result.outcome == Outcome::ClientAborted);
  CHECK_FALSE(result.reuse_connection);
}

TEST_CASE("A request head that does not fit one packet is refused before sending", "[forward]") {
  FakeBackend backend;
  FakeClient client;
  std::string huge(9000, 'h');
  auto request = simple_request();
  request.headers.push_back({"X-Huge", huge});
  std::vector<std::uint8_t> packet(8192);
  auto result = forward::exchange(request, {}, {}, packet, backend, client);
  CHECK(result.outcome == Outcome::RequestTooLarge);
  CHECK(backend.writes.empty());
  CHECK_FALSE(result.request_sent);
}

TEST_CASE("CPING expects exactly a CPONG", "[forward]") {
  std::string detail;
  SECTION("answered") {
    FakeBackend backend;
    backend.reply_after_write(0, cpong());
    CHECK(forward::cping(backend, 500, detail));
    REQUIRE(backend.writes.size() == 1);
    CHECK(backend.writes[0] == Bytes{0x12, 0x34, 0x00, 0x01, 0x0A});
    CHECK(backend.timeout_ms == 500);
  }
  SECTION("silent") {
    FakeBackend backend;
    backend.when_drained = forward::IoStatus::Timeout;
    CHECK_FALSE(forward::cping(backend, 500, detail));
    CHECK(detail.find("timed out") != std::string::npos);
  }
  SECTION("answered with something else") {
    FakeBackend backend;
    backend.reply_after_write(0, end_response(true));
    CHECK_FALSE(forward::cping(backend, 500, detail));
  }
}

TEST_CASE("Tomcat's Content-Length is passed on checked, and enforced", "[forward]") {
  FakeClient client;
  SECTION("matching") {
    FakeBackend backend;
    backend.reply_after_write(
        0, concat({send_headers(200, {{"Content-Length", "5"}}), body_chunk("hello"), end_response(true)}));
    CHECK(run(backend, client).outcome == Outcome::Ok);
    CHECK(client.content_length == std::optional<std::uint64_t>(5));
  }
  SECTION("absent") {
    FakeBackend backend;
    backend.reply_after_write(0, concat({send_headers(200, {}), body_chunk("hello"), end_response(true)}));
    CHECK(run(backend, client).outcome == Outcome::Ok);
    CHECK_FALSE(client.content_length);
  }
  SECTION("body shorter than declared") {
    FakeBackend backend;
    backend.reply_after_write(
        0, concat({send_headers(200, {{"Content-Length", "1000"}}), body_chunk("ok"), end_response(true)}));
    auto result = run(backend, client);
    CHECK(result.outcome == Outcome::InvalidResponse);
    CHECK(result.response_started);
    CHECK_FALSE(result.reuse_connection);
  }
  SECTION("body longer than declared") {
    FakeBackend backend;
    backend.reply_after_write(
        0, concat({send_headers(200, {{"Content-Length", "1"}}), body_chunk("ok"), end_response(true)}));
    CHECK(run(backend, client).outcome == Outcome::InvalidResponse);
    CHECK(client.received.empty());
  }
  SECTION("invalid or conflicting") {
    for (auto headers : std::vector<std::vector<std::pair<std::string, std::string>>>{
             {{"Content-Length", "12abc"}}, {{"Content-Length", "2"}, {"content-length", "3"}}}) {
      FakeBackend backend;
      backend.reply_after_write(0, concat({send_headers(200, headers), body_chunk("ok"), end_response(true)}));
      FakeClient fresh;
      CHECK(run(backend, fresh).outcome == Outcome::InvalidResponse);
      CHECK(fresh.status == 0);
    }
  }
  SECTION("HEAD keeps the length but sends no body") {
    FakeBackend backend;
    backend.reply_after_write(0, concat({send_headers(200, {{"Content-Length", "5"}}), end_response(true)}));
    CHECK(run(backend, client, {}, "HEAD", /*head=*/true).outcome == Outcome::Ok);
    CHECK(client.content_length == std::optional<std::uint64_t>(5));
  }
}

TEST_CASE("A response that opens a session is flagged, and refused before the client sees it when asked", "[forward]") {
  const Bytes reply = concat(
      {send_headers(200, {{"Set-Cookie", "JSESSIONID=NEW.t2; Path=/app"}}), body_chunk("hi"), end_response(true)});
  std::vector<std::uint8_t> packet(8192);
  forward::ExchangeOptions options;
  options.session_cookie = "JSESSIONID";

  SECTION("flagged, passed on") {
    FakeBackend backend;
    backend.reply_after_write(0, reply);
    FakeClient client;
    auto result = forward::exchange(simple_request(), {}, options, packet, backend, client);
    CHECK(result.outcome == Outcome::Ok);
    CHECK(result.opened_session);
    CHECK(client.received == "hi");
  }
  SECTION("refused: nothing reaches the client, the connection is not reused") {
    options.refuse_new_session = true;
    FakeBackend backend;
    backend.reply_after_write(0, reply);
    FakeClient client;
    auto result = forward::exchange(simple_request(), {}, options, packet, backend, client);
    CHECK(result.outcome == Outcome::NewSessionRefused);
    CHECK(result.opened_session);
    CHECK_FALSE(result.reuse_connection);
    CHECK_FALSE(result.response_started);
    CHECK(client.status == 0);
    CHECK(client.headers.empty());
    CHECK(client.received.empty());
  }
  SECTION("another cookie, or none asked for: not a session") {
    FakeBackend backend;
    backend.reply_after_write(0, concat({send_headers(200, {{"Set-Cookie", "theme=dark"}}), end_response(true)}));
    FakeClient client;
    options.refuse_new_session = true;
    auto result = forward::exchange(simple_request(), {}, options, packet, backend, client);
    CHECK(result.outcome == Outcome::Ok);
    CHECK_FALSE(result.opened_session);
  }
}

namespace {

forward::Result run_behind_cping(FakeBackend& backend, FakeClient& client, BodyPlan body,
                                 ajp::ForwardRequest request = simple_request("POST")) {
  std::vector<std::uint8_t> packet(8192);
  forward::ExchangeOptions options;
  options.cping_first = true;
  return forward::exchange(request, body, options, packet, backend, client);
}

const Bytes kCping{0x12, 0x34, 0x00, 0x01, 0x0A};

}  // namespace

TEST_CASE("cping_first: a CPING leads the request and its small body in one write; the CPONG comes first",
          "[forward]") {
  FakeBackend backend;
  backend.reply_after_write(0, concat({cpong(), send_headers(200, {}), body_chunk("done"), end_response(true)}));
  FakeClient client("abc");
  auto result = run_behind_cping(backend, client, {BodyPlan::Kind::Length, 3});
  CHECK(result.outcome == Outcome::Ok);
  CHECK(result.reuse_connection);
  CHECK(client.received == "done");
  REQUIRE(backend.writes.size() == 1);
  const auto packets = packets_of(backend.writes[0]);
  REQUIRE(packets.size() == 3);
  CHECK(packets[0] == kCping);
  CHECK(packets[1][4] == 0x02);  // FORWARD_REQUEST
  CHECK(body_of(packets[2]) == "abc");
}

TEST_CASE("cping_first: closed before the CPONG, the request never reached Tomcat", "[forward]") {
  FakeBackend backend;  // reads nothing, then the connection ends
  FakeClient client("abc");
  auto result = run_behind_cping(backend, client, {BodyPlan::Kind::Length, 3});
  CHECK(result.outcome == Outcome::BackendClosed);
  CHECK_FALSE(result.request_sent);
  CHECK(result.body_consumed);  // the first packet went out behind it: a retry must resend it

  SECTION("closed after the CPONG, it may have run") {
    FakeBackend answered;
    answered.reply_after_write(0, cpong());
    FakeClient again("abc");
    auto r = run_behind_cping(answered, again, {BodyPlan::Kind::Length, 3});
    CHECK(r.outcome == Outcome::BackendClosed);
    CHECK(r.request_sent);
  }
  SECTION("no answer at all is a timeout, never taken for 'not sent' by the caller's retry rules") {
    FakeBackend silent;
    silent.when_drained = forward::IoStatus::Timeout;
    FakeClient again("abc");
    auto r = run_behind_cping(silent, again, {BodyPlan::Kind::Length, 3});
    CHECK(r.outcome == Outcome::BackendTimeout);
  }
}

TEST_CASE("cping_first: anything but a CPONG first is a protocol error", "[forward]") {
  FakeBackend backend;
  backend.reply_after_write(0, concat({send_headers(200, {}), end_response(true)}));
  FakeClient client("abc");
  auto result = run_behind_cping(backend, client, {BodyPlan::Kind::Length, 3});
  CHECK(result.outcome == Outcome::ProtocolError);
  CHECK(client.status == 0);  // nothing reached the client

  SECTION("and a second CPONG is one too") {
    FakeBackend twice;
    twice.reply_after_write(0, concat({cpong(), cpong()}));
    FakeClient again("abc");
    CHECK(run_behind_cping(twice, again, {BodyPlan::Kind::Length, 3}).outcome == Outcome::ProtocolError);
  }
}

TEST_CASE("cping_first: a request head that leaves no room for the CPING goes out in a second write", "[forward]") {
  // The longest header that still lets the FORWARD_REQUEST fit the packet.
  auto request = simple_request("POST");
  std::vector<std::uint8_t> probe(8192);
  request.headers.push_back({"X-Fill", ""});
  std::string fill;
  std::size_t full = 0;
  for (std::size_t n = 8192; n > 0 && full == 0; --n) {
    fill.assign(n, 'f');
    request.headers.back().value = fill;
    if (auto size = ajp::encode_forward_request(request, probe)) full = *size;
  }
  REQUIRE(full > 8192 - kCping.size());
  FakeBackend backend;
  backend.reply_after_write(1, concat({cpong(), send_headers(204, {}), end_response(true)}));
  FakeClient client;
  auto result = run_behind_cping(backend, client, {}, request);
  CHECK(result.outcome == Outcome::Ok);
  REQUIRE(backend.writes.size() == 2);
  CHECK(backend.writes[0] == kCping);
  CHECK(backend.writes[1].size() == full);
  CHECK(backend.writes[1][4] == 0x02);
}

TEST_CASE("A 503 without a body on a connection Tomcat closes is a stopping Tomcat's answer", "[forward]") {
  FakeBackend backend;
  backend.reply_after_write(0, concat({send_headers(503, {}), end_response(false)}));
  FakeClient client;
  auto result = run(backend, client);
  CHECK(result.outcome == Outcome::Stopping);
  CHECK_FALSE(result.response_started);
  CHECK_FALSE(result.reuse_connection);
  CHECK(result.status == 503);

  SECTION("the application's own 503 is passed on: with a body, or on a connection kept open") {
    FakeBackend with_body;
    with_body.reply_after_write(0, concat({send_headers(503, {}), body_chunk("busy"), end_response(false)}));
    FakeClient c1;
    CHECK(run(with_body, c1).outcome == Outcome::Ok);
    CHECK(c1.received == "busy");
    FakeBackend kept;
    kept.reply_after_write(0, concat({send_headers(503, {}), end_response(true)}));
    FakeClient c2;
    CHECK(run(kept, c2).outcome == Outcome::Ok);
    CHECK(c2.status == 503);
  }
}
