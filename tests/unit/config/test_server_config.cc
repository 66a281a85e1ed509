// The server-scope model (server_config.h): sections, directives by scope, merging, and the
// checks over every scope. The messages are those httpd shows (the shim passes them on).
#include <catch2/catch.hpp>

#include <string>
#include <vector>

#include "idmb/server_config.h"

using idmb::config::ServerConfig;

namespace {

// <IdmBalancer NAME> with one member, closed.
void define(ServerConfig& conf, const std::string& name, const char* member = "t1") {
  REQUIRE(conf.open_section(name + ">").ok());
  REQUIRE(conf.apply("IdmMember", {member, "ajp://127.0.0.1:8009", "secret=s"}).ok());
  REQUIRE(conf.close_section().ok());
}

}  // namespace

TEST_CASE("server config: a section collects its directives and is validated on close", "[config][server]") {
  ServerConfig conf;
  CHECK(conf.open_balancer() == nullptr);
  REQUIRE(conf.open_section("app>").ok());
  REQUIRE(conf.open_balancer() != nullptr);
  REQUIRE(conf.apply("IdmMember", {"t1", "ajp://h:8009"}).ok());
  REQUIRE(conf.apply("idmmethod", {"busyness"}).ok());
  REQUIRE(conf.close_section().ok());
  CHECK(conf.open_balancer() == nullptr);
  REQUIRE(conf.balancers().size() == 1);
  CHECK(conf.balancers()[0].name == "app");
  CHECK(conf.balancers()[0].members.size() == 1);
  CHECK(conf.balancers()[0].method == idmb::config::Method::Busyness);

  REQUIRE(conf.open_section("empty>").ok());
  const auto closed = conf.close_section();
  REQUIRE_FALSE(closed.ok());
  CHECK(closed.error() == "IdmBalancer empty: no IdmMember defined");
  CHECK(conf.open_balancer() == nullptr);  // closed even so
}

TEST_CASE("server config: section errors", "[config][server]") {
  ServerConfig conf;
  CHECK(conf.open_section("app").error() == "<IdmBalancer> section is missing its closing '>'");
  CHECK(conf.open_section(">").error() == "<IdmBalancer> takes exactly one argument, the balancer name");
  CHECK(conf.open_section("a b>").error() == "<IdmBalancer> takes exactly one argument, the balancer name");
  define(conf, "app");
  // The duplicate is named as written.
  CHECK(conf.open_section("app >").error() == "<IdmBalancer app > is defined twice");
  CHECK(conf.open_section("\"app\">").error() == "<IdmBalancer \"app\"> is defined twice");
  REQUIRE(conf.open_section("other>").ok());
  CHECK(conf.open_section("third>").error() == "<IdmBalancer> sections cannot be nested");
  CHECK(conf.open_balancer()->name == "other");
}

TEST_CASE("server config: directives in the wrong place", "[config][server]") {
  ServerConfig conf;
  CHECK(conf.apply("IdmMember", {"t1", "ajp://h:1"}).error() ==
        "IdmMember must be inside an <IdmBalancer NAME> section");
  CHECK(conf.apply("idmsticky", {"off"}).error() == "IdmSticky must be inside an <IdmBalancer NAME> section");
  CHECK(conf.apply("IdmRetries", {"3"}).error() == "unknown directive 'IdmRetries'");
  CHECK_FALSE(conf.apply("<IdmBalancer", {"app"}).ok());  // sections open with open_section
}

TEST_CASE("server config: httpd's argument counts for TAKE1 and TAKE2", "[config][server]") {
  ServerConfig conf;
  CHECK(conf.apply("IdmMount", {"/a/*"}).error() ==
        "IdmMount takes two arguments, IdmMount PATTERN BALANCER: forward matching URLs");
  CHECK(conf.apply("IdmDrainQuietTime", {}).error() ==
        "IdmDrainQuietTime takes one argument, IdmDrainQuietTime DURATION: a disabled member with "
        "nothing in flight and no live session's request for this long is reported drained");
}

