// The directive table: turns config lines into the core's config model. All validation lives
// in the core (config.h); this file only splits arguments and reports errors with the
// directive's name.
#include <string>
#include <vector>

#include "httpd.h"
#include "apr_strings.h"
#include "http_config.h"

#include "shim_module.h"

namespace idmb::shim {
namespace {

// Splits a RAW_ARGS line like httpd does (quotes allowed); views point into cmd->pool.
std::vector<std::string_view> split_args(cmd_parms* cmd, const char* line) {
  std::vector<std::string_view> args;
  while (*line) {
    char* word = ap_getword_conf(cmd->pool, &line);
    if (*word == '\0') {
      break;
    }
    args.emplace_back(word);
  }
  return args;
}

// The core's messages already name the directive (the mod_jk importer reuses them as they are).
const char* directive_error(cmd_parms* cmd, const std::string& message) {
  return apr_pstrdup(cmd->pool, message.c_str());
}

config::BalancerConfig* open_balancer(cmd_parms* cmd) {
  return server_config(cmd->server)->open_balancer;
}

const char* outside_section(cmd_parms* cmd) {
  return apr_pstrcat(cmd->pool, cmd->cmd->name, " must be inside an <IdmBalancer NAME> section", nullptr);
}

const char* cmd_balancer_section(cmd_parms* cmd, void*, const char* arg) {
  if (const char* err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) {
    return err;
  }
  ServerConfig* conf = server_config(cmd->server);
  if (conf->open_balancer != nullptr) {
    return "<IdmBalancer> sections cannot be nested";
  }
  const char* end = ap_strrchr_c(arg, '>');
  if (end == nullptr) {
    return "<IdmBalancer> section is missing its closing '>'";
  }
  const char* rest = apr_pstrmemdup(cmd->pool, arg, end - arg);
  auto args = split_args(cmd, rest);
  if (args.size() != 1) {
    return "<IdmBalancer> takes exactly one argument, the balancer name";
  }
  for (const auto& existing : conf->balancers) {
    if (existing.name == args[0]) {
      return apr_pstrcat(cmd->pool, "<IdmBalancer ", rest, "> is defined twice", nullptr);
    }
  }
  conf->balancers.emplace_back();
  conf->balancers.back().name = std::string(args[0]);
  conf->open_balancer = &conf->balancers.back();
  const char* err = ap_walk_config(cmd->directive->first_child, cmd, cmd->context);
  conf->open_balancer = nullptr;
  if (err != nullptr) {
    return err;
  }
  if (auto status = config::validate(conf->balancers.back()); !status) {
    return directive_error(cmd, status.error());
  }
  return nullptr;
}

const char* cmd_member(cmd_parms* cmd, void*, const char* line) {
  config::BalancerConfig* balancer = open_balancer(cmd);
  if (balancer == nullptr) {
    return outside_section(cmd);
  }
  auto member = config::parse_member(split_args(cmd, line));
  if (!member) {
    return directive_error(cmd, member.error());
  }
  balancer->members.push_back(std::move(*member));
  return nullptr;
}

// IdmSticky, IdmMethod, IdmSecret, the timeouts, pool and packet size.
const char* cmd_balancer_setting(cmd_parms* cmd, void*, const char* line) {
  config::BalancerConfig* balancer = open_balancer(cmd);
  if (balancer == nullptr) {
    return outside_section(cmd);
  }
  auto status = config::apply_balancer_directive(*balancer, cmd->cmd->name, split_args(cmd, line));
  return status ? nullptr : directive_error(cmd, status.error());
}

const char* cmd_mount(cmd_parms* cmd, void*, const char* pattern, const char* balancer) {
  if (const char* err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) {
    return err;
  }
  auto status = server_config(cmd->server)->mounts.mount(pattern, balancer);
  return status ? nullptr : directive_error(cmd, status.error());
}

const char* cmd_unmount(cmd_parms* cmd, void*, const char* pattern, const char* balancer) {
  if (const char* err = ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT)) {
    return err;
  }
  auto status = server_config(cmd->server)->mounts.unmount(pattern, balancer);
  return status ? nullptr : directive_error(cmd, status.error());
}

const char* cmd_drain_quiet(cmd_parms* cmd, void*, const char* value) {
  if (const char* err = ap_check_cmd_context(cmd, GLOBAL_ONLY)) {
    return err;
  }
  auto ms = config::parse_duration_ms(value);
  if (!ms) {
    return directive_error(cmd, std::string("IdmDrainQuietTime: ") + ms.error());
  }
  server_config(cmd->server)->drain_quiet_ms = *ms;
  return nullptr;
}

}  // namespace

