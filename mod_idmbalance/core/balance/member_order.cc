#include "idmb/member_order.h"

namespace idmb {

std::vector<std::size_t> member_try_order(const config::BalancerConfig& balancer, std::uint64_t ticket) {
  using config::Activation;
  std::vector<std::size_t> active;
  std::vector<std::size_t> standby;
  const std::size_t n = balancer.members.size();
  for (std::size_t i = 0; i < n; ++i) {
    std::size_t idx = (ticket + i) % n;
    switch (balancer.members[idx].activation) {
      case Activation::Active: active.push_back(idx); break;
      case Activation::Standby: standby.push_back(idx); break;
      default: break;  // disabled (no new sessions) and stopped members get no unsticky requests
    }
  }
  active.insert(active.end(), standby.begin(), standby.end());
  return active;
}

}  // namespace idmb
