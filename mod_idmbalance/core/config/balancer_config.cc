// The directives inside <IdmBalancer NAME> (their table is directives.cc) and the checks run
// when the section closes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../util/ascii.h"
#include "../util/text.h"
#include "balancer_directives.h"
#include "idmb/config.h"

namespace idmb::config {
namespace {

using text::quoted;

// RFC 6265 cookie-name / RFC 9110 token: visible ASCII except separators.
bool is_token(std::string_view text) {
  constexpr std::string_view kSeparators = "()<>@,;:\\\"/[]?={}";
  if (text.empty()) return false;
  for (char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7F || kSeparators.find(c) != std::string_view::npos) {
      return false;
    }
  }
  return true;
}

std::string range(std::uint32_t min, std::uint32_t max) { return std::to_string(min) + ".." + std::to_string(max); }

Status count_error(std::string_view directive, std::string_view usage, std::size_t got) {
  return fail(std::string(directive) + " takes " + std::string(usage) + ", got " + std::to_string(got) + " arguments");
}

// COOKIE [PATH_PARAM] [force] after the cookie was checked: "force" may be the 2nd or 3rd.
Status sticky_options(StickyConfig& result, std::string_view name, const Args& args) {
  bool have_path_param = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (ascii::iequals(args[i], "force")) {
      if (result.force) return fail(std::string(name) + ": force is given twice");
      result.force = true;
      continue;
    }
    if (have_path_param) {
      return fail(std::string(name) +
                  ": expected COOKIE [PATH_PARAM] [force], got two path "
                  "parameters " +
                  quoted(result.path_param) + " and " + quoted(args[i]));
    }
    // Accept mod_jk's spelling ";jsessionid" as well as "jsessionid".
    std::string_view param = args[i];
    if (!param.empty() && param.front() == ';') param.remove_prefix(1);
    if (!is_token(param)) {
      return fail(std::string(name) + ": " + quoted(args[i]) + " is not a valid path parameter name");
    }
    result.path_param = param;
    have_path_param = true;
  }
  return Ok{};
}

std::optional<Method> parse_method(std::string_view text) {
  for (Method m : kMethods) {
    if (ascii::iequals(text, to_string(m))) return m;
  }
  return std::nullopt;
}

// One key=value of IdmHealthCheck into `policy`.
Status health_option(health::Policy& policy, std::string_view name, std::string_view key, std::string_view value) {
  const std::string prefix = std::string(name) + " " + std::string(key);
  const auto duration = [&](std::uint32_t& target) -> Status {
    auto ms = parse_duration_ms(value);
    if (!ms) return fail(prefix + ": " + ms.error());
    target = *ms;
    return Ok{};
  };
  const auto count = [&](std::uint32_t& target) -> Status {
    auto n = ascii::parse_decimal(value, 100);
    if (!n || *n < 1) return fail(prefix + ": expected 1..100, got " + quoted(value));
    target = static_cast<std::uint32_t>(*n);
    return Ok{};
  };
  if (ascii::iequals(key, "interval")) return duration(policy.probe_interval_ms);
  if (ascii::iequals(key, "healthy_interval")) {
    policy.probe_healthy = !ascii::iequals(value, "off");
    return policy.probe_healthy ? duration(policy.healthy_probe_interval_ms) : Status(Ok{});
  }
  if (ascii::iequals(key, "rise")) return count(policy.rise);
  if (ascii::iequals(key, "fall")) return count(policy.fall);
  if (ascii::iequals(key, "uri")) {
    // Sent as the request path of an AJP GET: it must be a plain, already encoded path.
    if (value.empty() || value.front() != '/' ||
        value.find_first_of(std::string_view(" \t\r\n?#\0", 7)) != std::string_view::npos) {
      return fail(std::string(name) + " uri: expected a path starting with '/', without query, got " + quoted(value));
    }
    policy.probe_uri = std::string(value);
    return Ok{};
  }
  return fail(std::string(name) + ": unknown key " + quoted(key) + " (interval, healthy_interval, rise, fall, uri)");
}

