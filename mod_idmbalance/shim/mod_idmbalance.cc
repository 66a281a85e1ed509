// mod_idmbalance: the module record and its hooks. Requests under an IdmMount are claimed in
// translate_name and forwarded by the handler; everything else passes through untouched.
#include <cstring>
#include <exception>

#include "httpd.h"
#include "apr_strings.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include "idmb/uri_path.h"
#include "runtime.h"
#include "status_handler.h"
#include "shim_module.h"

APLOG_USE_MODULE(idmbalance);

namespace idmb::shim {
namespace {

constexpr const char* kForwardHandler = "idmbalance-forward";

Runtime* g_runtime = nullptr;  // built in post_config, inherited by every child

struct RequestState {
  BalancerRuntime* balancer;
};

int check_config_hook(apr_pool_t*, apr_pool_t*, apr_pool_t*, server_rec* s) {
  try {
    if (auto err = check_config(s); !err.empty()) {
      ap_log_error(APLOG_MARK, APLOG_STARTUP | APLOG_EMERG, 0, s, "%s", err.c_str());
      return HTTP_INTERNAL_SERVER_ERROR;
    }
    return OK;
  } catch (const std::exception& e) {
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "idmbalance: configuration check failed: %s", e.what());
    return HTTP_INTERNAL_SERVER_ERROR;
  }
}

int post_config_hook(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*, server_rec* s) {
  try {
    auto* runtime = pool_new<Runtime>(pconf);
    if (auto err = build_runtime(*runtime, s); !err.empty()) {
      ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "%s", err.c_str());
      return HTTP_INTERNAL_SERVER_ERROR;
    }
    g_runtime = runtime;
    return OK;
  } catch (const std::exception& e) {
    ap_log_error(APLOG_MARK, APLOG_EMERG, 0, s, "idmbalance: startup failed: %s", e.what());
    return HTTP_INTERNAL_SERVER_ERROR;
  }
}

void child_init_hook(apr_pool_t* child_pool, server_rec* s) {
  if (g_runtime == nullptr) {
    return;
  }
  try {
    start_prober(*g_runtime, s, child_pool);
  } catch (const std::exception& e) {
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, "idmbalance: cannot start the prober: %s", e.what());
  }
}

// Claims requests whose normalised path matches an IdmMount of this (virtual) server, and makes
// that normalised path the request's URI.
int translate_name_hook(request_rec* r) {
  try {
    const MountMap& mounts = server_config(r->server)->mounts;
    if (mounts.empty() || g_runtime == nullptr || r->uri == nullptr || r->uri[0] != '/') {
      return DECLINED;
    }
    auto path = normalize_path_for_mount(r->uri);
    if (!path) {
      return DECLINED;
    }
    const std::string* balancer_name = mounts.match(*path);
    if (balancer_name == nullptr) {
      return DECLINED;
    }
    auto found = g_runtime->by_name.find(*balancer_name);
    if (found == g_runtime->by_name.end()) {
      return DECLINED;
    }
    // From here on httpd judges the path Tomcat will serve: the Location walk that follows
    // map_to_storage (Require, auth, RequestHeader, SetEnv) sees it, not "/app/admin;x/..".
    r->uri = apr_pstrmemdup(r->pool, path->data(), path->size());
    auto* state = static_cast<RequestState*>(apr_palloc(r->pool, sizeof(RequestState)));
    state->balancer = found->second;
    ap_set_module_config(r->request_config, &idmbalance_module, state);
    r->handler = kForwardHandler;
    r->filename = apr_pstrcat(r->pool, "idmbalance:", found->first.c_str(), r->uri, nullptr);
    return OK;
  } catch (const std::exception& e) {
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "idmbalance: mount lookup failed: %s", e.what());
    return DECLINED;
  }
}

// Forwarded requests have no file behind them: skip the directory walk (<Location> still applies).
int map_to_storage_hook(request_rec* r) {
  return ap_get_module_config(r->request_config, &idmbalance_module) != nullptr ? OK : DECLINED;
}

int handler_hook(request_rec* r) {
  if (r->handler == nullptr || g_runtime == nullptr) {
    return DECLINED;
  }
  bool manager = std::strcmp(r->handler, kManagerHandler) == 0;
  if (manager || std::strcmp(r->handler, kStatusHandler) == 0) {
    try {
      return handle_status_page(r, *g_runtime, manager);
    } catch (const std::exception& e) {
      ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "idmbalance: status page failed: %s", e.what());
      return HTTP_INTERNAL_SERVER_ERROR;
    }
  }
  if (std::strcmp(r->handler, kForwardHandler) != 0) {
    return DECLINED;
  }
  auto* state = static_cast<RequestState*>(ap_get_module_config(r->request_config, &idmbalance_module));
  if (state == nullptr) {
    return DECLINED;  // SetHandler idmbalance-forward without a mount: not ours to guess
  }
  try {
    return forward_request(r, *g_runtime, *state->balancer);
  } catch (const std::exception& e) {
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r, "idmbalance: internal error: %s", e.what());
    return HTTP_INTERNAL_SERVER_ERROR;
  }
}

void register_hooks(apr_pool_t*) {
  static const char* const run_after_rewrite[] = {"mod_rewrite.c", nullptr};
  ap_hook_check_config(check_config_hook, nullptr, nullptr, APR_HOOK_MIDDLE);
  ap_hook_post_config(post_config_hook, nullptr, nullptr, APR_HOOK_MIDDLE);
  ap_hook_child_init(child_init_hook, nullptr, nullptr, APR_HOOK_MIDDLE);
  ap_hook_translate_name(translate_name_hook, run_after_rewrite, nullptr, APR_HOOK_MIDDLE);
  ap_hook_map_to_storage(map_to_storage_hook, nullptr, nullptr, APR_HOOK_FIRST);
  ap_hook_handler(handler_hook, nullptr, nullptr, APR_HOOK_MIDDLE);
}

}  // namespace
}  // namespace idmb::shim

// The one exported symbol (everything else is hidden; see exports.map).
extern "C" {
__attribute__((visibility("default"))) module AP_MODULE_DECLARE_DATA idmbalance_module = {
    STANDARD20_MODULE_STUFF,
    nullptr,                                   // create per-directory config
    nullptr,                                   // merge per-directory config
    idmb::shim::create_server_config,          // create per-server config
    idmb::shim::merge_server_config,           // merge per-server config
    idmb::shim::directives,                    // directive table
    idmb::shim::register_hooks,                // register hooks
    AP_MODULE_FLAG_NONE,
};
}
