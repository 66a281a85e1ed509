// Private to the core: the text helpers that error messages, log lines and the status page
// share, so that each exists once.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace idmb::text {

// How quoted() shows a value.
struct Quote {
  // At most this many bytes of the value, then "..." (for hostile or huge values that end up in
  // log lines and answers).
  std::size_t max_bytes = std::string_view::npos;
  // Bytes outside printable ASCII (0x20..0x7E) shown as '?'.
  bool printable = false;
};

// The value in single quotes, as errors show what the operator or a client wrote: 'abc'.
std::string quoted(std::string_view value, Quote how = {});

// Without leading and trailing spaces and tabs (HTTP's optional whitespace, OWS).
constexpr std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// The two styles of human_duration. Both write the largest unit (d, h, m, s) and the next one.
enum class DurationStyle {
  // Columns on the status page: whole seconds at least ("0s" below one), the second unit always
  // written ("1m 0s"), a negative duration as "0s".
  Fixed,
  // Log lines and events: milliseconds below one second ("999ms"), a zero second unit left out
  // ("1m", "2h 5m").
  Brief,
};

// "45s", "3m 12s", "2h 5m", "4d 3h".
std::string human_duration(std::int64_t ms, DurationStyle style);

}  // namespace idmb::text
