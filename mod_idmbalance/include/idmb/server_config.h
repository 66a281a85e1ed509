// One server scope's configuration (the main server or a <VirtualHost>) as its directives
// build it, plus the reader's state while they are read (which <IdmBalancer> section is
// open). Plain C++: httpd's directive handlers (the shim) and other config readers (the mod_jk
// converter) feed it the same way, through the directive table (directives.h).
//
//   ServerConfig conf;
//   conf.open_section("app>");                       // <IdmBalancer app>
//   conf.apply("IdmMember", {"t1", "ajp://h:8009"});
//   conf.close_section();                            // </IdmBalancer>: validate()
//   conf.apply("IdmMount", {"/app/*", "app"});
#pragma once

#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "idmb/config.h"
#include "idmb/directives.h"
#include "idmb/expected.h"
#include "idmb/mount_map.h"
#include "idmb/request_env.h"

namespace idmb::config {

inline constexpr std::uint32_t kDefaultDrainQuietMs = 30000;

class ServerConfig {
 public:
  // Applies a directive of the table: one allowed inside a section to the open section's
  // balancer (an error outside one), any other to this scope. Checks the argument count of
  // Arity::One and Arity::Two as httpd does (httpd checks it before the shim gets here). The
  // section opener is not applied here: see open_section.
  Status apply(const Directive& directive, const Args& args);
  // The same, by name (case-insensitive); an unknown name is an error.
  Status apply(std::string_view name, const Args& args);

  // "<IdmBalancer NAME>": `raw` is the text after "<IdmBalancer", up to and including the
  // closing '>' (httpd's section arguments). Refuses a nested section, a missing '>', other
  // than one name, and a name this scope has defined before.
  Status open_section(std::string_view raw);
  // "</IdmBalancer>": closes the open section, also when the result is an error, and checks
  // its balancer as a whole (validate()).
  Status close_section();
  bool section_open() const { return section_open_; }
  // The open section's balancer, or nullptr.
  BalancerConfig* open_balancer() { return section_open_ ? &balancers_.back() : nullptr; }

  // IdmMount, IdmUnmount and IdmDrainQuietTime, once their arguments are parsed.
  Status mount(std::string_view pattern, std::string_view balancer) { return mounts_.mount(pattern, balancer); }
  Status unmount(std::string_view pattern, std::string_view balancer) { return mounts_.unmount(pattern, balancer); }
  void set_drain_quiet_ms(std::uint32_t ms) { drain_quiet_ms_ = ms; }
  // IdmMount BALANCER / IdmUnmount BALANCER|* read inside a location section (whose own
  // setting is a LocationMount, location_mount.h): noted here so that the balancer can be
  // checked (check_servers) and shown on the status page, and so that the request path looks
  // for location settings only where some exist. `section` is the section's opening line.
  struct LocationRule {
    std::string section;  // "<Location /app>"
    std::string balancer;
    bool exclusion = false;
  };
  void note_location_rule(LocationRule rule) { location_rules_.push_back(std::move(rule)); }
  // Own rules, then (after merge) the main server's: its sections apply in every VirtualHost.
  const std::vector<LocationRule>& location_rules() const { return location_rules_; }
  // IdmEnvAttribute NAME [DEFAULT], IdmEnvIndicator FIELD VARIABLE, IdmMountCopy On|Off|All,
  // IdmStripSession On|Off [NAME], their arguments as the directive table passes them.
  Status env_attribute(std::string_view name, const Args& args);
  Status env_indicator(std::string_view name, const Args& args);
  Status mount_copy(std::string_view name, const Args& args);
  Status strip_session(std::string_view name, const Args& args);

  // Defined in this scope, in config order (a deque: their addresses stay put as it grows).
  const std::deque<BalancerConfig>& balancers() const { return balancers_; }
  // Own rules first, then (after merge) the main server's.
  const MountMap& mounts() const { return mounts_; }
  // IdmDrainQuietTime: when a disabled member with nothing in flight counts as drained.
  std::uint32_t drain_quiet_ms() const { return drain_quiet_ms_; }
  // Own entries first, then (after merge) the main server's whose NAME (FIELD) this scope does
  // not set itself.
  const std::vector<request::EnvAttribute>& env_attributes() const { return env_attributes_; }
  const std::vector<request::EnvIndicator>& env_indicators() const { return env_indicators_; }
  // IdmMountCopy as this scope set it; nullopt when it did not.
  std::optional<bool> mount_copy() const { return mount_copy_; }
  // IdmStripSession: the path parameter to strip from URLs httpd serves itself; "" when off.
  std::string_view strip_session_param() const { return strip_session_ ? *strip_session_ : std::string_view(); }

  // A <VirtualHost>'s configuration as httpd merges it over the main server's: its own
  // balancers and mounts, then the main server's mounts unless IdmMountCopy says not to (the
  // vhost's own IdmMountCopy, else the main server's, else On), and the main server's location
  // rules (httpd applies its <Location> sections in every VirtualHost). Balancer names are global, so
  // the main server's balancers stay the main server's. IdmEnvAttribute and IdmEnvIndicator
  // add to the main server's, IdmStripSession replaces it.
  static ServerConfig merge(const ServerConfig& main, const ServerConfig& vhost);

 private:
  std::deque<BalancerConfig> balancers_;
  bool section_open_ = false;  // the last of balancers_ is being read
  MountMap mounts_;
  std::uint32_t drain_quiet_ms_ = kDefaultDrainQuietMs;
  std::vector<LocationRule> location_rules_;
  std::vector<request::EnvAttribute> env_attributes_;
  std::vector<request::EnvIndicator> env_indicators_;
  std::optional<bool> mount_copy_;
  std::optional<std::string> strip_session_;  // set: "" (Off) or the parameter name
};

// What directives alone cannot check, over every scope (each listed once, even where httpd
// shares one scope's configuration among servers): a balancer name is defined once in all
// scopes together, and every IdmMount/IdmUnmount, also inside a location section, names a
// defined balancer (check_server_scopes).
Status check_servers(const std::vector<const ServerConfig*>& scopes);

// The patterns that mount `balancer` in any scope, first occurrence first, then the location
// sections that mount it ("<Location /app>"; the status page).
std::vector<std::string> mount_patterns(const std::vector<const ServerConfig*>& scopes, std::string_view balancer);

// advisories() of every balancer of every scope.
std::vector<std::string> advisories(const std::vector<const ServerConfig*>& scopes);

}  // namespace idmb::config
