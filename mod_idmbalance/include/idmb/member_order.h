// Which members to try for a request, in order. Plain round robin over active members, then
// standbys; disabled and stopped members are skipped. (The weighted, sticky balancer replaces
// this; the shim only walks the list it gets.)
#pragma once

#include <cstdint>
#include <vector>

#include "idmb/config.h"

namespace idmb {

// `ticket` is a per-balancer counter the caller increments per request.
std::vector<std::size_t> member_try_order(const config::BalancerConfig& balancer, std::uint64_t ticket);

}  // namespace idmb
