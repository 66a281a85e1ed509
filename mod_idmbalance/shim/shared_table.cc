// The shared worker table's memory: one anonymous shared mapping per configuration generation,
// created by the parent in post_config and inherited by every child (prefork, worker, event).
// Anonymous memory has no backing file, so there is no file whose permissions could leak it.
#include "httpd.h"
#include "apr_shm.h"

#include "idmb/worker_table.h"
#include "runtime.h"

namespace idmb::shim {
namespace {

// httpd unloads and reloads modules on restart, so the previous generation's segment is found
// through the process pool (which lives as long as the parent), not through a static.
constexpr const char* kShmKey = "idmbalance-worker-table";

// APR keeps a length word at the start of an anonymous segment, so its base address is only
// 8-byte aligned; the table wants 64 (one cache line per member record).
constexpr std::size_t kAlignment = 64;

std::span<std::byte> memory_of(apr_shm_t* shm) {
  auto base = reinterpret_cast<std::uintptr_t>(apr_shm_baseaddr_get(shm));
  std::size_t skip = (kAlignment - base % kAlignment) % kAlignment;
  return {reinterpret_cast<std::byte*>(base + skip), apr_shm_size_get(shm) - skip};
}

}  // namespace

std::string attach_shared_table(Runtime& runtime, server_rec* main_server) {
  apr_pool_t* process_pool = main_server->process->pool;
  std::size_t capacity = 0;
  for (const auto& b : runtime.balancers) {
    capacity += b.members.size();
  }
  apr_shm_t* shm = nullptr;
  apr_status_t rv = apr_shm_create(&shm, table::WorkerTable::bytes_needed(capacity) + kAlignment, nullptr, process_pool);
  if (rv != APR_SUCCESS) {
    char buf[128];
    return std::string("cannot create the shared worker table: ") + apr_strerror(rv, buf, sizeof buf);
  }
  auto table = table::WorkerTable::create(memory_of(shm), capacity);
  if (!table) {
    apr_shm_destroy(shm);
    return "cannot create the shared worker table: " + table.error();
  }
  for (auto& b : runtime.balancers) {
    for (auto& m : b.members) {
      const auto& cfg = *m.config;
      auto slot = table->add(b.config->name, cfg.name, cfg.route, static_cast<std::uint32_t>(cfg.activation),
                             cfg.factor);
      if (!slot) {
        apr_shm_destroy(shm);
        return "shared worker table: " + slot.error();
      }
      m.slot = *slot;
    }
  }

  void* previous = nullptr;
  apr_pool_userdata_get(&previous, kShmKey, process_pool);
  if (previous != nullptr) {
    auto* old_shm = static_cast<apr_shm_t*>(previous);
    if (auto old_table = table::WorkerTable::attach(memory_of(old_shm))) {
      table->carry_over_from(*old_table);  // graceful restart: keep counters and runtime state
    }
    // Unmaps it here only: children of the old generation keep their mapping until they exit.
    apr_shm_destroy(old_shm);
  }
  apr_pool_userdata_set(shm, kShmKey, apr_pool_cleanup_null, process_pool);
  return {};
}

}  // namespace idmb::shim
