// The configuration parsers (idmb/config.h).
//   parse_duration_ms / parse_duration_or_zero_ms: equal to a reference (digits, then "",
//     "s", "ms" or "m" in any case; the product fits 32 bits; zero only for the _or_zero one);
//     an accepted value written as "<n>ms" parses back to itself.
//   parse_byte_size: equal to a reference (digits, then "", "k" or "m" in any case; at most
//     IdmRequestBodyBuffer's bound).
//   parse_member: what it accepts is in range (name, route, host, port, factor, max, domain,
//     redirect, secret); written back as arguments it parses to the same member; the order of
//     the options and the case of their keys do not matter; the secret is never in an error.
//   apply_balancer_directive: a refused directive changes nothing; an accepted one leaves every
//     setting in its documented range; the directive's case does not matter; an error names
//     the directive; the secret is never in an error; it accepts exactly the directives the
//     table (directives.h) allows inside <IdmBalancer>.
//   validate: equal to a reference of its documented checks.
//
// Input: 0x1F-separated fields; control[0] % 4 picks the mode:
//   0  every further field is a duration and a size
//   1  the further fields are IdmMember's arguments
//   2  field 1 is a directive (or "\x1D" K: the K-th of the table's directives allowed inside
//      <IdmBalancer>, IdmMember first, case from the next bytes), the rest its arguments
//   3  a whole <IdmBalancer>: groups of fields separated by a field "\x1C", each a directive
//      (as in mode 2) and its arguments; then validate()
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "idmb/config.h"
#include "idmb/directives.h"
#include "idmb/health.h"

using fuzz::show;
using namespace idmb::config;
using Args = std::vector<std::string_view>;

namespace {

// The directives allowed inside <IdmBalancer>, in table order (IdmMember first).
const std::vector<std::string_view>& section_directives() {
  static const std::vector<std::string_view> names = [] {
    std::vector<std::string_view> out;
    for (const Directive& d : directives()) {
      if (d.where == Where::Balancer) out.push_back(d.name);
    }
    return out;
  }();
  return names;
}

std::string show_args(const Args& args) {
  std::string out;
  for (std::string_view a : args) out += show(a) + " ";
  return out;
}

bool name_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
}
bool ref_name(std::string_view s) {
  if (s.empty() || s.size() > 63) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return name_char(c) || c == '.'; });
}
// Routes take a name's alphabet, dots included (Tomcat's jvmRoute "dc1.web-02").
bool ref_route(std::string_view s) { return ref_name(s); }
bool ref_secret(std::string_view s) {
  if (s.empty() || s.size() > 255) return false;
  return std::all_of(s.begin(), s.end(), [](char c) { return c > 0x20 && c < 0x7F; });
}
bool ref_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b >= 0x7F || std::string_view("()<>@,;:\\\"/[]?={}").find(c) != std::string_view::npos)
      return false;
  }
  return true;
}

// ---- durations ---------------------------------------------------------------------------

std::optional<std::uint32_t> ref_duration(std::string_view text, bool allow_zero) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string unit = fuzz::lower(text.substr(digits));
  std::uint64_t scale = 0;
  if (unit.empty() || unit == "s") scale = 1000;
  if (unit == "ms") scale = 1;
  if (unit == "m") scale = 60000;
  if (digits == 0 || scale == 0) return std::nullopt;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    value = value * 10 + static_cast<std::uint64_t>(text[i] - '0');
    if (value > UINT32_MAX) return std::nullopt;
  }
  if (value * scale > UINT32_MAX) return std::nullopt;
  if (value == 0 && !allow_zero) return std::nullopt;
  return static_cast<std::uint32_t>(value * scale);
}

void check_duration(std::string_view text) {
  const fuzz::Owned t(text);
  for (bool zero : {false, true}) {
    const auto got = zero ? parse_duration_or_zero_ms(t.view()) : parse_duration_ms(t.view());
    const auto want = ref_duration(text, zero);
    FUZZ_CHECK(got.ok() == want.has_value() && (!got.ok() || *got == *want),
               show(text) + (zero ? " (or zero)" : "") + " -> " + (got.ok() ? std::to_string(*got) : got.error()));
    if (!got.ok()) {
      FUZZ_CHECK(!got.error().empty());
      continue;
    }
    const auto back =
        zero ? parse_duration_or_zero_ms(std::to_string(*got) + "ms") : parse_duration_ms(std::to_string(*got) + "MS");
    FUZZ_CHECK(back.ok() && *back == *got, "round trip of " + std::to_string(*got));
  }
}

// ---- sizes -------------------------------------------------------------------------------

