#include "idmb/server_scopes.h"

#include <set>
#include <string>

namespace idmb::config {

Status check_server_scopes(const std::vector<ServerScope>& scopes) {
  std::set<std::string, std::less<>> defined;
  for (const auto& scope : scopes) {
    for (const BalancerConfig* balancer : scope.balancers) {
      if (!defined.insert(balancer->name).second) {
        return fail("<IdmBalancer " + balancer->name + "> is defined more than once");
      }
    }
  }
  for (const auto& scope : scopes) {
    if (scope.mounts == nullptr) {
      continue;
    }
    for (const auto& rule : scope.mounts->mounts()) {
      if (!defined.count(rule.balancer)) {
        return fail("IdmMount " + rule.pattern + " " + rule.balancer + ": no <IdmBalancer " + rule.balancer +
                    "> is defined");
      }
    }
    for (const auto& rule : scope.mounts->unmounts()) {
      if (rule.balancer != "*" && !defined.count(rule.balancer)) {
        return fail("IdmUnmount " + rule.pattern + " " + rule.balancer + ": no <IdmBalancer " + rule.balancer +
                    "> is defined");
      }
    }
  }
  return Ok{};
}

}  // namespace idmb::config
