// IdmMount BALANCER / IdmUnmount BALANCER|* inside <Location> and <LocationMatch>: the
// per-directory config httpd creates and merges (config::LocationMount), the directive's
// context check, and the lookup of the setting that applies to a request's path.
#pragma once

#include "httpd.h"
#include "http_config.h"

#include "idmb/directives.h"
#include "idmb/location_mount.h"

namespace idmb::shim {

void* create_location_config(apr_pool_t* pool, char* dir);
void* merge_location_config(apr_pool_t* pool, void* outer, void* inner);

// The directive read in a directory section (cmd->path set): refused unless that section is a
// <Location> or <LocationMatch>, else applied to `location_conf` (the section's config).
const char* apply_in_location_section(cmd_parms* cmd, const config::Directive& directive, void* location_conf,
                                      const config::Args& args);

// The location setting for `normalized_path`: httpd's own location walk run on that path (the
// path the walk after map_to_storage sees once the request is claimed, so the decision and
// the access rules agree). r->uri and r->per_dir_config are left as they were. nullptr if
// none applies.
const config::LocationMount* location_mount_for(request_rec* r, std::string_view normalized_path);

}  // namespace idmb::shim
