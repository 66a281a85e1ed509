// Operations on the shared worker table (layout in worker_table_layout.h) over caller-provided
// memory: apr_shm in httpd, mmap(MAP_SHARED) or a plain buffer in tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "idmb/expected.h"
#include "idmb/worker_table_layout.h"

namespace idmb::table {

// Identity of a member record: balancer and member name (64-bit FNV-1a of "balancer\0member").
std::uint64_t member_identity(std::string_view balancer, std::string_view member);

// A state-change event read back from the ring.
struct Event {
  std::uint64_t number = 0;  // position in the table's event sequence (carried over restarts)
  std::int64_t time_ms = 0;
  std::uint32_t member = kNoMember;  // slot index, or kNoMember for a server-wide event
  std::string text;
};

// Who runs the health probes (see TableHeader::prober_lease).
struct ProberLease {
  std::uint32_t pid = 0;      // 0: nobody
  std::int64_t until_ms = 0;  // the lease ends here (whole seconds)
};

class WorkerTable {
 public:
  static std::size_t bytes_needed(std::size_t capacity);

  // Formats `memory` (at least bytes_needed(capacity), 64-byte aligned) as an empty table.
  static Expected<WorkerTable> create(std::span<std::byte> memory, std::size_t capacity);
  // Uses a table another process created; checks magic, version, slot size and bounds.
  static Expected<WorkerTable> attach(std::span<std::byte> memory);

  // Adds a member record with its configured route/activation/factor; fails when full or when
  // the identity exists already. Called by the parent only, before children start.
  Expected<MemberSlot*> add(std::string_view balancer, std::string_view member, std::string_view route,
                            std::uint32_t activation, std::uint32_t factor);
  MemberSlot* find(std::string_view balancer, std::string_view member) const;

  // Copies runtime state and counters of every member that also exists in `previous` (matched
  // by identity): graceful restarts keep them. Members only in `previous` are dropped. The
  // events come along too (renumbered to this table's slots; the prober lease does not).
  void carry_over_from(const WorkerTable& previous);

  // Appends an event to the ring (the oldest is overwritten). Lock-free and safe from any
  // thread of any process; `text` is cut to kEventTextSize bytes (at a UTF-8 boundary).
  // `member_index` >= size() is stored as kNoMember.
  void add_event(std::size_t member_index, std::int64_t now_ms, std::string_view text);
  // Up to `max` of the newest events, newest first. Entries being (re)written right now are
  // skipped, so a reader never sees a torn event.
  std::vector<Event> recent_events(std::size_t max = kEventRingSize) const;

  // The prober lease, so that exactly one child of the server runs the health probes. Takes
  // the lease if it is free or expired, renews it if `pid` holds it; false while another pid
  // holds an unexpired lease. The lease runs at least `lease_ms` from `now_ms`, rounded up to
  // a whole second. pid 0 and lease_ms <= 0 never take it.
  bool try_take_prober_lease(std::uint32_t pid, std::int64_t now_ms, std::int64_t lease_ms);
  // Gives the lease up (a child that exits), if `pid` holds it, so another takes over at once.
  void release_prober_lease(std::uint32_t pid);
  ProberLease prober_lease() const;

  std::size_t size() const;
  std::size_t capacity() const;
  MemberSlot& slot(std::size_t index) const;
  TableHeader& header() const { return *header_; }

 private:
  WorkerTable(TableHeader* header, MemberSlot* slots, EventEntry* events)
      : header_(header), slots_(slots), events_(events) {}
  void carry_events_from(const WorkerTable& previous);
  TableHeader* header_;
  MemberSlot* slots_;
  EventEntry* events_;
};

}  // namespace idmb::table
