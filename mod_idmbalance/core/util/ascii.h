// Private to the core: locale-free ASCII helpers for parsers (the C library's versions
// depend on the process locale, which httpd modules may change).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace idmb::ascii {

constexpr bool is_digit(char c) { return c >= '0' && c <= '9'; }
constexpr bool is_alpha(char c) { return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z'); }
constexpr bool is_alnum(char c) { return is_digit(c) || is_alpha(c); }
constexpr char to_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }

inline std::string lowered(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = to_lower(c);
  return out;
}

// The one case-insensitive comparison of the core (ASCII letters only, as HTTP and httpd's
// directive names want it).
constexpr bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    // Names mostly come spelled alike ("Content-Length"): folding only when the bytes differ
    // halves the cost of a match.
    if (a[i] != b[i] && to_lower(a[i]) != to_lower(b[i])) return false;
  }
  return true;
}

constexpr bool istarts_with(std::string_view text, std::string_view prefix) {
  return text.size() >= prefix.size() && iequals(text.substr(0, prefix.size()), prefix);
}

// Unsigned decimal: one or more digits, nothing else (no sign, no spaces), at most `max`.
// Leading zeros are allowed.
constexpr std::optional<std::uint64_t> parse_decimal(std::string_view text, std::uint64_t max = UINT64_MAX) {
  if (text.empty()) return std::nullopt;
  std::uint64_t value = 0;
  for (char c : text) {
    if (!is_digit(c)) return std::nullopt;
    const auto digit = static_cast<std::uint64_t>(c - '0');
    if (digit > max || value > (max - digit) / 10) return std::nullopt;
    value = value * 10 + digit;
  }
  return value;
}

}  // namespace idmb::ascii
