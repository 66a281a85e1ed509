// The shared worker table's layout operations, in one process.
#include <catch2/catch.hpp>

#include <cstring>
#include <string>
#include <tuple>

#include "idmb/worker_table.h"
#include "table/table_memory.h"

using namespace idmb::table;
using idmb::table::testing::TableMemory;

namespace {

constexpr std::uint32_t kActive = 0;    // config::Activation::Active
constexpr std::uint32_t kDisabled = 1;  // config::Activation::Disabled

std::string name_of(std::size_t n, char c = 'n') { return std::string(n, c); }

WorkerTable make(TableMemory& memory, std::size_t capacity) {
  auto table = WorkerTable::create(memory.span(), capacity);
  REQUIRE(table.ok());
  return *table;
}

// Runtime state and a manager edit, as a member has them before a graceful restart.
void set_runtime_state(MemberSlot& kept) {
  kept.activation.store(kDisabled);
  kept.factor.store(9);
  kept.health.store(static_cast<std::uint32_t>(Health::Recovering));
  kept.state_since_ms.store(1000);
  kept.last_error_ms.store(900);
  kept.last_error_class.store(static_cast<std::uint32_t>(ErrorClass::Timeout));
  kept.busy.store(3);
  kept.lb_value.store(77);
  kept.requests.store(100);
  for (std::size_t e = 0; e < kErrorClassCount; ++e) kept.errors[e].store(10 + e);
  kept.bytes_out.store(2000);
  kept.bytes_in.store(3000);
  kept.sticky_hits.store(40);
  kept.last_sticky_ms.store(1100);
  kept.consecutive_failures.store(3);
  kept.probe_passes.store(1);
  kept.probe_fails.store(4);
  kept.last_probe_ok.store(1);
  kept.last_probe_ms.store(1200);
  kept.ejections.store(6);
}

// What set_runtime_state() wrote, as carry_over_from must bring it into the new table.
void check_carried_state(const MemberSlot& t1) {
  CHECK(t1.activation.load() == kDisabled);
  CHECK(t1.factor.load() == 9);
  CHECK(t1.health.load() == static_cast<std::uint32_t>(Health::Recovering));
  CHECK(t1.state_since_ms.load() == 1000);
  CHECK(t1.last_error_ms.load() == 900);
  CHECK(t1.last_error_class.load() == static_cast<std::uint32_t>(ErrorClass::Timeout));
  CHECK(t1.busy.load() == 0);  // in-flight requests finish in the old table
  CHECK(t1.lb_value.load() == 77);
  CHECK(t1.requests.load() == 100);
  for (std::size_t e = 0; e < kErrorClassCount; ++e) CHECK(t1.errors[e].load() == 10 + e);
  CHECK(t1.bytes_out.load() == 2000);
  CHECK(t1.bytes_in.load() == 3000);
  CHECK(t1.sticky_hits.load() == 40);
  CHECK(t1.last_sticky_ms.load() == 1100);
  CHECK(t1.consecutive_failures.load() == 3);
  CHECK(t1.probe_passes.load() == 1);
  CHECK(t1.probe_fails.load() == 4);
  CHECK(t1.last_probe_ok.load() == 1);
  CHECK(t1.last_probe_ms.load() == 1200);
  CHECK(t1.ejections.load() == 6);
}

}  // namespace

TEST_CASE("member_identity", "[table]") {
  CHECK(member_identity("lb", "t1") == 0x6ac9f3e26b932aeaull);  // FNV-1a 64 of "lb\0t1"
  CHECK(member_identity("", "") == 0xaf63bd4c8601b7dfull);
  CHECK(member_identity("lb", "t1") == member_identity("lb", "t1"));
  CHECK(member_identity("ab", "c") != member_identity("a", "bc"));
  CHECK(member_identity("lb", "t1") != member_identity("t1", "lb"));
  CHECK(member_identity("lb", "t1") != member_identity("lb", "t2"));
  CHECK(member_identity("lb", "t1") != 0);
}

