// The manager's control interface: form parsing, command validation, CSRF checks, and the
// member actions on the shared table.
#include <atomic>
#include <optional>
#include <string>

#include "../util/ascii.h"
#include "../util/glob.h"
#include "../util/text.h"
#include "idmb/control.h"

#include "idmb/health.h"
#include "idmb/latency.h"

namespace idmb::status {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;
using config::kMaxFactor;

std::optional<int> hex_value(char c) {
  if (ascii::is_digit(c)) return c - '0';
  const char l = ascii::to_lower(c);
  if (l >= 'a' && l <= 'f') return l - 'a' + 10;
  return std::nullopt;
}

Expected<std::string> decode_component(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (c == '+') {
      out += ' ';
    } else if (c == '%') {
      const auto hi = i + 1 < text.size() ? hex_value(text[i + 1]) : std::nullopt;
      const auto lo = i + 2 < text.size() ? hex_value(text[i + 2]) : std::nullopt;
      if (!hi || !lo) return fail("form: malformed %-escape");
      out += static_cast<char>(*hi * 16 + *lo);
      i += 2;
    } else {
      out += c;
    }
  }
  // Names and values end up in C strings and log lines; a NUL has no business in either.
  if (out.find('\0') != std::string::npos) return fail("form: NUL byte in a field");
  return out;
}

// Case-sensitive, unlike the directives: the manager's own forms send these spellings.
std::optional<Action> parse_action(std::string_view s) {
  for (Action a : kActions) {
    if (s == to_string(a)) return a;
  }
  return std::nullopt;
}

std::optional<config::Method> parse_method(std::string_view s) {
  for (config::Method m : config::kMethods) {
    if (s == config::to_string(m)) return m;
  }
  return std::nullopt;
}

std::optional<bool> parse_on_off(std::string_view s) {
  if (s == "on" || s == "1" || s == "true") return true;
  if (s == "off" || s == "0" || s == "false") return false;
  return std::nullopt;
}

// Form values are echoed in errors, so keep them short and printable.
std::string shown(std::string_view value) { return text::quoted(value, {.max_bytes = 64, .printable = true}); }

struct Authority {
  std::string_view host;  // brackets kept for IPv6
  std::string_view port;  // empty if none
};

// Splits "host[:port]" / "[v6]:port"; nullopt if malformed.
std::optional<Authority> split_authority(std::string_view a) {
  if (a.empty()) return std::nullopt;
  Authority out;
  if (a.front() == '[') {
    const auto close = a.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    out.host = a.substr(0, close + 1);
    const std::string_view rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return std::nullopt;
      out.port = rest.substr(1);
    }
  } else {
    const auto colon = a.find(':');
    out.host = a.substr(0, colon);
    if (colon != std::string_view::npos) out.port = a.substr(colon + 1);
  }
  if (out.host.empty()) return std::nullopt;
  for (char c : out.port) {
    if (!ascii::is_digit(c)) return std::nullopt;
  }
  return out;
}

std::string_view default_port(std::string_view scheme) {
  if (ascii::iequals(scheme, "http")) return "80";
  if (ascii::iequals(scheme, "https")) return "443";
  return {};
}

void zero_counters(table::MemberSlot& slot) {
  slot.requests.store(0, kRelaxed);
  for (auto& e : slot.errors) e.store(0, kRelaxed);
  slot.bytes_in.store(0, kRelaxed);
  slot.bytes_out.store(0, kRelaxed);
  slot.sticky_hits.store(0, kRelaxed);
  slot.last_error_ms.store(0, kRelaxed);
  slot.last_error_class.store(0, kRelaxed);
  latency::reset(slot.latency);
}

ControlResult result(ControlResult::Code code, std::string message) { return {code, std::move(message)}; }

}  // namespace

const std::string* FormFields::find(std::string_view key) const {
  for (const auto& [k, v] : items) {
    if (k == key) return &v;
  }
  return nullptr;
}

Expected<FormFields> parse_form(std::string_view body) {
  if (body.size() > kMaxFormBytes) {
    return fail("form: body of " + std::to_string(body.size()) + " bytes; the limit is " +
                std::to_string(kMaxFormBytes));
  }
  FormFields fields;
  while (!body.empty()) {
    const auto amp = body.find('&');
    const std::string_view part = body.substr(0, amp);
    body = amp == std::string_view::npos ? std::string_view{} : body.substr(amp + 1);
    if (part.empty()) continue;
    if (fields.items.size() == kMaxFormFields) {
      return fail("form: more than " + std::to_string(kMaxFormFields) + " fields");
    }
    const auto eq = part.find('=');
    auto key = decode_component(part.substr(0, eq));
    if (!key) return fail(key.error());
    auto value = decode_component(eq == std::string_view::npos ? std::string_view{} : part.substr(eq + 1));
    if (!value) return fail(value.error());
    if (key->empty()) return fail("form: field without a name");
    if (fields.find(*key) != nullptr) return fail("form: field " + shown(*key) + " given twice");
    fields.items.emplace_back(std::move(*key), std::move(*value));
  }
  return fields;
}

