// workers.properties syntax as mod_jk reads it (jk_properties.h).
#include <catch2/catch.hpp>

#include <string>

#include "idmb/jk_properties.h"

using idmb::migrate::Properties;

namespace {

Properties read(const std::string& text) {
  Properties p;
  const auto env = [](std::string_view name) -> std::optional<std::string> {
    if (name == "TOMCAT_HOST") return std::string("10.0.0.5");
    return std::nullopt;
  };
  auto st = p.add_text(text, "workers.properties", env);
  REQUIRE(st.ok());
  return p;
}

}  // namespace

TEST_CASE("properties: comments anywhere on a line, blank lines, spaces around key and value") {
  const Properties p = read(
      "# a comment\n"
      "\n"
      "   worker.t1.host =  127.0.0.1   # the first Tomcat\n"
      "\tworker.t1.port=8009\r\n"
      "worker.t1.route=#nothing\n");
  REQUIRE(p.find("worker.t1.host") != nullptr);
  CHECK(p.find("worker.t1.host")->value == "127.0.0.1");
  CHECK(p.find("worker.t1.host")->origin.line == 3);
  CHECK(p.find("worker.t1.port")->value == "8009");
  CHECK(p.find("worker.t1.route")->value.empty());
  CHECK(p.all().size() == 3);
}

TEST_CASE("properties: a repeated key replaces, list keys add up") {
  const Properties p = read(
      "worker.list=lb\n"
      "worker.list=jkstatus\n"
      "worker.lb.balance_workers=t1, t2\n"
      "worker.lb.balance_workers=t3\n"
      "worker.t1.port=8009\n"
      "worker.t1.port=8010\n");
  CHECK(p.find("worker.list")->value == "lb,jkstatus");
  CHECK(idmb::migrate::split_list(p.find("worker.lb.balance_workers")->value) ==
        std::vector<std::string>{"t1", "t2", "t3"});
  CHECK(p.find("worker.t1.port")->value == "8010");
  CHECK(p.find("worker.t1.port")->origin.line == 6);
}

TEST_CASE("properties: list separators are commas, spaces and tabs") {
  CHECK(idmb::migrate::split_list("a,b c\td,, e") == std::vector<std::string>{"a", "b", "c", "d", "e"});
  CHECK(idmb::migrate::split_list("").empty());
}

TEST_CASE("properties: $(name) from an earlier property, else the environment, else left as written") {
  const Properties p = read(
      "base.port=8009\n"
      "worker.t1.port=$(base.port)\n"
      "worker.t1.host=$(TOMCAT_HOST)\n"
      "worker.t1.domain=$(UNSET_NAME)x\n");
  CHECK(p.find("worker.t1.port")->value == "8009");
  CHECK(p.find("worker.t1.host")->value == "10.0.0.5");
  CHECK(p.find("worker.t1.domain")->value == "$(UNSET_NAME)x");
}

TEST_CASE("properties: a line without '=' is an error naming FILE:LINE") {
  Properties p;
  auto st = p.add_text("worker.list=lb\nworker.t1.host 127.0.0.1\n", "w.properties", {});
  REQUIRE_FALSE(st.ok());
  CHECK(st.error().rfind("w.properties:2: error:", 0) == 0);
}

TEST_CASE("properties: a trailing backslash continues nothing (mod_jk has no continuation lines)") {
  const Properties p = read("worker.list=lb,\\\nworker.t1.port=8009\n");
  CHECK(p.find("worker.list")->value == "lb,\\");
  CHECK(p.find("worker.t1.port")->value == "8009");
}

TEST_CASE("properties: booleans in every spelling mod_jk reads") {
  using idmb::migrate::parse_bool;
  for (const char* t : {"1", "true", "True", "on", "ON", "t", "yes", "y", "Y"}) CHECK(parse_bool(t) == true);
  for (const char* f : {"0", "false", "FALSE", "off", "Off", "f", "no", "n", "N"}) CHECK(parse_bool(f) == false);
  CHECK_FALSE(parse_bool("maybe").has_value());
  CHECK_FALSE(parse_bool("").has_value());
}