TEST_CASE("bytes_needed", "[table]") {
  STATIC_REQUIRE(sizeof(TableHeader) % 64 == 0);
  STATIC_REQUIRE(sizeof(MemberSlot) % 64 == 0);
  const std::size_t ring = kEventRingSize * sizeof(EventEntry);
  STATIC_REQUIRE(kEventRingSize * sizeof(EventEntry) % 64 == 0);
  CHECK(WorkerTable::bytes_needed(0) == sizeof(TableHeader) + ring);
  CHECK(WorkerTable::bytes_needed(3) == sizeof(TableHeader) + 3 * sizeof(MemberSlot) + ring);
  CHECK(WorkerTable::bytes_needed(SIZE_MAX / 2) == SIZE_MAX);  // saturates, never fits
}

TEST_CASE("create formats an empty table", "[table]") {
  TableMemory memory(WorkerTable::bytes_needed(4));
  std::memset(memory.span().data(), 0xab, memory.span().size());
  auto table = make(memory, 4);
  CHECK(table.header().magic == kMagic);
  CHECK(table.header().version == kLayoutVersion);
  CHECK(table.header().capacity == 4);
  CHECK(table.header().slot_size == sizeof(MemberSlot));
  CHECK(table.header().count.load() == 0);
  CHECK(table.header().generation.load() == 1);
  CHECK(table.header().event_capacity == kEventRingSize);
  CHECK(table.header().event_writes.load() == 0);
  CHECK(table.header().prober_lease.load() == 0);
  CHECK(table.recent_events().empty());
  CHECK(table.prober_lease().pid == 0);
  CHECK(table.size() == 0);
  CHECK(table.capacity() == 4);
  for (std::size_t i = 0; i < 4; ++i) {
    CHECK(table.slot(i).identity == 0);
    CHECK(table.slot(i).requests.load() == 0);
    CHECK(table.slot(i).member[0] == '\0');
  }
}

TEST_CASE("create rejects too little or misaligned memory", "[table]") {
  TableMemory memory(WorkerTable::bytes_needed(4) + 64);
  CHECK_FALSE(WorkerTable::create(memory.span().first(WorkerTable::bytes_needed(4) - 1), 4).ok());
  CHECK_FALSE(WorkerTable::create(memory.span().first(0), 0).ok());
  CHECK(WorkerTable::create(memory.span().first(WorkerTable::bytes_needed(0)), 0).ok());
  const auto misaligned = WorkerTable::create(memory.span().subspan(8, WorkerTable::bytes_needed(4)), 4);
  REQUIRE_FALSE(misaligned.ok());
  CHECK_THAT(misaligned.error(), Catch::Contains("aligned"));
  const auto small = WorkerTable::create(memory.span().first(100), 4);
  REQUIRE_FALSE(small.ok());
  CHECK_THAT(small.error(), Catch::Contains("need"));
}

TEST_CASE("add writes a complete slot", "[table]") {
  TableMemory memory(WorkerTable::bytes_needed(4));
  auto table = make(memory, 4);
  auto added = table.add("operator", "t1", "route1", kDisabled, 7);
  REQUIRE(added.ok());
  MemberSlot& slot = **added;
  CHECK(&slot == &table.slot(0));
  CHECK(std::string(slot.balancer) == "operator");
  CHECK(std::string(slot.member) == "t1");
  CHECK(std::string(slot.route) == "route1");
  CHECK(slot.identity == member_identity("operator", "t1"));
  CHECK(slot.activation.load() == kDisabled);
  CHECK(slot.factor.load() == 7);
  CHECK(slot.health.load() == static_cast<std::uint32_t>(Health::Ok));
  CHECK(slot.state_since_ms.load() == 0);
  CHECK(slot.busy.load() == 0);
  CHECK(slot.requests.load() == 0);
  CHECK(table.size() == 1);
  CHECK(table.header().count.load() == 1);
}