TEST_CASE("server config: mounts and the drain quiet time", "[config][server]") {
  ServerConfig conf;
  CHECK(conf.drain_quiet_ms() == idmb::config::kDefaultDrainQuietMs);
  REQUIRE(conf.apply("IdmDrainQuietTime", {"5s"}).ok());
  CHECK(conf.drain_quiet_ms() == 5000);
  CHECK(conf.apply("IdmDrainQuietTime", {"soon"}).error() ==
        "IdmDrainQuietTime: expected a duration such as 250ms, 5s or 2m (a bare number means seconds), got 'soon'");
  CHECK(conf.drain_quiet_ms() == 5000);

  REQUIRE(conf.apply("IdmMount", {"/app/*", "app"}).ok());
  REQUIRE(conf.apply("IdmUnmount", {"/app/static/*", "*"}).ok());
  CHECK(conf.apply("IdmMount", {"app", "app"}).error() == "IdmMount: the pattern must start with '/', got 'app'");
  REQUIRE(conf.mounts().mounts().size() == 1);
  CHECK(conf.mounts().unmounts().size() == 1);
  // Mount directives are not balancer directives: allowed while a section is open, too.
  REQUIRE(conf.open_section("app>").ok());
  CHECK(conf.apply("IdmMount", {"/b/*", "app"}).ok());
}

TEST_CASE("server config: a VirtualHost keeps its own and inherits the main server's mounts", "[config][server]") {
  ServerConfig main;
  define(main, "app");
  REQUIRE(main.apply("IdmMount", {"/app/*", "app"}).ok());
  REQUIRE(main.apply("IdmDrainQuietTime", {"7s"}).ok());
  ServerConfig vhost;
  define(vhost, "own");
  REQUIRE(vhost.apply("IdmMount", {"/own/*", "own"}).ok());

  const ServerConfig merged = ServerConfig::merge(main, vhost);
  REQUIRE(merged.balancers().size() == 1);
  CHECK(merged.balancers()[0].name == "own");
  REQUIRE(merged.mounts().mounts().size() == 2);
  CHECK(merged.mounts().mounts()[0].pattern == "/own/*");
  CHECK(merged.mounts().mounts()[1].pattern == "/app/*");
  CHECK_FALSE(merged.section_open());
}

TEST_CASE("check_servers: names are global, mounts name a defined balancer", "[config][server]") {
  ServerConfig main;
  define(main, "app");
  REQUIRE(main.apply("IdmMount", {"/app/*", "app"}).ok());
  ServerConfig vhost;
  REQUIRE(vhost.apply("IdmMount", {"/v/*", "app"}).ok());
  CHECK(idmb::config::check_servers({&main, &vhost}).ok());

  ServerConfig twice;
  define(twice, "app");
  CHECK(idmb::config::check_servers({&main, &twice}).error() == "<IdmBalancer app> is defined more than once");

  ServerConfig missing;
  REQUIRE(missing.apply("IdmUnmount", {"/x/*", "nope"}).ok());
  CHECK(idmb::config::check_servers({&main, &missing}).error() ==
        "IdmUnmount /x/* nope: no <IdmBalancer nope> is defined");
}

TEST_CASE("mount_patterns and advisories over every scope", "[config][server]") {
  ServerConfig main;
  define(main, "app");
  REQUIRE(main.open_section("bare>").ok());
  REQUIRE(main.apply("IdmMember", {"b1", "ajp://127.0.0.1:9"}).ok());
  REQUIRE(main.close_section().ok());
  REQUIRE(main.apply("IdmMount", {"/app/*", "app"}).ok());
  REQUIRE(main.apply("IdmMount", {"/bare/*", "bare"}).ok());
  ServerConfig vhost;
  REQUIRE(vhost.apply("IdmMount", {"/other/*", "app"}).ok());
  REQUIRE(vhost.apply("IdmMount", {"/app/*", "app"}).ok());

  CHECK(idmb::config::mount_patterns({&main, &vhost}, "app") == std::vector<std::string>{"/app/*", "/other/*"});
  CHECK(idmb::config::mount_patterns({&main, &vhost}, "none").empty());

  const auto warnings = idmb::config::advisories({&main, &vhost});
  REQUIRE(warnings.size() == 1);
  CHECK_THAT(warnings[0], Catch::StartsWith("<IdmBalancer bare> member b1 (127.0.0.1:9) has no AJP secret"));
}
