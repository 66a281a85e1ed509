// IdmMember NAME ajp://HOST:PORT [key=value ...]
#include <catch2/catch.hpp>

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "idmb/config.h"

using idmb::config::Activation;
using idmb::config::parse_member;

TEST_CASE("parse_member: name and URL only gives the defaults", "[config][member]") {
  const auto m = parse_member({"app1", "ajp://tomcat1:8009"});
  REQUIRE(m.ok());
  CHECK(m->name == "app1");
  CHECK(m->host == "tomcat1");
  CHECK(m->port == 8009);
  CHECK(m->route == "app1");
  CHECK(m->factor == 1);
  CHECK(m->activation == Activation::Active);
  CHECK(m->domain.empty());
  CHECK(m->redirect.empty());
  CHECK(m->secret.empty());
}

TEST_CASE("parse_member: every option", "[config][member]") {
  const auto m = parse_member({"app1", "ajp://10.0.0.5:8010", "route=node1", "factor=42", "status=standby",
                               "domain=dc1.rack2", "redirect=node2", "secret=s3cr3t!"});
  REQUIRE(m.ok());
  CHECK(m->host == "10.0.0.5");
  CHECK(m->port == 8010);
  CHECK(m->route == "node1");
  CHECK(m->factor == 42);
  CHECK(m->activation == Activation::Standby);
  CHECK(m->domain == "dc1.rack2");
  CHECK(m->redirect == "node2");
  CHECK(m->secret == "s3cr3t!");
}

TEST_CASE("parse_member: keys and status values are case-insensitive", "[config][member]") {
  const auto m = parse_member({"a", "ajp://h:1", "FACTOR=7", "Status=DISABLED", "Route=R1"});
  REQUIRE(m.ok());
  CHECK(m->factor == 7);
  CHECK(m->activation == Activation::Disabled);
  CHECK(m->route == "R1");  // values keep their case
}

TEST_CASE("parse_member: status values and their names", "[config][member]") {
  const auto [text, expected, canonical] = GENERATE(table<std::string, Activation, std::string>({
      {"active", Activation::Active, "active"},
      {"disabled", Activation::Disabled, "disabled"},
      {"Stopped", Activation::Stopped, "stopped"},
      {"STANDBY", Activation::Standby, "standby"},
  }));
  const std::string arg = "status=" + text;
  const auto m = parse_member({"a", "ajp://h:8009", arg});
  REQUIRE(m.ok());
  CHECK(m->activation == expected);
  CHECK(idmb::config::to_string(expected) == canonical);
}

TEST_CASE("parse_member: accepted URLs", "[config][member]") {
  const auto [url, host, port] = GENERATE(table<std::string, std::string, std::uint16_t>({
      {"ajp://tomcat1:8009", "tomcat1", 8009},
      {"ajp://tomcat1:8009/", "tomcat1", 8009},
      {"AJP://Tomcat1:1", "Tomcat1", 1},
      {"ajp://app_1.int.example.com:65535", "app_1.int.example.com", 65535},
      {"ajp://127.0.0.1:8009", "127.0.0.1", 8009},
      {"ajp://[::1]:8009", "[::1]", 8009},
      {"ajp://[2001:db8::10]:8009/", "[2001:db8::10]", 8009},
      {"ajp://[::ffff:10.0.0.1]:8009", "[::ffff:10.0.0.1]", 8009},
      {"ajp://h:08009", "h", 8009},
  }));
  const auto m = parse_member({"a", url});
  INFO(url);
  REQUIRE(m.ok());
  CHECK(m->host == host);
  CHECK(m->port == port);
}