TEST_CASE("add rejects duplicates and a full table", "[table]") {
  TableMemory memory(WorkerTable::bytes_needed(2));
  auto table = make(memory, 2);
  REQUIRE(table.add("lb", "t1", "t1", kActive, 1).ok());
  const auto dup = table.add("lb", "t1", "other", kActive, 1);
  REQUIRE_FALSE(dup.ok());
  CHECK_THAT(dup.error(), Catch::Contains("already"));
  // The same member name in another balancer is another member.
  REQUIRE(table.add("lb2", "t1", "t1", kActive, 1).ok());
  const auto full = table.add("lb", "t2", "t2", kActive, 1);
  REQUIRE_FALSE(full.ok());
  CHECK_THAT(full.error(), Catch::Contains("full"));
  CHECK(table.size() == 2);
}

TEST_CASE("add: names at the size limit", "[table]") {
  TableMemory memory(WorkerTable::bytes_needed(8));
  auto table = make(memory, 8);
  const std::string max = name_of(kNameSize - 1);
  const std::string over = name_of(kNameSize);

  auto ok = table.add(max, max, max, kActive, 1);
  REQUIRE(ok.ok());
  CHECK(std::string((*ok)->balancer) == max);
  CHECK(std::string((*ok)->member) == max);
  CHECK(std::string((*ok)->route) == max);
  CHECK(table.find(max, max) == *ok);

  for (const auto& [b, m, r] : {std::tuple{over, name_of(1), name_of(1)}, std::tuple{name_of(1), over, name_of(1)},
                                std::tuple{name_of(1), name_of(1), over}}) {
    const auto rejected = table.add(b, m, r, kActive, 1);
    REQUIRE_FALSE(rejected.ok());
    CHECK_THAT(rejected.error(), Catch::Contains("limit is 63"));
  }
  CHECK_FALSE(table.add("", "t1", "t1", kActive, 1).ok());
  CHECK_FALSE(table.add("lb", "", "t1", kActive, 1).ok());
  CHECK_FALSE(table.add("lb", std::string("t\0x", 3), "t1", kActive, 1).ok());
  CHECK(table.add("lb", "t1", "", kActive, 1).ok());  // route may be empty
  CHECK(table.size() == 2);
}

TEST_CASE("find matches balancer and member names", "[table]") {
  TableMemory memory(WorkerTable::bytes_needed(4));
  auto table = make(memory, 4);
  MemberSlot* a = *table.add("operator", "t1", "t1", kActive, 1);
  MemberSlot* b = *table.add("operator", "t2", "t2", kActive, 1);
  MemberSlot* c = *table.add("selfservice", "t1", "t1", kActive, 1);
  CHECK(table.find("operator", "t1") == a);
  CHECK(table.find("operator", "t2") == b);
  CHECK(table.find("selfservice", "t1") == c);
  CHECK(table.find("selfservice", "t2") == nullptr);
  CHECK(table.find("operator", "T1") == nullptr);
  CHECK(table.find("operator", "t") == nullptr);
  CHECK(table.find("operatort1", "") == nullptr);
  CHECK(table.find("", "") == nullptr);
  CHECK(table.find(name_of(200), "t1") == nullptr);
}

TEST_CASE("attach sees what create and add wrote", "[table]") {
  TableMemory memory(WorkerTable::bytes_needed(3));
  auto created = make(memory, 3);
  REQUIRE(created.add("lb", "t1", "r1", kActive, 2).ok());
  REQUIRE(created.add("lb", "t2", "r2", kDisabled, 3).ok());
  created.find("lb", "t2")->requests.store(42);

  auto attached = WorkerTable::attach(memory.span());
  REQUIRE(attached.ok());
  CHECK(attached->size() == 2);
  CHECK(attached->capacity() == 3);
  CHECK(attached->header().generation.load() == 1);
  MemberSlot* t2 = attached->find("lb", "t2");
  REQUIRE(t2 != nullptr);
  CHECK(t2 == created.find("lb", "t2"));
  CHECK(std::string(t2->route) == "r2");
  CHECK(t2->activation.load() == kDisabled);
  CHECK(t2->factor.load() == 3);
  CHECK(t2->requests.load() == 42);
  // An attached table can still take members (a parent re-attaching its own table).
  CHECK(attached->add("lb", "t3", "r3", kActive, 1).ok());
  CHECK(created.size() == 3);
}

