// Crash reaping: what a dead process held in flight is given back to `busy`, exactly once,
// and only for that process; forked processes killed with SIGKILL mid-request leave nothing.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <memory>
#include <thread>
#include <vector>

#include "idmb/balancer.h"
#include "idmb/worker_table.h"
#include "support/fake_sources.h"
#include "table/table_memory.h"

using idmb::balance::Balancer;
using idmb::config::BalancerConfig;
using idmb::config::MemberConfig;
using idmb::table::MemberSlot;
using idmb::table::MemberSpec;
using idmb::table::WorkerTable;
using idmb::table::testing::TableMemory;

namespace {

constexpr std::size_t kMembers = 2;

// A table with members t1 (max=4) and t2 and one Balancer over it per "process".
struct Rig {
  explicit Rig(std::span<std::byte> memory, std::size_t processes = 4)
      : table(*WorkerTable::create(memory, kMembers + 2, processes)) {
    config.name = "app";
    for (const char* name : {"t1", "t2"}) {
      MemberConfig m;
      m.name = name;
      m.route = name;
      m.max_busy = std::string_view(name) == "t1" ? 4 : 0;
      config.members.push_back(m);
      slots.push_back(*table.add("app", name, name, 0, 1));
    }
  }
  // A balancer as one process sees it, counting its holds in record `process`.
  std::unique_ptr<Balancer> balancer_for(int process) {
    auto b = std::make_unique<Balancer>(config, slots, random, clock);
    std::vector<std::atomic<std::int32_t>*> holds;
    for (std::size_t m = 0; m < kMembers; ++m) holds.push_back(&table.held(process, m));
    b->use_holds(std::move(holds));
    return b;
  }
  std::int32_t busy(std::size_t m) const { return slots[m]->busy.load(); }

  WorkerTable table;
  BalancerConfig config;
  std::vector<MemberSlot*> slots;
  idmb::test::SeededRandom random{7};
  idmb::test::ManualClock clock{1000};
};

}  // namespace

TEST_CASE("Process holds: a dead process's requests in flight are released, a live one's are not", "[table][reap]") {
  TableMemory memory(WorkerTable::bytes_needed(kMembers + 2, 4));
  Rig rig(memory.span());
  const int a = rig.table.claim_process(100);
  const int b = rig.table.claim_process(200);
  REQUIRE(a >= 0);
  REQUIRE(b >= 0);
  REQUIRE(a != b);
  auto in_a = rig.balancer_for(a);
  auto in_b = rig.balancer_for(b);
  for (int i = 0; i < 3; ++i) REQUIRE(in_a->start(0, false));
  REQUIRE(in_a->start(1, false));
  REQUIRE(in_b->start(0, false));
  CHECK(rig.busy(0) == 4);
  CHECK_FALSE(in_b->has_room(0));  // t1 is at max=4

  const auto reaped = rig.table.reap_process(100);
  REQUIRE(reaped.has_value());
  CHECK(reaped->pid == 100);
  CHECK(reaped->total() == 4);
  REQUIRE(reaped->released.size() == 2);
  CHECK(reaped->released[0].member == 0);
  CHECK(reaped->released[0].count == 3);
  CHECK(rig.busy(0) == 1);  // b's request is still in flight
  CHECK(rig.busy(1) == 0);
  CHECK(in_b->has_room(0));  // usable again
  CHECK(rig.table.live_processes() == std::vector<std::uint32_t>{200});

  CHECK_FALSE(rig.table.reap_process(100).has_value());  // exactly once
  in_b->finish(0, 0, 0);
  CHECK(rig.busy(0) == 0);
  CHECK(rig.table.held(b, 0).load() == 0);
  const auto clean = rig.table.reap_process(200);
  REQUIRE(clean.has_value());
  CHECK(clean->released.empty());  // exited cleanly: nothing held
  CHECK(rig.table.live_processes().empty());
}

