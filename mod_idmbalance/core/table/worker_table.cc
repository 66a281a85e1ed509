// The shared worker table over caller-provided memory. The parent formats and fills it before
// any child exists; children attach to the same bytes and touch only the atomics after that.
#include "idmb/worker_table.h"

#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <string>

namespace idmb::table {
namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;
constexpr std::size_t kAlignment = 64;

static_assert(sizeof(TableHeader) % kAlignment == 0);
static_assert(sizeof(MemberSlot) % kAlignment == 0);

std::uint64_t fnv1a(std::uint64_t hash, std::string_view bytes) {
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  return hash;
}

bool is_aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % kAlignment == 0; }

// Stored names are NUL-terminated within kNameSize (add() rejects longer ones).
std::string_view stored(const char (&field)[kNameSize]) {
  return std::string_view(field, ::strnlen(field, kNameSize));
}

bool names_match(const MemberSlot& slot, std::string_view balancer, std::string_view member) {
  return stored(slot.balancer) == balancer && stored(slot.member) == member;
}

std::string quoted(std::string_view s) { return "'" + std::string(s) + "'"; }

// A name must fit with its terminating NUL, and an embedded NUL would make the stored name
// differ from the configured one.
Status check_name(std::string_view what, std::string_view value, bool allow_empty) {
  if (value.empty() && !allow_empty) return fail("worker table: empty " + std::string(what));
  if (value.size() >= kNameSize) {
    return fail("worker table: " + std::string(what) + " " + quoted(value) + " is " +
                std::to_string(value.size()) + " bytes; the limit is " + std::to_string(kNameSize - 1));
  }
  if (value.find('\0') != std::string_view::npos) {
    return fail("worker table: " + std::string(what) + " contains a NUL byte");
  }
  return Ok{};
}

void copy_name(char (&field)[kNameSize], std::string_view value) {
  std::memset(field, 0, kNameSize);
  std::memcpy(field, value.data(), value.size());
}

template <class T>
void copy_atomic(std::atomic<T>& to, const std::atomic<T>& from) {
  to.store(from.load(std::memory_order_relaxed), std::memory_order_relaxed);
}

std::string hex(std::uint32_t v) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) out += kDigits[(v >> shift) & 0xf];
  return out;
}

}  // namespace

std::uint64_t member_identity(std::string_view balancer, std::string_view member) {
  std::uint64_t hash = fnv1a(kFnvOffset, balancer);
  hash = fnv1a(hash, std::string_view("\0", 1));  // keeps ("ab","c") apart from ("a","bc")
  hash = fnv1a(hash, member);
  return hash == 0 ? 1 : hash;  // 0 marks an unused slot
}

std::size_t WorkerTable::bytes_needed(std::size_t capacity) {
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  if (capacity > (kMax - sizeof(TableHeader)) / sizeof(MemberSlot)) return kMax;  // never fits
  return sizeof(TableHeader) + capacity * sizeof(MemberSlot);
}

Expected<WorkerTable> WorkerTable::create(std::span<std::byte> memory, std::size_t capacity) {
  if (capacity > std::numeric_limits<std::uint32_t>::max()) {
    return fail("worker table: capacity " + std::to_string(capacity) + " is too large");
  }
  const std::size_t needed = bytes_needed(capacity);
  if (memory.size() < needed) {
    return fail("worker table: " + std::to_string(memory.size()) + " bytes of memory, " +
                std::to_string(capacity) + " members need " + std::to_string(needed));
  }
  if (!is_aligned(memory.data())) return fail("worker table: memory is not 64-byte aligned");

  // Zero the bytes too (padding included): a table dumped or compared byte-wise is stable.
  std::memset(memory.data(), 0, needed);
  auto* header = new (memory.data()) TableHeader{};
  std::byte* slot_bytes = memory.data() + sizeof(TableHeader);
  for (std::size_t i = 0; i < capacity; ++i) new (slot_bytes + i * sizeof(MemberSlot)) MemberSlot{};
  auto* slots = std::launder(reinterpret_cast<MemberSlot*>(slot_bytes));

  header->version = kLayoutVersion;
  header->capacity = static_cast<std::uint32_t>(capacity);
  header->slot_size = static_cast<std::uint32_t>(sizeof(MemberSlot));
  header->count.store(0, std::memory_order_relaxed);
  header->generation.store(1, std::memory_order_relaxed);
  header->magic = kMagic;
  return WorkerTable(header, slots);
}

Expected<WorkerTable> WorkerTable::attach(std::span<std::byte> memory) {
  if (memory.size() < sizeof(TableHeader)) {
    return fail("worker table: " + std::to_string(memory.size()) + " bytes is smaller than its header (" +
                std::to_string(sizeof(TableHeader)) + ")");
  }
  if (!is_aligned(memory.data())) return fail("worker table: memory is not 64-byte aligned");
  // The parent formatted these bytes before this process existed (fork) or mapped them.
  auto* header = std::launder(reinterpret_cast<TableHeader*>(memory.data()));

  if (header->magic != kMagic) {
    return fail("worker table: bad magic " + hex(header->magic) + " (expected " + hex(kMagic) +
                "): not a worker table");
  }
  if (header->version != kLayoutVersion) {
    return fail("worker table: layout version " + std::to_string(header->version) + ", this module uses " +
                std::to_string(kLayoutVersion));
  }
  if (header->slot_size != sizeof(MemberSlot)) {
    return fail("worker table: slot size " + std::to_string(header->slot_size) + ", this module uses " +
                std::to_string(sizeof(MemberSlot)));
  }
  const std::size_t fits = (memory.size() - sizeof(TableHeader)) / sizeof(MemberSlot);
  if (header->capacity > fits) {
    return fail("worker table: capacity " + std::to_string(header->capacity) + " needs " +
                std::to_string(bytes_needed(header->capacity)) + " bytes, the memory has " +
                std::to_string(memory.size()));
  }
  const std::uint32_t count = header->count.load(std::memory_order_acquire);
  if (count > header->capacity) {
    return fail("worker table: count " + std::to_string(count) + " exceeds capacity " +
                std::to_string(header->capacity));
  }
  auto* slots = std::launder(reinterpret_cast<MemberSlot*>(memory.data() + sizeof(TableHeader)));
  return WorkerTable(header, slots);
}

