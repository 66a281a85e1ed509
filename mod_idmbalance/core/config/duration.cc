// Durations in directives: "5" (seconds, as mod_jk's second-based settings), "5s", "250ms", "2m".
#include <cstdint>
#include <string>
#include <string_view>

#include "../util/ascii.h"
#include "../util/text.h"
#include "idmb/config.h"

namespace idmb::config {
namespace {

Expected<std::uint32_t> parse(std::string_view text, bool allow_zero) {
  const std::string quoted = text::quoted(text);
  std::size_t digits = 0;
  while (digits < text.size() && ascii::is_digit(text[digits])) ++digits;
  const std::string_view number = text.substr(0, digits);
  const std::string_view unit = text.substr(digits);

  std::uint64_t scale = 0;
  if (unit.empty() || ascii::iequals(unit, "s")) {
    scale = 1000;
  } else if (ascii::iequals(unit, "ms")) {
    scale = 1;
  } else if (ascii::iequals(unit, "m")) {
    scale = 60 * 1000;
  }
  if (number.empty() || scale == 0) {
    return fail("expected a duration such as 250ms, 5s or 2m (a bare number means seconds), got " + quoted);
  }
  // Bound the number before scaling so the product cannot overflow 64 bits.
  const auto value = ascii::parse_decimal(number, UINT32_MAX);
  if (!value || *value * scale > UINT32_MAX) {
    return fail("duration too long: at most 4294967295ms (about 49 days), got " + quoted);
  }
  if (*value == 0 && !allow_zero) {
    return fail("duration must be greater than 0, got " + quoted);
  }
  return static_cast<std::uint32_t>(*value * scale);
}

}  // namespace

Expected<std::uint32_t> parse_duration_ms(std::string_view text) { return parse(text, false); }

Expected<std::uint32_t> parse_duration_or_zero_ms(std::string_view text) { return parse(text, true); }

}  // namespace idmb::config
