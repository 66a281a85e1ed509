// The shared table's event ring (state changes for the status page) and the prober lease
// (one child probes for the whole server): single-threaded semantics, racing threads, and
// forked processes over MAP_SHARED memory.
#include <catch2/catch.hpp>

#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <cstring>
#include <iostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "idmb/worker_table.h"
#include "support/text.h"
#include "table/table_memory.h"

using idmb::table::EventEntry;
using idmb::table::kEventRingSize;
using idmb::table::kEventTextSize;
using idmb::table::kNoMember;
using idmb::table::MemberSlot;
using idmb::table::TableHeader;
using idmb::table::WorkerTable;
using idmb::table::testing::TableMemory;
using idmb::test::numbered;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;

WorkerTable make(TableMemory& memory, std::size_t capacity) {
  auto table = WorkerTable::create(memory.span(), capacity);
  REQUIRE(table.ok());
  for (std::size_t i = 0; i < capacity; ++i) {
    REQUIRE(table->add("lb", numbered("t", i), numbered("t", i), 0, 1).ok());
  }
  return *table;
}

// The ring's entries in `memory` (layout: header, slots, ring), to play a writer that died.
EventEntry* ring_of(TableMemory& memory, std::size_t capacity) {
  return reinterpret_cast<EventEntry*>(memory.span().data() + sizeof(TableHeader) + capacity * sizeof(MemberSlot));
}

}  // namespace

TEST_CASE("events come back newest first with their fields", "[health][table]") {
  TableMemory memory(WorkerTable::bytes_needed(2));
  auto table = make(memory, 2);
  table.add_event(0, kT0, "ok -> error: connect failed");
  table.add_event(1, kT0 + 5, "error -> recovering");
  table.add_event(kNoMember, kT0 + 9, "prober: pid 42");

  const auto events = table.recent_events();
  REQUIRE(events.size() == 3);
  CHECK(events[0].number == 2);
  CHECK(events[0].member == kNoMember);
  CHECK(events[0].time_ms == kT0 + 9);
  CHECK(events[0].text == "prober: pid 42");
  CHECK(events[1].number == 1);
  CHECK(events[1].member == 1);
  CHECK(events[1].text == "error -> recovering");
  CHECK(events[2].number == 0);
  CHECK(events[2].member == 0);
  CHECK(events[2].time_ms == kT0);

  CHECK(table.recent_events(2).size() == 2);
  CHECK(table.recent_events(2)[1].number == 1);
  CHECK(table.recent_events(0).empty());

  // A member index beyond the table is stored as "no member".
  table.add_event(7, kT0, "x");
  CHECK(table.recent_events(1)[0].member == kNoMember);
}

TEST_CASE("the ring wraps around and keeps the newest", "[health][table]") {
  TableMemory memory(WorkerTable::bytes_needed(1));
  auto table = make(memory, 1);
  constexpr int kTotal = 200;
  for (int i = 0; i < kTotal; ++i) table.add_event(0, kT0 + i, "event " + std::to_string(i));
  const auto events = table.recent_events(1000);
  REQUIRE(events.size() == kEventRingSize);
  for (std::size_t k = 0; k < events.size(); ++k) {
    const int i = kTotal - 1 - static_cast<int>(k);
    CHECK(events[k].number == static_cast<std::uint64_t>(i));
    CHECK(events[k].time_ms == kT0 + i);
    CHECK(events[k].text == "event " + std::to_string(i));
  }
  CHECK(table.header().event_writes.load() == kTotal);
}

TEST_CASE("event text is cut to the entry size, at a character boundary", "[health][table]") {
  TableMemory memory(WorkerTable::bytes_needed(1));
  auto table = make(memory, 1);
  const auto stored = [&](const std::string& text) {
    table.add_event(0, kT0, text);
    return table.recent_events(1).at(0).text;
  };
  CHECK(stored("").empty());
  CHECK(stored(std::string(kEventTextSize, 'x')) == std::string(kEventTextSize, 'x'));
  CHECK(stored(std::string(500, 'y')) == std::string(kEventTextSize, 'y'));
  // A two-byte character straddling the limit is left out whole.
  const std::string straddle = std::string(kEventTextSize - 1, 'a') + "\xc3\xa9" + "tail";
  CHECK(stored(straddle) == std::string(kEventTextSize - 1, 'a'));
  // One ending exactly at the limit stays.
  const std::string fits = std::string(kEventTextSize - 2, 'a') + "\xc3\xa9" + "tail";
  CHECK(stored(fits) == std::string(kEventTextSize - 2, 'a') + "\xc3\xa9");
}