std::optional<std::uint32_t> ref_byte_size(std::string_view text, std::uint64_t max) {
  std::size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  const std::string unit = fuzz::lower(text.substr(digits));
  std::uint64_t scale = 0;
  if (unit.empty()) scale = 1;
  if (unit == "k") scale = 1024;
  if (unit == "m") scale = 1024 * 1024;
  if (digits == 0 || scale == 0) return std::nullopt;
  std::uint64_t value = 0;
  for (std::size_t i = 0; i < digits; ++i) {
    value = value * 10 + static_cast<std::uint64_t>(text[i] - '0');
    if (value > max) return std::nullopt;
  }
  if (value * scale > max) return std::nullopt;
  return static_cast<std::uint32_t>(value * scale);
}

void check_byte_size(std::string_view text) {
  const fuzz::Owned t(text);
  const auto got = parse_byte_size(t.view(), kMaxRequestBodyBuffer);
  const auto want = ref_byte_size(text, kMaxRequestBodyBuffer);
  FUZZ_CHECK(got.ok() == want.has_value() && (!got.ok() || *got == *want),
             show(text) + " -> " + (got.ok() ? std::to_string(*got) : got.error()));
  FUZZ_CHECK(got.ok() || !got.error().empty());
}

// ---- members -----------------------------------------------------------------------------

bool same_member(const MemberConfig& a, const MemberConfig& b) {
  return a.name == b.name && a.host == b.host && a.port == b.port && a.route == b.route && a.factor == b.factor &&
         a.activation == b.activation && a.domain == b.domain && a.redirect == b.redirect && a.secret == b.secret &&
         a.max_busy == b.max_busy;
}

std::string show_member(const MemberConfig& m) {
  return show(m.name) + " " + show(m.host) + ":" + std::to_string(m.port) + " route=" + show(m.route) +
         " factor=" + std::to_string(m.factor) + " status=" + std::string(to_string(m.activation)) +
         " domain=" + show(m.domain) + " redirect=" + show(m.redirect) + " max=" + std::to_string(m.max_busy);
}

void check_member_ranges(const MemberConfig& m) {
  FUZZ_CHECK(ref_name(m.name), show(m.name));
  FUZZ_CHECK(ref_route(m.route), show(m.route));
  FUZZ_CHECK(!m.host.empty() && m.host.size() <= 253 + 2, show(m.host));
  FUZZ_CHECK(m.host.find_first_of(std::string_view(" \t\r\n/\0", 6)) == std::string::npos, show(m.host));
  FUZZ_CHECK(m.port >= 1);
  FUZZ_CHECK(m.factor >= 1 && m.factor <= 100000);
  FUZZ_CHECK(m.max_busy <= 100000);
  FUZZ_CHECK(m.domain.empty() || ref_name(m.domain), show(m.domain));
  FUZZ_CHECK(m.redirect.empty() || ref_route(m.redirect), show(m.redirect));
  FUZZ_CHECK(m.secret.empty() || ref_secret(m.secret));
}

// The secret's value with another of the same validity: the outcome must not change (else it
// was in the message).
Args replace_secret(const Args& args, std::deque<std::string>& storage) {
  Args out = args;
  for (std::size_t i = 2; i < out.size(); ++i) {
    const std::string_view a = out[i];
    const std::size_t eq = a.find('=');
    if (eq == std::string_view::npos || !fuzz::iequals(a.substr(0, eq), "secret")) continue;
    const bool valid = ref_secret(a.substr(eq + 1));
    storage.push_back(std::string(a.substr(0, eq + 1)) + (valid ? "Zq9Zq9" : "\x01"));
    out[i] = storage.back();
  }
  return out;
}

void check_member(const Args& args) {
  const auto m = parse_member(args);
  if (args.size() < 2) FUZZ_CHECK(!m.ok());

  std::deque<std::string> storage;  // views into it stay valid as it grows
  const Args other_secret = replace_secret(args, storage);
  const auto m2 = parse_member(other_secret);
  FUZZ_CHECK(m2.ok() == m.ok(), "the secret's value changed the outcome");
  if (!m.ok()) {
    FUZZ_CHECK(!m.error().empty());
    FUZZ_CHECK(m2.error() == m.error(), "the secret is in the error: " + show(m.error()));
  }

  // Options in reverse order, keys in upper case.
  Args reordered(args.begin(), args.begin() + std::min<std::size_t>(2, args.size()));
  for (std::size_t i = args.size(); i-- > 2;) {
    const std::string_view a = args[i];
    const std::size_t eq = a.find('=');
    storage.push_back(eq == std::string_view::npos ? std::string(a)
                                                   : fuzz::upper(a.substr(0, eq)) + std::string(a.substr(eq)));
    reordered.push_back(storage.back());
  }
  const auto m3 = parse_member(reordered);
  FUZZ_CHECK(m3.ok() == m.ok() && (!m.ok() || same_member(*m, *m3)),
             "option order or key case changed the outcome: " + show_args(args));
  if (!m.ok()) return;

  check_member_ranges(*m);
  // Written back as arguments, it parses to the same member.
  storage.push_back("ajp://" + m->host + ":" + std::to_string(m->port));
  Args back = {m->name, storage.back()};
  const auto add = [&](std::string s) {
    storage.push_back(std::move(s));
    back.push_back(storage.back());
  };
  add("route=" + m->route);
  add("factor=" + std::to_string(m->factor));
  add("status=" + std::string(to_string(m->activation)));
  if (!m->domain.empty()) add("domain=" + m->domain);
  if (!m->redirect.empty()) add("redirect=" + m->redirect);
  if (!m->secret.empty()) add("secret=" + m->secret);
  if (m->max_busy != 0) add("max=" + std::to_string(m->max_busy));
  const auto again = parse_member(back);
  FUZZ_CHECK(again.ok() && same_member(*m, *again),
             show_member(*m) + " written back: " + (again.ok() ? show_member(*again) : again.error()));
}

