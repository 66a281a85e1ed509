// take_snapshot over real worker-table records, and the drain rule.
#include <catch2/catch.hpp>

#include "idmb/status_snapshot.h"
#include "idmb/worker_table.h"
#include "table/table_memory.h"

using namespace idmb;
using namespace idmb::status;
using idmb::table::testing::TableMemory;

namespace {

constexpr std::int64_t kNow = 1'000'000;
constexpr std::uint64_t kQuiet = 30'000;

config::BalancerConfig balancer_config() {
  config::BalancerConfig b;
  b.name = "lb";
  b.method = config::Method::Busyness;
  b.sticky.force = false;
  config::MemberConfig m1;
  m1.name = "t1";
  m1.host = "10.0.0.1";
  m1.port = 8009;
  m1.route = "r1";
  m1.factor = 2;
  m1.domain = "dc1";
  config::MemberConfig m2;
  m2.name = "t2";
  m2.host = "[::1]";
  m2.port = 8010;
  m2.route = "t2";
  m2.redirect = "t1";
  b.members = {m1, m2};
  return b;
}

}  // namespace

TEST_CASE("take_snapshot copies the table", "[status]") {
  const auto cfg = balancer_config();
  TableMemory memory(table::WorkerTable::bytes_needed(2));
  auto created = table::WorkerTable::create(memory.span(), 2);
  REQUIRE(created.ok());
  auto& tbl = *created;
  auto s1 = tbl.add("lb", "t1", "r1", 0, 2);
  auto s2 = tbl.add("lb", "t2", "t2", 0, 1);
  REQUIRE(s1.ok());
  REQUIRE(s2.ok());
  table::MemberSlot& a = **s1;
  table::MemberSlot& b = **s2;

  // Runtime values differ from the config: the manager changed them.
  a.activation = static_cast<std::uint32_t>(config::Activation::Disabled);
  a.factor = 7;
  a.health = static_cast<std::uint32_t>(table::Health::Error);
  a.state_since_ms = kNow - 5000;
  a.busy = 2;
  a.requests = 100;
  a.errors[static_cast<std::size_t>(table::ErrorClass::Connect)] = 3;
  a.errors[static_cast<std::size_t>(table::ErrorClass::FailStatus)] = 1;
  a.errors[static_cast<std::size_t>(table::ErrorClass::Client)] = 9;
  a.bytes_in = 4096;
  a.bytes_out = 512;
  a.sticky_hits = 40;
  a.last_error_ms = kNow - 100;
  a.last_error_class = static_cast<std::uint32_t>(table::ErrorClass::FailStatus);
  a.last_sticky_ms = kNow - 1;
  b.health = static_cast<std::uint32_t>(table::Health::Recovering);

  BalancerSource src{&cfg, {&a, &b}, {"/app/*"}, config::Method::P2C, true};
  const Snapshot snap = take_snapshot({src}, kNow, kQuiet, {"v1", 9, "n0nce"});
  CHECK(snap.generated_ms == kNow);
  CHECK(snap.version == "v1");
  CHECK(snap.generation == 9);
  CHECK(snap.nonce == "n0nce");
  REQUIRE(snap.balancers.size() == 1);
  const BalancerStatus& bs = snap.balancers[0];
  CHECK(bs.name == "lb");
  CHECK(bs.method == "p2c");  // runtime override
  CHECK(bs.sticky.force);     // runtime override
  CHECK(bs.sticky.cookie == "JSESSIONID");
  CHECK(bs.sticky.path_param == "jsessionid");
  CHECK(bs.mounts == std::vector<std::string>{"/app/*"});
  REQUIRE(bs.members.size() == 2);

  const MemberStatus& m1 = bs.members[0];
  CHECK(m1.name == "t1");
  CHECK(m1.route == "r1");
  CHECK(m1.address == "10.0.0.1:8009");
  CHECK(m1.domain == "dc1");
  CHECK(m1.activation == "disabled");
  CHECK(m1.factor == 7);
  CHECK(m1.state == "error");
  CHECK(m1.state_since_ms == kNow - 5000);
  CHECK(m1.busy == 2);
  CHECK(m1.requests == 100);
  CHECK(m1.errors[0] == 3);
  CHECK(m1.errors[static_cast<std::size_t>(table::ErrorClass::Client)] == 9);
  CHECK(m1.errors_total == 4);  // client errors excluded
  CHECK(m1.bytes_in == 4096);
  CHECK(m1.bytes_out == 512);
  CHECK(m1.sticky_hits == 40);
  CHECK(m1.last_error == "fail_status");
  CHECK(m1.last_error_ms == kNow - 100);
  CHECK(m1.last_sticky_ms == kNow - 1);
  CHECK_FALSE(m1.drained);  // busy

  const MemberStatus& m2 = bs.members[1];
  CHECK(m2.address == "[::1]:8010");
  CHECK(m2.redirect == "t1");
  CHECK(m2.activation == "active");
  CHECK(m2.state == "recovering");
  CHECK(m2.last_error.empty());  // never failed
  CHECK(m2.errors_total == 0);

  // Without overrides the configured balancer settings show; a missing slot shows the config.
  BalancerSource plain{&cfg, {&a}, {}};
  const Snapshot snap2 = take_snapshot({plain}, kNow, kQuiet);
  CHECK(snap2.balancers[0].method == "busyness");
  CHECK_FALSE(snap2.balancers[0].sticky.force);
  CHECK(snap2.nonce.empty());
  REQUIRE(snap2.balancers[0].members.size() == 2);
  CHECK(snap2.balancers[0].members[1].activation == "active");
  CHECK(snap2.balancers[0].members[1].factor == 1);
  CHECK(snap2.balancers[0].members[1].requests == 0);
}

