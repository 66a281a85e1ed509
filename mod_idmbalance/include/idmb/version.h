// The one version of mod_idmbalance: CMake's project(VERSION), compiled into the core, for
// everything that prints it (status pages, the migration tool).
#pragma once

#include <string_view>

namespace idmb {

// "MAJOR.MINOR.PATCH", e.g. "0.1.0".
std::string_view version();

// "mod_idmbalance/" + version(): what the status page and its JSON show.
std::string_view module_version();

}  // namespace idmb
