// Cross-scope checks: balancer names are global, mounts must name a defined balancer.
#include <catch2/catch.hpp>

#include "idmb/server_scopes.h"

using idmb::MountMap;
using idmb::config::BalancerConfig;
using idmb::config::ServerScope;

namespace {

BalancerConfig balancer(const char* name) {
  BalancerConfig b;
  b.name = name;
  return b;
}

MountMap mounts_of(const char* pattern, const char* target) {
  MountMap m;
  REQUIRE(m.mount(pattern, target).ok());
  return m;
}

}  // namespace

TEST_CASE("scopes: a VirtualHost may mount the main server's balancer", "[config][scopes]") {
  BalancerConfig app = balancer("app");
  MountMap main_mounts = mounts_of("/app/*", "app");
  MountMap vhost_mounts = mounts_of("/other/*", "app");
  MountMap empty;
  std::vector<ServerScope> scopes{{{&app}, &main_mounts}, {{}, &vhost_mounts}, {{}, &empty}};
  CHECK(idmb::config::check_server_scopes(scopes).ok());
}

TEST_CASE("scopes: a balancer defined in two scopes is refused", "[config][scopes]") {
  BalancerConfig in_main = balancer("app");
  BalancerConfig in_vhost = balancer("app");
  MountMap empty;
  std::vector<ServerScope> scopes{{{&in_main}, &empty}, {{&in_vhost}, &empty}};
  auto status = idmb::config::check_server_scopes(scopes);
  REQUIRE_FALSE(status.ok());
  CHECK(status.error() == "<IdmBalancer app> is defined more than once");
}

TEST_CASE("scopes: mounts and unmounts must name a defined balancer", "[config][scopes]") {
  BalancerConfig app = balancer("app");
  MountMap missing = mounts_of("/x/*", "nope");
  auto status = idmb::config::check_server_scopes({{{&app}, nullptr}, {{}, &missing}});
  REQUIRE_FALSE(status.ok());
  CHECK(status.error() == "IdmMount /x/* nope: no <IdmBalancer nope> is defined");

  MountMap unmount_missing;
  REQUIRE(unmount_missing.unmount("/x/static/*", "nope").ok());
  status = idmb::config::check_server_scopes({{{&app}, &unmount_missing}});
  REQUIRE_FALSE(status.ok());
  CHECK(status.error() == "IdmUnmount /x/static/* nope: no <IdmBalancer nope> is defined");

  MountMap unmount_all;
  REQUIRE(unmount_all.unmount("/x/static/*", "*").ok());
  CHECK(idmb::config::check_server_scopes({{{&app}, &unmount_all}}).ok());
}
