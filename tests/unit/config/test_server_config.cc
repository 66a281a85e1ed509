// The server-scope model (server_config.h): sections, directives by scope, merging, and the
// checks over every scope. The messages are those httpd shows (the shim passes them on).
#include <catch2/catch.hpp>

#include <optional>
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
        "IdmMount takes two arguments, IdmMount PATTERN BALANCER: forward matching URLs; inside <Location> or "
        "<LocationMatch>: IdmMount BALANCER");
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

TEST_CASE("server config: IdmMountCopy decides what a VirtualHost inherits", "[config][server]") {
  ServerConfig main;
  define(main, "app");
  REQUIRE(main.apply("IdmMount", {"/app/*", "app"}).ok());
  ServerConfig vhost;
  REQUIRE(vhost.apply("IdmMount", {"/own/*", "app"}).ok());
  const auto inherited = [&] { return ServerConfig::merge(main, vhost).mounts().mounts().size() == 2; };

  CHECK(inherited());  // default On: what a vhost always did
  REQUIRE(main.apply("IdmMountCopy", {"Off"}).ok());
  CHECK_FALSE(inherited());  // the main server's default for every vhost
  REQUIRE(vhost.apply("IdmMountCopy", {"on"}).ok());
  CHECK(inherited());  // the vhost's own word wins
  REQUIRE(main.apply("IdmMountCopy", {"All"}).ok());
  REQUIRE(vhost.apply("IdmMountCopy", {"Off"}).ok());
  CHECK_FALSE(inherited());
  CHECK(ServerConfig::merge(main, vhost).mount_copy() == false);

  const auto bad = main.apply("IdmMountCopy", {"yes"});
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.error() == "IdmMountCopy: expected On, Off or All, got 'yes'");
}

TEST_CASE("server config: IdmEnvAttribute, the vhost's list over the main server's", "[config][server]") {
  ServerConfig main;
  REQUIRE(main.apply("IdmEnvAttribute", {"eppn"}).ok());
  REQUIRE(main.apply("IdmEnvAttribute", {"Shib-Identity-Provider", "none"}).ok());
  ServerConfig vhost;
  REQUIRE(vhost.apply("IdmEnvAttribute", {"Shib-Identity-Provider", "vhost-default"}).ok());
  REQUIRE(vhost.apply("IdmEnvAttribute", {"MELLON_NameID"}).ok());

  const ServerConfig merged = ServerConfig::merge(main, vhost);
  const auto& list = merged.env_attributes();
  REQUIRE(list.size() == 3);
  CHECK(list[0].name == "Shib-Identity-Provider");
  CHECK(list[0].fallback == std::optional<std::string>("vhost-default"));  // the vhost's entry wins
  CHECK(list[1].name == "MELLON_NameID");
  CHECK_FALSE(list[1].fallback.has_value());
  CHECK(list[2].name == "eppn");

  // A later line for the same name replaces the earlier one.
  REQUIRE(main.apply("IdmEnvAttribute", {"eppn", "x"}).ok());
  REQUIRE(main.env_attributes().size() == 2);
  CHECK(main.env_attributes()[0].fallback == std::optional<std::string>("x"));

  const auto count = main.apply("IdmEnvAttribute", {});
  CHECK(count.error() == "IdmEnvAttribute takes NAME [DEFAULT]");
  CHECK_FALSE(main.apply("IdmEnvAttribute", {"a", "b", "c"}).ok());
  CHECK(main.apply("IdmEnvAttribute", {"a b"}).error() ==
        "IdmEnvAttribute: 'a b' is not a variable name (1..255 characters of A-Z a-z 0-9 _ . : -)");
  CHECK(main.apply("IdmEnvAttribute", {"AJP_REMOTE_PORT"}).error() ==
        "IdmEnvAttribute: 'AJP_REMOTE_PORT' is an attribute Tomcat's AJP connector reads itself; use "
        "IdmEnvIndicator");
}

TEST_CASE("server config: IdmEnvIndicator, one variable per field", "[config][server]") {
  ServerConfig main;
  REQUIRE(main.apply("IdmEnvIndicator", {"remote_addr", "JK_REMOTE_ADDR"}).ok());
  REQUIRE(main.apply("IdmEnvIndicator", {"HTTPS", "X_HTTPS"}).ok());
  ServerConfig vhost;
  REQUIRE(vhost.apply("IdmEnvIndicator", {"remote_addr", "CLIENT_IP"}).ok());
  const ServerConfig merged = ServerConfig::merge(main, vhost);
  REQUIRE(merged.env_indicators().size() == 2);
  CHECK(merged.env_indicators()[0].field == idmb::request::EnvField::RemoteAddr);
  CHECK(merged.env_indicators()[0].variable == "CLIENT_IP");
  CHECK(merged.env_indicators()[1].field == idmb::request::EnvField::Https);
  CHECK(merged.env_indicators()[1].variable == "X_HTTPS");

  CHECK_THAT(main.apply("IdmEnvIndicator", {"client", "X"}).error(),
             Catch::StartsWith("IdmEnvIndicator: unknown field 'client' (known: https, remote_addr,"));
  CHECK_FALSE(main.apply("IdmEnvIndicator", {"https", "A=B"}).ok());
  CHECK_FALSE(main.apply("IdmEnvIndicator", {"https"}).ok());  // TAKE2
}

TEST_CASE("server config: IdmStripSession", "[config][server]") {
  ServerConfig main;
  CHECK(main.strip_session_param().empty());  // off by default
  REQUIRE(main.apply("IdmStripSession", {"On"}).ok());
  CHECK(main.strip_session_param() == "jsessionid");
  REQUIRE(main.apply("IdmStripSession", {"on", ";sid"}).ok());  // mod_jk's spelling
  CHECK(main.strip_session_param() == "sid");

  ServerConfig vhost;
  CHECK(ServerConfig::merge(main, vhost).strip_session_param() == "sid");
  REQUIRE(vhost.apply("IdmStripSession", {"Off"}).ok());
  CHECK(ServerConfig::merge(main, vhost).strip_session_param().empty());

  CHECK(main.apply("IdmStripSession", {"yes"}).error() == "IdmStripSession: expected On or Off, got 'yes'");
  CHECK_FALSE(main.apply("IdmStripSession", {"On", "a=b"}).ok());
  CHECK_FALSE(main.apply("IdmStripSession", {}).ok());
}