Expected<MemberSlot*> WorkerTable::add(std::string_view balancer, std::string_view member,
                                       std::string_view route, std::uint32_t activation,
                                       std::uint32_t factor) {
  if (auto s = check_name("balancer name", balancer, false); !s) return fail(s.error());
  if (auto s = check_name("member name", member, false); !s) return fail(s.error());
  if (auto s = check_name("route", route, true); !s) return fail(s.error());

  const std::uint64_t identity = member_identity(balancer, member);
  const std::size_t count = size();
  for (std::size_t i = 0; i < count; ++i) {
    const MemberSlot& other = slots_[i];
    if (other.identity != identity) continue;
    if (names_match(other, balancer, member)) {
      return fail("worker table: member " + quoted(member) + " of balancer " + quoted(balancer) +
                  " is already in the table");
    }
    // 64-bit FNV collision: find() would tell them apart, but the identity must be unique.
    return fail("worker table: member " + quoted(member) + " of balancer " + quoted(balancer) +
                " has the same identity as " + quoted(stored(other.member)) + " of " +
                quoted(stored(other.balancer)) + "; rename one of them");
  }
  if (count >= capacity()) {
    return fail("worker table: full (" + std::to_string(capacity()) + " members); cannot add " +
                quoted(member) + " of balancer " + quoted(balancer));
  }

  MemberSlot& slot = slots_[count];
  copy_name(slot.balancer, balancer);
  copy_name(slot.member, member);
  copy_name(slot.route, route);
  slot.identity = identity;
  slot.configured_activation = activation;
  slot.configured_factor = factor;
  slot.activation.store(activation, std::memory_order_relaxed);
  slot.factor.store(factor, std::memory_order_relaxed);
  slot.health.store(static_cast<std::uint32_t>(Health::Ok), std::memory_order_relaxed);
  slot.state_since_ms.store(0, std::memory_order_relaxed);
  // Release: a process that reads the new count sees the whole slot.
  header_->count.store(static_cast<std::uint32_t>(count + 1), std::memory_order_release);
  return &slot;
}

MemberSlot* WorkerTable::find(std::string_view balancer, std::string_view member) const {
  if (balancer.size() >= kNameSize || member.size() >= kNameSize) return nullptr;
  const std::uint64_t identity = member_identity(balancer, member);
  const std::size_t count = size();
  for (std::size_t i = 0; i < count; ++i) {
    MemberSlot& slot = slots_[i];
    if (slot.identity == identity && names_match(slot, balancer, member)) return &slot;
  }
  return nullptr;
}

void WorkerTable::carry_over_from(const WorkerTable& previous) {
  const std::size_t count = size();
  for (std::size_t i = 0; i < count; ++i) {
    MemberSlot& to = slots_[i];
    const MemberSlot* from = previous.find(stored(to.balancer), stored(to.member));
    if (from == nullptr) continue;  // a new member starts at zero
    // Manager edits (activation, factor) survive like the counters do, unless the config
    // itself changed the value since the last start: then the new config wins.
    if (from->configured_activation == to.configured_activation) {
      copy_atomic(to.activation, from->activation);
    }
    if (from->configured_factor == to.configured_factor) {
      copy_atomic(to.factor, from->factor);
    }
    copy_atomic(to.health, from->health);
    copy_atomic(to.state_since_ms, from->state_since_ms);
    copy_atomic(to.last_error_ms, from->last_error_ms);
    copy_atomic(to.last_error_class, from->last_error_class);
    copy_atomic(to.lb_value, from->lb_value);
    copy_atomic(to.requests, from->requests);
    for (std::size_t e = 0; e < kErrorClassCount; ++e) copy_atomic(to.errors[e], from->errors[e]);
    copy_atomic(to.bytes_out, from->bytes_out);
    copy_atomic(to.bytes_in, from->bytes_in);
    copy_atomic(to.sticky_hits, from->sticky_hits);
    copy_atomic(to.last_sticky_ms, from->last_sticky_ms);
    // Not busy: the old generation's requests in flight finish (and decrement) in the old table.
  }
  header_->generation.store(previous.header().generation.load(std::memory_order_relaxed) + 1,
                            std::memory_order_relaxed);
}

std::size_t WorkerTable::size() const {
  const std::size_t count = header_->count.load(std::memory_order_acquire);
  // Never trust shared memory past capacity (attach checked it once; another process writes it).
  return count < header_->capacity ? count : header_->capacity;
}

std::size_t WorkerTable::capacity() const { return header_->capacity; }

MemberSlot& WorkerTable::slot(std::size_t index) const { return slots_[index]; }

}  // namespace idmb::table
