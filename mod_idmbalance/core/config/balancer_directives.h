// Private to the core: the parsers behind the directives allowed inside <IdmBalancer>, for the
// directive table (directives.cc). Each checks its arguments, changes the balancer only when
// they are valid, and names the directive (`name`, as the table spells it) in its errors.
#pragma once

#include <cstdint>
#include <string_view>

#include "idmb/config.h"
#include "idmb/directives.h"

namespace idmb::config::directive {

Status member(BalancerConfig& balancer, std::string_view name, const Args& args);
Status sticky(BalancerConfig& balancer, std::string_view name, const Args& args);
Status method(BalancerConfig& balancer, std::string_view name, const Args& args);
Status secret(BalancerConfig& balancer, std::string_view name, const Args& args);
Status health_check(BalancerConfig& balancer, std::string_view name, const Args& args);
Status fail_on_status(BalancerConfig& balancer, std::string_view name, const Args& args);
Status request_body_buffer(BalancerConfig& balancer, std::string_view name, const Args& args);
Status outlier_detection(BalancerConfig& balancer, std::string_view name, const Args& args);  // outlier_config.cc

// One duration into `target`; zero only with allow_zero.
Status duration(std::uint32_t& target, std::string_view name, const Args& args, bool allow_zero);
// "on" or "off" into `target`.
Status on_off(bool& target, std::string_view name, const Args& args);
// One number min..max into `target`.
Status number(std::uint32_t& target, std::string_view name, const Args& args, std::uint32_t min, std::uint32_t max);

}  // namespace idmb::config::directive
