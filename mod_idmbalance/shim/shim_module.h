// Declarations shared by the shim's files. The shim is the only code that includes httpd/APR.
#pragma once

#include <deque>
#include <string>

#include "httpd.h"
#include "http_config.h"

#include "idmb/config.h"
#include "idmb/mount_map.h"

extern "C" {
extern module AP_MODULE_DECLARE_DATA idmbalance_module;
}

namespace idmb::shim {

// Per-server (and per-VirtualHost) configuration, as the directives built it.
struct ServerConfig {
  std::deque<config::BalancerConfig> balancers;     // defined in this server's scope (deque: stable addresses)
  config::BalancerConfig* open_balancer = nullptr;  // the <IdmBalancer> section being read
  MountMap mounts;                                  // own rules first, then the main server's
  std::uint32_t drain_quiet_ms = 30000;             // IdmDrainQuietTime (main server only)
};

ServerConfig* server_config(server_rec* s);
void* create_server_config(apr_pool_t* pool, server_rec* s);
void* merge_server_config(apr_pool_t* pool, void* base, void* add);
extern const command_rec directives[];

// Allocates a C++ object in an APR pool; its destructor runs when the pool is cleared.
template <class T, class... Args>
T* pool_new(apr_pool_t* pool, Args&&... args) {
  void* mem = apr_palloc(pool, sizeof(T));
  T* object = new (mem) T(std::forward<Args>(args)...);
  apr_pool_cleanup_register(
      pool, object,
      [](void* p) -> apr_status_t {
        static_cast<T*>(p)->~T();
        return APR_SUCCESS;
      },
      apr_pool_cleanup_null);
  return object;
}

}  // namespace idmb::shim