TEST_CASE("drained: disabled, idle, and quiet long enough", "[status]") {
  const auto cfg = balancer_config();
  TableMemory memory(table::WorkerTable::bytes_needed(2));
  auto tbl = table::WorkerTable::create(memory.span(), 2);
  REQUIRE(tbl.ok());
  table::MemberSlot& a = **tbl->add("lb", "t1", "r1", 1, 1);  // disabled
  table::MemberSlot& b = **tbl->add("lb", "t2", "t2", 0, 1);
  BalancerSource src{&cfg, {&a, &b}, {}};
  const auto drained = [&] { return take_snapshot({src}, kNow, kQuiet).balancers[0].members[0].drained; };

  a.busy = 0;
  a.last_sticky_ms = kNow - static_cast<std::int64_t>(kQuiet);
  CHECK(drained());  // exactly the quiet time
  a.last_sticky_ms = kNow - static_cast<std::int64_t>(kQuiet) + 1;
  CHECK_FALSE(drained());  // a sticky hit 1 ms too recent
  a.last_sticky_ms = 0;
  CHECK(drained());  // never had a sticky request
  a.busy = 1;
  CHECK_FALSE(drained());  // still serving
  a.busy = 0;
  a.last_sticky_ms = kNow + 50;  // another child's clock ahead: treat as just now
  CHECK_FALSE(drained());
  a.last_sticky_ms = 0;
  a.activation = static_cast<std::uint32_t>(config::Activation::Stopped);
  CHECK_FALSE(drained());                                                           // only a disabled member drains
  CHECK_FALSE(take_snapshot({src}, kNow, kQuiet).balancers[0].members[1].drained);  // active

  CHECK(is_drained("disabled", 0, 1, 100, 99));
  CHECK_FALSE(is_drained("disabled", 0, 1, 100, 100));
  CHECK(is_drained("disabled", 0, 5, 5, 0));
  CHECK_FALSE(is_drained("active", 0, 0, 100, 0));
}

TEST_CASE("error_class_name", "[status]") {
  using table::ErrorClass;
  CHECK(error_class_name(ErrorClass::Connect) == "connect");
  CHECK(error_class_name(ErrorClass::Cping) == "cping");
  CHECK(error_class_name(ErrorClass::BackendClosed) == "backend_closed");
  CHECK(error_class_name(ErrorClass::Protocol) == "protocol");
  CHECK(error_class_name(ErrorClass::Timeout) == "timeout");
  CHECK(error_class_name(ErrorClass::FailStatus) == "fail_status");
  CHECK(error_class_name(ErrorClass::Client) == "client");
  CHECK(error_class_name(static_cast<ErrorClass>(42)) == "unknown");
}