std::string_view to_string(Action a) {
  switch (a) {
    case Action::Activate: return "activate";
    case Action::Disable: return "disable";
    case Action::Stop: return "stop";
    case Action::Standby: return "standby";
    case Action::Reset: return "reset";
    case Action::Recover: return "recover";
  }
  return "unknown";
}

Expected<Command> parse_command(const FormFields& fields) {
  Command cmd;
  for (const auto& [key, value] : fields.items) {
    if (key == "nonce") {
      cmd.nonce = value;
    } else if (key == "balancer") {
      if (!config::is_valid_name(value)) return fail("invalid balancer name " + shown(value));
      cmd.balancer = value;
    } else if (key == "member") {
      if (!value.empty() && !config::is_valid_name(value)) return fail("invalid member name " + shown(value));
      cmd.member = value;
    } else if (key == "action") {
      cmd.action = parse_action(value);
      if (!cmd.action) {
        return fail("unknown action " + shown(value) + "; use activate, disable, stop, standby, reset or recover");
      }
    } else if (key == "factor") {
      const auto n = ascii::parse_decimal(value, kMaxFactor);
      if (!n || *n < 1) {
        return fail("factor " + shown(value) + " is not a number from 1 to " + std::to_string(kMaxFactor));
      }
      cmd.factor = static_cast<std::uint32_t>(*n);
    } else if (key == "method") {
      cmd.method = parse_method(value);
      if (!cmd.method) return fail("unknown method " + shown(value) + "; use requests, traffic, busyness or p2c");
    } else if (key == "sticky_force") {
      cmd.sticky_force = parse_on_off(value);
      if (!cmd.sticky_force) return fail("sticky_force " + shown(value) + " is not on or off");
    } else {
      return fail("unknown field " + shown(key));
    }
  }
  if (cmd.balancer.empty()) return fail("missing field 'balancer'");
  if ((cmd.action || cmd.factor) && cmd.member.empty()) {
    return fail("field 'member' is required with action or factor");
  }
  if (!cmd.action && !cmd.factor && !cmd.method && !cmd.sticky_force) {
    return fail("nothing to do: give action, factor, method or sticky_force");
  }
  return cmd;
}

bool same_origin(std::string_view header, std::string_view host_header) {
  if (header.empty()) return true;
  const auto sep = header.find("://");
  if (sep == std::string_view::npos || sep == 0) return false;  // also catches "null"
  const std::string_view scheme = header.substr(0, sep);
  std::string_view authority = header.substr(sep + 3);
  authority = authority.substr(0, authority.find_first_of("/?#"));
  // Browsers strip credentials from Referer; if one is there anyway, the host follows '@'.
  if (const auto at = authority.rfind('@'); at != std::string_view::npos) authority = authority.substr(at + 1);

  const auto theirs = split_authority(authority);
  const auto ours = split_authority(host_header);
  if (!theirs || !ours) return false;
  if (!ascii::iequals(theirs->host, ours->host)) return false;
  // "http://h" and Host "h:80" name the same origin; so do "h:080" and "h:80".
  const std::string_view def = default_port(scheme);
  const auto port_of = [def](std::string_view port) { return ascii::parse_decimal(port.empty() ? def : port, 65535); };
  if (theirs->port.empty() && ours->port.empty()) return true;
  const auto a = port_of(theirs->port);
  const auto b = port_of(ours->port);
  return a && b && *a == *b;
}

namespace {

bool is_loopback_address(std::string_view ip) {
  return ip.starts_with("127.") || ip == "::1" || ip.starts_with("::ffff:127.");
}

}  // namespace

bool host_names_server(std::string_view host_header, const ServerNames& names) {
  if (host_header.empty()) return true;
  const auto authority = split_authority(host_header);
  if (!authority) return false;
  std::string_view host = authority->host;
  if (host.size() > 2 && host.front() == '[') host = host.substr(1, host.size() - 2);
  if (host.ends_with('.')) host.remove_suffix(1);  // "example.org." is the same name
  // Case-insensitive for the address too: IPv6 hex digits may come in either case.
  if (ascii::iequals(host, names.server_name) || ascii::iequals(host, names.local_address)) return true;
  if (ascii::iequals(host, "localhost")) return is_loopback_address(names.local_address);
  const std::string lowered_host = ascii::lowered(host);
  for (std::string_view alias : names.aliases) {
    if (glob_match(ascii::lowered(alias), lowered_host)) return true;
  }
  return false;
}

