#include "location_mounts.h"

#include <strings.h>

#include <string>

#include "apr_strings.h"
#include "http_request.h"

#include "shim_module.h"

namespace idmb::shim {
namespace {

using config::LocationMount;

bool is_conditional_wrapper(const char* name) {
  for (const char* wrapper : {"<IfModule", "<IfDefine", "<IfVersion", "<IfFile", "<IfDirective", "<IfSection"}) {
    if (strcasecmp(name, wrapper) == 0) return true;
  }
  return false;
}

// The section the directive is in, past <IfModule> and the like; nullptr at server level.
const ap_directive_t* enclosing_section(const ap_directive_t* directive) {
  const ap_directive_t* parent = directive->parent;
  while (parent != nullptr && is_conditional_wrapper(parent->directive)) parent = parent->parent;
  return parent;
}

}  // namespace

void* create_location_config(apr_pool_t* pool, char*) { return pool_new<LocationMount>(pool); }

// Runs for every section a request's walk merges: sections without a setting add nothing.
void* merge_location_config(apr_pool_t* pool, void* outer, void* inner) {
  const auto& in = *static_cast<const LocationMount*>(inner);
  if (in.empty()) return outer;
  if (!in.mount.empty()) return inner;
  return pool_new<LocationMount>(pool, LocationMount::merge(*static_cast<const LocationMount*>(outer), in));
}

const char* apply_in_location_section(cmd_parms* cmd, const config::Directive& directive, void* location_conf,
                                      const config::Args& args) {
  const ap_directive_t* section = enclosing_section(cmd->directive);
  // <Directory> and <Files> are matched against the file system, which a forwarded request
  // never reaches; <If> and <Limit> are judged after the mount is chosen.
  if (section == nullptr ||
      (strcasecmp(section->directive, "<Location") != 0 && strcasecmp(section->directive, "<LocationMatch") != 0)) {
    return apr_pstrcat(cmd->pool, directive.name.data(),
                       " BALANCER is allowed only directly inside <Location> or <LocationMatch>, not in ",
                       section != nullptr ? section->directive : "this context", ">", nullptr);
  }
  const std::string opening = std::string(section->directive) + " " + (section->args ? section->args : "");
  const Status applied = config::apply_in_location(directive, *server_config(cmd->server),
                                                   *static_cast<LocationMount*>(location_conf), opening, args);
  return applied ? nullptr : apr_pstrdup(cmd->pool, applied.error().c_str());
}

const LocationMount* location_mount_for(request_rec* r, std::string_view normalized_path) {
  char* const uri = r->uri;
  ap_conf_vector_t* const per_dir = r->per_dir_config;
  r->uri = apr_pstrmemdup(r->pool, normalized_path.data(), normalized_path.size());
  r->per_dir_config = r->server->lookup_defaults;
  const LocationMount* found = nullptr;
  if (ap_location_walk(r) == OK) {
    found = static_cast<const LocationMount*>(ap_get_module_config(r->per_dir_config, &idmbalance_module));
  }
  r->uri = uri;
  r->per_dir_config = per_dir;
  return found != nullptr && !found->empty() ? found : nullptr;
}

}  // namespace idmb::shim
