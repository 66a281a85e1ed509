// `IdmMember NAME ajp://HOST:PORT [key=value ...]`: one Tomcat of a balancer.
#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../util/ascii.h"
#include "../util/text.h"
#include "idmb/config.h"

namespace idmb::config {
namespace {

using text::quoted;

constexpr std::size_t kMaxNameLength = 63;
constexpr std::size_t kMaxSecretLength = 255;
constexpr std::size_t kMaxHostLength = 253;
constexpr std::size_t kMaxLabelLength = 63;

bool is_route_char(char c) { return ascii::is_alnum(c) || c == '_' || c == '-'; }

// DNS-style names; '_' is allowed because internal hostnames use it in practice.
bool is_valid_hostname(std::string_view host) {
  if (host.empty() || host.size() > kMaxHostLength) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = host.find('.', start);
    const std::string_view label =
        host.substr(start, dot == std::string_view::npos ? std::string_view::npos : dot - start);
    if (label.empty() || label.size() > kMaxLabelLength) return false;
    if (label.front() == '-' || label.back() == '-') return false;
    for (char c : label) {
      if (!is_route_char(c)) return false;
    }
    if (dot == std::string_view::npos) return true;
    start = dot + 1;
  }
}

bool parses_as(int family, std::string_view text) {
  // inet_pton reads a C string: a NUL would end it early and leave the rest unchecked.
  if (text.find('\0') != std::string_view::npos) return false;
  const std::string copy(text);
  std::array<unsigned char, 16> buffer{};
  return inet_pton(family, copy.c_str(), buffer.data()) == 1;
}

struct HostPort {
  std::string host;
  std::uint16_t port = 0;
};

// ajp://HOST:PORT[/] with HOST a name, an IPv4 address or a bracketed IPv6 address.
Expected<HostPort> parse_ajp_url(std::string_view url) {
  const std::string shape = "the URL must look like ajp://HOST:PORT, got " + quoted(url);
  constexpr std::string_view kScheme = "ajp://";
  if (!ascii::istarts_with(url, kScheme)) return fail(shape);
  std::string_view rest = url.substr(kScheme.size());

  std::string_view host;
  std::string_view after_host;
  if (!rest.empty() && rest.front() == '[') {
    const std::size_t close = rest.find(']');
    if (close == std::string_view::npos) return fail(shape);
    host = rest.substr(0, close + 1);
    after_host = rest.substr(close + 1);
    if (!parses_as(AF_INET6, host.substr(1, host.size() - 2))) {
      return fail(quoted(host) + " is not a valid IPv6 address");
    }
  } else {
    const std::size_t colon = rest.find(':');
    host = rest.substr(0, colon);
    after_host = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
    if (host.empty()) return fail(shape);
    const bool numeric = host.find_first_not_of("0123456789.") == std::string_view::npos;
    if (numeric && !parses_as(AF_INET, host)) {
      return fail(quoted(host) + " is not a valid IPv4 address");
    }
    if (!numeric && !is_valid_hostname(host)) {
      return fail(quoted(host) + " is not a valid host name");
    }
  }

  if (after_host.empty() || after_host.front() != ':') {
    return fail("the URL needs a port, as in ajp://HOST:8009, got " + quoted(url));
  }
  std::string_view port = after_host.substr(1);
  if (!port.empty() && port.back() == '/') port.remove_suffix(1);
  if (port.find('/') != std::string_view::npos) {
    return fail("nothing may follow the port in the URL (a path is not supported), got " + quoted(url));
  }
  const auto number = ascii::parse_decimal(port, 65535);
  if (!number || *number == 0) {
    return fail("the port must be a number 1..65535, got " + quoted(port));
  }
  return HostPort{std::string(host), static_cast<std::uint16_t>(*number)};
}

std::optional<Activation> parse_activation(std::string_view text) {
  for (Activation a : kActivations) {
    if (ascii::iequals(text, to_string(a))) return a;
  }
  return std::nullopt;
}

// factor=, distance= and max=: bounded integers.
bool is_number_option(std::string_view key) {
  return ascii::iequals(key, "factor") || ascii::iequals(key, "distance") || ascii::iequals(key, "max");
}

Expected<Ok> apply_number_option(MemberConfig& member, std::string_view key, std::string_view value) {
  if (ascii::iequals(key, "factor")) {
    const auto factor = ascii::parse_decimal(value, kMaxFactor);
    if (!factor || *factor == 0) {
      return fail("factor must be an integer 1.." + std::to_string(kMaxFactor) + ", got " + quoted(value));
    }
    member.factor = static_cast<std::uint32_t>(*factor);
  } else if (ascii::iequals(key, "distance")) {
    const auto distance = ascii::parse_decimal(value, kMaxDistance);
    if (!distance) {
      return fail("distance must be an integer 0.." + std::to_string(kMaxDistance) + ", got " + quoted(value));
    }
    member.distance = static_cast<std::uint32_t>(*distance);
  } else if (ascii::iequals(key, "max")) {
    const auto max = ascii::parse_decimal(value, 100000);
    if (!max || *max == 0) {
      return fail("max must be an integer 1..100000 (requests in flight at once), got " + quoted(value));
    }
    member.max_busy = static_cast<std::uint32_t>(*max);
  }
  return Ok{};
}

// Applies one key=value option; the message is prefixed by the caller.
Expected<Ok> apply_option(MemberConfig& member, std::string_view key, std::string_view value) {
  if (is_number_option(key)) return apply_number_option(member, key, value);
  if (ascii::iequals(key, "route")) {
    if (!is_valid_route(value)) {
      return fail("route must be 1..63 characters of A-Z a-z 0-9 _ . -, got " + quoted(value));
    }
    member.route = value;
  } else if (ascii::iequals(key, "status")) {
    const auto activation = parse_activation(value);
    if (!activation) {
      return fail("status must be active, disabled, stopped or standby, got " + quoted(value));
    }
    member.activation = *activation;
  } else if (ascii::iequals(key, "domain")) {
    if (!is_valid_name(value)) {
      return fail("domain must be 1..63 characters of A-Z a-z 0-9 _ . -, got " + quoted(value));
    }
    member.domain = value;
  } else if (ascii::iequals(key, "redirect")) {
    if (!is_valid_route(value)) {
      return fail(
          "redirect must be the route of another member (1..63 characters of "
          "A-Z a-z 0-9 _ . -), got " +
          quoted(value));
    }
    member.redirect = value;
  } else if (ascii::iequals(key, "secret")) {
    // The value is deliberately not echoed: error messages end up in logs.
    if (!is_valid_secret(value)) {
      return fail("secret must be 1..255 printable ASCII characters without spaces");
    }
    member.secret = value;
  } else {
    return fail("unknown option " + quoted(key) +
                " (known: route, factor, distance, max, status, domain, redirect, secret)");
  }
  return Ok{};
}

}  // namespace

