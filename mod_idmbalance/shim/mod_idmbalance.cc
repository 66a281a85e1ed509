// mod_idmbalance: the module record and its hooks. Requests under an IdmMount are claimed in
// translate_name and forwarded by the handler; everything else passes through untouched.
#include <algorithm>
#include <cstring>
#include <exception>

#include "httpd.h"
#include "apr_strings.h"
#include "http_config.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"
#include "ap_mpm.h"

#include "idmb/uri_path.h"
#include "location_mounts.h"
#include "runtime.h"
#include "request_mapping.h"
#include "status_handler.h"
#include "shim_module.h"
#include "shim_log.h"

APLOG_USE_MODULE(idmbalance);

namespace idmb::shim {
namespace {

constexpr const char* kForwardHandler = "idmbalance-forward";

Runtime* g_runtime = nullptr;  // built in post_config, inherited by every child

int check_config_hook(apr_pool_t*, apr_pool_t*, apr_pool_t*, server_rec* s) {
  try {
    if (auto err = check_config(s); !err.empty()) {
      IDMB_LOG_S(APLOG_STARTUP | APLOG_EMERG, s, "%s", err.c_str());
      return HTTP_INTERNAL_SERVER_ERROR;
    }
    // Also during `apachectl configtest`, where an operator reads them.
    for (const std::string& warning : config::advisories(distinct_server_configs(s))) {
      IDMB_LOG_S(APLOG_WARNING, s, "%s", warning.c_str());
    }
    return OK;
  } catch (const std::exception& e) {
    IDMB_LOG_S(APLOG_EMERG, s, "idmbalance: configuration check failed: %s", e.what());
    return HTTP_INTERNAL_SERVER_ERROR;
  }
}

int post_config_hook(apr_pool_t* pconf, apr_pool_t*, apr_pool_t*, server_rec* s) {
  try {
    auto* runtime = pool_new<Runtime>(pconf);
    if (auto err = build_runtime(*runtime, s); !err.empty()) {
      IDMB_LOG_S(APLOG_EMERG, s, "%s", err.c_str());
      return HTTP_INTERNAL_SERVER_ERROR;
    }
    g_runtime = runtime;
    return OK;
  } catch (const std::exception& e) {
    IDMB_LOG_S(APLOG_EMERG, s, "idmbalance: startup failed: %s", e.what());
    return HTTP_INTERNAL_SERVER_ERROR;
  }
}

void child_init_hook(apr_pool_t* child_pool, server_rec* s) {
  if (g_runtime == nullptr) {
    return;
  }
  try {
    claim_process_record(*g_runtime, s);
    start_prober(*g_runtime, s, child_pool);
  } catch (const std::exception& e) {
    IDMB_LOG_S(APLOG_ERR, s, "idmbalance: cannot start the prober: %s", e.what());
  }
}

// Claims a request whose normalised path matches an IdmMount of this (virtual) server or of a
// <Location> covering that path (config::choose_mount), unless its environment has
// no-idmbalance (set by SetEnvIf or a RewriteRule's E= in server context, which run before
// this hook), and makes that normalised path the request's URI.
bool claim_mounted(request_rec* r, const ServerConfig& conf) {
  const MountMap& mounts = conf.mounts();
  const bool locations = !conf.location_rules().empty();
  if ((mounts.empty() && !locations) || g_runtime == nullptr || r->uri == nullptr || r->uri[0] != '/') {
    return false;
  }
  if (apr_table_get(r->subprocess_env, request::kNoForwardVariable.data()) != nullptr) {
    return false;
  }
  auto path = normalize_path_for_mount(r->uri);
  if (!path) {
    return false;
  }
  // IdmMount inside <Location>: judged by the sections that cover the path Tomcat will serve.
  const config::LocationMount* location = locations ? location_mount_for(r, *path) : nullptr;
  const std::string* balancer_name = config::choose_mount(mounts, location, *path);
  if (balancer_name == nullptr) {
    return false;
  }
  auto found = g_runtime->by_name.find(*balancer_name);
  if (found == g_runtime->by_name.end()) {
    return false;
  }
  // From here on httpd judges the path Tomcat will serve: the Location walk that follows
  // map_to_storage (Require, auth, RequestHeader, SetEnv) sees it, not "/app/admin;x/..".
  if (*path != r->uri) {
    r->uri = apr_pstrmemdup(r->pool, path->data(), path->size());
  }
  request_state_make(r).balancer = found->second;
  r->handler = kForwardHandler;
  // "idmbalance:BALANCER/path", built at its known length (apr_pstrcat measures each part twice).
  const std::string_view parts[] = {"idmbalance:", found->first, *path};
  char* filename = static_cast<char*>(apr_palloc(r->pool, parts[0].size() + parts[1].size() + parts[2].size() + 1));
  char* end = filename;
  for (std::string_view part : parts) {
    end = std::copy(part.begin(), part.end(), end);
  }
  *end = '\0';
  r->filename = filename;
  return true;
}

// IdmStripSession: httpd serves this request itself, so a ";jsessionid=..." in its path is
// noise that would keep it from finding the file.
void strip_session_param(request_rec* r, const ServerConfig& conf) {
  const std::string_view param = conf.strip_session_param();
  if (param.empty() || r->uri == nullptr) {
    return;
  }
  if (auto stripped = request::strip_path_parameter(r->uri, param)) {
    r->uri = apr_pstrmemdup(r->pool, stripped->data(), stripped->size());
  }
}

// In the parent: a child has exited (crashed, killed, or done); what it held is released.
void child_status_hook(server_rec* s, pid_t pid, ap_generation_t, int, mpm_child_status state) {
  if (g_runtime == nullptr || state != MPM_CHILD_EXITED) {
    return;
  }
  try {
    reap_child(*g_runtime, s, pid);
  } catch (const std::exception& e) {
    IDMB_LOG_S(APLOG_ERR, s, "idmbalance: cannot release what child %d held: %s", static_cast<int>(pid), e.what());
  }
}

// Claims mounted requests for the handler; strips the session parameter from the others.
int translate_name_hook(request_rec* r) {
  try {
    const ServerConfig& conf = *server_config(r->server);
    if (claim_mounted(r, conf)) {
      return OK;
    }
    strip_session_param(r, conf);
    return DECLINED;
  } catch (const std::exception& e) {
    IDMB_LOG_R(APLOG_ERR, r, "idmbalance: mount lookup failed: %s", e.what());
    return DECLINED;
  }
}

// Forwarded requests have no file behind them: skip the directory walk (<Location> still applies).
int map_to_storage_hook(request_rec* r) {
  const RequestState* state = request_state(r);
  return state != nullptr && state->balancer != nullptr ? OK : DECLINED;
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
      IDMB_LOG_R(APLOG_ERR, r, "idmbalance: status page failed: %s", e.what());
      return HTTP_INTERNAL_SERVER_ERROR;
    }
  }
  if (std::strcmp(r->handler, kForwardHandler) != 0) {
    return DECLINED;
  }
  const RequestState* state = request_state(r);
  if (state == nullptr || state->balancer == nullptr) {
    return DECLINED;  // SetHandler idmbalance-forward without a mount: not ours to guess
  }
  try {
    return forward_request(r, *g_runtime, *state->balancer);
  } catch (const std::exception& e) {
    IDMB_LOG_R(APLOG_ERR, r, "idmbalance: internal error: %s", e.what());
    return HTTP_INTERNAL_SERVER_ERROR;
  }
}

