// Balancer directives inside <IdmBalancer> and the checks when the section closes.
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "idmb/config.h"

using idmb::config::apply_balancer_directive;
using idmb::config::BalancerConfig;
using idmb::config::MemberConfig;
using idmb::config::Method;
using idmb::config::validate;
using Args = std::vector<std::string_view>;

namespace {

MemberConfig member(std::string name, std::string route = "") {
  MemberConfig m;
  m.name = name;
  m.host = "localhost";
  m.port = 8009;
  m.route = route.empty() ? name : route;
  return m;
}

BalancerConfig balancer_with(std::vector<MemberConfig> members) {
  BalancerConfig b;
  b.name = "app";
  b.members = std::move(members);
  return b;
}

}  // namespace

TEST_CASE("IdmSticky forms", "[config][balancer]") {
  struct Case {
    Args args;
    bool enabled;
    std::string cookie;
    std::string path_param;
    bool force;
  };
  const Case c = GENERATE(values<Case>({
      {{"off"}, false, "JSESSIONID", "jsessionid", false},
      {{"OFF"}, false, "JSESSIONID", "jsessionid", false},
      {{"on"}, true, "JSESSIONID", "jsessionid", false},
      {{"MYSESS"}, true, "MYSESS", "jsessionid", false},
      {{"MYSESS", "mysess"}, true, "MYSESS", "mysess", false},
      {{"MYSESS", ";mysess"}, true, "MYSESS", "mysess", false},
      {{"MYSESS", "force"}, true, "MYSESS", "jsessionid", true},
      {{"MYSESS", "mysess", "force"}, true, "MYSESS", "mysess", true},
      {{"MYSESS", "FORCE", "mysess"}, true, "MYSESS", "mysess", true},
  }));
  BalancerConfig b;
  b.sticky.force = true;  // every form replaces the whole setting
  b.sticky.cookie = "OLD";
  const auto s = apply_balancer_directive(b, "IdmSticky", c.args);
  REQUIRE(s.ok());
  CHECK(b.sticky.enabled == c.enabled);
  CHECK(b.sticky.cookie == c.cookie);
  CHECK(b.sticky.path_param == c.path_param);
  CHECK(b.sticky.force == c.force);
}

TEST_CASE("IdmSticky errors", "[config][balancer]") {
  const auto [args, reason] = GENERATE(table<Args, std::string>({
      {Args{}, "IdmSticky takes off, or COOKIE [PATH_PARAM] [force], got 0 arguments"},
      {Args{"a", "b", "force", "d"}, "IdmSticky takes off, or COOKIE [PATH_PARAM] [force], got 4"},
      {Args{"off", "force"}, "IdmSticky off takes no further arguments"},
      {Args{"C", "p", "q"}, "IdmSticky: expected COOKIE [PATH_PARAM] [force], got two path parameters"},
      {Args{"C", "force", "force"}, "IdmSticky: force is given twice"},
      {Args{"bad;cookie"}, "IdmSticky: 'bad;cookie' is not a valid cookie name"},
      {Args{"C", "p=x"}, "IdmSticky: 'p=x' is not a valid path parameter name"},
      {Args{"C", ";"}, "IdmSticky: ';' is not a valid path parameter name"},
  }));
  BalancerConfig b;
  const auto s = apply_balancer_directive(b, "IdmSticky", args);
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.error(), Catch::StartsWith(reason));
  CHECK(b.sticky.enabled);  // unchanged on error
  CHECK(b.sticky.cookie == "JSESSIONID");
}

TEST_CASE("IdmMethod", "[config][balancer]") {
  const auto [text, method, canonical] = GENERATE(table<std::string, Method, std::string>({
      {"requests", Method::Requests, "requests"},
      {"Traffic", Method::Traffic, "traffic"},
      {"BUSYNESS", Method::Busyness, "busyness"},
      {"p2c", Method::P2C, "p2c"},
  }));
  BalancerConfig b;
  b.method = Method::Busyness == method ? Method::Requests : Method::Busyness;
  REQUIRE(apply_balancer_directive(b, "IdmMethod", {text}).ok());
  CHECK(b.method == method);
  CHECK(idmb::config::to_string(method) == canonical);
}

