#include <catch2/catch.hpp>

#include <cstring>
#include <limits>
#include <span>
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
  CHECK(table::method_of(*op2) == config::Method::P2C);  // runtime edit kept
  CHECK(op2->sticky_force.load() == 1);
  CHECK(table::method_of(*self2) == config::Method::Requests);  // config edit wins
  CHECK(fresh->sticky_force.load() == 1);
}

TEST_CASE("Balancer settings: bytes_needed counts the header", "[table]") {
  CHECK(BalancerSettings::bytes_needed(0) == sizeof(table::SettingsHeader));
  CHECK(BalancerSettings::bytes_needed(3) == sizeof(table::SettingsHeader) + 3 * sizeof(table::BalancerSlot));
  CHECK(BalancerSettings::bytes_needed(std::numeric_limits<std::size_t>::max()) ==
        std::numeric_limits<std::size_t>::max());
}

TEST_CASE("Balancer settings: create rejects too little or misaligned memory", "[table]") {
  TableMemory memory(BalancerSettings::bytes_needed(2) + 64);
  const auto small = BalancerSettings::create(memory.span().first(BalancerSettings::bytes_needed(2) - 1), 2);
  REQUIRE_FALSE(small);
  CHECK_THAT(small.error(), Catch::Contains("2 balancers need"));
  const auto misaligned = BalancerSettings::create(memory.span().subspan(8), 2);
  REQUIRE_FALSE(misaligned);
  CHECK_THAT(misaligned.error(), Catch::Contains("aligned"));
}

TEST_CASE("Balancer settings: attach rejects foreign or damaged memory", "[table]") {
  TableMemory memory(BalancerSettings::bytes_needed(2));
  auto created = *BalancerSettings::create(memory.span(), 2);
  REQUIRE(created.add(balancer("operator", config::Method::Traffic, false)));
  REQUIRE(BalancerSettings::attach(memory.span()));
  auto& header = *reinterpret_cast<table::SettingsHeader*>(memory.span().data());

  const auto expect_error = [&](std::span<std::byte> bytes, const char* fragment) {
    const auto attached = BalancerSettings::attach(bytes);
    REQUIRE_FALSE(attached);
    INFO(attached.error());
    CHECK_THAT(attached.error(), Catch::Contains(fragment));
  };

  SECTION("bad magic") {
    header.magic = table::kMagic;  // a worker table's
    expect_error(memory.span(), "magic");
  }
  SECTION("zeroed memory (or a segment from before the header)") {
    std::memset(memory.span().data(), 0, memory.span().size());
    expect_error(memory.span(), "magic");
  }
  SECTION("wrong version") {
    header.version = table::kSettingsVersion + 1;
    expect_error(memory.span(), "version");
  }
  SECTION("wrong slot size") {
    header.slot_size = sizeof(table::BalancerSlot) + 64;
    expect_error(memory.span(), "slot size");
  }
  SECTION("memory smaller than the header") {
    expect_error(memory.span().first(sizeof(table::SettingsHeader) - 1), "header");
  }
  SECTION("memory smaller than the capacity") {
    expect_error(memory.span().first(BalancerSettings::bytes_needed(2) - 1), "capacity 2");
  }
  SECTION("misaligned") {
    TableMemory bigger(BalancerSettings::bytes_needed(2) + 64);
    std::memcpy(bigger.span().data() + 8, memory.span().data(), memory.span().size());
    expect_error(bigger.span().subspan(8), "aligned");
  }
}

TEST_CASE("Balancer settings: attach sees what create and add wrote", "[table]") {
  TableMemory memory(BalancerSettings::bytes_needed(3));
  auto created = *BalancerSettings::create(memory.span(), 3);
  auto* op = *created.add(balancer("operator", config::Method::Traffic, true));
  auto attached = BalancerSettings::attach(memory.span());
  REQUIRE(attached);
  CHECK(attached->find("operator") == op);
  CHECK(table::method_of(*attached->find("operator")) == config::Method::Traffic);
  // Two free slots left: an attached settings segment can still take balancers.
  CHECK(attached->add(balancer("a", config::Method::Requests, false)));
  CHECK(attached->add(balancer("b", config::Method::Requests, false)));
  CHECK_FALSE(attached->add(balancer("c", config::Method::Requests, false)));
}
