#include "text.h"

namespace idmb::text {

// Built with append: GCC 12 warns falsely (-Wrestrict, PR 105651) on "'" + std::string(s).
std::string quoted(std::string_view value, Quote how) {
  const std::string_view shown = value.substr(0, how.max_bytes);
  std::string out;
  out.reserve(shown.size() + 5);
  out.append(1, '\'');
  for (char c : shown) {
    const auto byte = static_cast<unsigned char>(c);
    out.append(1, how.printable && (byte < 0x20 || byte >= 0x7F) ? '?' : c);
  }
  if (shown.size() < value.size()) out.append("...");
  out.append(1, '\'');
  return out;
}

std::string human_duration(std::int64_t ms, DurationStyle style) {
  const bool fixed = style == DurationStyle::Fixed;
  if (fixed && ms < 0) ms = 0;
  if (!fixed && ms < 1000) return std::to_string(ms) + "ms";
  const std::int64_t s = ms / 1000;
  const auto two = [fixed](std::int64_t big, const char* big_unit, std::int64_t small, const char* small_unit) {
    std::string out = std::to_string(big).append(big_unit);
    if (fixed || small != 0) out.append(" ").append(std::to_string(small)).append(small_unit);
    return out;
  };
  if (s < 60) return std::to_string(s) + "s";
  if (s < 3600) return two(s / 60, "m", s % 60, "s");
  if (s < 86400) return two(s / 3600, "h", s % 3600 / 60, "m");
  return two(s / 86400, "d", s % 86400 / 3600, "h");
}

}  // namespace idmb::text
