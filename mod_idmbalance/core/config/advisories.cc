#include "idmb/config.h"

namespace idmb::config {

std::vector<std::string> advisories(const BalancerConfig& balancer) {
  std::vector<std::string> out;
  for (const auto& m : balancer.members) {
    if (m.secret.empty() && balancer.secret.empty()) {
      out.push_back("<IdmBalancer " + balancer.name + "> member " + m.name + " (" + m.host + ":" +
                    std::to_string(m.port) +
                    ") has no AJP secret: whoever reaches that port can send Tomcat requests with any "
                    "attribute (Ghostcat, CVE-2020-1938). Set IdmSecret or secret=, and "
                    "secretRequired=\"true\" secret=\"...\" on Tomcat's AJP connector");
    }
  }
  return out;
}

}  // namespace idmb::config