// Members in order: unique names and routes, valid routes, factors in range.
Status check_members(const std::vector<MemberConfig>& members, const std::string& prefix) {
  // Balancers are small (a handful of members): quadratic checks keep the messages simple.
  for (std::size_t i = 0; i < members.size(); ++i) {
    const MemberConfig& m = members[i];
    for (std::size_t j = 0; j < i; ++j) {
      if (members[j].name == m.name) {
        return fail(prefix + "member name " + quoted(m.name) + " is used twice");
      }
      if (members[j].route == m.route) {
        return fail(prefix + "duplicate route " + quoted(m.route) + " (members " + members[j].name + " and " + m.name +
                    ")");
      }
    }
    if (!is_valid_route(m.route)) {
      return fail(prefix + "member " + m.name + " has an invalid route " + quoted(m.route));
    }
    if (m.factor < 1 || m.factor > kMaxFactor) {
      return fail(prefix + "member " + m.name + ": factor must be " + range(1, kMaxFactor) + ", got " +
                  std::to_string(m.factor));
    }
  }
  return Ok{};
}

// Every redirect names the route of another member of the balancer.
Status check_redirects(const std::vector<MemberConfig>& members, const std::string& prefix) {
  for (const MemberConfig& m : members) {
    if (m.redirect.empty()) continue;
    if (m.redirect == m.route) {
      return fail(prefix + "member " + m.name + " redirects to its own route " + quoted(m.redirect));
    }
    bool found = false;
    for (const MemberConfig& other : members) found = found || other.route == m.redirect;
    if (!found) {
      return fail(prefix + "member " + m.name + " redirects to route " + quoted(m.redirect) +
                  ", which no member of this balancer has");
    }
  }
  return Ok{};
}

}  // namespace

std::string_view to_string(Method m) {
  switch (m) {
    case Method::Requests: return "requests";
    case Method::Traffic: return "traffic";
    case Method::Busyness: return "busyness";
    case Method::P2C: return "p2c";
  }
  return "unknown";
}

