// Operations on the shared worker table (layout in worker_table_layout.h) over caller-provided
// memory: apr_shm in httpd, mmap(MAP_SHARED) or a plain buffer in tests.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
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

// What a dead process held in flight, given back by WorkerTable::reap_process.
struct Reaped {
  std::uint32_t pid = 0;
  struct Release {
    std::size_t member;  // slot index
    std::int32_t count;  // requests that were in flight there
  };
  std::vector<Release> released;  // members it held anything on
  std::int32_t total() const;
};

// What a member record is configured as, for WorkerTable::fits and adopt.
struct MemberSpec {
  std::string_view balancer, member, route;
  std::uint32_t activation = 0, factor = 1;
};

class WorkerTable {
 public:
  // `processes`: records for that many live httpd children at once (crash reaping); 0: none.
  static std::size_t bytes_needed(std::size_t capacity, std::size_t processes = 0);

  // Formats `memory` (at least bytes_needed(capacity, processes), 64-byte aligned) as an empty
  // table.
  static Expected<WorkerTable> create(std::span<std::byte> memory, std::size_t capacity, std::size_t processes = 0);
  // Uses a table another process created; checks magic, version, slot size and bounds.
  static Expected<WorkerTable> attach(std::span<std::byte> memory);

  // Adds a member record with its configured route/activation/factor; fails when full or when
  // the identity exists already. Called by the parent only, before children start.
  Expected<MemberSlot*> add(std::string_view balancer, std::string_view member, std::string_view route,
                            std::uint32_t activation, std::uint32_t factor);
  MemberSlot* find(std::string_view balancer, std::string_view member) const;

  // Graceful restart in place: true when this (the previous generation's) table can serve a
  // configuration of `members` with `processes` process records, i.e. every member it has
  // already keeps its route and the new ones fit into the free slots. Then old-generation
  // children, which keep running their requests on this same memory, count into the table the
  // new generation reads: nothing is lost, and `busy` stays true across the restart.
  bool fits(std::span<const MemberSpec> members, std::size_t processes) const;
  // The record of `spec` in place: an existing one takes the new configured activation and
  // factor (a config edit wins over a manager edit, as in carry_over_from); a new one is
  // add()ed. Records the configuration no longer names stay, unused by the new generation.
  Expected<MemberSlot*> adopt(const MemberSpec& spec);
  // Marks a new configuration generation (after adopt()ing its members).
  void next_generation();

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

  // Crash reaping (process records; see ProcessRecord). A child claims a record for its pid at
  // start; its requests count what they hold in the record's row besides `busy`. Returns the
  // record's index, or -1 when the table has none free (that child's holds cannot be reaped).
  // A record still claimed by `pid` belonged to a dead process of the same pid: reaped first.
  int claim_process(std::uint32_t pid);
  // The counter of what process record `process` holds on member slot `member`.
  std::atomic<std::int32_t>& held(int process, std::size_t member) const;
  // Process `pid` is gone: subtracts what it held from each member's busy (never below 0) and
  // frees its record. Nothing when no record is claimed by `pid`. Only for a pid known dead
  // (the parent's child_status hook): a live process would go on decrementing.
  std::optional<Reaped> reap_process(std::uint32_t pid);
  // Reaps every claimed record whose process `alive` says is gone (the prober's sweep, where
  // the parent's hook is missing); a record reclaimed meanwhile is left alone.
  std::vector<Reaped> reap_dead(const std::function<bool(std::uint32_t pid)>& alive);
  // Pids of the claimed records, in record order.
  std::vector<std::uint32_t> live_processes() const;
  std::size_t process_capacity() const;

  std::size_t size() const;
  std::size_t capacity() const;
  MemberSlot& slot(std::size_t index) const;
  TableHeader& header() const { return *header_; }

 private:
  WorkerTable(TableHeader* header, MemberSlot* slots, EventEntry* events, std::byte* processes)
      : header_(header), slots_(slots), events_(events), processes_(processes) {}
  void carry_events_from(const WorkerTable& previous);
  ProcessRecord& process(std::size_t index) const;
  Reaped release_holds(std::size_t index, std::uint32_t pid);
  TableHeader* header_;
  MemberSlot* slots_;
  EventEntry* events_;
  std::byte* processes_;  // process_capacity records of process_stride() bytes
};

}  // namespace idmb::table
