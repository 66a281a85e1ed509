// The server-scope config model and the <IdmBalancer> section state (server_config.h).
#include "idmb/server_config.h"

#include <algorithm>
#include <string>

#include "../util/text.h"
#include "idmb/server_scopes.h"

namespace idmb::config {
namespace {

constexpr std::string_view kSection = "<IdmBalancer";

// httpd's own words for a TAKE1/TAKE2 directive given another count.
Status check_arity(const Directive& directive, const Args& args) {
  const std::size_t wanted = directive.arity == Arity::One ? 1 : directive.arity == Arity::Two ? 2 : args.size();
  if (args.size() == wanted) return Ok{};
  const char* count = wanted == 1 ? " takes one argument, " : " takes two arguments, ";
  return fail(std::string(directive.name) + count + std::string(directive.help));
}

}  // namespace

Status ServerConfig::apply(const Directive& directive, const Args& args) {
  if (directive.where == Where::Section) {
    return fail(std::string(directive.name) + " opens a section: read it with open_section");
  }
  if (auto arity = check_arity(directive, args); !arity) return arity;
  if (directive.where != Where::Balancer) return directive.apply_to_server(*this, directive.name, args);
  BalancerConfig* balancer = open_balancer();
  if (balancer == nullptr) {
    return fail(std::string(directive.name) + " must be inside an <IdmBalancer NAME> section");
  }
  return directive.apply_to_balancer(*balancer, directive.name, args);
}

Status ServerConfig::apply(std::string_view name, const Args& args) {
  const Directive* directive = find_directive(name);
  if (directive == nullptr) return fail("unknown directive " + text::quoted(name));
  return apply(*directive, args);
}

Status ServerConfig::open_section(std::string_view raw) {
  if (section_open_) return fail(std::string(kSection) + "> sections cannot be nested");
  const std::size_t end = raw.rfind('>');
  if (end == std::string_view::npos) {
    return fail(std::string(kSection) + "> section is missing its closing '>'");
  }
  const std::string_view inside = raw.substr(0, end);
  const std::vector<std::string> args = split_directive_args(inside);
  if (args.size() != 1) {
    return fail(std::string(kSection) + "> takes exactly one argument, the balancer name");
  }
  for (const BalancerConfig& existing : balancers_) {
    if (existing.name == args[0]) {
      return fail(std::string(kSection) + " " + std::string(inside) + "> is defined twice");
    }
  }
  balancers_.emplace_back().name = args[0];
  section_open_ = true;
  return Ok{};
}

Status ServerConfig::close_section() {
  if (!section_open_) return fail("</IdmBalancer> without <IdmBalancer NAME>");
  section_open_ = false;
  return validate(balancers_.back());
}

ServerConfig ServerConfig::merge(const ServerConfig& main, const ServerConfig& vhost) {
  ServerConfig merged;
  merged.balancers_ = vhost.balancers_;
  merged.mounts_ = vhost.mounts_;
  merged.mounts_.merge_from(main.mounts_);
  merged.drain_quiet_ms_ = main.drain_quiet_ms_;  // main server only: a VirtualHost cannot set it
  return merged;
}

Status check_servers(const std::vector<const ServerConfig*>& scopes) {
  std::vector<ServerScope> defined;
  for (const ServerConfig* conf : scopes) {
    ServerScope& scope = defined.emplace_back();
    for (const BalancerConfig& balancer : conf->balancers()) scope.balancers.push_back(&balancer);
    scope.mounts = &conf->mounts();
  }
  return check_server_scopes(defined);
}

std::vector<std::string> mount_patterns(const std::vector<const ServerConfig*>& scopes, std::string_view balancer) {
  std::vector<std::string> patterns;
  for (const ServerConfig* conf : scopes) {
    for (const MountMap::Rule& rule : conf->mounts().mounts()) {
      if (rule.balancer == balancer && std::find(patterns.begin(), patterns.end(), rule.pattern) == patterns.end()) {
        patterns.push_back(rule.pattern);
      }
    }
  }
  return patterns;
}

std::vector<std::string> advisories(const std::vector<const ServerConfig*>& scopes) {
  std::vector<std::string> out;
  for (const ServerConfig* conf : scopes) {
    for (const BalancerConfig& balancer : conf->balancers()) {
      for (std::string& warning : advisories(balancer)) out.push_back(std::move(warning));
    }
  }
  return out;
}

}  // namespace idmb::config
