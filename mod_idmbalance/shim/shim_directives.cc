// httpd's command table, built from the core's directive table (idmb/directives.h), and the
// glue that hands each directive to the core's config model (idmb/server_config.h). The
// parsing, the checks and the messages are the core's; this file checks httpd's contexts,
// walks the <IdmBalancer> section and copies errors into httpd's pool.
#include <string>
#include <string_view>
#include <vector>

#include "httpd.h"
#include "apr_strings.h"
#include "http_config.h"

#include "idmb/directives.h"
#include "location_mounts.h"
#include "shim_module.h"

namespace idmb::shim {
namespace {

const config::Directive& directive_of(cmd_parms* cmd) { return *static_cast<const config::Directive*>(cmd->info); }

const char* error_in(cmd_parms* cmd, const Status& status) {
  return status ? nullptr : apr_pstrdup(cmd->pool, status.error().c_str());
}

// httpd's words for a directive in the wrong place.
const char* context_error(cmd_parms* cmd, config::Where where) {
  switch (where) {
    case config::Where::Section:
    case config::Where::Server: return ap_check_cmd_context(cmd, NOT_IN_DIR_CONTEXT);
    case config::Where::MainServer: return ap_check_cmd_context(cmd, GLOBAL_ONLY);
    case config::Where::Balancer: return nullptr;  // the core checks that a section is open
  }
  return nullptr;
}

const char* apply(cmd_parms* cmd, const config::Args& args) {
  const config::Directive& directive = directive_of(cmd);
  if (const char* err = context_error(cmd, directive.where)) {
    return err;
  }
  return error_in(cmd, server_config(cmd->server)->apply(directive, args));
}

const char* cmd_raw_args(cmd_parms* cmd, void*, const char* line) {
  const std::vector<std::string> words = config::split_directive_args(line);
  return apply(cmd, config::Args(words.begin(), words.end()));
}

const char* cmd_take1(cmd_parms* cmd, void*, const char* arg) { return apply(cmd, {arg}); }

// A directive also allowed in <Location> (IdmMount): one argument there, two elsewhere.
const char* cmd_take12(cmd_parms* cmd, void* location_conf, const char* first, const char* second) {
  const config::Args args = second != nullptr ? config::Args{first, second} : config::Args{first};
  if (cmd->path != nullptr) {
    return apply_in_location_section(cmd, directive_of(cmd), location_conf, args);
  }
  return apply(cmd, args);
}

const char* cmd_take2(cmd_parms* cmd, void*, const char* first, const char* second) {
  return apply(cmd, {first, second});
}

// <IdmBalancer NAME>: the directives inside are read now, into the section's balancer.
const char* cmd_section(cmd_parms* cmd, void*, const char* raw) {
  if (const char* err = context_error(cmd, config::Where::Section)) {
    return err;
  }
  ServerConfig* conf = server_config(cmd->server);
  if (const char* err = error_in(cmd, conf->open_section(raw))) {
    return err;
  }
  const char* err = ap_walk_config(cmd->directive->first_child, cmd, cmd->context);
  const Status closed = conf->close_section();
  return err != nullptr ? err : error_in(cmd, closed);
}

// httpd's C++ view of a directive handler is `const char* (*)()`; going through void(*)()
// is the cast compilers accept without a function-type warning.
template <class F>
cmd_func as_cmd_func(F* handler) {
  return reinterpret_cast<cmd_func>(reinterpret_cast<void (*)()>(handler));
}

command_rec command_for(const config::Directive& directive) {
  command_rec command{};
  command.name = directive.name.data();
  command.cmd_data = const_cast<config::Directive*>(&directive);  // httpd hands it back as cmd->info
  command.req_override = RSRC_CONF;
  command.errmsg = directive.help.data();
  if (directive.where == config::Where::Section) {
    command.func = as_cmd_func(cmd_section);
    command.args_how = RAW_ARGS;
    return command;
  }
  if (directive.apply_in_location != nullptr) {
    command.func = as_cmd_func(cmd_take12);
    command.args_how = TAKE12;
    command.req_override = RSRC_CONF | ACCESS_CONF;
    return command;
  }
  switch (directive.arity) {
    case config::Arity::Raw:
      command.func = as_cmd_func(cmd_raw_args);
      command.args_how = RAW_ARGS;
      break;
    case config::Arity::One:
      command.func = as_cmd_func(cmd_take1);
      command.args_how = TAKE1;
      break;
    case config::Arity::Two:
      command.func = as_cmd_func(cmd_take2);
      command.args_how = TAKE2;
      break;
  }
  return command;
}

}  // namespace

// Static storage for the module's lifetime; the entry after the last directive stays zero, the
// terminator httpd looks for. Filled when the module is loaded (dlopen runs this file's
// initialisers), before httpd reads the module record.
command_rec directives[config::kDirectiveCount + 1];

namespace {

[[maybe_unused]] const bool directives_built = [] {
  std::size_t i = 0;
  for (const config::Directive& directive : config::directives()) {
    directives[i++] = command_for(directive);
  }
  return true;
}();

}  // namespace

ServerConfig* server_config(server_rec* s) {
  return static_cast<ServerConfig*>(ap_get_module_config(s->module_config, &idmbalance_module));
}

void* create_server_config(apr_pool_t* pool, server_rec*) { return pool_new<ServerConfig>(pool); }

void* merge_server_config(apr_pool_t* pool, void* base_conf, void* add_conf) {
  return pool_new<ServerConfig>(
      pool, ServerConfig::merge(*static_cast<ServerConfig*>(base_conf), *static_cast<ServerConfig*>(add_conf)));
}

}  // namespace idmb::shim