namespace directive {

Status member(BalancerConfig& balancer, std::string_view, const Args& args) {
  auto parsed = parse_member(args);
  if (!parsed) return fail(parsed.error());
  balancer.members.push_back(std::move(*parsed));
  return Ok{};
}

// off | on | COOKIE [PATH_PARAM] [force]
Status sticky(BalancerConfig& balancer, std::string_view name, const Args& args) {
  if (args.empty() || args.size() > 3) {
    return count_error(name, "off, or COOKIE [PATH_PARAM] [force]", args.size());
  }
  StickyConfig result;
  if (args.size() == 1 && ascii::iequals(args[0], "off")) {
    result.enabled = false;
    balancer.sticky = result;
    return Ok{};
  }
  if (args.size() == 1 && ascii::iequals(args[0], "on")) {
    balancer.sticky = result;  // "on" is not a plausible cookie name; treat it as "defaults"
    return Ok{};
  }
  if (ascii::iequals(args[0], "off") || ascii::iequals(args[0], "on")) {
    return fail(std::string(name) + " " + std::string(args[0]) + " takes no further arguments");
  }
  if (!is_token(args[0])) {
    return fail(std::string(name) + ": " + quoted(args[0]) + " is not a valid cookie name");
  }
  result.cookie = args[0];
  if (auto options = sticky_options(result, name, args); !options) return options;
  balancer.sticky = result;
  return Ok{};
}

Status method(BalancerConfig& balancer, std::string_view name, const Args& args) {
  if (args.size() != 1) return count_error(name, "one of requests, traffic, busyness, p2c", args.size());
  const auto method = parse_method(args[0]);
  if (!method) {
    return fail(std::string(name) + ": expected requests, traffic, busyness or p2c, got " + quoted(args[0]));
  }
  balancer.method = *method;
  return Ok{};
}

Status secret(BalancerConfig& balancer, std::string_view name, const Args& args) {
  if (args.size() != 1) return count_error(name, "one secret", args.size());
  // The value is deliberately not echoed: error messages end up in logs.
  if (!is_valid_secret(args[0])) {
    return fail(std::string(name) + ": the secret must be 1..255 printable ASCII characters without spaces");
  }
  balancer.secret = args[0];
  return Ok{};
}

// [interval=D] [healthy_interval=D|off] [rise=N] [fall=N] [uri=/PATH]
Status health_check(BalancerConfig& balancer, std::string_view name, const Args& args) {
  if (args.empty()) return count_error(name, "interval=D healthy_interval=D|off rise=N fall=N uri=/PATH", 0);
  health::Policy updated = balancer.health;
  for (std::string_view arg : args) {
    const auto eq = arg.find('=');
    if (eq == std::string_view::npos) {
      return fail(std::string(name) + ": expected key=value, got " + quoted(arg));
    }
    if (auto status = health_option(updated, name, arg.substr(0, eq), arg.substr(eq + 1)); !status) {
      return status;
    }
  }
  balancer.health = updated;
  return Ok{};
}

// CODE [CODE ...], each 100..599 or -100..-599; the whole list replaces an earlier one.
Status fail_on_status(BalancerConfig& balancer, std::string_view name, const Args& args) {
  if (args.empty()) return count_error(name, "one or more status codes (100..599, -CODE: do not blame the member)", 0);
  std::vector<int> codes;
  for (std::string_view arg : args) {
    const bool keep_member = !arg.empty() && arg.front() == '-';
    const auto code = ascii::parse_decimal(keep_member ? arg.substr(1) : arg, 599);
    if (!code || *code < 100) {
      return fail(std::string(name) + ": expected a status code 100..599 or -100..-599, got " + quoted(arg));
    }
    const int value = static_cast<int>(*code);
    for (int seen : codes) {
      if (seen == value || seen == -value)
        return fail(std::string(name) + ": status " + std::to_string(value) + " is given twice");
    }
    codes.push_back(keep_member ? -value : value);
  }
  balancer.fail_on_status = std::move(codes);
  return Ok{};
}

Status request_body_buffer(BalancerConfig& balancer, std::string_view name, const Args& args) {
  if (args.size() != 1) return count_error(name, "one size", args.size());
  auto size = parse_byte_size(args[0], kMaxRequestBodyBuffer);
  if (!size) return fail(std::string(name) + ": " + size.error());
  balancer.request_body_buffer = *size;
  return Ok{};
}

Status duration(std::uint32_t& target, std::string_view name, const Args& args, bool allow_zero) {
  if (args.size() != 1) return count_error(name, "one duration (e.g. 5s)", args.size());
  auto ms = allow_zero ? parse_duration_or_zero_ms(args[0]) : parse_duration_ms(args[0]);
  if (!ms) return fail(std::string(name) + ": " + ms.error());
  target = *ms;
  return Ok{};
}

Status number(std::uint32_t& target, std::string_view name, const Args& args, std::uint32_t min, std::uint32_t max) {
  if (args.size() != 1) return count_error(name, "one number " + range(min, max), args.size());
  const auto value = ascii::parse_decimal(args[0], max);
  if (!value || *value < min) {
    return fail(std::string(name) + ": expected a number " + range(min, max) + ", got " + quoted(args[0]));
  }
  target = static_cast<std::uint32_t>(*value);
  return Ok{};
}

Status on_off(bool& target, std::string_view name, const Args& args) {
  if (args.size() != 1 || !(ascii::iequals(args[0], "on") || ascii::iequals(args[0], "off"))) {
    return fail(std::string(name) + ": expected on or off");
  }
  target = ascii::iequals(args[0], "on");
  return Ok{};
}

}  // namespace directive

Status validate(const BalancerConfig& balancer) {
  if (!is_valid_name(balancer.name)) {
    return fail("IdmBalancer: the name must be 1..63 characters of A-Z a-z 0-9 _ . -, got " + quoted(balancer.name));
  }
  const std::string prefix = "IdmBalancer " + balancer.name + ": ";
  if (balancer.members.empty()) return fail(prefix + "no IdmMember defined");
  if (auto health = health::validate(balancer.health); !health) return fail(prefix + health.error());
  if (auto outlier = outlier::validate(balancer.outlier); !outlier) return fail(prefix + outlier.error());
  if (auto members = check_members(balancer.members, prefix); !members) return members;
  if (auto redirects = check_redirects(balancer.members, prefix); !redirects) return redirects;
  if (balancer.packet_size < kMinPacketSize || balancer.packet_size > kMaxPacketSize) {
    return fail(prefix + "IdmPacketSize must be " + range(kMinPacketSize, kMaxPacketSize) + ", got " +
                std::to_string(balancer.packet_size));
  }
  if (balancer.pool_max > kMaxPoolSize) {
    return fail(prefix + "IdmPoolSize must be " + range(1, kMaxPoolSize) + ", got " +
                std::to_string(balancer.pool_max));
  }
  return Ok{};
}

}  // namespace idmb::config