TEST_CASE("parse_member: rejected URLs say why", "[config][member]") {
  const auto [url, reason] = GENERATE(table<std::string, std::string>({
      {"http://h:8009", "the URL must look like ajp://HOST:PORT, got 'http://h:8009'"},
      {"tomcat1:8009", "the URL must look like ajp://HOST:PORT"},
      {"ajp://", "the URL must look like ajp://HOST:PORT"},
      {"ajp://:8009", "the URL must look like ajp://HOST:PORT"},
      {"ajp://h", "the URL needs a port, as in ajp://HOST:8009, got 'ajp://h'"},
      {"ajp://h/", "is not a valid host name"},
      {"ajp://h:", "the port must be a number 1..65535, got ''"},
      {"ajp://h:0", "the port must be a number 1..65535, got '0'"},
      {"ajp://h:65536", "the port must be a number 1..65535, got '65536'"},
      {"ajp://h:99999999999999999999999", "the port must be a number 1..65535"},
      {"ajp://h:80a", "the port must be a number 1..65535, got '80a'"},
      {"ajp://h:+80", "the port must be a number 1..65535"},
      {"ajp://h:8009/app", "nothing may follow the port"},
      {"ajp://h:8009//", "nothing may follow the port"},
      {"ajp://h:8009?x", "the port must be a number 1..65535"},
      {"ajp://user@h:8009", "'user@h' is not a valid host name"},
      {"ajp://-h:8009", "'-h' is not a valid host name"},
      {"ajp://a..b:8009", "'a..b' is not a valid host name"},
      {"ajp://h.:8009", "'h.' is not a valid host name"},
      {"ajp://10.0.0.256:8009", "'10.0.0.256' is not a valid IPv4 address"},
      {"ajp://10.0.1:8009", "'10.0.1' is not a valid IPv4 address"},
      {"ajp://[::g]:8009", "'[::g]' is not a valid IPv6 address"},
      {"ajp://[]:8009", "'[]' is not a valid IPv6 address"},
      {"ajp://[::1:8009", "the URL must look like ajp://HOST:PORT"},
      {"ajp://[::1]8009", "the URL needs a port"},
      {"ajp://::1:8009", "the URL must look like ajp://HOST:PORT"},
  }));
  const auto m = parse_member({"app1", url});
  INFO(url);
  REQUIRE_FALSE(m.ok());
  CHECK_THAT(m.error(), Catch::StartsWith("IdmMember app1: "));
  CHECK_THAT(m.error(), Catch::Contains(reason));
}

TEST_CASE("parse_member: member names", "[config][member]") {
  CHECK(parse_member({"a", "ajp://h:1"}).ok());
  CHECK(parse_member({"Az09_-", "ajp://h:1"}).ok());
  CHECK(parse_member({std::string(63, 'n'), "ajp://h:1"}).ok());

  const std::string bad =
      GENERATE(as<std::string>{}, "", "a b", "app/1", "app:1", "a*", "\xc3\xa4pp", std::string(64, 'n'));
  const auto m = parse_member({bad, "ajp://h:1"});
  INFO(bad);
  REQUIRE_FALSE(m.ok());
  CHECK_THAT(m.error(), Catch::StartsWith("IdmMember: the name must be 1..63 characters"));
}

TEST_CASE("parse_member: routes as Tomcat's jvmRoute and mod_jk's route have them", "[config][member]") {
  // A name with '.' is its own route, as in mod_jk (Tomcat's jvmRoute may contain dots).
  const auto without = parse_member({"app.1", "ajp://h:1"});
  REQUIRE(without.ok());
  CHECK(without->route == "app.1");
  for (const std::string route : {"web1.example.org", "dc1.node-02", "01", "1node", "_n", "a-b_c.d", "A.B"}) {
    INFO(route);
    const auto m = parse_member({"n", "ajp://h:1", "route=" + route});
    REQUIRE(m.ok());
    CHECK(m->route == route);
  }

  const auto with = parse_member({"app.1", "ajp://h:1", "route=app1"});
  REQUIRE(with.ok());
  CHECK(with->name == "app.1");
  CHECK(with->route == "app1");
}