TEST_CASE("attach rejects foreign or damaged memory", "[table]") {
  TableMemory memory(WorkerTable::bytes_needed(4));
  auto table = make(memory, 4);
  REQUIRE(table.add("lb", "t1", "t1", kActive, 1).ok());
  REQUIRE(WorkerTable::attach(memory.span()).ok());
  TableHeader& h = table.header();

  auto expect_error = [&](std::span<std::byte> bytes, const char* fragment) {
    const auto attached = WorkerTable::attach(bytes);
    REQUIRE_FALSE(attached.ok());
    INFO(attached.error());
    CHECK_THAT(attached.error(), Catch::Contains(fragment));
  };

  SECTION("bad magic") {
    h.magic = 0x4b4a2131;
    expect_error(memory.span(), "magic");
  }
  SECTION("zeroed memory") {
    std::memset(memory.span().data(), 0, memory.span().size());
    expect_error(memory.span(), "magic");
  }
  SECTION("wrong version") {
    h.version = kLayoutVersion + 1;
    expect_error(memory.span(), "version");
  }
  SECTION("wrong slot size") {
    h.slot_size = sizeof(MemberSlot) - 64;
    expect_error(memory.span(), "slot size");
  }
  SECTION("wrong event ring size") {
    h.event_capacity = kEventRingSize * 2;
    expect_error(memory.span(), "event ring");
  }
  SECTION("memory smaller than the header") { expect_error(memory.span().first(sizeof(TableHeader) - 1), "header"); }
  SECTION("memory smaller than the capacity") {
    expect_error(memory.span().first(WorkerTable::bytes_needed(4) - 1), "capacity 4");
  }
  SECTION("count above capacity") {
    h.count.store(5);
    expect_error(memory.span(), "count 5");
  }
  SECTION("misaligned") {
    TableMemory bigger(WorkerTable::bytes_needed(4) + 64);
    std::memcpy(bigger.span().data() + 8, memory.span().data(), memory.span().size());
    expect_error(bigger.span().subspan(8), "aligned");
  }
}

TEST_CASE("carry_over_from keeps surviving members' state", "[table]") {
  TableMemory old_memory(WorkerTable::bytes_needed(3));
  auto old_table = make(old_memory, 3);
  MemberSlot* kept = *old_table.add("lb", "t1", "t1", kActive, 1);
  MemberSlot* removed = *old_table.add("lb", "t2", "t2", kActive, 1);
  MemberSlot* other_lb = *old_table.add("other", "t3", "t3", kActive, 1);
  old_table.header().generation.store(5);

  // Runtime state and a manager edit on t1.
  set_runtime_state(*kept);
  removed->requests.store(555);
  other_lb->requests.store(666);

  // The new configuration: t1 stays, t2 is gone, t3 moved to another balancer, t4 is new.
  TableMemory new_memory(WorkerTable::bytes_needed(4));
  auto new_table = make(new_memory, 4);
  MemberSlot* t1 = *new_table.add("lb", "t1", "t1", kActive, 1);
  MemberSlot* t3 = *new_table.add("lb", "t3", "t3", kActive, 1);
  MemberSlot* t4 = *new_table.add("lb", "t4", "t4", kActive, 4);
  new_table.carry_over_from(old_table);

  CHECK(new_table.header().generation.load() == 6);
  CHECK(new_table.size() == 3);

  check_carried_state(*t1);

  for (MemberSlot* fresh : {t3, t4}) {
    CHECK(fresh->requests.load() == 0);
    CHECK(fresh->lb_value.load() == 0);
    CHECK(fresh->health.load() == static_cast<std::uint32_t>(Health::Ok));
    CHECK(fresh->activation.load() == kActive);
  }
  CHECK(t4->factor.load() == 4);
  CHECK(new_table.find("lb", "t2") == nullptr);
  // The old table is left alone: its children may still be finishing requests.
  CHECK(removed->requests.load() == 555);
  CHECK(kept->busy.load() == 3);
}