TEST_CASE("IdmMethod errors", "[config][balancer]") {
  BalancerConfig b;
  const auto bad = apply_balancer_directive(b, "IdmMethod", {"session"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error() == "IdmMethod: expected requests, traffic, busyness or p2c, got 'session'");
  CHECK_FALSE(apply_balancer_directive(b, "IdmMethod", {}).ok());
  CHECK_FALSE(apply_balancer_directive(b, "IdmMethod", {"p2c", "requests"}).ok());
}

TEST_CASE("duration directives set their field", "[config][balancer]") {
  using Field = std::uint32_t BalancerConfig::*;
  const auto [directive, field] = GENERATE(table<std::string, Field>({
      {"IdmConnectTimeout", &BalancerConfig::connect_timeout_ms},
      {"IdmPingTimeout", &BalancerConfig::ping_timeout_ms},
      {"IdmReplyTimeout", &BalancerConfig::reply_timeout_ms},
      {"IdmPingAfterIdle", &BalancerConfig::ping_after_idle_ms},
      {"IdmPoolIdleTimeout", &BalancerConfig::pool_idle_timeout_ms},
  }));
  INFO(directive);
  BalancerConfig b;
  REQUIRE(apply_balancer_directive(b, directive, {"1500ms"}).ok());
  CHECK(b.*field == 1500);

  const auto bad = apply_balancer_directive(b, directive, {"soon"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error() == directive +
                           ": expected a duration such as 250ms, 5s or 2m (a bare "
                           "number means seconds), got 'soon'");
  CHECK(b.*field == 1500);  // unchanged on error

  const auto none = apply_balancer_directive(b, directive, {});
  REQUIRE_FALSE(none.ok());
  CHECK(none.error() == directive + " takes one duration (e.g. 5s), got 0 arguments");
  CHECK_FALSE(apply_balancer_directive(b, directive, {"1s", "2s"}).ok());
}

TEST_CASE("only IdmPingAfterIdle accepts 0", "[config][balancer]") {
  BalancerConfig b;
  REQUIRE(apply_balancer_directive(b, "IdmPingAfterIdle", {"0"}).ok());
  CHECK(b.ping_after_idle_ms == 0);
  for (const char* other : {"IdmConnectTimeout", "IdmPingTimeout", "IdmReplyTimeout", "IdmPoolIdleTimeout"}) {
    INFO(other);
    const auto s = apply_balancer_directive(b, other, {"0"});
    REQUIRE_FALSE(s.ok());
    CHECK_THAT(s.error(), Catch::Contains("greater than 0"));
  }
}

TEST_CASE("numeric directives and their ranges", "[config][balancer]") {
  using Field = std::uint32_t BalancerConfig::*;
  const auto [directive, field, value, ok] = GENERATE(table<std::string, Field, std::string, bool>({
      {"IdmPoolSize", &BalancerConfig::pool_max, "1", true},
      {"IdmPoolSize", &BalancerConfig::pool_max, "4096", true},
      {"IdmPoolSize", &BalancerConfig::pool_max, "0", false},
      {"IdmPoolSize", &BalancerConfig::pool_max, "4097", false},
      {"IdmPoolSize", &BalancerConfig::pool_max, "many", false},
      {"IdmPacketSize", &BalancerConfig::packet_size, "8192", true},
      {"IdmPacketSize", &BalancerConfig::packet_size, "65536", true},
      {"IdmPacketSize", &BalancerConfig::packet_size, "10000", true},
      {"IdmPacketSize", &BalancerConfig::packet_size, "8191", false},
      {"IdmPacketSize", &BalancerConfig::packet_size, "65537", false},
      {"IdmPacketSize", &BalancerConfig::packet_size, "8k", false},
  }));
  INFO(directive << " " << value);
  BalancerConfig b;
  const std::uint32_t before = b.*field;
  const auto s = apply_balancer_directive(b, directive, {value});
  CHECK(s.ok() == ok);
  if (ok) {
    CHECK(b.*field == std::stoul(value));
  } else {
    CHECK(b.*field == before);
    CHECK_THAT(s.error(), Catch::StartsWith(directive + ": expected a number "));
    CHECK_THAT(s.error(), Catch::EndsWith("got '" + value + "'"));
  }
}

TEST_CASE("IdmSecret", "[config][balancer]") {
  BalancerConfig b;
  REQUIRE(apply_balancer_directive(b, "IdmSecret", {"t0p$ecret"}).ok());
  CHECK(b.secret == "t0p$ecret");
  const auto bad = apply_balancer_directive(b, "IdmSecret", {"two words"});
  REQUIRE_FALSE(bad.ok());
  CHECK_THAT(bad.error(), Catch::StartsWith("IdmSecret: the secret must be"));
  CHECK_THAT(bad.error(), !Catch::Contains("two words"));
  CHECK_FALSE(apply_balancer_directive(b, "IdmSecret", {}).ok());
  CHECK(b.secret == "t0p$ecret");
}

TEST_CASE("directive names are case-insensitive; unknown ones fail", "[config][balancer]") {
  BalancerConfig b;
  REQUIRE(apply_balancer_directive(b, "idmconnecttimeout", {"3"}).ok());
  CHECK(b.connect_timeout_ms == 3000);
  REQUIRE(apply_balancer_directive(b, "IDMMETHOD", {"traffic"}).ok());
  CHECK(b.method == Method::Traffic);

  const auto s = apply_balancer_directive(b, "IdmRetries", {"3"});
  REQUIRE_FALSE(s.ok());
  CHECK(s.error() == "unknown balancer directive 'IdmRetries'");
}

TEST_CASE("validate: a well-formed balancer passes", "[config][balancer]") {
  auto b = balancer_with({member("a", "r1"), member("b", "r2"), member("c", "r3")});
  b.members[2].redirect = "r1";
  const auto s = validate(b);
  CHECK(s.ok());
}

TEST_CASE("validate: errors name the balancer and the problem", "[config][balancer]") {
  SECTION("no members") {
    const auto s = validate(balancer_with({}));
    REQUIRE_FALSE(s.ok());
    CHECK(s.error() == "IdmBalancer app: no IdmMember defined");
  }
  SECTION("duplicate member name") {
    const auto s = validate(balancer_with({member("a", "r1"), member("a", "r2")}));
    REQUIRE_FALSE(s.ok());
    CHECK(s.error() == "IdmBalancer app: member name 'a' is used twice");
  }
  SECTION("duplicate route") {
    const auto s = validate(balancer_with({member("a", "x"), member("b", "y"), member("c", "x")}));
    REQUIRE_FALSE(s.ok());
    CHECK(s.error() == "IdmBalancer app: duplicate route 'x' (members a and c)");
  }
  SECTION("redirect to a route nobody has") {
    auto b = balancer_with({member("a"), member("b")});
    b.members[0].redirect = "z";
    const auto s = validate(b);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error() == "IdmBalancer app: member a redirects to route 'z', which no member of this balancer has");
  }
  SECTION("redirect to a member name that is not a route") {
    auto b = balancer_with({member("a", "r1"), member("b", "r2")});
    b.members[0].redirect = "b";
    CHECK_FALSE(validate(b).ok());
  }
  SECTION("redirect to itself") {
    auto b = balancer_with({member("a"), member("b")});
    b.members[1].redirect = "b";
    const auto s = validate(b);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error() == "IdmBalancer app: member b redirects to its own route 'b'");
  }
  SECTION("packet size out of range") {
    auto b = balancer_with({member("a")});
    b.packet_size = 4096;
    const auto s = validate(b);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error() == "IdmBalancer app: IdmPacketSize must be 8192..65536, got 4096");
    b.packet_size = 65537;
    CHECK_FALSE(validate(b).ok());
  }
  SECTION("factor out of range (a model built without parse_member)") {
    auto b = balancer_with({member("a")});
    b.members[0].factor = 0;
    const auto s = validate(b);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error() == "IdmBalancer app: member a: factor must be 1..100000, got 0");
  }
  SECTION("route with a '.' (Tomcat's jvmRoute may have one)") {
    CHECK(validate(balancer_with({member("a", "x.y")})).ok());
  }
  SECTION("route outside the alphabet (a model built without parse_member)") {
    auto b = balancer_with({member("a", "x/y")});
    const auto s = validate(b);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error() == "IdmBalancer app: member a has an invalid route 'x/y'");
  }
  SECTION("invalid balancer name") {
    auto b = balancer_with({member("a")});
    b.name = "my app";
    const auto s = validate(b);
    REQUIRE_FALSE(s.ok());
    CHECK_THAT(s.error(), Catch::StartsWith("IdmBalancer: the name must be 1..63 characters"));
  }
}

