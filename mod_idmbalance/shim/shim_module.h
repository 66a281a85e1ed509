// Declarations shared by the shim's files. The shim is the only code that includes httpd/APR.
#pragma once

#include <new>
#include <utility>

#include "httpd.h"
#include "http_config.h"

#include "idmb/server_config.h"

extern "C" {
extern module AP_MODULE_DECLARE_DATA idmbalance_module;
}

namespace idmb::shim {

// Per-server (and per-VirtualHost) configuration: the core's model, built by the directives.
using ServerConfig = config::ServerConfig;

ServerConfig* server_config(server_rec* s);
void* create_server_config(apr_pool_t* pool, server_rec* s);
void* merge_server_config(apr_pool_t* pool, void* base, void* add);
// httpd's command table, built from the core's directive table when the module is loaded.
extern command_rec directives[];

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