TEST_CASE("Process holds: records are reused, a full table refuses, a reused pid is reaped first", "[table][reap]") {
  TableMemory memory(WorkerTable::bytes_needed(kMembers + 2, 2));
  Rig rig(memory.span(), 2);
  const int first = rig.table.claim_process(10);
  REQUIRE(rig.table.claim_process(11) >= 0);
  CHECK(rig.table.claim_process(12) == -1);  // full
  CHECK(rig.table.claim_process(0) == -1);
  auto in_first = rig.balancer_for(first);
  REQUIRE(in_first->start(1, false));
  REQUIRE(in_first->start(1, false));
  // Process 10 died unnoticed and a new process got pid 10: its claim gives the old holds back.
  const int again = rig.table.claim_process(10);
  CHECK(again == first);
  CHECK(rig.busy(1) == 0);
  CHECK(rig.table.held(again, 1).load() == 0);

  TableMemory none(WorkerTable::bytes_needed(kMembers + 2));
  Rig without(none.span(), 0);
  CHECK(without.table.claim_process(10) == -1);
  CHECK(without.table.live_processes().empty());
}

TEST_CASE("Process holds: the sweep releases only processes that are gone, never below zero", "[table][reap]") {
  TableMemory memory(WorkerTable::bytes_needed(kMembers + 2, 4));
  Rig rig(memory.span());
  const int dead = rig.table.claim_process(300);
  const int live = rig.table.claim_process(301);
  auto in_dead = rig.balancer_for(dead);
  auto in_live = rig.balancer_for(live);
  REQUIRE(in_dead->start(0, false));
  REQUIRE(in_dead->start(0, false));
  REQUIRE(in_live->start(0, false));
  rig.slots[0]->busy.store(1);  // as if busy had been reset by hand meanwhile
  std::vector<std::uint32_t> asked;
  const auto reaped = rig.table.reap_dead([&](std::uint32_t pid) {
    asked.push_back(pid);
    return pid != 300;
  });
  CHECK(asked == std::vector<std::uint32_t>{300, 301});
  REQUIRE(reaped.size() == 1);
  CHECK(reaped[0].pid == 300);
  CHECK(reaped[0].total() == 2);
  CHECK(rig.busy(0) == 0);  // saturated, not -1
  CHECK(rig.table.live_processes() == std::vector<std::uint32_t>{301});
  CHECK(rig.table.reap_dead([](std::uint32_t) { return false; }).size() == 1);
  CHECK(rig.table.reap_dead([](std::uint32_t) { return false; }).empty());
}

TEST_CASE("Process records survive attach and are part of the layout check", "[table][reap]") {
  TableMemory memory(WorkerTable::bytes_needed(kMembers + 2, 3));
  Rig rig(memory.span(), 3);
  REQUIRE(rig.table.claim_process(42) >= 0);
  auto attached = WorkerTable::attach(memory.span());
  REQUIRE(attached.ok());
  CHECK(attached->process_capacity() == 3);
  CHECK(attached->live_processes() == std::vector<std::uint32_t>{42});
  CHECK_FALSE(WorkerTable::attach(memory.span().first(WorkerTable::bytes_needed(kMembers + 2, 3) - 1)).ok());
  CHECK(WorkerTable::bytes_needed(4, 2) == WorkerTable::bytes_needed(4) + 2 * idmb::table::process_stride(4));
  CHECK(idmb::table::process_stride(4) == 128);
  CHECK(idmb::table::process_stride(17) == 64 + 128);
}

