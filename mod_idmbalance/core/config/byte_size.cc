// Sizes in directives: "65536", "64k", "1m" (k and m are 1024 and 1024², as httpd's and nginx's).
#include <cstdint>
#include <string>
#include <string_view>

#include "../util/ascii.h"
#include "../util/text.h"
#include "idmb/config.h"

namespace idmb::config {

Expected<std::uint32_t> parse_byte_size(std::string_view text, std::uint32_t max) {
  std::size_t digits = 0;
  while (digits < text.size() && ascii::is_digit(text[digits])) ++digits;
  const std::string_view number = text.substr(0, digits);
  const std::string_view unit = text.substr(digits);
  std::uint64_t scale = 0;
  if (unit.empty()) {
    scale = 1;
  } else if (ascii::iequals(unit, "k")) {
    scale = 1024;
  } else if (ascii::iequals(unit, "m")) {
    scale = 1024 * 1024;
  }
  const std::string shown = text::quoted(text);
  if (number.empty() || scale == 0) {
    return fail("expected a size such as 65536, 64k or 1m, got " + shown);
  }
  const auto value = ascii::parse_decimal(number, max);
  if (!value || *value * scale > max) {
    return fail("size too large: at most " + std::to_string(max) + " bytes, got " + shown);
  }
  return static_cast<std::uint32_t>(*value * scale);
}

}  // namespace idmb::config
