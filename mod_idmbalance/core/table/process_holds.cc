// Crash reaping over the worker table's process records: each httpd child counts what its
// requests hold in flight per member in its own record, next to the shared `busy`; when the
// child is gone, whoever learns of it gives that back. The request path stays lock-free: one
// more relaxed atomic add on a cache line only its own process writes.
#include <atomic>
#include <cstdint>
#include <new>

#include "idmb/worker_table.h"

namespace idmb::table {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;
constexpr std::uint64_t kLive = 1;
constexpr std::uint64_t kReaping = 2;
constexpr std::uint64_t kClaimMask = (std::uint64_t{1} << 30) - 1;

constexpr std::uint32_t owner_pid(std::uint64_t word) { return static_cast<std::uint32_t>(word >> 32); }
constexpr std::uint64_t owner_state(std::uint64_t word) { return word & 3; }
constexpr std::uint64_t owner_word(std::uint32_t pid, std::uint64_t claim, std::uint64_t state) {
  return (std::uint64_t{pid} << 32) | ((claim & kClaimMask) << 2) | state;
}
constexpr std::uint64_t owner_claim(std::uint64_t word) { return (word >> 2) & kClaimMask; }

// busy -= count, never below zero (finish() saturates the same way).
void subtract_busy(std::atomic<std::int32_t>& busy, std::int32_t count) {
  std::int32_t seen = busy.load(kRelaxed);
  for (;;) {
    const std::int32_t next = seen > count ? seen - count : 0;
    if (busy.compare_exchange_weak(seen, next, kRelaxed)) return;
  }
}

}  // namespace

std::int32_t Reaped::total() const {
  std::int32_t sum = 0;
  for (const Release& r : released) sum += r.count;
  return sum;
}

std::size_t WorkerTable::process_capacity() const { return header_->process_capacity; }

ProcessRecord& WorkerTable::process(std::size_t index) const {
  return *std::launder(reinterpret_cast<ProcessRecord*>(processes_ + index * process_stride(capacity())));
}

std::atomic<std::int32_t>& WorkerTable::held(int process_index, std::size_t member) const {
  std::byte* row =
      processes_ + static_cast<std::size_t>(process_index) * process_stride(capacity()) + sizeof(ProcessRecord);
  return *std::launder(reinterpret_cast<std::atomic<std::int32_t>*>(row + member * sizeof(std::int32_t)));
}

int WorkerTable::claim_process(std::uint32_t pid) {
  if (pid == 0) return -1;
  // A record under our pid is a dead predecessor's (pids are unique among live processes).
  reap_process(pid);
  const std::size_t n = process_capacity();
  for (std::size_t i = 0; i < n; ++i) {
    std::atomic<std::uint64_t>& owner = process(i).owner;
    std::uint64_t seen = owner.load(std::memory_order_acquire);
    if (seen != 0) continue;
    const std::uint64_t claim = header_->process_claims.fetch_add(1, kRelaxed);
    if (owner.compare_exchange_strong(seen, owner_word(pid, claim, kLive), std::memory_order_acq_rel)) {
      return static_cast<int>(i);
    }
  }
  return -1;
}

// Gives back what record `index` (being reaped, so nobody else touches its row) held.
Reaped WorkerTable::release_holds(std::size_t index, std::uint32_t pid) {
  Reaped out;
  out.pid = pid;
  const std::size_t members = size();
  for (std::size_t m = 0; m < capacity(); ++m) {
    const std::int32_t count = held(static_cast<int>(index), m).exchange(0, std::memory_order_acq_rel);
    if (count > 0 && m < members) {
      subtract_busy(slots_[m].busy, count);
      out.released.push_back({m, count});
    }
  }
  process(index).owner.store(0, std::memory_order_release);
  return out;
}

std::optional<Reaped> WorkerTable::reap_process(std::uint32_t pid) {
  if (pid == 0) return std::nullopt;
  const std::size_t n = process_capacity();
  for (std::size_t i = 0; i < n; ++i) {
    std::atomic<std::uint64_t>& owner = process(i).owner;
    std::uint64_t seen = owner.load(std::memory_order_acquire);
    if (owner_pid(seen) != pid || owner_state(seen) != kLive) continue;
    if (owner.compare_exchange_strong(seen, owner_word(pid, owner_claim(seen), kReaping), std::memory_order_acq_rel)) {
      return release_holds(i, pid);
    }
  }
  return std::nullopt;
}

std::vector<Reaped> WorkerTable::reap_dead(const std::function<bool(std::uint32_t)>& alive) {
  std::vector<Reaped> out;
  const std::size_t n = process_capacity();
  for (std::size_t i = 0; i < n; ++i) {
    std::atomic<std::uint64_t>& owner = process(i).owner;
    std::uint64_t seen = owner.load(std::memory_order_acquire);
    if (owner_state(seen) != kLive || alive(owner_pid(seen))) continue;
    // Exactly the word we judged: a record freed and claimed again since is not touched.
    if (owner.compare_exchange_strong(seen, owner_word(owner_pid(seen), owner_claim(seen), kReaping),
                                      std::memory_order_acq_rel)) {
      out.push_back(release_holds(i, owner_pid(seen)));
    }
  }
  return out;
}

std::vector<std::uint32_t> WorkerTable::live_processes() const {
  std::vector<std::uint32_t> out;
  for (std::size_t i = 0; i < process_capacity(); ++i) {
    const std::uint64_t word = process(i).owner.load(std::memory_order_acquire);
    if (owner_state(word) == kLive) out.push_back(owner_pid(word));
  }
  return out;
}

}  // namespace idmb::table
