// The shared tables' memory: one anonymous shared mapping per table and configuration
// generation, created by the parent in post_config and inherited by every child (prefork,
// worker, event). Anonymous memory has no backing file, so no file permission can leak it.
#include <algorithm>
#include <optional>
#include <vector>

#include "httpd.h"
#include "ap_mpm.h"
#include "apr_shm.h"

#include "idmb/balancer_settings.h"
#include "idmb/worker_table.h"
#include "runtime.h"

namespace idmb::shim {
namespace {

// APR keeps a length word at the start of an anonymous segment, so its base address is only
// 8-byte aligned; the tables want 64 (one cache line per record).
constexpr std::size_t kAlignment = 64;

std::span<std::byte> memory_of(apr_shm_t* shm) {
  auto base = reinterpret_cast<std::uintptr_t>(apr_shm_baseaddr_get(shm));
  std::size_t skip = (kAlignment - base % kAlignment) % kAlignment;
  return {reinterpret_cast<std::byte*>(base + skip), apr_shm_size_get(shm) - skip};
}

// One generation's segment for `key`, with the previous generation's (if any) at hand until
// `commit` replaces it. httpd unloads and reloads modules on restart, so the previous segment
// is found through the process pool (which lives as long as the parent), not a static.
class Segment {
 public:
  Segment(apr_pool_t* process_pool, const char* key) : pool_(process_pool), key_(key) {
    void* previous = nullptr;
    apr_pool_userdata_get(&previous, key_, pool_);
    previous_ = static_cast<apr_shm_t*>(previous);
  }
  ~Segment() {
    if (current_ != nullptr) {
      apr_shm_destroy(current_);  // not committed: a failed start leaves the old one in place
    }
  }
  std::string create(std::size_t bytes) {
    apr_status_t rv = apr_shm_create(&current_, bytes + kAlignment, nullptr, pool_);
    if (rv != APR_SUCCESS) {
      char buf[128];
      current_ = nullptr;
      return std::string("cannot create shared memory: ") + apr_strerror(rv, buf, sizeof buf);
    }
    return {};
  }
  std::span<std::byte> memory() const { return memory_of(current_); }
  std::optional<std::span<std::byte>> previous_memory() const {
    return previous_ ? std::optional(memory_of(previous_)) : std::nullopt;
  }
  void commit() {
    // Unmaps the old one here only: children of the old generation keep their mapping.
    if (previous_ != nullptr) {
      apr_shm_destroy(previous_);
    }
    apr_pool_userdata_set(current_, key_, apr_pool_cleanup_null, pool_);
    current_ = nullptr;
  }

 private:
  apr_pool_t* pool_;
  const char* key_;
  apr_shm_t* previous_ = nullptr;
  apr_shm_t* current_ = nullptr;
};

table::MemberSpec spec_of(const BalancerRuntime& b, const MemberRuntime& m) {
  const auto& cfg = *m.config;
  return {b.config->name, cfg.name, cfg.route, static_cast<std::uint32_t>(cfg.activation), cfg.factor};
}

void carry_over_settings(Segment& settings_segment, table::BalancerSettings& settings) {
  if (auto old = settings_segment.previous_memory()) {
    if (auto old_settings = table::BalancerSettings::attach(*old)) {
      settings.carry_over_from(*old_settings);
    }
  }
}

// Gives every balancer its settings record and every member its slot, in config order.
std::string fill_tables(Runtime& runtime, table::WorkerTable& table, table::BalancerSettings& settings) {
  for (auto& b : runtime.balancers) {
    auto balancer_slot = settings.add(*b.config);
    if (!balancer_slot) {
      return balancer_slot.error();
    }
    b.settings = *balancer_slot;
    for (auto& m : b.members) {
      auto slot = table.adopt(spec_of(b, m));
      if (!slot) {
        return "worker table: " + slot.error();
      }
      m.slot = *slot;
      m.table_index = static_cast<std::size_t>(*slot - &table.slot(0));
    }
  }
  return {};
}

// Process records for every child that can live at once: ServerLimit, twice over, since on a
// graceful restart old-generation children finishing their requests may lose their scoreboard
// slot to new ones (worker, event) and still run.
std::size_t process_records() {
  int limit = 0;
  if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &limit) != APR_SUCCESS || limit <= 0) {
    limit = 1;
  }
  return 2 * static_cast<std::size_t>(limit) + 8;
}

// Room for members a graceful restart may add, so the table can usually be kept in place.
std::size_t with_spare(std::size_t members) { return members + std::max<std::size_t>(members, 16); }

// The previous generation's table, if it is one, and the table this generation uses: the same
// one when the new config fits it (its children, still finishing requests, then count where the
// new generation reads), else a new segment.
struct WorkerTables {
  std::optional<table::WorkerTable> previous;
  std::optional<table::WorkerTable> current;
  bool in_place() const { return previous && current && &previous->header() == &current->header(); }
};

std::string open_worker_table(Segment& members, const std::vector<table::MemberSpec>& specs, std::size_t processes,
                              WorkerTables& tables) {
  if (auto old = members.previous_memory()) {
    if (auto attached = table::WorkerTable::attach(*old)) {
      tables.previous = *attached;
      if (tables.previous->fits(specs, processes)) {
        tables.current = tables.previous;
        return {};
      }
    }
  }
  const std::size_t capacity = with_spare(specs.size());
  if (auto err = members.create(table::WorkerTable::bytes_needed(capacity, processes)); !err.empty()) {
    return "worker table: " + err;
  }
  auto created = table::WorkerTable::create(members.memory(), capacity, processes);
  if (!created) {
    return "worker table: " + created.error();
  }
  tables.current = *created;
  return {};
}

// Members new in this generation have been in their state since now (for "ok for 3h").
void stamp_new_members(Runtime& runtime) {
  const std::int64_t now = runtime.clock.now_ms();
  for (auto& b : runtime.balancers) {
    for (auto& m : b.members) {
      std::int64_t unknown = 0;
      m.slot->state_since_ms.compare_exchange_strong(unknown, now, std::memory_order_relaxed);
    }
  }
}

}  // namespace

std::string attach_shared_table(Runtime& runtime, server_rec* main_server) {
  apr_pool_t* process_pool = main_server->process->pool;
  std::vector<table::MemberSpec> specs;
  for (const auto& b : runtime.balancers) {
    for (const auto& m : b.members) {
      specs.push_back(spec_of(b, m));
    }
  }
  Segment members(process_pool, "idmbalance-worker-table");
  WorkerTables tables;
  if (auto err = open_worker_table(members, specs, process_records(), tables); !err.empty()) {
    return err;
  }
  table::WorkerTable& table = *tables.current;

  Segment settings_segment(process_pool, "idmbalance-balancer-settings");
  if (auto err = settings_segment.create(table::BalancerSettings::bytes_needed(runtime.balancers.size()));
      !err.empty()) {
    return "balancer settings: " + err;
  }
  auto settings = table::BalancerSettings::create(settings_segment.memory(), runtime.balancers.size());
  if (!settings) {
    return settings.error();
  }
  if (auto err = fill_tables(runtime, table, *settings); !err.empty()) {
    return err;
  }
  if (tables.in_place()) {
    table.next_generation();
  } else if (tables.previous) {
    table.carry_over_from(*tables.previous);  // counts of old children after this point are lost
  }
  carry_over_settings(settings_segment, *settings);
  stamp_new_members(runtime);
  if (!tables.in_place()) {
    members.commit();
  }
  settings_segment.commit();
  runtime.table_generation = table.header().generation.load();
  runtime.table = table;
  return {};
}

}  // namespace idmb::shim
