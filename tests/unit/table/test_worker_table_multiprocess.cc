// The worker table shared by forked processes, as httpd children share it: every child
// attaches to the same MAP_SHARED bytes and counts with atomics only; no count may be lost.
#include <catch2/catch.hpp>

#include <signal.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <iostream>
#include <string>
#include <thread>
#include <vector>

#include "idmb/worker_table.h"
#include "support/text.h"

using namespace idmb::table;

namespace {

constexpr int kChildren = 8;
constexpr std::uint64_t kIterations = 200'000;
constexpr std::size_t kMembers = 4;
constexpr auto kDeadline = std::chrono::seconds(60);

// An anonymous MAP_SHARED region: forked children see the parent's bytes, not a copy.
class SharedRegion {
 public:
  explicit SharedRegion(std::size_t size) : size_(size) {
    void* p = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    base_ = p == MAP_FAILED ? nullptr : static_cast<std::byte*>(p);
  }
  ~SharedRegion() {
    if (base_ != nullptr) ::munmap(base_, size_);
  }
  SharedRegion(const SharedRegion&) = delete;
  SharedRegion& operator=(const SharedRegion&) = delete;
  bool ok() const { return base_ != nullptr; }
  std::span<std::byte> span() const { return {base_, size_}; }

 private:
  std::byte* base_ = nullptr;
  std::size_t size_;
};

std::string member_name(std::size_t i) { return idmb::test::numbered("t", i + 1); }

// Runs `body` in a child; its return value is the exit status. The child never returns into
// Catch (no assertions, no atexit handlers in a copy of the test runner).
pid_t spawn(const std::function<int()>& body) {
  // Unflushed output would be copied into the child and printed twice by some runtimes.
  std::cout.flush();
  std::cerr.flush();
  std::fflush(nullptr);
  const pid_t pid = ::fork();
  if (pid == 0) ::_exit(body());
  return pid;
}

// Waits for every child, at most kDeadline in all; stragglers are killed. Returns the exit
// statuses (-1 for a child that was killed or did not exit normally).
std::vector<int> wait_all(const std::vector<pid_t>& pids) {
  std::vector<int> status(pids.size(), -1);
  std::vector<bool> done(pids.size(), false);
  std::size_t remaining = pids.size();
  const auto deadline = std::chrono::steady_clock::now() + kDeadline;
  while (remaining > 0 && std::chrono::steady_clock::now() < deadline) {
    for (std::size_t i = 0; i < pids.size(); ++i) {
      if (done[i]) continue;
      int ws = 0;
      const pid_t r = ::waitpid(pids[i], &ws, WNOHANG);
      if (r == pids[i] || r < 0) {
        done[i] = true;
        --remaining;
        if (r == pids[i] && WIFEXITED(ws)) status[i] = WEXITSTATUS(ws);
      }
    }
    if (remaining > 0) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  for (std::size_t i = 0; i < pids.size(); ++i) {
    if (done[i]) continue;
    ::kill(pids[i], SIGKILL);
    ::waitpid(pids[i], nullptr, 0);
  }
  return status;
}

// One child's share of the load, spread over the members like requests would be.
int hammer(std::span<std::byte> memory, int child) {
  auto table = WorkerTable::attach(memory);
  if (!table.ok()) return 10;
  MemberSlot* slots[kMembers];
  for (std::size_t m = 0; m < kMembers; ++m) {
    slots[m] = table->find("lb", member_name(m));
    if (slots[m] == nullptr) return 11;
  }
  for (std::uint64_t i = 0; i < kIterations; ++i) {
    MemberSlot& s = *slots[(i + static_cast<std::uint64_t>(child)) % kMembers];
    s.busy.fetch_add(1, std::memory_order_relaxed);
    s.requests.fetch_add(1, std::memory_order_relaxed);
    s.lb_value.fetch_add(3, std::memory_order_relaxed);
    s.bytes_out.fetch_add(i % 7, std::memory_order_relaxed);
    s.bytes_in.fetch_add(100 + i % 13, std::memory_order_relaxed);
    s.errors[i % kErrorClassCount].fetch_add(1, std::memory_order_relaxed);
    if (i % 2 == 0) s.sticky_hits.fetch_add(1, std::memory_order_relaxed);
    s.busy.fetch_sub(1, std::memory_order_relaxed);
  }
  return 0;
}

}  // namespace

TEST_CASE("forked processes count into one table without losing a count", "[table][multiprocess]") {
  SharedRegion region(WorkerTable::bytes_needed(kMembers));
  REQUIRE(region.ok());
  auto table = WorkerTable::create(region.span(), kMembers);
  REQUIRE(table.ok());
  for (std::size_t m = 0; m < kMembers; ++m) REQUIRE(table->add("lb", member_name(m), member_name(m), 0, 1).ok());

  std::vector<pid_t> pids;
  for (int c = 0; c < kChildren; ++c) {
    const pid_t pid = spawn([&region, c] { return hammer(region.span(), c); });
    REQUIRE(pid > 0);
    pids.push_back(pid);
  }
  const std::vector<int> status = wait_all(pids);
  for (int c = 0; c < kChildren; ++c) {
    INFO("child " << c);
    CHECK(status[static_cast<std::size_t>(c)] == 0);
  }

  // What the children should have added, member by member.
  std::uint64_t requests[kMembers] = {}, bytes_out[kMembers] = {}, bytes_in[kMembers] = {}, sticky[kMembers] = {},
                errors[kMembers][kErrorClassCount] = {};
  for (int c = 0; c < kChildren; ++c) {
    for (std::uint64_t i = 0; i < kIterations; ++i) {
      const std::size_t m = (i + static_cast<std::uint64_t>(c)) % kMembers;
      ++requests[m];
      bytes_out[m] += i % 7;
      bytes_in[m] += 100 + i % 13;
      ++errors[m][i % kErrorClassCount];
      if (i % 2 == 0) ++sticky[m];
    }
  }
  std::uint64_t total = 0;
  for (std::size_t m = 0; m < kMembers; ++m) {
    INFO("member " << member_name(m));
    const MemberSlot& s = table->slot(m);
    CHECK(s.busy.load() == 0);
    CHECK(s.requests.load() == requests[m]);
    CHECK(s.lb_value.load() == 3 * requests[m]);
    CHECK(s.bytes_out.load() == bytes_out[m]);
    CHECK(s.bytes_in.load() == bytes_in[m]);
    CHECK(s.sticky_hits.load() == sticky[m]);
    for (std::size_t e = 0; e < kErrorClassCount; ++e) CHECK(s.errors[e].load() == errors[m][e]);
    total += s.requests.load();
  }
  CHECK(total == kChildren * kIterations);
}

TEST_CASE("a forked child attaches and finds members by name", "[table][multiprocess]") {
  SharedRegion region(WorkerTable::bytes_needed(8));
  REQUIRE(region.ok());
  auto table = WorkerTable::create(region.span(), 8);
  REQUIRE(table.ok());
  REQUIRE(table->add("operator", "t1", "node1", 0, 2).ok());
  REQUIRE(table->add("selfservice", "t1", "node1", 1, 3).ok());
  REQUIRE(table->add("selfservice", "t2", "node2", 0, 4).ok());

  // The child checks what it sees and writes back through the shared bytes.
  const pid_t pid = spawn([&region] {
    auto attached = WorkerTable::attach(region.span());
    if (!attached.ok()) return 10;
    if (attached->size() != 3 || attached->capacity() != 8) return 11;
    MemberSlot* op = attached->find("operator", "t1");
    MemberSlot* ss = attached->find("selfservice", "t1");
    MemberSlot* ss2 = attached->find("selfservice", "t2");
    if (op == nullptr || ss == nullptr || ss2 == nullptr || op == ss) return 12;
    if (attached->find("operator", "t2") != nullptr) return 13;
    if (std::string(ss2->route) != "node2" || ss->activation.load() != 1 || ss2->factor.load() != 4) return 14;
    ss->requests.fetch_add(5);
    ss2->health.store(static_cast<std::uint32_t>(Health::Error));
    return 0;
  });
  REQUIRE(pid > 0);
  const std::vector<int> status = wait_all({pid});
  REQUIRE(status[0] == 0);
  CHECK(table->find("selfservice", "t1")->requests.load() == 5);
  CHECK(table->find("operator", "t1")->requests.load() == 0);
  CHECK(table->find("selfservice", "t2")->health.load() == static_cast<std::uint32_t>(Health::Error));
}