TEST_CASE("carry_over_from lets a config edit win over an older manager edit", "[table]") {
  TableMemory old_memory(WorkerTable::bytes_needed(2));
  auto old_table = make(old_memory, 2);
  MemberSlot* a_old = *old_table.add("lb", "a", "a", kActive, 1);
  MemberSlot* b_old = *old_table.add("lb", "b", "b", kActive, 1);
  // The manager disabled both and set factors.
  for (MemberSlot* s : {a_old, b_old}) {
    s->activation.store(kDisabled);
    s->factor.store(7);
  }
  // The new config keeps a as it was, but changes b's status and factor.
  TableMemory new_memory(WorkerTable::bytes_needed(2));
  auto new_table = make(new_memory, 2);
  MemberSlot* a = *new_table.add("lb", "a", "a", kActive, 1);
  MemberSlot* b = *new_table.add("lb", "b", "b", kActive, 3);
  new_table.carry_over_from(old_table);
  CHECK(a->activation.load() == kDisabled);  // manager edit kept: the config did not change
  CHECK(a->factor.load() == 7);
  CHECK(b->activation.load() == kDisabled);  // status unchanged in config: manager edit kept
  CHECK(b->factor.load() == 3);              // factor changed in config: config wins
  CHECK(b->configured_factor == 3);
}

TEST_CASE("carry_over_from an empty previous table only bumps the generation", "[table]") {
  TableMemory old_memory(WorkerTable::bytes_needed(0));
  auto old_table = make(old_memory, 0);
  TableMemory new_memory(WorkerTable::bytes_needed(1));
  auto new_table = make(new_memory, 1);
  MemberSlot* t1 = *new_table.add("lb", "t1", "t1", kActive, 5);
  new_table.carry_over_from(old_table);
  CHECK(new_table.header().generation.load() == 2);
  CHECK(t1->factor.load() == 5);
}

TEST_CASE("carry_over_from brings the events along, renumbered to the new slots", "[table]") {
  TableMemory old_memory(WorkerTable::bytes_needed(3));
  auto old_table = make(old_memory, 3);
  REQUIRE(old_table.add("lb", "gone", "gone", kActive, 1).ok());
  REQUIRE(old_table.add("lb", "t1", "t1", kActive, 1).ok());
  old_table.add_event(1, 100, "t1 event");
  old_table.add_event(0, 200, "gone event");
  old_table.add_event(kNoMember, 300, "server event");
  old_table.try_take_prober_lease(42, 1000, 5000);

  TableMemory new_memory(WorkerTable::bytes_needed(2));
  auto new_table = make(new_memory, 2);
  REQUIRE(new_table.add("lb", "t1", "t1", kActive, 1).ok());
  REQUIRE(new_table.add("lb", "t0", "t0", kActive, 1).ok());
  new_table.carry_over_from(old_table);

  const auto events = new_table.recent_events();
  REQUIRE(events.size() == 3);
  CHECK(events[0].number == 2);
  CHECK(events[0].member == kNoMember);
  CHECK(events[0].text == "server event");
  CHECK(events[1].number == 1);
  CHECK(events[1].member == kNoMember);  // its member is not in the new table: named in the text
  CHECK(events[1].text == "lb/gone: gone event");
  CHECK(events[1].time_ms == 200);
  CHECK(events[2].number == 0);
  CHECK(events[2].member == 0);  // t1 was slot 1, is slot 0 now
  CHECK(events[2].text == "t1 event");
  CHECK(new_table.prober_lease().pid == 0);  // the new generation's children elect their own
  new_table.add_event(0, 400, "next");
  CHECK(new_table.recent_events(1)[0].number == 3);
}
