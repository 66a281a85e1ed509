// IdmMount / IdmUnmount inside <Location>: the arguments, httpd's merge along the location
// walk, and the precedence between location and server mounts.
#include <catch2/catch.hpp>

#include <string>
#include <string_view>

#include "idmb/directives.h"
#include "idmb/location_mount.h"
#include "idmb/mount_map.h"
#include "idmb/server_config.h"

using idmb::MountMap;
using idmb::config::choose_mount;
using idmb::config::LocationMount;

namespace {

std::string target(const MountMap& server, const LocationMount* location, std::string_view path) {
  const std::string* balancer = choose_mount(server, location, path);
  return balancer == nullptr ? "" : *balancer;
}

LocationMount mounting(std::string balancer) { return {std::move(balancer), ""}; }
LocationMount unmounting(std::string balancer) { return {"", std::move(balancer)}; }

}  // namespace

TEST_CASE("location mount: one balancer argument", "[config][location]") {
  LocationMount location;
  CHECK(idmb::config::apply_location_mount(location, "IdmMount", {"app"}).ok());
  CHECK(location.mount == "app");
  auto two = idmb::config::apply_location_mount(location, "IdmMount", {"/app/*", "app"});
  REQUIRE_FALSE(two.ok());
  CHECK_THAT(two.error(), Catch::Contains("takes one argument, the balancer"));
  auto any = idmb::config::apply_location_mount(location, "IdmMount", {"*"});
  REQUIRE_FALSE(any.ok());
  CHECK_THAT(any.error(), Catch::Contains("not a valid balancer name"));
  CHECK(idmb::config::apply_location_unmount(location, "IdmUnmount", {"*"}).ok());
  CHECK(location.unmount == "*");
  CHECK_FALSE(idmb::config::apply_location_unmount(location, "IdmUnmount", {"a b"}).ok());
}

TEST_CASE("location mount: applied through the directive table and noted in the server", "[config][location]") {
  idmb::config::ServerConfig server;
  LocationMount location;
  const auto* mount = idmb::config::find_directive("IdmMount");
  const auto* unmount = idmb::config::find_directive("IdmUnmount");
  REQUIRE(mount != nullptr);
  REQUIRE(unmount != nullptr);
  REQUIRE(idmb::config::apply_in_location(*mount, server, location, "<Location /app>", {"app"}).ok());
  REQUIRE(idmb::config::apply_in_location(*unmount, server, location, "<Location /app>", {"*"}).ok());
  REQUIRE(server.location_rules().size() == 2);
  CHECK(server.location_rules()[0].section == "<Location /app>");
  CHECK(server.location_rules()[0].balancer == "app");
  CHECK_FALSE(server.location_rules()[0].exclusion);
  CHECK(server.location_rules()[1].exclusion);
  const auto* other = idmb::config::find_directive("IdmMountCopy");
  CHECK_FALSE(idmb::config::apply_in_location(*other, server, location, "<Location /app>", {"On"}).ok());
}

TEST_CASE("location mount: a later section's IdmMount replaces the outer mount and unmount", "[config][location]") {
  CHECK(LocationMount::merge(mounting("a"), mounting("b")).mount == "b");
  const LocationMount remounted = LocationMount::merge(unmounting("*"), mounting("app"));
  CHECK(remounted.mount == "app");
  CHECK(remounted.unmount.empty());
  const LocationMount excluded = LocationMount::merge(mounting("app"), unmounting("app"));
  CHECK(excluded.mount == "app");
  CHECK(excluded.unmount == "app");
  const LocationMount untouched = LocationMount::merge(mounting("app"), LocationMount{});
  CHECK(untouched.mount == "app");
  CHECK(untouched.unmount.empty());
}

TEST_CASE("location mount: precedence over the server's mounts and unmounts", "[config][location]") {
  MountMap server;
  REQUIRE(server.mount("/app/*", "server_app").ok());
  REQUIRE(server.mount("/app/exact", "server_exact").ok());
  REQUIRE(server.unmount("/app/static/*", "*").ok());
  REQUIRE(server.unmount("/app/only-loc/*", "loc").ok());

  const LocationMount loc = mounting("loc");
  // The location's mount wins, even over the server's exact mount.
  CHECK(target(server, &loc, "/app/page") == "loc");
  CHECK(target(server, &loc, "/app/exact") == "loc");
  // The server's unmounts hold for it: "*", and its own balancer.
  CHECK(target(server, &loc, "/app/static/x.png") == "");
  CHECK(target(server, &loc, "/app/only-loc/y") == "");
  // No location setting: the server's map alone.
  CHECK(target(server, nullptr, "/app/page") == "server_app");
  CHECK(target(server, nullptr, "/app/only-loc/y") == "server_app");
  // A location that mounts nothing but unmounts a balancer, or every balancer.
  const LocationMount not_server_app = unmounting("server_app");
  const LocationMount nothing = unmounting("*");
  CHECK(target(server, &not_server_app, "/app/page") == "");
  CHECK(target(server, &not_server_app, "/app/exact") == "server_exact");
  CHECK(target(server, &nothing, "/app/exact") == "");
  // Its unmount of its own mount (a later section) wins.
  const LocationMount excluded = LocationMount::merge(mounting("loc"), unmounting("loc"));
  CHECK(target(server, &excluded, "/app/page") == "");
  // A location mount also serves paths no server rule knows.
  CHECK(target(MountMap{}, &loc, "/elsewhere") == "loc");
}

TEST_CASE("location mount: its balancer must exist; the status page lists its section", "[config][location]") {
  idmb::config::ServerConfig main;
  REQUIRE(main.open_section("app>").ok());
  REQUIRE(main.apply("IdmMember", {"t1", "ajp://127.0.0.1:8009"}).ok());
  REQUIRE(main.close_section().ok());
  REQUIRE(main.apply("IdmMount", {"/app/*", "app"}).ok());
  main.note_location_rule({"<Location /loc>", "app", false});
  main.note_location_rule({"<Location /loc/static>", "*", true});
  CHECK(idmb::config::check_servers({&main}).ok());
  CHECK(idmb::config::mount_patterns({&main}, "app") == std::vector<std::string>{"/app/*", "<Location /loc>"});

  idmb::config::ServerConfig vhost;
  vhost.note_location_rule({"<LocationMatch \"^/x\">", "missing", false});
  const auto merged = idmb::config::ServerConfig::merge(main, vhost);
  REQUIRE(merged.location_rules().size() == 3);  // its own, then the main server's
  CHECK(merged.location_rules()[0].balancer == "missing");
  auto refused = idmb::config::check_servers({&main, &merged});
  REQUIRE_FALSE(refused.ok());
  CHECK_THAT(refused.error(), Catch::Contains("IdmMount missing in <LocationMatch \"^/x\">: no <IdmBalancer missing>"));
}