// ---- balancer directives -----------------------------------------------------------------

bool same_policy(const idmb::health::Policy& a, const idmb::health::Policy& b) {
  return a.fall == b.fall && a.rise == b.rise && a.probe_interval_ms == b.probe_interval_ms &&
         a.probe_healthy == b.probe_healthy && a.healthy_probe_interval_ms == b.healthy_probe_interval_ms &&
         a.slow_start_ms == b.slow_start_ms && a.slow_start_min_percent == b.slow_start_min_percent &&
         a.panic_percent == b.panic_percent && a.probe_uri == b.probe_uri;
}

bool same_balancer(const BalancerConfig& a, const BalancerConfig& b) {
  if (a.members.size() != b.members.size()) return false;
  for (std::size_t i = 0; i < a.members.size(); ++i) {
    if (!same_member(a.members[i], b.members[i])) return false;
  }
  return a.name == b.name && a.sticky.enabled == b.sticky.enabled && a.sticky.cookie == b.sticky.cookie &&
         a.sticky.path_param == b.sticky.path_param && a.sticky.force == b.sticky.force && a.method == b.method &&
         a.secret == b.secret && a.connect_timeout_ms == b.connect_timeout_ms &&
         a.ping_timeout_ms == b.ping_timeout_ms && a.reply_timeout_ms == b.reply_timeout_ms &&
         a.ping_after_idle_ms == b.ping_after_idle_ms && a.pool_idle_timeout_ms == b.pool_idle_timeout_ms &&
         a.pool_max == b.pool_max && a.packet_size == b.packet_size && a.queue_timeout_ms == b.queue_timeout_ms &&
         a.request_body_buffer == b.request_body_buffer && same_policy(a.health, b.health);
}

void check_balancer_ranges(const BalancerConfig& b) {
  FUZZ_CHECK(b.connect_timeout_ms > 0 && b.ping_timeout_ms > 0 && b.reply_timeout_ms > 0 && b.pool_idle_timeout_ms > 0);
  FUZZ_CHECK(b.pool_max <= 4096);
  FUZZ_CHECK(b.request_body_buffer <= kMaxRequestBodyBuffer);
  FUZZ_CHECK(b.packet_size >= 8192 && b.packet_size <= 65536, std::to_string(b.packet_size));
  FUZZ_CHECK(b.secret.empty() || ref_secret(b.secret));
  if (b.sticky.enabled) {
    FUZZ_CHECK(ref_token(b.sticky.cookie), show(b.sticky.cookie));
    FUZZ_CHECK(ref_token(b.sticky.path_param), show(b.sticky.path_param));
  }
  const auto& h = b.health;
  FUZZ_CHECK(h.rise >= 1 && h.rise <= 100 && h.fall >= 1 && h.fall <= 100);
  FUZZ_CHECK(h.probe_interval_ms >= 1 && h.healthy_probe_interval_ms >= 1);
  FUZZ_CHECK(h.panic_percent <= 100);
  FUZZ_CHECK(
      h.probe_uri.empty() ||
          (h.probe_uri[0] == '/' && h.probe_uri.find_first_of(std::string_view(" \t\r\n?#\0", 7)) == std::string::npos),
      show(h.probe_uri));
  const auto valid = idmb::health::validate(h);
  FUZZ_CHECK(valid.ok(), "accepted directives gave an invalid health policy: " + (valid.ok() ? "" : valid.error()));
}

std::optional<std::string_view> known_directive(std::string_view d) {
  for (std::string_view k : section_directives()) {
    if (fuzz::iequals(d, k)) return k;
  }
  return std::nullopt;
}

