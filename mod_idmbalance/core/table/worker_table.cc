// The shared worker table over caller-provided memory. The parent formats and fills it before
// any child exists; children attach to the same bytes and touch only the atomics after that.
#include "idmb/worker_table.h"

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <new>
#include <string>
#include <thread>

#include "../util/text.h"
#include "idmb/latency.h"

namespace idmb::table {
namespace {

constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;
constexpr std::size_t kAlignment = 64;

static_assert(sizeof(TableHeader) % kAlignment == 0);
static_assert(sizeof(MemberSlot) % kAlignment == 0);
static_assert(kEventTextSize % 8 == 0);
constexpr std::size_t kRingBytes = kEventRingSize * sizeof(EventEntry);
constexpr std::size_t kTextWords = kEventTextSize / 8;
// A writer finding its ring entry still being written by an older event waits this many
// yields for it, then takes the entry over (the other writer may have died mid-write).
constexpr int kMaxWriterSpins = 1 << 14;

constexpr auto kRelaxed = std::memory_order_relaxed;

std::uint64_t fnv1a(std::uint64_t hash, std::string_view bytes) {
  for (char c : bytes) {
    hash ^= static_cast<unsigned char>(c);
    hash *= kFnvPrime;
  }
  return hash;
}

bool is_aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % kAlignment == 0; }

// Stored names are NUL-terminated within kNameSize (add() rejects longer ones).
std::string_view stored(const char (&field)[kNameSize]) { return std::string_view(field, ::strnlen(field, kNameSize)); }

bool names_match(const MemberSlot& slot, std::string_view balancer, std::string_view member) {
  return stored(slot.balancer) == balancer && stored(slot.member) == member;
}

using text::quoted;

// A name must fit with its terminating NUL, and an embedded NUL would make the stored name
// differ from the configured one.
Status check_name(std::string_view what, std::string_view value, bool allow_empty) {
  if (value.empty() && !allow_empty) return fail("worker table: empty " + std::string(what));
  if (value.size() >= kNameSize) {
    return fail("worker table: " + std::string(what) + " " + quoted(value) + " is " + std::to_string(value.size()) +
                " bytes; the limit is " + std::to_string(kNameSize - 1));
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

// Event ring helpers. Sequence values: 2n+1 while event n is being written, 2n+2 once published.
constexpr std::uint64_t writing_seq(std::uint64_t n) { return 2 * n + 1; }
constexpr std::uint64_t published_seq(std::uint64_t n) { return 2 * n + 2; }

std::uint64_t mix(std::uint64_t h, std::uint64_t v) {
  h ^= v;
  h *= 0x9e3779b97f4a7c15ull;
  return h ^ (h >> 29);
}

std::uint64_t event_check(std::uint64_t number, std::int64_t time_ms, std::uint32_t member,
                          const std::uint64_t (&words)[kTextWords]) {
  std::uint64_t h = mix(kFnvOffset, number);
  h = mix(h, static_cast<std::uint64_t>(time_ms));
  h = mix(h, member);
  for (std::uint64_t w : words) h = mix(h, w);
  return h;
}

// At most `limit` bytes of `text`, not splitting a UTF-8 sequence.
std::string_view cut_utf8(std::string_view text, std::size_t limit) {
  if (text.size() <= limit) return text;
  std::size_t cut = limit;
  while (cut > 0 && (static_cast<unsigned char>(text[cut]) & 0xc0) == 0x80) --cut;
  return text.substr(0, cut);
}

// Lease word: holder pid in the high half, end of lease in whole seconds in the low half.
constexpr std::uint64_t lease_word(std::uint32_t pid, std::uint32_t end_s) {
  return (std::uint64_t{pid} << 32) | end_s;
}
constexpr std::uint32_t lease_pid(std::uint64_t word) { return static_cast<std::uint32_t>(word >> 32); }
constexpr std::int64_t lease_end_ms(std::uint64_t word) { return static_cast<std::int64_t>(word & 0xffffffffu) * 1000; }
std::uint32_t lease_end_seconds(std::int64_t now_ms, std::int64_t lease_ms) {
  if (now_ms <= 0) now_ms = 0;
  constexpr std::int64_t kMaxMs = std::int64_t{std::numeric_limits<std::uint32_t>::max()} * 1000;
  const std::int64_t end_ms = lease_ms >= kMaxMs - now_ms ? kMaxMs : now_ms + lease_ms;
  return static_cast<std::uint32_t>((end_ms + 999) / 1000);  // round up: never shorter than asked
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

std::size_t WorkerTable::bytes_needed(std::size_t capacity, std::size_t processes) {
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  constexpr std::size_t kFixed = sizeof(TableHeader) + kRingBytes;
  if (capacity > (kMax - kFixed) / sizeof(MemberSlot)) return kMax;  // never fits
  const std::size_t base = kFixed + capacity * sizeof(MemberSlot);
  const std::size_t stride = process_stride(capacity);
  if (processes > (kMax - base) / stride) return kMax;
  return base + processes * stride;
}

Expected<WorkerTable> WorkerTable::create(std::span<std::byte> memory, std::size_t capacity, std::size_t processes) {
  if (capacity > std::numeric_limits<std::uint32_t>::max() || processes > std::numeric_limits<std::uint32_t>::max()) {
    return fail("worker table: capacity " + std::to_string(capacity) + " or " + std::to_string(processes) +
                " processes is too large");
  }
  const std::size_t needed = bytes_needed(capacity, processes);
  if (memory.size() < needed) {
    return fail("worker table: " + std::to_string(memory.size()) + " bytes of memory, " + std::to_string(capacity) +
                " members need " + std::to_string(needed));
  }
  if (!is_aligned(memory.data())) return fail("worker table: memory is not 64-byte aligned");

  // Zero the bytes too (padding included): a table dumped or compared byte-wise is stable.
  std::memset(memory.data(), 0, needed);
  auto* header = new (memory.data()) TableHeader{};
  std::byte* slot_bytes = memory.data() + sizeof(TableHeader);
  for (std::size_t i = 0; i < capacity; ++i) new (slot_bytes + i * sizeof(MemberSlot)) MemberSlot{};
  auto* slots = std::launder(reinterpret_cast<MemberSlot*>(slot_bytes));
  std::byte* event_bytes = slot_bytes + capacity * sizeof(MemberSlot);
  for (std::size_t i = 0; i < kEventRingSize; ++i) new (event_bytes + i * sizeof(EventEntry)) EventEntry{};
  auto* events = std::launder(reinterpret_cast<EventEntry*>(event_bytes));
  std::byte* process_bytes = event_bytes + kRingBytes;
  const std::size_t stride = process_stride(capacity);
  for (std::size_t i = 0; i < processes; ++i) {
    std::byte* record = process_bytes + i * stride;
    new (record) ProcessRecord{};
    for (std::size_t m = 0; m < capacity; ++m) {
      new (record + sizeof(ProcessRecord) + m * sizeof(std::int32_t)) std::atomic<std::int32_t>{0};
    }
  }

  header->version = kLayoutVersion;
  header->capacity = static_cast<std::uint32_t>(capacity);
  header->slot_size = static_cast<std::uint32_t>(sizeof(MemberSlot));
  header->event_capacity = static_cast<std::uint32_t>(kEventRingSize);
  header->count.store(0, kRelaxed);
  header->generation.store(1, kRelaxed);
  header->prober_lease.store(0, kRelaxed);
  header->event_writes.store(0, kRelaxed);
  header->process_capacity = static_cast<std::uint32_t>(processes);
  header->process_claims.store(0, kRelaxed);
  header->magic = kMagic;
  return WorkerTable(header, slots, events, process_bytes);
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
  if (header->event_capacity != kEventRingSize) {
    return fail("worker table: event ring of " + std::to_string(header->event_capacity) +
                " entries, this module uses " + std::to_string(kEventRingSize));
  }
  if (memory.size() < bytes_needed(header->capacity, header->process_capacity)) {
    return fail("worker table: capacity " + std::to_string(header->capacity) + " needs " +
                std::to_string(bytes_needed(header->capacity, header->process_capacity)) + " bytes, the memory has " +
                std::to_string(memory.size()));
  }
  const std::uint32_t count = header->count.load(std::memory_order_acquire);
  if (count > header->capacity) {
    return fail("worker table: count " + std::to_string(count) + " exceeds capacity " +
                std::to_string(header->capacity));
  }
  auto* slots = std::launder(reinterpret_cast<MemberSlot*>(memory.data() + sizeof(TableHeader)));
  std::byte* event_bytes = memory.data() + sizeof(TableHeader) + header->capacity * sizeof(MemberSlot);
  auto* events = std::launder(reinterpret_cast<EventEntry*>(event_bytes));
  return WorkerTable(header, slots, events, event_bytes + kRingBytes);
}

Expected<MemberSlot*> WorkerTable::add(std::string_view balancer, std::string_view member, std::string_view route,
                                       std::uint32_t activation, std::uint32_t factor) {
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
                " has the same identity as " + quoted(stored(other.member)) + " of " + quoted(stored(other.balancer)) +
                "; rename one of them");
  }
  if (count >= capacity()) {
    return fail("worker table: full (" + std::to_string(capacity()) + " members); cannot add " + quoted(member) +
                " of balancer " + quoted(balancer));
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

bool WorkerTable::fits(std::span<const MemberSpec> members, std::size_t processes) const {
  if (processes != process_capacity()) return false;
  std::size_t added = 0;
  for (const MemberSpec& spec : members) {
    const MemberSlot* slot = find(spec.balancer, spec.member);
    if (slot == nullptr) {
      ++added;
    } else if (stored(slot->route) != spec.route) {
      return false;  // old children read the route: it cannot change under them
    }
  }
  return added <= capacity() - size();
}

Expected<MemberSlot*> WorkerTable::adopt(const MemberSpec& spec) {
  MemberSlot* slot = find(spec.balancer, spec.member);
  if (slot == nullptr) return add(spec.balancer, spec.member, spec.route, spec.activation, spec.factor);
  if (stored(slot->route) != spec.route) {
    return fail("worker table: member " + quoted(spec.member) + " of balancer " + quoted(spec.balancer) +
                " changed its route; the table cannot be reused in place");
  }
  // Only the parent writes these, between generations; children never read them.
  if (slot->configured_activation != spec.activation) {
    slot->configured_activation = spec.activation;
    slot->activation.store(spec.activation, kRelaxed);
  }
  if (slot->configured_factor != spec.factor) {
    slot->configured_factor = spec.factor;
    slot->factor.store(spec.factor, kRelaxed);
  }
  return slot;
}

void WorkerTable::next_generation() { header_->generation.fetch_add(1, kRelaxed); }

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
    copy_atomic(to.consecutive_failures, from->consecutive_failures);
    copy_atomic(to.probe_passes, from->probe_passes);
    copy_atomic(to.probe_fails, from->probe_fails);
    copy_atomic(to.last_probe_ok, from->last_probe_ok);
    copy_atomic(to.last_probe_ms, from->last_probe_ms);
    copy_atomic(to.ejections, from->ejections);
    copy_atomic(to.ejected_until_ms, from->ejected_until_ms);
    copy_atomic(to.ejection_decay_ms, from->ejection_decay_ms);
    copy_atomic(to.outlier_ejections, from->outlier_ejections);
    copy_atomic(to.ejection_level, from->ejection_level);
    copy_atomic(to.lb_value, from->lb_value);
    copy_atomic(to.requests, from->requests);
    for (std::size_t e = 0; e < kErrorClassCount; ++e) copy_atomic(to.errors[e], from->errors[e]);
    copy_atomic(to.bytes_out, from->bytes_out);
    copy_atomic(to.bytes_in, from->bytes_in);
    copy_atomic(to.sticky_hits, from->sticky_hits);
    copy_atomic(to.last_sticky_ms, from->last_sticky_ms);
    latency::copy(to.latency, from->latency);  // the minutes are wall-clock tagged: still valid
    // Not carried, on purpose (tests/unit/table/test_carry_over_fields.cc fails for any other
    // field this function does not copy):
    //   busy: the old generation's requests in flight finish (and decrement) in the old table;
    //   secret_refused_ms: a refused secret is logged once per run, when this goes from 0 to
    //     set, and the restart may well have brought the corrected secret;
    //   identity, names, route, configured_*: the new configuration's, written by add().
  }
  header_->generation.store(previous.header().generation.load(kRelaxed) + 1, kRelaxed);
  carry_events_from(previous);
}

// The previous table's events, oldest first, with their numbers; member indexes are mapped to
// this table's slots. An event about a member that is gone keeps its name in the text.
// Only into a table that has no events yet (the carry-over right after create).
void WorkerTable::carry_events_from(const WorkerTable& previous) {
  if (header_->event_writes.load(kRelaxed) != 0) return;
  const std::vector<Event> events = previous.recent_events(kEventRingSize);
  if (events.empty()) return;
  header_->event_writes.store(events.back().number, kRelaxed);
  for (auto it = events.rbegin(); it != events.rend(); ++it) {
    std::size_t index = kNoMember;
    std::string text = it->text;
    if (it->member < previous.size()) {
      const MemberSlot& old_slot = previous.slot(it->member);
      if (const MemberSlot* now = find(stored(old_slot.balancer), stored(old_slot.member)); now != nullptr) {
        index = static_cast<std::size_t>(now - slots_);
      } else {
        text = std::string(stored(old_slot.balancer)) + "/" + std::string(stored(old_slot.member)) + ": " + text;
      }
    }
    add_event(index, it->time_ms, text);
  }
}

void WorkerTable::add_event(std::size_t member_index, std::int64_t now_ms, std::string_view text) {
  const std::uint32_t member = member_index < size() ? static_cast<std::uint32_t>(member_index) : kNoMember;
  text = cut_utf8(text, kEventTextSize);
  std::uint64_t words[kTextWords] = {};
  if (!text.empty()) std::memcpy(words, text.data(), text.size());

  const std::uint64_t number = header_->event_writes.fetch_add(1, kRelaxed);
  EventEntry& e = events_[number % kEventRingSize];
  const std::uint64_t writing = writing_seq(number);
  std::uint64_t seen = e.seq.load(kRelaxed);
  for (int spins = 0;;) {
    // A newer event owns the entry already: ours is older than anything the ring keeps.
    if (seen >= writing) return;
    // An older event is still being written: let it finish, unless its writer seems gone.
    if ((seen & 1) != 0 && spins < kMaxWriterSpins) {
      ++spins;
      std::this_thread::yield();
      seen = e.seq.load(kRelaxed);
      continue;
    }
    if (e.seq.compare_exchange_weak(seen, writing, kRelaxed)) break;
  }
  // Seqlock writer: the odd sequence is visible before any field changes (release fence), the
  // even one only after all of them (release store).
  std::atomic_thread_fence(std::memory_order_release);
  e.time_ms.store(now_ms, kRelaxed);
  e.member.store(member, kRelaxed);
  for (std::size_t i = 0; i < kTextWords; ++i) e.text[i].store(words[i], kRelaxed);
  e.check.store(event_check(number, now_ms, member, words), kRelaxed);
  // Fails only if a newer writer took the entry over while this one stalled: it owns it now.
  std::uint64_t expected = writing;
  e.seq.compare_exchange_strong(expected, published_seq(number), std::memory_order_release, kRelaxed);
}

std::vector<Event> WorkerTable::recent_events(std::size_t max) const {
  std::vector<Event> out;
  out.reserve(std::min(max, kEventRingSize));
  const std::uint64_t written = header_->event_writes.load(std::memory_order_acquire);
  const std::uint64_t oldest = written > kEventRingSize ? written - kEventRingSize : 0;
  for (std::uint64_t number = written; number > oldest && out.size() < max;) {
    --number;
    const EventEntry& e = events_[number % kEventRingSize];
    const std::uint64_t before = e.seq.load(std::memory_order_acquire);
    if (before != published_seq(number)) continue;  // being written, overwritten, or dropped
    const std::int64_t time_ms = e.time_ms.load(kRelaxed);
    const std::uint32_t member = e.member.load(kRelaxed);
    const std::uint64_t check = e.check.load(kRelaxed);
    std::uint64_t words[kTextWords];
    for (std::size_t i = 0; i < kTextWords; ++i) words[i] = e.text[i].load(kRelaxed);
    std::atomic_thread_fence(std::memory_order_acquire);
    if (e.seq.load(kRelaxed) != before) continue;  // rewritten while we read
    // A writer that stalled past a takeover may still have stored into a published entry.
    if (check != event_check(number, time_ms, member, words)) continue;
    const char* bytes = reinterpret_cast<const char*>(words);
    out.push_back(Event{number, time_ms, member, std::string(bytes, ::strnlen(bytes, kEventTextSize))});
  }
  return out;
}

bool WorkerTable::try_take_prober_lease(std::uint32_t pid, std::int64_t now_ms, std::int64_t lease_ms) {
  if (pid == 0 || lease_ms <= 0) return false;
  const std::uint64_t wanted = lease_word(pid, lease_end_seconds(now_ms, lease_ms));
  std::uint64_t seen = header_->prober_lease.load(std::memory_order_acquire);
  for (;;) {
    const std::uint32_t holder = lease_pid(seen);
    if (holder != 0 && holder != pid && now_ms < lease_end_ms(seen)) return false;
    if (seen == wanted) return true;
    if (header_->prober_lease.compare_exchange_weak(seen, wanted, std::memory_order_acq_rel,
                                                    std::memory_order_acquire)) {
      return true;
    }
  }
}

void WorkerTable::release_prober_lease(std::uint32_t pid) {
  std::uint64_t seen = header_->prober_lease.load(std::memory_order_acquire);
  while (pid != 0 && lease_pid(seen) == pid) {
    if (header_->prober_lease.compare_exchange_weak(seen, 0, std::memory_order_acq_rel, std::memory_order_acquire)) {
      return;
    }
  }
}

ProberLease WorkerTable::prober_lease() const {
  const std::uint64_t word = header_->prober_lease.load(std::memory_order_acquire);
  if (lease_pid(word) == 0) return {};
  return {lease_pid(word), lease_end_ms(word)};
}

std::size_t WorkerTable::size() const {
  const std::size_t count = header_->count.load(std::memory_order_acquire);
  // Never trust shared memory past capacity (attach checked it once; another process writes it).
  return count < header_->capacity ? count : header_->capacity;
}

std::size_t WorkerTable::capacity() const { return header_->capacity; }

MemberSlot& WorkerTable::slot(std::size_t index) const { return slots_[index]; }

}  // namespace idmb::table