TEST_CASE("readers skip entries being written or damaged", "[health][table]") {
  TableMemory memory(WorkerTable::bytes_needed(1));
  auto table = make(memory, 1);
  for (int i = 0; i < 3; ++i) table.add_event(0, kT0 + i, numbered("e", i));
  EventEntry* ring = ring_of(memory, 1);

  SECTION("an entry whose writer is mid-way") {
    ring[1].seq.store(2 * 1 + 1);  // event 1 "being written"
    const auto events = table.recent_events();
    REQUIRE(events.size() == 2);
    CHECK(events[0].text == "e2");
    CHECK(events[1].text == "e0");
  }
  SECTION("an entry whose text changed after it was published") {
    ring[2].text[0].store(ring[2].text[0].load() ^ 0x01);
    const auto events = table.recent_events();
    REQUIRE(events.size() == 2);
    CHECK(events[0].text == "e1");
  }
}

TEST_CASE("a writer that died mid-write does not wedge its entry", "[health][table]") {
  TableMemory memory(WorkerTable::bytes_needed(1));
  auto table = make(memory, 1);
  // Event 64 took entry 0 and its writer never finished; event 128 maps to entry 0 again.
  ring_of(memory, 1)[0].seq.store(2 * 64 + 1);
  table.header().event_writes.store(128);
  table.add_event(0, kT0, "after the crash");  // waits a little, then takes the entry over
  const auto events = table.recent_events(1);
  REQUIRE(events.size() == 1);
  CHECK(events[0].number == 128);
  CHECK(events[0].text == "after the crash");
}

TEST_CASE("concurrent writers lose nothing beyond the ring size", "[health][table]") {
  TableMemory memory(WorkerTable::bytes_needed(2));
  auto table = make(memory, 2);
  constexpr int kWriters = 6;
  constexpr int kEach = 5000;
  std::atomic<bool> writing{true};
  std::atomic<int> torn{0};
  std::atomic<std::uint64_t> read_events{0};

  // Each event's time encodes its writer and index, and so does its text: a reader that got
  // a mix of two events would see them disagree.
  const auto text_for = [](std::int64_t code) {
    return numbered("w", code / 100000).append(" i").append(std::to_string(code % 100000));
  };
  std::atomic<bool> reading{false};
  std::thread reader([&] {
    reading.store(true);
    for (;;) {
      const bool last = !writing.load();  // one full pass after the writers are done
      for (const auto& e : table.recent_events()) {
        read_events.fetch_add(1);
        if (e.text != text_for(e.time_ms) || e.member != static_cast<std::uint32_t>(e.time_ms % 2)) torn.fetch_add(1);
      }
      if (last) break;
    }
  });
  std::vector<std::thread> writers;
  for (int w = 0; w < kWriters; ++w) {
    writers.emplace_back([&, w] {
      while (!reading.load()) std::this_thread::yield();
      for (int i = 0; i < kEach; ++i) {
        if (i % 16 == 0) std::this_thread::yield();  // give the reader a chance mid-storm
        const std::int64_t code = std::int64_t{w} * 100000 + i;
        table.add_event(static_cast<std::size_t>(code % 2), code, text_for(code));
      }
    });
  }
  for (std::thread& t : writers) t.join();
  writing.store(false);
  reader.join();

  CHECK(torn.load() == 0);
  CHECK(read_events.load() >= kEventRingSize);
  constexpr std::uint64_t kTotal = std::uint64_t{kWriters} * kEach;
  CHECK(table.header().event_writes.load() == kTotal);
  const auto events = table.recent_events();
  REQUIRE(events.size() == kEventRingSize);  // the last 64 numbers, all of them
  std::set<std::string> texts;
  for (std::size_t k = 0; k < events.size(); ++k) {
    CHECK(events[k].number == kTotal - 1 - k);
    CHECK(events[k].text == text_for(events[k].time_ms));
    texts.insert(events[k].text);
  }
  CHECK(texts.size() == kEventRingSize);
}

