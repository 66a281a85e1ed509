// Rules that span server scopes (the main server and each VirtualHost). Balancer names are
// global, so a VirtualHost may mount a balancer the main server defines: each balancer is
// defined once, in one scope, and every IdmMount/IdmUnmount names a defined balancer.
#pragma once

#include <vector>

#include "idmb/config.h"
#include "idmb/expected.h"
#include "idmb/mount_map.h"

namespace idmb::config {

// What one scope defines itself. The caller lists each scope once, even where the server
// reuses another scope's configuration.
struct ServerScope {
  std::vector<const BalancerConfig*> balancers;
  const MountMap* mounts = nullptr;
};

Status check_server_scopes(const std::vector<ServerScope>& scopes);

}  // namespace idmb::config