// httpd's C++ view of a directive handler is `const char* (*)()`; going through void(*)()
// is the cast compilers accept without a function-type warning.
template <class F>
cmd_func as_cmd_func(F* handler) {
  return reinterpret_cast<cmd_func>(reinterpret_cast<void (*)()>(handler));
}

ServerConfig* server_config(server_rec* s) {
  return static_cast<ServerConfig*>(ap_get_module_config(s->module_config, &idmbalance_module));
}

void* create_server_config(apr_pool_t* pool, server_rec*) {
  return pool_new<ServerConfig>(pool);
}

// A VirtualHost keeps its own balancers and mounts, and inherits the main server's mounts
// after its own (as ProxyPassInherit does by default).
void* merge_server_config(apr_pool_t* pool, void* base_conf, void* add_conf) {
  auto* base = static_cast<ServerConfig*>(base_conf);
  auto* add = static_cast<ServerConfig*>(add_conf);
  auto* merged = pool_new<ServerConfig>(pool);
  merged->balancers = add->balancers;
  merged->mounts = add->mounts;
  merged->mounts.merge_from(base->mounts);
  return merged;
}

#define IDMB_SETTING(name, help) \
  AP_INIT_RAW_ARGS(name, as_cmd_func(cmd_balancer_setting), nullptr, RSRC_CONF, help)

const command_rec directives[] = {
    AP_INIT_RAW_ARGS("<IdmBalancer", as_cmd_func(cmd_balancer_section), nullptr, RSRC_CONF,
                     "<IdmBalancer NAME> ... </IdmBalancer>: a named group of Tomcat members"),
    AP_INIT_RAW_ARGS("IdmMember", as_cmd_func(cmd_member), nullptr, RSRC_CONF,
                     "IdmMember NAME ajp://HOST:PORT [route=R] [factor=N] [status=...] [domain=D] "
                     "[redirect=ROUTE] [secret=S]"),
    IDMB_SETTING("IdmSticky", "IdmSticky COOKIE [PATH_PARAM] [force] | off"),
    IDMB_SETTING("IdmMethod", "IdmMethod requests|traffic|busyness|p2c"),
    IDMB_SETTING("IdmSecret", "IdmSecret S: AJP secret for members without secret="),
    IDMB_SETTING("IdmConnectTimeout", "IdmConnectTimeout DURATION: TCP connect timeout"),
    IDMB_SETTING("IdmPingTimeout", "IdmPingTimeout DURATION: CPONG wait"),
    IDMB_SETTING("IdmReplyTimeout", "IdmReplyTimeout DURATION: longest gap between backend packets"),
    IDMB_SETTING("IdmPingAfterIdle", "IdmPingAfterIdle DURATION: CPING a pooled connection idle this long"),
    IDMB_SETTING("IdmPoolIdleTimeout", "IdmPoolIdleTimeout DURATION: close pooled connections idle this long"),
    IDMB_SETTING("IdmPoolSize", "IdmPoolSize N: idle connections kept per member and child"),
    IDMB_SETTING("IdmHealthCheck",
                 "IdmHealthCheck [interval=D] [healthy_interval=D|off] [rise=N] [fall=N]: CPING probes"),
    IDMB_SETTING("IdmQueueTimeout",
                 "IdmQueueTimeout DURATION: how long a request waits for a member below its max= limit"),
    IDMB_SETTING("IdmRequestBodyBuffer",
                 "IdmRequestBodyBuffer SIZE: request body read before a member is chosen (64k, 1m); 0 = one packet"),
    IDMB_SETTING("IdmSlowStart", "IdmSlowStart DURATION: ramp-up after recovery or re-activation; 0 = off"),
    IDMB_SETTING("IdmPanicThreshold",
                 "IdmPanicThreshold PERCENT: below this share of usable members, use them all; 0 = never"),
    IDMB_SETTING("IdmPacketSize", "IdmPacketSize N: AJP packet size, 8192..65536, as Tomcat's packetSize"),
    AP_INIT_TAKE2("IdmMount", as_cmd_func(cmd_mount), nullptr, RSRC_CONF,
                  "IdmMount PATTERN BALANCER: forward matching URLs"),
    AP_INIT_TAKE2("IdmUnmount", as_cmd_func(cmd_unmount), nullptr, RSRC_CONF,
                  "IdmUnmount PATTERN BALANCER|*: exclude URLs from a mount"),
    AP_INIT_TAKE1("IdmDrainQuietTime", as_cmd_func(cmd_drain_quiet), nullptr, RSRC_CONF,
                  "IdmDrainQuietTime DURATION: a disabled member with nothing in flight and no live "
                  "session's request for this long is reported drained"),
    {nullptr, nullptr, nullptr, 0, RAW_ARGS, nullptr},
};

}  // namespace idmb::shim
