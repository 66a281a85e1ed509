// Balancer-level directives inside <IdmBalancer NAME> and the checks run when it closes.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../util/ascii.h"
#include "idmb/config.h"

namespace idmb::config {
namespace {

constexpr std::uint32_t kMinPacketSize = 8192;
constexpr std::uint32_t kMaxPacketSize = 65536;
constexpr std::uint32_t kMaxPoolSize = 4096;
constexpr std::uint32_t kMaxFactor = 100;

using Args = std::vector<std::string_view>;

// Built with append: GCC 12 warns falsely (-Wrestrict, PR 105651) on "'" + std::string(s).
std::string quoted(std::string_view s) {
  std::string out;
  out.reserve(s.size() + 2);
  out.append(1, '\'').append(s).append(1, '\'');
  return out;
}

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

Status count_error(std::string_view directive, std::string_view usage, std::size_t got) {
  return fail(std::string(directive) + " takes " + std::string(usage) + ", got " +
              std::to_string(got) + " arguments");
}

// IdmSticky off | on | COOKIE [PATH_PARAM] [force]; "force" may be the 2nd or 3rd argument.
Status apply_sticky(StickyConfig& sticky, const Args& args) {
  constexpr std::string_view kName = "IdmSticky";
  if (args.empty() || args.size() > 3) {
    return count_error(kName, "off, or COOKIE [PATH_PARAM] [force]", args.size());
  }
  StickyConfig result;
  if (args.size() == 1 && ascii::iequals(args[0], "off")) {
    result.enabled = false;
    sticky = result;
    return Ok{};
  }
  if (args.size() == 1 && ascii::iequals(args[0], "on")) {
    sticky = result;  // "on" is not a plausible cookie name; treat it as "defaults"
    return Ok{};
  }
  if (ascii::iequals(args[0], "off") || ascii::iequals(args[0], "on")) {
    return fail(std::string(kName) + " " + std::string(args[0]) + " takes no further arguments");
  }
  if (!is_token(args[0])) {
    return fail(std::string(kName) + ": " + quoted(args[0]) + " is not a valid cookie name");
  }
  result.cookie = args[0];
  bool have_path_param = false;
  for (std::size_t i = 1; i < args.size(); ++i) {
    if (ascii::iequals(args[i], "force")) {
      if (result.force) return fail(std::string(kName) + ": force is given twice");
      result.force = true;
      continue;
    }
    if (have_path_param) {
      return fail(std::string(kName) + ": expected COOKIE [PATH_PARAM] [force], got two path "
                  "parameters " + quoted(result.path_param) + " and " + quoted(args[i]));
    }
    // Accept mod_jk's spelling ";jsessionid" as well as "jsessionid".
    std::string_view param = args[i];
    if (!param.empty() && param.front() == ';') param.remove_prefix(1);
    if (!is_token(param)) {
      return fail(std::string(kName) + ": " + quoted(args[i]) +
                  " is not a valid path parameter name");
    }
    result.path_param = param;
    have_path_param = true;
  }
  sticky = result;
  return Ok{};
}

std::optional<Method> parse_method(std::string_view text) {
  if (ascii::iequals(text, "requests")) return Method::Requests;
  if (ascii::iequals(text, "traffic")) return Method::Traffic;
  if (ascii::iequals(text, "busyness")) return Method::Busyness;
  if (ascii::iequals(text, "p2c")) return Method::P2C;
  return std::nullopt;
}

Status apply_duration(std::uint32_t& target, std::string_view directive, const Args& args,
                      bool allow_zero) {
  if (args.size() != 1) return count_error(directive, "one duration (e.g. 5s)", args.size());
  auto ms = allow_zero ? parse_duration_or_zero_ms(args[0]) : parse_duration_ms(args[0]);
  if (!ms) return fail(std::string(directive) + ": " + ms.error());
  target = *ms;
  return Ok{};
}

Status apply_number(std::uint32_t& target, std::string_view directive, const Args& args,
                    std::uint32_t min, std::uint32_t max) {
  const std::string range = std::to_string(min) + ".." + std::to_string(max);
  if (args.size() != 1) return count_error(directive, "one number " + range, args.size());
  const auto value = ascii::parse_decimal(args[0], max);
  if (!value || *value < min) {
    return fail(std::string(directive) + ": expected a number " + range + ", got " +
                quoted(args[0]));
  }
  target = static_cast<std::uint32_t>(*value);
  return Ok{};
}

// IdmHealthCheck [interval=D] [healthy_interval=D|off] [rise=N] [fall=N]
Status apply_health_check(health::Policy& policy, const Args& args) {
  constexpr std::string_view kName = "IdmHealthCheck";
  if (args.empty()) return count_error(kName, "interval=D healthy_interval=D|off rise=N fall=N", 0);
  health::Policy updated = policy;
  for (std::string_view arg : args) {
    const auto eq = arg.find('=');
    if (eq == std::string_view::npos) {
      return fail(std::string(kName) + ": expected key=value, got " + quoted(arg));
    }
    const std::string_view key = arg.substr(0, eq);
    const std::string_view value = arg.substr(eq + 1);
    const auto duration = [&](std::uint32_t& target) -> Status {
      auto ms = parse_duration_ms(value);
      if (!ms) return fail(std::string(kName) + " " + std::string(key) + ": " + ms.error());
      target = *ms;
      return Ok{};
    };
    const auto count = [&](std::uint32_t& target) -> Status {
      auto n = ascii::parse_decimal(value, 100);
      if (!n || *n < 1) return fail(std::string(kName) + " " + std::string(key) + ": expected 1..100, got " + quoted(value));
      target = static_cast<std::uint32_t>(*n);
      return Ok{};
    };
    Status status = Ok{};
    if (ascii::iequals(key, "interval")) {
      status = duration(updated.probe_interval_ms);
    } else if (ascii::iequals(key, "healthy_interval")) {
      updated.probe_healthy = !ascii::iequals(value, "off");
      if (updated.probe_healthy) status = duration(updated.healthy_probe_interval_ms);
    } else if (ascii::iequals(key, "rise")) {
      status = count(updated.rise);
    } else if (ascii::iequals(key, "fall")) {
      status = count(updated.fall);
    } else if (ascii::iequals(key, "uri")) {
      // Sent as the request path of an AJP GET: it must be a plain, already encoded path.
      if (value.empty() || value.front() != '/' ||
          value.find_first_of(std::string_view(" \t\r\n?#\0", 7)) != std::string_view::npos) {
        return fail(std::string(kName) + " uri: expected a path starting with '/', without query, got " +
                    quoted(value));
      }
      updated.probe_uri = std::string(value);
    } else {
      return fail(std::string(kName) + ": unknown key " + quoted(key) +
                  " (interval, healthy_interval, rise, fall, uri)");
    }
    if (!status) return status;
  }
  policy = updated;
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

Status apply_balancer_directive(BalancerConfig& balancer, std::string_view directive,
                                const std::vector<std::string_view>& args) {
  const auto is = [directive](std::string_view name) { return ascii::iequals(directive, name); };

  if (is("IdmSticky")) return apply_sticky(balancer.sticky, args);
  if (is("IdmMethod")) {
    if (args.size() != 1) {
      return count_error("IdmMethod", "one of requests, traffic, busyness, p2c", args.size());
    }
    const auto method = parse_method(args[0]);
    if (!method) {
      return fail("IdmMethod: expected requests, traffic, busyness or p2c, got " +
                  quoted(args[0]));
    }
    balancer.method = *method;
    return Ok{};
  }
  if (is("IdmSecret")) {
    if (args.size() != 1) return count_error("IdmSecret", "one secret", args.size());
    // The value is deliberately not echoed: error messages end up in logs.
    if (!is_valid_secret(args[0])) {
      return fail("IdmSecret: the secret must be 1..255 printable ASCII characters without "
                  "spaces");
    }
    balancer.secret = args[0];
    return Ok{};
  }
  if (is("IdmConnectTimeout")) {
    return apply_duration(balancer.connect_timeout_ms, "IdmConnectTimeout", args, false);
  }
  if (is("IdmPingTimeout")) {
    return apply_duration(balancer.ping_timeout_ms, "IdmPingTimeout", args, false);
  }
  if (is("IdmReplyTimeout")) {
    return apply_duration(balancer.reply_timeout_ms, "IdmReplyTimeout", args, false);
  }
  if (is("IdmPingAfterIdle")) {
    // 0 means: always CPING before reusing a pooled connection.
    return apply_duration(balancer.ping_after_idle_ms, "IdmPingAfterIdle", args, true);
  }
  if (is("IdmPoolIdleTimeout")) {
    return apply_duration(balancer.pool_idle_timeout_ms, "IdmPoolIdleTimeout", args, false);
  }
  if (is("IdmPoolSize")) {
    return apply_number(balancer.pool_max, "IdmPoolSize", args, 1, kMaxPoolSize);
  }
  if (is("IdmPacketSize")) {
    return apply_number(balancer.packet_size, "IdmPacketSize", args, kMinPacketSize,
                        kMaxPacketSize);
  }
  if (is("IdmHealthCheck")) return apply_health_check(balancer.health, args);
  if (is("IdmQueueTimeout")) {
    // 0: no waiting; a request that finds every member full gets 503 at once.
    return apply_duration(balancer.queue_timeout_ms, "IdmQueueTimeout", args, true);
  }
  if (is("IdmRequestBodyBuffer")) {
    if (args.size() != 1) return count_error("IdmRequestBodyBuffer", "one size", args.size());
    auto size = parse_byte_size(args[0], kMaxRequestBodyBuffer);
    if (!size) return fail("IdmRequestBodyBuffer: " + size.error());
    balancer.request_body_buffer = *size;
    return Ok{};
  }
  if (is("IdmSlowStart")) {
    // 0 turns it off: a recovered member takes its full share at once.
    return apply_duration(balancer.health.slow_start_ms, "IdmSlowStart", args, true);
  }
  if (is("IdmPanicThreshold")) {
    return apply_number(balancer.health.panic_percent, "IdmPanicThreshold", args, 0, 100);
  }
  return fail("unknown balancer directive " + quoted(directive));
}

Status validate(const BalancerConfig& balancer) {
  if (!is_valid_name(balancer.name)) {
    return fail("IdmBalancer: the name must be 1..63 characters of A-Z a-z 0-9 _ . -, got " +
                quoted(balancer.name));
  }
  const std::string prefix = "IdmBalancer " + balancer.name + ": ";
  const auto& members = balancer.members;
  if (members.empty()) return fail(prefix + "no IdmMember defined");
  if (auto health = health::validate(balancer.health); !health) return fail(prefix + health.error());

  // Balancers are small (a handful of members): quadratic checks keep the messages simple.
  for (std::size_t i = 0; i < members.size(); ++i) {
    const MemberConfig& m = members[i];
    for (std::size_t j = 0; j < i; ++j) {
      if (members[j].name == m.name) {
        return fail(prefix + "member name " + quoted(m.name) + " is used twice");
      }
      if (members[j].route == m.route) {
        return fail(prefix + "duplicate route " + quoted(m.route) + " (members " +
                    members[j].name + " and " + m.name + ")");
      }
    }
    if (!is_valid_route(m.route)) {
      return fail(prefix + "member " + m.name + " has an invalid route " + quoted(m.route));
    }
    if (m.factor < 1 || m.factor > kMaxFactor) {
      return fail(prefix + "member " + m.name + ": factor must be 1..100, got " +
                  std::to_string(m.factor));
    }
  }
  for (const MemberConfig& m : members) {
    if (m.redirect.empty()) continue;
    if (m.redirect == m.route) {
      return fail(prefix + "member " + m.name + " redirects to its own route " +
                  quoted(m.redirect));
    }
    bool found = false;
    for (const MemberConfig& other : members) found = found || other.route == m.redirect;
    if (!found) {
      return fail(prefix + "member " + m.name + " redirects to route " + quoted(m.redirect) +
                  ", which no member of this balancer has");
    }
  }
  if (balancer.packet_size < kMinPacketSize || balancer.packet_size > kMaxPacketSize) {
    return fail(prefix + "IdmPacketSize must be 8192..65536, got " +
                std::to_string(balancer.packet_size));
  }
  if (balancer.pool_max > kMaxPoolSize) {
    return fail(prefix + "IdmPoolSize must be 1..4096, got " + std::to_string(balancer.pool_max));
  }
  return Ok{};
}

}  // namespace idmb::config
