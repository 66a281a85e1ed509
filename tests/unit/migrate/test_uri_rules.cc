// uriworkermap rules and JkMount arguments (jk_uri_rules.h).
#include <catch2/catch.hpp>

#include "idmb/jk_uri_rules.h"

using namespace idmb::migrate;

TEST_CASE("uri rules: plain, exclusion, disabled and disabled exclusion") {
  auto plain = parse_uri_rule("/app/*", "lb");
  REQUIRE(plain.ok());
  CHECK(plain->patterns == std::vector<std::string>{"/app/*"});
  CHECK(plain->worker == "lb");
  CHECK_FALSE(plain->exclusion);
  CHECK_FALSE(plain->disabled);

  auto excl = parse_uri_rule("!/app/*.png", "lb");
  CHECK(excl->exclusion);
  CHECK(excl->patterns == std::vector<std::string>{"/app/*.png"});

  auto off = parse_uri_rule("-/old/*", "lb");
  CHECK(off->disabled);
  CHECK_FALSE(off->exclusion);

  auto off_excl = parse_uri_rule("-!/app/x", "*");
  CHECK(off_excl->disabled);
  CHECK(off_excl->exclusion);
  CHECK(off_excl->worker == "*");
}

TEST_CASE("uri rules: X|Y stands for X and XY") {
  auto r = parse_uri_rule("/app|/*", "lb");
  REQUIRE(r.ok());
  CHECK(r->patterns == std::vector<std::string>{"/app", "/app/*"});
}

TEST_CASE("uri rules: extensions after the worker") {
  auto r = parse_uri_rule("/app/*", "lb;reply_timeout=5000;disabled=t2,t3");
  REQUIRE(r.ok());
  CHECK(r->worker == "lb");
  REQUIRE(r->extensions.size() == 2);
  CHECK(r->extensions[0] == std::pair<std::string, std::string>{"reply_timeout", "5000"});
  CHECK(r->extensions[1] == std::pair<std::string, std::string>{"disabled", "t2,t3"});
  CHECK_FALSE(parse_uri_rule("/app/*", "lb;junk").ok());
}

TEST_CASE("uri rules: a pattern starts with '/', a worker is named") {
  CHECK_FALSE(parse_uri_rule("app/*", "lb").ok());
  CHECK_FALSE(parse_uri_rule("/app/*", "").ok());
  CHECK_FALSE(parse_uri_rule("!", "lb").ok());
}

TEST_CASE("JkMount arguments: with a pattern, and without one (inside <Location>)") {
  auto two = parse_mount_args("/self/*", "selfservice", false);
  CHECK(two->patterns == std::vector<std::string>{"/self/*"});
  auto one = parse_mount_args("", "lb", false);
  REQUIRE(one.ok());
  CHECK(one->patterns.empty());
  auto un = parse_mount_args("/app/static/*", "*", true);
  CHECK(un->exclusion);
}