void check_directive(BalancerConfig& balancer, std::string_view directive, const Args& args) {
  const BalancerConfig before = balancer;
  const auto s = apply_balancer_directive(balancer, directive, args);
  // The same in another case, on a copy.
  BalancerConfig copy = before;
  const auto s2 = apply_balancer_directive(copy, fuzz::upper(directive), args);
  FUZZ_CHECK(s2.ok() == s.ok() && same_balancer(copy, balancer), "the directive's case matters: " + show(directive));

  if (!s.ok()) {
    FUZZ_CHECK(same_balancer(balancer, before),
               "a refused " + show(directive) + " " + show_args(args) + " changed the balancer");
    FUZZ_CHECK(!s.error().empty());
    if (const auto k = known_directive(directive)) {
      FUZZ_CHECK(s.error().find(*k) != std::string::npos,
                 "the error does not name " + std::string(*k) + ": " + s.error());
    }
    if (known_directive(directive) == std::string_view("IdmSecret") && args.size() == 1) {
      BalancerConfig other = before;
      const std::string replacement = ref_secret(args[0]) ? "Zq9Zq9" : "\x01";
      const auto s3 = apply_balancer_directive(other, directive, {replacement});
      FUZZ_CHECK(!s3.ok() && s3.error() == s.error(), "the secret is in the error: " + show(s.error()));
    }
    return;
  }
  FUZZ_CHECK(known_directive(directive).has_value(), "accepted an unknown directive " + show(directive));
  check_balancer_ranges(balancer);
  if (known_directive(directive) == std::string_view("IdmMember")) {
    FUZZ_CHECK(balancer.members.size() == before.members.size() + 1, "IdmMember added no member");
    check_member_ranges(balancer.members.back());
  }
}

std::string pick_directive(std::string_view field) {
  if (field.size() < 2 || field[0] != '\x1D') return std::string(field);
  const auto& names = section_directives();
  std::string d(names[static_cast<std::uint8_t>(field[1]) % names.size()]);
  for (std::size_t i = 0; i < d.size(); ++i) {
    if (fuzz::Fields::byte(field, 2 + i / 8) & (1u << (i % 8))) {
      d[i] = d[i] == fuzz::ascii_upper(d[i]) ? fuzz::ascii_lower(d[i]) : fuzz::ascii_upper(d[i]);
    }
  }
  return d;
}

// ---- validate ----------------------------------------------------------------------------

bool ref_validate(const BalancerConfig& b) {
  if (!ref_name(b.name) || b.members.empty()) return false;
  if (!idmb::health::validate(b.health).ok()) return false;
  for (std::size_t i = 0; i < b.members.size(); ++i) {
    for (std::size_t j = 0; j < i; ++j) {
      if (b.members[i].name == b.members[j].name || b.members[i].route == b.members[j].route) return false;
    }
    if (!ref_route(b.members[i].route) || b.members[i].factor < 1 || b.members[i].factor > 100000) return false;
  }
  for (const MemberConfig& m : b.members) {
    if (m.redirect.empty()) continue;
    if (m.redirect == m.route) return false;
    if (std::none_of(b.members.begin(), b.members.end(),
                     [&](const MemberConfig& o) { return o.route == m.redirect; })) {
      return false;
    }
  }
  return b.packet_size >= 8192 && b.packet_size <= 65536 && b.pool_max <= 4096;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Fields fields(data, size);
  const std::string_view control = fields.next();
  fuzz::Arena arena;
  std::vector<std::string_view> rest;
  while (!fields.done() && rest.size() < 64) rest.push_back(arena.keep(fields.next()));

  switch (fuzz::Fields::byte(control, 0) % 4) {
    case 0:
      for (std::string_view f : rest) {
        check_duration(f);
        check_byte_size(f);
      }
      break;
    case 1: check_member(rest); break;
    case 2: {
      if (rest.empty()) break;
      BalancerConfig b;
      b.name = "lb";
      const std::string directive = pick_directive(rest[0]);
      check_directive(b, arena.keep(directive), Args(rest.begin() + 1, rest.end()));
      break;
    }
    case 3: {
      BalancerConfig b;
      b.name = fuzz::Fields::byte(control, 1) & 1 ? "lb.1" : "lb";
      std::size_t i = 0;
      while (i < rest.size()) {
        std::size_t end = i;
        while (end < rest.size() && rest[end] != "\x1C") ++end;
        if (end > i) {
          const std::string head = pick_directive(rest[i]);
          const Args args(rest.begin() + static_cast<std::ptrdiff_t>(i) + 1,
                          rest.begin() + static_cast<std::ptrdiff_t>(end));
          check_directive(b, arena.keep(head), args);
        }
        i = end + 1;
      }
      const auto v = validate(b);
      FUZZ_CHECK(v.ok() == ref_validate(b), std::string("validate ") + (v.ok() ? "accepted" : "refused: " + v.error()));
      break;
    }
  }
  return 0;
}