TEST_CASE("Graceful restart in place: old pointers keep counting where the new generation reads", "[table][reap]") {
  TableMemory memory(WorkerTable::bytes_needed(3, 2));
  auto table = *WorkerTable::create(memory.span(), 3, 2);
  MemberSlot* t1 = *table.add("app", "t1", "t1", 0, 1);
  MemberSlot* t2 = *table.add("app", "t2", "t2", 0, 1);
  t1->factor.store(7);  // a manager edit
  t2->factor.store(9);
  t1->busy.store(2);  // an old child's requests in flight

  const std::vector<MemberSpec> same_plus_one = {
      {"app", "t1", "t1", 0, 1}, {"app", "t2", "t2", 0, 3}, {"app", "t3", "t3", 0, 1}};
  REQUIRE(table.fits(same_plus_one, 2));
  CHECK_FALSE(table.fits(same_plus_one, 4));  // another process count: another layout
  const std::vector<MemberSpec> rerouted = {{"app", "t1", "other", 0, 1}};
  CHECK_FALSE(table.fits(rerouted, 2));
  CHECK_FALSE(table.adopt(rerouted[0]).ok());
  const std::vector<MemberSpec> too_many = {{"app", "a", "a", 0, 1}, {"app", "b", "b", 0, 1}};
  CHECK_FALSE(table.fits(too_many, 2));  // one free slot only

  const std::uint64_t generation = table.header().generation.load();
  for (const auto& spec : same_plus_one) REQUIRE(table.adopt(spec).ok());
  table.next_generation();
  CHECK(table.header().generation.load() == generation + 1);
  CHECK(*table.adopt(same_plus_one[0]) == t1);  // the same record: old children's pointers
  CHECK(t1->busy.load() == 2);
  CHECK(t1->factor.load() == 7);  // config unchanged: the manager's edit stays
  CHECK(t2->factor.load() == 3);  // config changed: it wins
  CHECK(t2->configured_factor == 3);
  CHECK(table.size() == 3);
  CHECK(table.find("app", "t3") != nullptr);
}

namespace {

// An anonymous MAP_SHARED region, as apr_shm gives httpd's children.
struct SharedBytes {
  explicit SharedBytes(std::size_t n) : size(n) {
    void* p = ::mmap(nullptr, n, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    base = p == MAP_FAILED ? nullptr : static_cast<std::byte*>(p);
  }
  ~SharedBytes() {
    if (base != nullptr) ::munmap(base, size);
  }
  std::byte* base;
  std::size_t size;
};

}  // namespace

TEST_CASE("Process holds: children killed with SIGKILL mid-request leave busy true after reaping",
          "[table][reap][multiprocess]") {
  constexpr int kChildren = 4;
  constexpr int kInFlight = 3;  // per child, on t2 (no max)
  SharedBytes region(WorkerTable::bytes_needed(kMembers + 2, kChildren + 1));
  REQUIRE(region.base != nullptr);
  Rig rig(std::span<std::byte>(region.base, region.size), kChildren + 1);
  // A cell of the spare record's row, as the children's shared "ready" counter.
  std::atomic<std::int32_t>& ready = rig.table.held(kChildren, kMembers + 1);
  std::vector<pid_t> pids;
  std::cout.flush();
  std::fflush(nullptr);
  for (int c = 0; c < kChildren; ++c) {
    const pid_t pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      const int record = rig.table.claim_process(static_cast<std::uint32_t>(::getpid()));
      if (record < 0) ::_exit(2);
      auto b = rig.balancer_for(record);
      for (int i = 0; i < kInFlight; ++i) b->start(1, false);
      b->start(0, false);
      b->finish(0, 0, 0);  // one finished request: nothing of it must be released again
      ready.fetch_add(1);
      for (;;) ::pause();  // "serving" until killed
    }
    pids.push_back(pid);
  }
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while (ready.load() < kChildren && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  REQUIRE(ready.load() == kChildren);
  CHECK(rig.busy(1) == kChildren * kInFlight);
  CHECK(rig.busy(0) == 0);
  for (pid_t pid : pids) {
    ::kill(pid, SIGKILL);
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    CHECK(WIFSIGNALED(status));
    const auto reaped = rig.table.reap_process(static_cast<std::uint32_t>(pid));  // as the parent's hook
    REQUIRE(reaped.has_value());
    CHECK(reaped->total() == kInFlight);
  }
  CHECK(rig.busy(1) == 0);
  CHECK(rig.busy(0) == 0);
  CHECK(rig.table.live_processes().empty());
}