std::string_view to_string(Activation a) {
  switch (a) {
    case Activation::Active: return "active";
    case Activation::Disabled: return "disabled";
    case Activation::Stopped: return "stopped";
    case Activation::Standby: return "standby";
  }
  return "unknown";
}

bool is_valid_name(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) return false;
  for (char c : name) {
    if (!is_route_char(c) && c != '.') return false;
  }
  return true;
}

// Tomcat takes any jvmRoute and mod_jk any route; a session id carries it after its first '.'
// (Tomcat's ids have none before), so dots inside a route are fine, and these characters are
// what jvmRoutes (host names, "node1", "dc1.web-02") use and a cookie and a path parameter
// carry unchanged.
bool is_valid_route(std::string_view route) { return is_valid_name(route); }

bool is_valid_secret(std::string_view secret) {
  if (secret.empty() || secret.size() > kMaxSecretLength) return false;
  for (char c : secret) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte >= 0x7F) return false;
  }
  return true;
}

Expected<MemberConfig> parse_member(const std::vector<std::string_view>& args) {
  if (args.size() < 2) return fail("IdmMember needs a NAME and an ajp://HOST:PORT URL");
  MemberConfig member;
  const std::string_view name = args[0];
  if (!is_valid_name(name)) {
    return fail("IdmMember: the name must be 1..63 characters of A-Z a-z 0-9 _ . -, got " + quoted(name));
  }
  member.name = name;
  const std::string prefix = "IdmMember " + member.name + ": ";

  auto address = parse_ajp_url(args[1]);
  if (!address) return fail(prefix + address.error());
  member.host = std::move(address->host);
  member.port = address->port;

  std::vector<std::string_view> seen;
  for (std::size_t i = 2; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    const std::size_t eq = arg.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return fail(prefix + "expected key=value, got " + quoted(arg));
    }
    const std::string_view key = arg.substr(0, eq);
    for (std::string_view earlier : seen) {
      if (ascii::iequals(earlier, key)) return fail(prefix + std::string(key) + " is given twice");
    }
    seen.push_back(key);
    if (auto applied = apply_option(member, key, arg.substr(eq + 1)); !applied) {
      return fail(prefix + applied.error());
    }
  }

  if (member.route.empty()) member.route = member.name;
  return member;
}

}  // namespace idmb::config
