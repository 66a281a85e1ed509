// Request paths: the form mounts are matched against, and the checks on what is forwarded.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace idmb {

// Normalises an already %-decoded path for mount matching the way Tomcat will read it:
// strips ";param" from every segment, collapses "//", resolves "." and "..". Returns nullopt
// if ".." climbs above the root or the path does not start with '/'. Without this,
// "/app/..;/manager" would match "/app/*" but reach /manager in Tomcat (CVE-2018-11759 class).
std::optional<std::string> normalize_path_for_mount(std::string_view decoded_path);

// True if a raw (still %-encoded) request path may be forwarded as-is: starts with '/',
// no bytes <= 0x20, no 0x7F, no '#' and no '?'.
bool is_forwardable_raw_path(std::string_view raw_path);

}  // namespace idmb