TEST_CASE("prober lease: take, renew, refuse, take over", "[health][table]") {
  TableMemory memory(WorkerTable::bytes_needed(1));
  auto table = make(memory, 1);
  constexpr std::int64_t kLease = 5000;

  CHECK(table.try_take_prober_lease(100, kT0, kLease));
  CHECK(table.prober_lease().pid == 100);
  CHECK(table.prober_lease().until_ms == kT0 + kLease);
  // Another child is refused while the lease runs.
  CHECK_FALSE(table.try_take_prober_lease(200, kT0, kLease));
  CHECK_FALSE(table.try_take_prober_lease(200, kT0 + kLease - 1, kLease));
  // The holder renews it (again and again).
  CHECK(table.try_take_prober_lease(100, kT0 + 1000, kLease));
  CHECK(table.try_take_prober_lease(100, kT0 + 1000, kLease));
  CHECK(table.prober_lease().until_ms == kT0 + 1000 + kLease);
  CHECK_FALSE(table.try_take_prober_lease(200, kT0 + kLease, kLease));
  // The holder stops renewing (it died): the lease expires and another takes over.
  CHECK_FALSE(table.try_take_prober_lease(200, kT0 + 1000 + kLease - 1, kLease));
  CHECK(table.try_take_prober_lease(200, kT0 + 1000 + kLease, kLease));
  CHECK(table.prober_lease().pid == 200);
  // The old holder, back, is refused now.
  CHECK_FALSE(table.try_take_prober_lease(100, kT0 + 1000 + kLease, kLease));

  SECTION("release hands over at once; only the holder can release") {
    table.release_prober_lease(100);
    CHECK(table.prober_lease().pid == 200);
    table.release_prober_lease(200);
    CHECK(table.prober_lease().pid == 0);
    CHECK(table.try_take_prober_lease(300, kT0 + 1000 + kLease, kLease));
  }
  SECTION("the lease runs to a whole second, never shorter") {
    CHECK(table.try_take_prober_lease(200, kT0 + 10'500, 1000));
    CHECK(table.prober_lease().until_ms == kT0 + 12'000);
  }
  SECTION("pid 0 and empty leases never take it") {
    table.release_prober_lease(200);
    CHECK_FALSE(table.try_take_prober_lease(0, kT0, kLease));
    CHECK_FALSE(table.try_take_prober_lease(300, kT0, 0));
    CHECK(table.prober_lease().pid == 0);
  }
}

TEST_CASE("racing threads: exactly one takes the prober lease", "[health][table]") {
  TableMemory memory(WorkerTable::bytes_needed(1));
  auto table = make(memory, 1);
  for (int round = 0; round < 100; ++round) {
    const std::int64_t now = kT0 + round * 10'000;  // each round after the last lease ran out
    std::atomic<int> winners{0};
    std::atomic<std::uint32_t> winner{0};
    std::vector<std::thread> threads;
    for (std::uint32_t pid = 1; pid <= 6; ++pid) {
      threads.emplace_back([&, pid] {
        // Each contender asks several times, as a prober loop would.
        bool won = false;
        for (int i = 0; i < 50; ++i) won = table.try_take_prober_lease(pid, now, 5000) || won;
        if (won) {
          winners.fetch_add(1);
          winner.store(pid);
        }
      });
    }
    for (std::thread& t : threads) t.join();
    REQUIRE(winners.load() == 1);
    REQUIRE(table.prober_lease().pid == winner.load());
  }
}

TEST_CASE("forked children: one prober for the whole server", "[health][table][multiprocess]") {
  const std::size_t size = WorkerTable::bytes_needed(1);
  void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  REQUIRE(p != MAP_FAILED);
  std::span<std::byte> bytes(static_cast<std::byte*>(p), size);
  auto table = WorkerTable::create(bytes, 1);
  REQUIRE(table.ok());
  REQUIRE(table->add("lb", "t1", "t1", 0, 1).ok());

  constexpr int kChildren = 6;
  constexpr int kEventsEach = 500;
  std::cout.flush();
  std::fflush(nullptr);
  std::vector<pid_t> pids;
  for (int c = 0; c < kChildren; ++c) {
    const pid_t pid = ::fork();
    if (pid == 0) {
      auto attached = WorkerTable::attach(bytes);
      if (!attached.ok()) ::_exit(10);
      const auto me = static_cast<std::uint32_t>(::getpid());
      int held = 0;
      for (int i = 0; i < 200; ++i) held += attached->try_take_prober_lease(me, kT0, 60'000) ? 1 : 0;
      for (int i = 0; i < kEventsEach; ++i) attached->add_event(0, kT0 + i, "child " + std::to_string(c));
      // Exit 1 if this child held the lease, 0 if not (a holder holds it on every try).
      ::_exit(held == 200 ? 1 : held == 0 ? 0 : 12);
    }
    REQUIRE(pid > 0);
    pids.push_back(pid);
  }
  int holders = 0;
  for (pid_t pid : pids) {
    int status = 0;
    REQUIRE(::waitpid(pid, &status, 0) == pid);
    REQUIRE(WIFEXITED(status));
    const int code = WEXITSTATUS(status);
    REQUIRE((code == 0 || code == 1));
    holders += code;
  }
  CHECK(holders == 1);
  CHECK(table->prober_lease().pid != 0);
  CHECK(table->header().event_writes.load() == kChildren * kEventsEach);
  const auto events = table->recent_events();
  CHECK(events.size() == kEventRingSize);
  CHECK(events.front().number == kChildren * kEventsEach - 1);
  ::munmap(p, size);
}