int post_read_request_hook(request_rec* r) {
  try {
    note_client_connection_fields(r);
  } catch (const std::exception& e) {
    IDMB_LOG_R(APLOG_ERR, r, "idmbalance: cannot read the Connection header: %s", e.what());
  }
  return DECLINED;
}

void register_hooks(apr_pool_t*) {
  static const char* const run_after_rewrite[] = {"mod_rewrite.c", nullptr};
  ap_hook_check_config(check_config_hook, nullptr, nullptr, APR_HOOK_MIDDLE);
  ap_hook_post_config(post_config_hook, nullptr, nullptr, APR_HOOK_MIDDLE);
  ap_hook_child_init(child_init_hook, nullptr, nullptr, APR_HOOK_MIDDLE);
  ap_hook_child_status(child_status_hook, nullptr, nullptr, APR_HOOK_MIDDLE);
  // Before any module (RequestHeader early, SetEnvIf) changes a request header.
  ap_hook_post_read_request(post_read_request_hook, nullptr, nullptr, APR_HOOK_REALLY_FIRST);
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
    idmb::shim::create_location_config,  // per-directory config: IdmMount inside <Location>
    idmb::shim::merge_location_config,   // merge per-directory config
    idmb::shim::create_server_config,    // create per-server config
    idmb::shim::merge_server_config,     // merge per-server config
    idmb::shim::directives,              // directive table
    idmb::shim::register_hooks,          // register hooks
    AP_MODULE_FLAG_ALWAYS_MERGE,         // IdmMountCopy Off must reach vhosts without Idm* lines
};
}
