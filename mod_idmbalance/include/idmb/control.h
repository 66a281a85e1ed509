// The manager's control interface, without httpd: parsing and validating the POSTed form,
// the CSRF checks (nonce, same origin), and applying a command to the shared table.
//
// The form (application/x-www-form-urlencoded, POST only, at most 8 KiB and 32 fields, each
// key at most once):
//   nonce=N          required; the handler compares it with nonce_matches()
//   balancer=B       required
//   member=M         the member to change; required by action and factor
//   action=A         activate | disable | stop | standby | reset | recover
//   factor=N         1..config::kMaxFactor (100); with or without an action (the HTML page posts it alone)
//   method=M         requests | traffic | busyness | p2c      (balancer setting)
//   sticky_force=F   on | off (also 1/0, true/false)          (balancer setting)
// A form must change something: at least one of action, factor, method, sticky_force.
// An empty "member=" counts as absent, so one balancer form can serve both levels.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "idmb/config.h"
#include "idmb/expected.h"
#include "idmb/health.h"
#include "idmb/worker_table_layout.h"

namespace idmb::status {

inline constexpr std::size_t kMaxFormBytes = 8192;
inline constexpr std::size_t kMaxFormFields = 32;

struct FormFields {
  std::vector<std::pair<std::string, std::string>> items;  // in body order, keys unique
  // The value for `key`, or nullptr.
  const std::string* find(std::string_view key) const;
};

// Decodes '+' as space and %XX (one pass: "%2541" stays "%41"). Refuses a body over
// kMaxFormBytes, more than kMaxFormFields fields, a malformed escape, an empty key, a
// duplicate key and NUL bytes. Empty segments ("a=1&&b=2", a trailing '&') are skipped;
// "key" without '=' has an empty value.
Expected<FormFields> parse_form(std::string_view body);

enum class Action { Activate, Disable, Stop, Standby, Reset, Recover };
// Every action, in the order the manager page shows their buttons.
inline constexpr std::array<Action, 6> kActions = {Action::Activate, Action::Disable, Action::Stop,
                                                   Action::Standby,  Action::Reset,   Action::Recover};
// The form's spelling: "activate", "disable", "stop", "standby", "reset", "recover".
std::string_view to_string(Action a);

struct Command {
  std::string nonce;  // as given (may be empty): checked by the caller
  std::string balancer;
  std::string member;  // empty: a balancer-level command
  std::optional<Action> action;
  std::optional<std::uint32_t> factor;
  std::optional<config::Method> method;
  std::optional<bool> sticky_force;
};

// Validates the fields: known keys only, well-formed names, values in range. Says nothing
// about whether the balancer or member exists (apply_command does).
Expected<Command> parse_command(const FormFields& fields);

// CSRF check on the Origin header, or on the Referer when there is no Origin. True when the
// header is absent (empty: not a browser, or a browser that sent none) or when its authority
// names the request's Host: host case-insensitive, port as given, except that a missing port
// equals the scheme's default (http 80, https 443). "null", a malformed URL or a missing Host
// give false.
bool same_origin(std::string_view origin_or_referer, std::string_view host_header);

// The names this (virtual) server answers to, for host_names_server.
struct ServerNames {
  std::string_view server_name;           // ServerName
  std::vector<std::string_view> aliases;  // ServerAlias, wildcards ('*', '?') allowed
  std::string_view local_address;         // the address the connection came in on
};

// DNS-rebinding check for the manager: a page on an attacker's name that resolves to this
// server is same-origin with itself, so Origin/Referer and the nonce do not stop it. True when
// the Host header (port ignored) is the ServerName or a ServerAlias (case-insensitive), the
// address the connection came in on, or "localhost" on a loopback connection; also when there
// is no Host at all (HTTP/1.0: not a browser). False for any other name.
bool host_names_server(std::string_view host_header, const ServerNames& names);

// Constant-time comparison (for equal lengths); an empty expected or given nonce never matches.
bool nonce_matches(std::string_view expected, std::string_view given);

// What apply_command changes, supplied by the handler (the shared table in httpd, fakes in
// tests).
class ControlTarget {
 public:
  virtual ~ControlTarget() = default;
  virtual bool has_balancer(std::string_view balancer) = 0;
  // The member's shared record, or nullptr when the balancer has no such member.
  virtual table::MemberSlot* member(std::string_view balancer, std::string_view member) = 0;
  virtual Status set_method(std::string_view balancer, config::Method method) = 0;
  virtual Status set_sticky_force(std::string_view balancer, bool force) = 0;
  virtual std::int64_t now_ms() = 0;
  // The balancer's health policy, for the slow-start ramp of a re-activated member; nullptr:
  // no ramp.
  virtual const health::Policy* health_policy(std::string_view /*balancer*/) { return nullptr; }
};

struct ControlResult {
  enum class Code {
    Ok,        // applied; message says what changed (for the log)
    NotFound,  // unknown balancer or member: 404, nothing changed
    Invalid,   // a command that cannot apply: 400, nothing changed
    Failed,    // the target refused a balancer setting: 500; later parts (member changes)
               // were not applied, earlier balancer settings may have been
  };
  Code code = Code::Ok;
  std::string message;
  bool ok() const { return code == Code::Ok; }
};

// Checks that the balancer (and member) exist before changing anything, then applies, in
// order: method, sticky force, factor, action. Member actions act on the slot directly:
//   activate/disable/stop/standby  set the activation (every child sees it at once);
//   reset    zeroes requests, error counters, bytes, sticky hits and the last error; keeps
//            busy (requests in flight still finish and decrement it), the balancing clock
//            (zeroing it would send this member every new request), health, activation,
//            and last_sticky_ms (the drain clock);
//   recover  makes the member's next probe due at once (health::force_recovery_probe) instead
//            of at its next probe interval. Its state does not change here: a member in error
//            comes back only after `rise` good probes, as recovering (ramping up over
//            IdmSlowStart), so no user request is risked on it. For a member not in error it
//            only brings its next probe forward. The message is "recovery probe requested".
ControlResult apply_command(const Command& command, ControlTarget& target);

}  // namespace idmb::status