TEST_CASE("Health settings: IdmHealthCheck, IdmSlowStart, IdmPanicThreshold", "[config]") {
  idmb::config::BalancerConfig b;
  using Args = std::vector<std::string_view>;
  REQUIRE(idmb::config::apply_balancer_directive(b, "IdmHealthCheck", Args{"interval=2s", "rise=3", "fall=1"}));
  CHECK(b.health.probe_interval_ms == 2000);
  CHECK(b.health.rise == 3);
  CHECK(b.health.fall == 1);
  REQUIRE(idmb::config::apply_balancer_directive(b, "IdmHealthCheck", Args{"healthy_interval=off"}));
  CHECK_FALSE(b.health.probe_healthy);
  REQUIRE(idmb::config::apply_balancer_directive(b, "IdmSlowStart", Args{"0"}));
  CHECK(b.health.slow_start_ms == 0);
  REQUIRE(idmb::config::apply_balancer_directive(b, "IdmPanicThreshold", Args{"0"}));
  CHECK(b.health.panic_percent == 0);
  auto bad_key = idmb::config::apply_balancer_directive(b, "IdmHealthCheck", Args{"every=2s"});
  REQUIRE_FALSE(bad_key);
  CHECK_THAT(bad_key.error(), Catch::Contains("IdmHealthCheck") && Catch::Contains("every"));
  CHECK_FALSE(idmb::config::apply_balancer_directive(b, "IdmHealthCheck", Args{"rise=0"}));
  CHECK_FALSE(idmb::config::apply_balancer_directive(b, "IdmHealthCheck", Args{"interval=soon"}));
  CHECK_FALSE(idmb::config::apply_balancer_directive(b, "IdmPanicThreshold", Args{"101"}));
  CHECK(b.health.rise == 3);  // a refused line changes nothing
  REQUIRE(idmb::config::apply_balancer_directive(b, "IdmHealthCheck", Args{"uri=/app/health"}));
  CHECK(b.health.probe_uri == "/app/health");
  CHECK_FALSE(idmb::config::apply_balancer_directive(b, "IdmHealthCheck", Args{"uri=health"}));
  CHECK_FALSE(idmb::config::apply_balancer_directive(b, "IdmHealthCheck", Args{"uri=/x?y=1"}));
}

