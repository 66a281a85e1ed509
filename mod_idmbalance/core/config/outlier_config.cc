// IdmOutlierDetection on|off [key=value ...] inside <IdmBalancer>: outlier ejection's switch and
// tuning (outlier_detection.h).
#include <optional>
#include <string>
#include <string_view>

#include "../util/ascii.h"
#include "../util/text.h"
#include "balancer_directives.h"
#include "idmb/outlier_detection.h"

namespace idmb::config {
namespace {

using text::quoted;

// "2", "1.5", "2.25" -> hundredths (200, 150, 225); 0 turns the check off.
std::optional<std::uint32_t> parse_factor(std::string_view text) {
  const auto dot = text.find('.');
  const std::string_view whole = text.substr(0, dot);
  std::string_view fraction = dot == std::string_view::npos ? std::string_view{} : text.substr(dot + 1);
  if (dot != std::string_view::npos && (fraction.empty() || fraction.size() > 2)) return std::nullopt;
  const auto w = ascii::parse_decimal(whole, outlier::kMaxFactor / 100);
  if (!w) return std::nullopt;
  std::uint64_t hundredths = *w * 100;
  if (!fraction.empty()) {
    const auto f = ascii::parse_decimal(fraction, 99);
    if (!f) return std::nullopt;
    hundredths += fraction.size() == 1 ? *f * 10 : *f;
  }
  if (hundredths != 0 && (hundredths < 100 || hundredths > outlier::kMaxFactor)) return std::nullopt;
  return static_cast<std::uint32_t>(hundredths);
}

// "10" or "10%": 1..100.
std::optional<std::uint32_t> parse_percent(std::string_view text) {
  if (!text.empty() && text.back() == '%') text.remove_suffix(1);
  const auto n = ascii::parse_decimal(text, 100);
  if (!n || *n < 1) return std::nullopt;
  return static_cast<std::uint32_t>(*n);
}

// One key=value into `policy`.
Status outlier_option(outlier::Policy& policy, std::string_view name, std::string_view key, std::string_view value) {
  const std::string prefix = std::string(name) + " " + std::string(key);
  const auto duration = [&](std::uint32_t& target) -> Status {
    auto ms = parse_duration_ms(value);
    if (!ms) return fail(prefix + ": " + ms.error());
    target = *ms;
    return Ok{};
  };
  const auto with = [&](std::optional<std::uint32_t> parsed, std::uint32_t& target, const char* expected) -> Status {
    if (!parsed) return fail(prefix + ": expected " + expected + ", got " + quoted(value));
    target = *parsed;
    return Ok{};
  };
  const auto count = ascii::parse_decimal(value, outlier::kMaxMinRequests);
  if (ascii::iequals(key, "interval")) return duration(policy.interval_ms);
  if (ascii::iequals(key, "ejection_time")) return duration(policy.ejection_time_ms);
  if (ascii::iequals(key, "max_ejection_time")) return duration(policy.max_ejection_time_ms);
  if (ascii::iequals(key, "latency_min")) return duration(policy.latency_min_ms);
  if (ascii::iequals(key, "min_requests")) {
    return with(count && *count >= 1 ? std::optional<std::uint32_t>(static_cast<std::uint32_t>(*count)) : std::nullopt,
                policy.min_requests, "a number 1..1000000");
  }
  if (ascii::iequals(key, "error_factor")) return with(parse_factor(value), policy.error_factor, "0 or 1..1000");
  if (ascii::iequals(key, "latency_factor")) return with(parse_factor(value), policy.latency_factor, "0 or 1..1000");
  if (ascii::iequals(key, "error_min")) return with(parse_percent(value), policy.error_min_percent, "1..100 (%)");
  if (ascii::iequals(key, "max_ejected")) return with(parse_percent(value), policy.max_ejected_percent, "1..100 (%)");
  return fail(std::string(name) + ": unknown key " + quoted(key) +
              " (interval, min_requests, error_factor, error_min, latency_factor, latency_min, ejection_time, "
              "max_ejection_time, max_ejected)");
}

}  // namespace

namespace directive {

// on|off [key=value ...]; keys only with on. A refused line changes nothing.
Status outlier_detection(BalancerConfig& balancer, std::string_view name, const Args& args) {
  if (args.empty() || !(ascii::iequals(args[0], "on") || ascii::iequals(args[0], "off"))) {
    return fail(std::string(name) + ": expected on or off first, then key=value options, got " +
                (args.empty() ? std::string("nothing") : quoted(args[0])));
  }
  outlier::Policy updated = balancer.outlier;
  updated.enabled = ascii::iequals(args[0], "on");
  if (!updated.enabled && args.size() > 1) return fail(std::string(name) + " off takes no further arguments");
  for (std::size_t i = 1; i < args.size(); ++i) {
    const auto eq = args[i].find('=');
    if (eq == std::string_view::npos) return fail(std::string(name) + ": expected key=value, got " + quoted(args[i]));
    if (auto status = outlier_option(updated, name, args[i].substr(0, eq), args[i].substr(eq + 1)); !status) {
      return status;
    }
  }
  if (auto valid = outlier::validate(updated); !valid) return fail(std::string(name) + ": " + valid.error());
  balancer.outlier = updated;
  return Ok{};
}

}  // namespace directive
}  // namespace idmb::config
