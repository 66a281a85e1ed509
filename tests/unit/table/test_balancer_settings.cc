#include <catch2/catch.hpp>

#include <vector>

#include "idmb/balancer_settings.h"
#include "table_memory.h"

using namespace idmb;
using table::BalancerSettings;
using table::testing::TableMemory;

namespace {

config::BalancerConfig balancer(std::string name, config::Method method, bool force) {
  config::BalancerConfig b;
  b.name = std::move(name);
  b.method = method;
  b.sticky.force = force;
  return b;
}

}  // namespace

TEST_CASE("Balancer settings: add, find, runtime edits, carry-over by name", "[table]") {
  TableMemory old_memory(BalancerSettings::bytes_needed(2));
  auto old_settings = *BalancerSettings::create(old_memory.span(), 2);
  auto* op = *old_settings.add(balancer("operator", config::Method::Requests, false));
  auto* self = *old_settings.add(balancer("selfservice", config::Method::Busyness, false));
  CHECK(old_settings.find("operator") == op);
  CHECK(old_settings.find("nope") == nullptr);
  CHECK_FALSE(old_settings.add(balancer("operator", config::Method::Requests, false)));
  CHECK_FALSE(old_settings.add(balancer("third", config::Method::Requests, false)));  // full
  CHECK(table::method_of(*self) == config::Method::Busyness);

  // The manager changes both balancers at run time.
  op->method.store(static_cast<std::uint32_t>(config::Method::P2C));
  op->sticky_force.store(1);
  self->method.store(static_cast<std::uint32_t>(config::Method::Traffic));

  // Graceful restart: operator unchanged in config, selfservice's method edited in config.
  auto attached = BalancerSettings::attach(old_memory.span());
  REQUIRE(attached);
  TableMemory new_memory(BalancerSettings::bytes_needed(3));
  auto settings = *BalancerSettings::create(new_memory.span(), 3);
  auto* op2 = *settings.add(balancer("operator", config::Method::Requests, false));
  auto* self2 = *settings.add(balancer("selfservice", config::Method::Requests, false));
  auto* fresh = *settings.add(balancer("new", config::Method::Requests, true));
  settings.carry_over_from(*attached);
  CHECK(table::method_of(*op2) == config::Method::P2C);      // runtime edit kept
  CHECK(op2->sticky_force.load() == 1);
  CHECK(table::method_of(*self2) == config::Method::Requests);  // config edit wins
  CHECK(fresh->sticky_force.load() == 1);
}
