// IDMB_VERSION: project(VERSION), in the header CMake generates (mod_idmbalance/CMakeLists.txt).
#include "idmb/version.h"

#include "version_value.h"

namespace idmb {

std::string_view version() { return IDMB_VERSION; }

std::string_view module_version() { return "mod_idmbalance/" IDMB_VERSION; }

}  // namespace idmb
