// IdmMount BALANCER and IdmUnmount BALANCER|* inside <Location> / <LocationMatch>: the
// per-directory setting httpd creates for each such section and merges along its location walk
// (outer, earlier sections first), and the choice between it and the server's mount map.
//
//   <Location /app>          IdmMount app       </Location>   # /app, /app/..., as httpd matches
//   <Location /app/static>   IdmUnmount app     </Location>   # not forwarded there
#pragma once

#include <string>
#include <string_view>

#include "idmb/directives.h"
#include "idmb/expected.h"
#include "idmb/mount_map.h"

namespace idmb::config {

class ServerConfig;

struct LocationMount {
  std::string mount;    // the balancer the innermost section with an IdmMount mounts; "" none
  std::string unmount;  // the balancer (or "*") an IdmUnmount in that section or a later one excludes; "" none

  bool empty() const { return mount.empty() && unmount.empty(); }
  // `inner` is the later (more specific) section: its IdmMount replaces the outer one and
  // drops the outer IdmUnmount; its IdmUnmount replaces the outer IdmUnmount.
  static LocationMount merge(const LocationMount& outer, const LocationMount& inner);
};

// IdmMount BALANCER / IdmUnmount BALANCER|* in a location section: exactly one argument.
// `name` is the directive's name, for the message.
Status apply_location_mount(LocationMount& location, std::string_view name, const Args& args);
Status apply_location_unmount(LocationMount& location, std::string_view name, const Args& args);

// Applies `directive` (one with apply_in_location) read inside the location section whose
// opening line is `section` ("<Location /app>"): to that section's setting, and notes it in
// `server` (ServerConfig::note_location_rule).
Status apply_in_location(const Directive& directive, ServerConfig& server, LocationMount& location,
                         std::string_view section, const Args& args);

// The balancer that serves `normalized_path` (uri_path.h), or nullptr. A location mount wins
// over the server's mounts (mod_jk: the Location's path is an exact mount, and an exact mount
// beats every wildcard). Unmounts then exclude a balancer: the server's IdmUnmount rules whose
// pattern matches the path, for a location mount as for a server mount (mod_jk checks its
// unmounts after any match), and the location's IdmUnmount, for both kinds of mount.
// `location` is nullptr where no location setting applies.
const std::string* choose_mount(const MountMap& server, const LocationMount* location,
                                std::string_view normalized_path);

}  // namespace idmb::config