TEST_CASE("parse_member: rejected options say why", "[config][member]") {
  const auto [option, reason] = GENERATE(table<std::string, std::string>({
      {"factor=abc", "IdmMember app1: factor must be an integer 1..100000, got 'abc'"},
      {"factor=0", "IdmMember app1: factor must be an integer 1..100000, got '0'"},
      {"factor=100001", "IdmMember app1: factor must be an integer 1..100000, got '100001'"},
      {"factor=-1", "IdmMember app1: factor must be an integer 1..100000, got '-1'"},
      {"factor=", "IdmMember app1: factor must be an integer 1..100000, got ''"},
      {"factor= 5", "IdmMember app1: factor must be an integer 1..100000, got ' 5'"},
      {"distance=101", "IdmMember app1: distance must be an integer 0..100, got '101'"},
      {"distance=-1", "IdmMember app1: distance must be an integer 0..100, got '-1'"},
      {"distance=", "IdmMember app1: distance must be an integer 0..100, got ''"},
      {"route=", "IdmMember app1: route must be 1..63 characters of A-Z a-z 0-9 _ . -, got ''"},
      {"route=a/b", "IdmMember app1: route must be 1..63 characters of A-Z a-z 0-9 _ . -, got 'a/b'"},
      {"route=a;b", "IdmMember app1: route must be 1..63 characters of A-Z a-z 0-9 _ . -, got 'a;b'"},
      {"route=" + std::string(64, 'r'), "IdmMember app1: route must be 1..63 characters"},
      {"status=paused", "IdmMember app1: status must be active, disabled, stopped or standby, got 'paused'"},
      {"domain=", "IdmMember app1: domain must be 1..63 characters of A-Z a-z 0-9 _ . -, got ''"},
      {"domain=a b", "IdmMember app1: domain must be 1..63 characters"},
      {"redirect=n/2", "IdmMember app1: redirect must be the route of another member"},
      {"redirect=", "IdmMember app1: redirect must be the route of another member"},
      {"secret=", "IdmMember app1: secret must be 1..255 printable ASCII characters without spaces"},
      {"secret=a b", "IdmMember app1: secret must be 1..255 printable ASCII"},
      {"secret=caf\xc3\xa9", "IdmMember app1: secret must be 1..255 printable ASCII"},
      {"secret=" + std::string(256, 'x'), "IdmMember app1: secret must be 1..255 printable ASCII"},
      {"weight=3",
       "IdmMember app1: unknown option 'weight' (known: route, factor, distance, max, status, domain, "
       "redirect, secret)"},
      {"max=0", "IdmMember app1: max must be an integer 1..100000"},
      {"factor", "IdmMember app1: expected key=value, got 'factor'"},
      {"=5", "IdmMember app1: expected key=value, got '=5'"},
  }));
  const auto m = parse_member({"app1", "ajp://h:8009", option});
  INFO(option);
  REQUIRE_FALSE(m.ok());
  CHECK_THAT(m.error(), Catch::StartsWith(reason));
}

TEST_CASE("parse_member: limits that are accepted", "[config][member]") {
  const std::string long_secret = "secret=" + std::string(255, '~');
  const auto m = parse_member(
      {"app1", "ajp://h:8009", "factor=100000", long_secret, "route=" + std::string(63, 'r'), "distance=100"});
  REQUIRE(m.ok());
  CHECK(m->factor == 100000);
  CHECK(m->distance == 100);
  CHECK(parse_member({"app1", "ajp://h:8009"})->distance == 0);
  CHECK(m->secret.size() == 255);
  CHECK(m->route.size() == 63);
}

TEST_CASE("parse_member: an option given twice is an error", "[config][member]") {
  const auto m = parse_member({"app1", "ajp://h:8009", "route=a", "ROUTE=b"});
  REQUIRE_FALSE(m.ok());
  CHECK(m.error() == "IdmMember app1: ROUTE is given twice");
}

TEST_CASE("parse_member: a rejected secret is not echoed", "[config][member]") {
  const auto m = parse_member({"app1", "ajp://h:8009", "secret=hunter2 oops"});
  REQUIRE_FALSE(m.ok());
  CHECK_THAT(m.error(), !Catch::Contains("hunter2"));
}

TEST_CASE("parse_member: missing arguments", "[config][member]") {
  CHECK_FALSE(parse_member({}).ok());
  const auto m = parse_member({"app1"});
  REQUIRE_FALSE(m.ok());
  CHECK(m.error() == "IdmMember needs a NAME and an ajp://HOST:PORT URL");
}

TEST_CASE("name, route and secret predicates", "[config][member]") {
  CHECK(idmb::config::is_valid_name("a.b-c_D9"));
  CHECK_FALSE(idmb::config::is_valid_name(""));
  CHECK_FALSE(idmb::config::is_valid_name("*"));
  CHECK(idmb::config::is_valid_route("node-1_A"));
  CHECK(idmb::config::is_valid_route("node.1"));  // Tomcat's jvmRoute may have dots
  CHECK(idmb::config::is_valid_route("01"));
  CHECK_FALSE(idmb::config::is_valid_route("a/b"));
  CHECK_FALSE(idmb::config::is_valid_route(""));
  CHECK(idmb::config::is_valid_secret("!~"));
  CHECK_FALSE(idmb::config::is_valid_secret(std::string_view("a\0b", 3)));
  CHECK_FALSE(idmb::config::is_valid_secret("a\x7f"));
}

TEST_CASE("an IPv6 host with a NUL inside is refused, not cut short", "[config]") {
  // Found by fuzz_config: inet_pton stopped at the NUL and checked only "::".
  using namespace std::string_literals;
  CHECK_FALSE(idmb::config::parse_member({"a", "ajp://[::\0]:7"s}).ok());
  CHECK(idmb::config::parse_member({"a", "ajp://[::1]:7"}).ok());
}
