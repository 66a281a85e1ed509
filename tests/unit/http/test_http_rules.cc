// Framing and hop-by-hop header rules.
#include <catch2/catch.hpp>

#include <cstdint>
#include <optional>
#include <string>

#include "idmb/http_rules.h"

using namespace idmb::http;

TEST_CASE("parse_content_length: accepted", "[http]") {
  const auto [text, value] = GENERATE(table<std::string, std::uint64_t>({
      {"0", 0},
      {"1", 1},
      {"0100000", 100000},
      {"000", 0},
      {"18446744073709551615", UINT64_MAX},
  }));
  INFO(text);
  const auto n = parse_content_length(text);
  REQUIRE(n.has_value());
  CHECK(*n == value);
}

TEST_CASE("parse_content_length: rejected", "[http]") {
  const std::string text = GENERATE(as<std::string>{}, "", "-1", "+1", " 1", "1 ", "\t1", "123abc", "1,1", "1, 1",
                                    "0x10", "1.0", "1e3", "18446744073709551616", "99999999999999999999999");
  INFO(text);
  CHECK(parse_content_length(text) == std::nullopt);
}

TEST_CASE("is_hop_by_hop", "[http]") {
  const auto [name, hop] = GENERATE(table<std::string, bool>({
      {"Connection", true},
      {"connection", true},
      {"Keep-Alive", true},
      {"KEEP-ALIVE", true},
      {"Proxy-Connection", true},
      {"TE", true},
      {"te", true},
      {"Trailer", true},
      {"Transfer-Encoding", true},
      {"Upgrade", true},
      {"Proxy-Authorization", false},
      {"Content-Length", false},
      {"Host", false},
      {"", false},
      {"Connections", false},
      {"X-Connection", false},
      {"TE2", false},
      {"Trailers", false},
  }));
  INFO(name);
  CHECK(is_hop_by_hop(name) == hop);
}

TEST_CASE("listed_in_connection", "[http]") {
  const auto [value, name, listed] = GENERATE(table<std::string, std::string, bool>({
      {"close, X-Foo", "x-foo", true},
      {"close,X-Foo", "X-FOO", true},
      {"X-Foo", "x-foo", true},
      {" \tx-foo \t", "x-foo", true},
      {"a,,b", "b", true},
      {"keep-alive, Upgrade", "upgrade", true},
      {"close", "x-foo", false},
      {"", "x-foo", false},
      {"x-foo-bar", "x-foo", false},
      {"x-fo", "x-foo", false},
      {"x foo", "x-foo", false},
      {"a,,b", "", false},
      {",", "", false},
  }));
  INFO('"' << value << "\" / " << name);
  CHECK(listed_in_connection(value, name) == listed);
}

TEST_CASE("drop_from_response", "[http]") {
  const auto [name, dropped] = GENERATE(table<std::string, bool>({
      {"Content-Length", true},
      {"content-length", true},
      {"Transfer-Encoding", true},
      {"transfer-encoding", true},
      {"Connection", true},
      {"Keep-Alive", true},
      {"Upgrade", true},
      {"Trailer", true},
      {"Content-Type", false},
      {"Content-Encoding", false},
      {"Set-Cookie", false},
      {"Location", false},
      {"Content-Length2", false},
  }));
  INFO(name);
  CHECK(drop_from_response(name) == dropped);
}

TEST_CASE("status_has_no_body", "[http]") {
  static_assert(status_has_no_body(204));
  static_assert(!status_has_no_body(200));
  for (int status : {100, 101, 103, 199, 204, 304}) {
    INFO(status);
    CHECK(status_has_no_body(status));
  }
  for (int status : {200, 201, 206, 301, 302, 400, 404, 500, 503}) {
    INFO(status);
    CHECK_FALSE(status_has_no_body(status));
  }
}

TEST_CASE("connection_lists_fields: only options are nothing to remember", "[http]") {
  CHECK_FALSE(connection_lists_fields(""));
  CHECK_FALSE(connection_lists_fields("keep-alive"));
  CHECK_FALSE(connection_lists_fields("Keep-Alive, close"));
  CHECK_FALSE(connection_lists_fields(" , close ,"));
  CHECK(connection_lists_fields("keep-alive, Cookie"));
  CHECK(connection_lists_fields("host"));
  CHECK(connection_lists_fields("X-Forwarded-User"));
}

TEST_CASE("drop_listed_field: the client may drop its own fields, never Host nor a module's", "[http]") {
  CHECK(drop_listed_field("close, X-Debug", "x-debug", true));
  CHECK(drop_listed_field("Cookie", "Cookie", true));         // the client's own cookie, its choice
  CHECK_FALSE(drop_listed_field("Cookie", "Cookie", false));  // set or changed by a module
  CHECK_FALSE(drop_listed_field("X-Remote-User", "X-Remote-User", false));
  CHECK_FALSE(drop_listed_field("Host", "host", true));
  CHECK_FALSE(drop_listed_field("close, keep-alive", "X-Debug", true));  // not listed
}
