// The server-scope config model and the <IdmBalancer> section state (server_config.h).
#include "idmb/server_config.h"

#include <algorithm>
#include <string>

#include "../util/ascii.h"
#include "../util/text.h"
#include "idmb/server_scopes.h"

namespace idmb::config {
namespace {

constexpr std::string_view kSection = "<IdmBalancer";

// Location rules name balancers as server mounts do; any scope may define them.
Status check_location_rules(const std::vector<const ServerConfig*>& scopes) {
  for (const ServerConfig* conf : scopes) {
    for (const ServerConfig::LocationRule& rule : conf->location_rules()) {
      if (rule.balancer == "*") continue;
      const bool defined = std::any_of(scopes.begin(), scopes.end(), [&](const ServerConfig* other) {
        const auto& own = other->balancers();
        return std::any_of(own.begin(), own.end(), [&](const BalancerConfig& b) { return b.name == rule.balancer; });
      });
      if (!defined) {
        return fail(std::string(rule.exclusion ? "IdmUnmount " : "IdmMount ") + rule.balancer + " in " + rule.section +
                    ": no <IdmBalancer " + rule.balancer + "> is defined");
      }
    }
  }
  return Ok{};
}

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

Status ServerConfig::env_attribute(std::string_view name, const Args& args) {
  if (args.empty() || args.size() > 2) return fail(std::string(name) + " takes NAME [DEFAULT]");
  if (!request::is_valid_env_name(args[0])) {
    return fail(std::string(name) + ": " + text::quoted(args[0]) +
                " is not a variable name (1..255 characters of A-Z a-z 0-9 _ . : -)");
  }
  // Tomcat reads these names itself (client port, local address, TLS protocol, activation):
  // the module sends them, IdmEnvIndicator sets them.
  if (ajp::is_allowed_request_attribute(args[0])) {
    return fail(std::string(name) + ": " + text::quoted(args[0]) +
                " is an attribute Tomcat's AJP connector reads itself; use IdmEnvIndicator");
  }
  request::EnvAttribute entry{std::string(args[0]), std::nullopt};
  if (args.size() == 2) entry.fallback = std::string(args[1]);
  for (request::EnvAttribute& existing : env_attributes_) {
    if (existing.name == entry.name) {
      existing = std::move(entry);  // the later line wins, as with mod_jk
      return Ok{};
    }
  }
  env_attributes_.push_back(std::move(entry));
  return Ok{};
}

Status ServerConfig::env_indicator(std::string_view name, const Args& args) {
  const auto field = request::parse_env_field(args[0]);
  if (!field) {
    return fail(std::string(name) + ": unknown field " + text::quoted(args[0]) +
                " (known: https, remote_addr, remote_port, remote_host, remote_user, auth_type, local_name, "
                "local_addr, local_port, ssl_protocol, ssl_cipher, ssl_session, ssl_key_size, ssl_cert)");
  }
  if (!request::is_valid_env_name(args[1])) {
    return fail(std::string(name) + ": " + text::quoted(args[1]) +
                " is not a variable name (1..255 characters of A-Z a-z 0-9 _ . : -)");
  }
  for (request::EnvIndicator& existing : env_indicators_) {
    if (existing.field == *field) {
      existing.variable = args[1];
      return Ok{};
    }
  }
  env_indicators_.push_back({*field, std::string(args[1])});
  return Ok{};
}

Status ServerConfig::mount_copy(std::string_view name, const Args& args) {
  // "All" is mod_jk's main-server spelling of "On for every vhost": here that is what On means.
  if (ascii::iequals(args[0], "on") || ascii::iequals(args[0], "all")) {
    mount_copy_ = true;
  } else if (ascii::iequals(args[0], "off")) {
    mount_copy_ = false;
  } else {
    return fail(std::string(name) + ": expected On, Off or All, got " + text::quoted(args[0]));
  }
  return Ok{};
}

Status ServerConfig::strip_session(std::string_view name, const Args& args) {
  if (args.empty() || args.size() > 2) return fail(std::string(name) + " takes On|Off [NAME]");
  const bool on = ascii::iequals(args[0], "on");
  if (!on && !ascii::iequals(args[0], "off")) {
    return fail(std::string(name) + ": expected On or Off, got " + text::quoted(args[0]));
  }
  std::string_view param = args.size() == 2 ? args[1] : std::string_view("jsessionid");
  if (!param.empty() && param.front() == ';') param.remove_prefix(1);  // mod_jk's ";jsessionid"
  if (!request::is_valid_env_name(param)) {
    return fail(std::string(name) + ": " + text::quoted(args[1]) + " is not a valid path parameter name");
  }
  strip_session_ = on ? std::string(param) : std::string();
  return Ok{};
}

ServerConfig ServerConfig::merge(const ServerConfig& main, const ServerConfig& vhost) {
  ServerConfig merged;
  merged.balancers_ = vhost.balancers_;
  merged.mounts_ = vhost.mounts_;
  merged.mount_copy_ = vhost.mount_copy_;
  merged.location_rules_ = vhost.location_rules_;
  merged.location_rules_.insert(merged.location_rules_.end(), main.location_rules_.begin(), main.location_rules_.end());
  if (vhost.mount_copy_.value_or(main.mount_copy_.value_or(true))) merged.mounts_.merge_from(main.mounts_);
  merged.drain_quiet_ms_ = main.drain_quiet_ms_;  // main server only: a VirtualHost cannot set it
  merged.env_attributes_ = vhost.env_attributes_;
  for (const request::EnvAttribute& entry : main.env_attributes_) {
    const auto& own = vhost.env_attributes_;
    if (std::none_of(own.begin(), own.end(), [&](const auto& e) { return e.name == entry.name; })) {
      merged.env_attributes_.push_back(entry);
    }
  }
  merged.env_indicators_ = vhost.env_indicators_;
  for (const request::EnvIndicator& entry : main.env_indicators_) {
    const auto& own = vhost.env_indicators_;
    if (std::none_of(own.begin(), own.end(), [&](const auto& e) { return e.field == entry.field; })) {
      merged.env_indicators_.push_back(entry);
    }
  }
  merged.strip_session_ = vhost.strip_session_ ? vhost.strip_session_ : main.strip_session_;
  return merged;
}

Status check_servers(const std::vector<const ServerConfig*>& scopes) {
  std::vector<ServerScope> defined;
  for (const ServerConfig* conf : scopes) {
    ServerScope& scope = defined.emplace_back();
    for (const BalancerConfig& balancer : conf->balancers()) scope.balancers.push_back(&balancer);
    scope.mounts = &conf->mounts();
  }
  if (auto checked = check_server_scopes(defined); !checked) return checked;
  return check_location_rules(scopes);
}

std::vector<std::string> mount_patterns(const std::vector<const ServerConfig*>& scopes, std::string_view balancer) {
  std::vector<std::string> patterns;
  auto add = [&](const std::string& pattern) {
    if (std::find(patterns.begin(), patterns.end(), pattern) == patterns.end()) patterns.push_back(pattern);
  };
  for (const ServerConfig* conf : scopes) {
    for (const MountMap::Rule& rule : conf->mounts().mounts()) {
      if (rule.balancer == balancer) add(rule.pattern);
    }
  }
  for (const ServerConfig* conf : scopes) {
    for (const ServerConfig::LocationRule& rule : conf->location_rules()) {
      if (!rule.exclusion && rule.balancer == balancer) add(rule.section);
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
