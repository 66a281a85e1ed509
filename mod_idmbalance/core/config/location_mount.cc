// Mounts inside <Location> / <LocationMatch> and their precedence (location_mount.h).
#include "idmb/location_mount.h"

#include <string>

#include "../util/text.h"
#include "idmb/config.h"
#include "idmb/server_config.h"

namespace idmb::config {
namespace {

constexpr std::string_view kAnyBalancer = "*";

Status one_balancer(std::string_view name, const Args& args, bool any_allowed) {
  if (args.size() != 1) {
    return fail(std::string(name) + " inside <Location> or <LocationMatch> takes one argument, the balancer (the " +
                "section's paths are the pattern)");
  }
  if (is_valid_name(args[0]) || (any_allowed && args[0] == kAnyBalancer)) return Ok{};
  return fail(std::string(name) + " " + text::quoted(args[0]) + ": not a valid balancer name" +
              (any_allowed ? " (or '*' for every balancer)" : ""));
}

}  // namespace

LocationMount LocationMount::merge(const LocationMount& outer, const LocationMount& inner) {
  if (!inner.mount.empty()) return inner;
  return {outer.mount, inner.unmount.empty() ? outer.unmount : inner.unmount};
}

Status apply_location_mount(LocationMount& location, std::string_view name, const Args& args) {
  if (auto checked = one_balancer(name, args, false); !checked) return checked;
  location.mount = std::string(args[0]);
  return Ok{};
}

Status apply_location_unmount(LocationMount& location, std::string_view name, const Args& args) {
  if (auto checked = one_balancer(name, args, true); !checked) return checked;
  location.unmount = std::string(args[0]);
  return Ok{};
}

Status apply_in_location(const Directive& directive, ServerConfig& server, LocationMount& location,
                         std::string_view section, const Args& args) {
  if (directive.apply_in_location == nullptr) {
    return fail(std::string(directive.name) + " is not allowed inside " + std::string(section));
  }
  if (auto applied = directive.apply_in_location(location, directive.name, args); !applied) return applied;
  const bool exclusion = directive.apply_in_location == apply_location_unmount;
  server.note_location_rule({std::string(section), std::string(args[0]), exclusion});
  return Ok{};
}

const std::string* choose_mount(const MountMap& server, const LocationMount* location,
                                std::string_view normalized_path) {
  const std::string* chosen = nullptr;
  if (location != nullptr && !location->mount.empty()) {
    chosen = server.unmounted(location->mount, normalized_path) ? nullptr : &location->mount;
  } else {
    chosen = server.match(normalized_path);
  }
  if (chosen != nullptr && location != nullptr && (location->unmount == kAnyBalancer || location->unmount == *chosen)) {
    return nullptr;
  }
  return chosen;
}

}  // namespace idmb::config