bool nonce_matches(std::string_view expected, std::string_view given) {
  if (expected.empty() || given.empty() || expected.size() != given.size()) return false;
  // No early exit: the time taken does not depend on where the first difference is.
  unsigned char diff = 0;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    diff |= static_cast<unsigned char>(expected[i] ^ given[i]);
  }
  return diff == 0;
}

namespace {

// One member action on its slot; says what it did in `done`.
void apply_action(Action action, table::MemberSlot& slot, const Command& cmd, ControlTarget& target,
                  std::string& done) {
  const auto set_activation = [&](config::Activation a) {
    slot.activation.store(static_cast<std::uint32_t>(a), kRelaxed);
    done.append(" ").append(config::to_string(a)).append(";");
  };
  switch (action) {
    case Action::Activate: {
      const bool was_active = slot.activation.load(kRelaxed) == static_cast<std::uint32_t>(config::Activation::Active);
      set_activation(config::Activation::Active);
      // A member coming back from disabled/stopped/standby ramps up instead of taking a
      // full share at once (its caches are cold).
      if (const health::Policy* policy = target.health_policy(cmd.balancer); policy != nullptr && !was_active) {
        health::begin_slow_start(slot, target.now_ms(), *policy);
      }
      break;
    }
    case Action::Disable: set_activation(config::Activation::Disabled); break;
    case Action::Stop: set_activation(config::Activation::Stopped); break;
    case Action::Standby: set_activation(config::Activation::Standby); break;
    case Action::Reset:
      zero_counters(slot);
      done += " counters reset;";
      break;
    case Action::Recover:
      // Not straight back into rotation: the next probe is due at once, and the probes
      // (rise good ones) bring the member back, ramping up. No user request is gambled.
      health::force_recovery_probe(slot);
      done += " recovery probe requested;";
      break;
  }
}

// The balancer settings of the command (method, sticky force); false if the target refused one.
bool apply_settings(const Command& cmd, ControlTarget& target, std::string& done, std::string& error) {
  if (cmd.method) {
    if (auto s = target.set_method(cmd.balancer, *cmd.method); !s) {
      error = s.error();
      return false;
    }
    done.append(" method ").append(config::to_string(*cmd.method)).append(";");
  }
  if (cmd.sticky_force) {
    if (auto s = target.set_sticky_force(cmd.balancer, *cmd.sticky_force); !s) {
      error = s.error();
      return false;
    }
    done.append(" sticky force ").append(*cmd.sticky_force ? "on" : "off").append(";");
  }
  return true;
}

}  // namespace

ControlResult apply_command(const Command& cmd, ControlTarget& target) {
  using Code = ControlResult::Code;
  if (cmd.balancer.empty()) return result(Code::Invalid, "no balancer given");
  if (!cmd.action && !cmd.factor && !cmd.method && !cmd.sticky_force) return result(Code::Invalid, "nothing to do");
  if ((cmd.action || cmd.factor) && cmd.member.empty()) return result(Code::Invalid, "no member given");
  if (cmd.factor && (*cmd.factor < 1 || *cmd.factor > kMaxFactor)) {
    return result(Code::Invalid, "factor must be from 1 to " + std::to_string(kMaxFactor));
  }
  if (!target.has_balancer(cmd.balancer)) return result(Code::NotFound, "no balancer " + shown(cmd.balancer));
  table::MemberSlot* slot = nullptr;
  if (!cmd.member.empty()) {
    slot = target.member(cmd.balancer, cmd.member);
    if (slot == nullptr) {
      return result(Code::NotFound, "balancer " + shown(cmd.balancer) + " has no member " + shown(cmd.member));
    }
  }

  std::string done = cmd.balancer;
  if (!cmd.member.empty()) done.append("/").append(cmd.member);
  done += ":";
  if (std::string error; !apply_settings(cmd, target, done, error)) return result(Code::Failed, std::move(error));
  if (cmd.factor) {
    slot->factor.store(*cmd.factor, kRelaxed);
    done.append(" factor ").append(std::to_string(*cmd.factor)).append(";");
  }
  if (cmd.action) apply_action(*cmd.action, *slot, cmd, target, done);
  done.pop_back();  // the last ';'
  return result(Code::Ok, std::move(done));
}

}  // namespace idmb::status
