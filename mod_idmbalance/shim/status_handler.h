// SetHandler idmbalance-status (read-only) and idmbalance-manager (read-write).
#pragma once

#include "httpd.h"

#include "runtime.h"

namespace idmb::shim {

inline constexpr const char* kStatusHandler = "idmbalance-status";
inline constexpr const char* kManagerHandler = "idmbalance-manager";

int handle_status_page(request_rec* r, Runtime& runtime, bool manager);

}  // namespace idmb::shim
