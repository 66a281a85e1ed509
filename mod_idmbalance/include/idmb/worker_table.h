// Operations on the shared worker table (layout in worker_table_layout.h) over caller-provided
// memory: apr_shm in httpd, mmap(MAP_SHARED) or a plain buffer in tests.
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

#include "idmb/expected.h"
#include "idmb/worker_table_layout.h"

namespace idmb::table {

// Identity of a member record: balancer and member name (64-bit FNV-1a of "balancer\0member").
std::uint64_t member_identity(std::string_view balancer, std::string_view member);

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
  // by identity): graceful restarts keep them. Members only in `previous` are dropped.
  void carry_over_from(const WorkerTable& previous);

  std::size_t size() const;
  std::size_t capacity() const;
  MemberSlot& slot(std::size_t index) const;
  TableHeader& header() const { return *header_; }

 private:
  WorkerTable(TableHeader* header, MemberSlot* slots) : header_(header), slots_(slots) {}
  TableHeader* header_;
  MemberSlot* slots_;
};

}  // namespace idmb::table