TEST_CASE("advisories: a member without any secret is named once", "[config]") {
  idmb::config::BalancerConfig b;
  b.name = "app";
  auto m1 = idmb::config::parse_member({"node1", "ajp://10.0.0.1:8009"});
  auto m2 = idmb::config::parse_member({"node2", "ajp://10.0.0.2:8009", "secret=s3cret"});
  REQUIRE(m1.ok());
  REQUIRE(m2.ok());
  b.members = {*m1, *m2};
  auto warnings = idmb::config::advisories(b);
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::Contains("member node1 (10.0.0.1:8009) has no AJP secret"));
  CHECK_THAT(warnings[0], Catch::Contains("CVE-2020-1938"));
  b.secret = "balancer-wide";
  CHECK(idmb::config::advisories(b).empty());
}

TEST_CASE("IdmRequestBodyBuffer: a size up to 64m, 0 by default", "[config]") {
  idmb::config::BalancerConfig b;
  using Args = std::vector<std::string_view>;
  CHECK(b.request_body_buffer == 0);
  REQUIRE(idmb::config::apply_balancer_directive(b, "IdmRequestBodyBuffer", Args{"64k"}));
  CHECK(b.request_body_buffer == 65536);
  REQUIRE(idmb::config::apply_balancer_directive(b, "IdmRequestBodyBuffer", Args{"64m"}));
  CHECK(b.request_body_buffer == 64u * 1024 * 1024);
  auto too_big = idmb::config::apply_balancer_directive(b, "IdmRequestBodyBuffer", Args{"65m"});
  REQUIRE_FALSE(too_big);
  CHECK_THAT(too_big.error(), Catch::StartsWith("IdmRequestBodyBuffer: size too large"));
  CHECK_FALSE(idmb::config::apply_balancer_directive(b, "IdmRequestBodyBuffer", Args{}));
  CHECK_FALSE(idmb::config::apply_balancer_directive(b, "IdmRequestBodyBuffer", Args{"lots"}));
  CHECK(b.request_body_buffer == 64u * 1024 * 1024);  // a refused line changes nothing
}

TEST_CASE("IdmFailOnStatus: codes, -codes and what is refused", "[config][balancer]") {
  idmb::config::BalancerConfig b;
  REQUIRE(idmb::config::apply_balancer_directive(b, "IdmFailOnStatus", {"503", "-404", "500"}).ok());
  CHECK(b.fail_on_status == std::vector<int>{503, -404, 500});
  const auto error = [&](std::vector<std::string_view> args) {
    const auto s = idmb::config::apply_balancer_directive(b, "IdmFailOnStatus", args);
    return s.ok() ? std::string() : s.error();
  };
  CHECK(error({"99"}) == "IdmFailOnStatus: expected a status code 100..599 or -100..-599, got '99'");
  CHECK(error({"600"}) == "IdmFailOnStatus: expected a status code 100..599 or -100..-599, got '600'");
  CHECK(error({"-"}) == "IdmFailOnStatus: expected a status code 100..599 or -100..-599, got '-'");
  CHECK(error({"5xx"}) == "IdmFailOnStatus: expected a status code 100..599 or -100..-599, got '5xx'");
  CHECK(error({"503", "-503"}) == "IdmFailOnStatus: status 503 is given twice");
  CHECK_THAT(error({}), Catch::StartsWith("IdmFailOnStatus takes one or more status codes"));
  CHECK(b.fail_on_status == std::vector<int>{503, -404, 500});  // a refused line changes nothing
}
