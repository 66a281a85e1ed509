// httpd formats its log lines with APR's formatter, not printf's: it has no z, j, t or L
// length modifier (a "%zu" is printed as it stands), yet GCC checks these calls as printf
// calls and finds nothing wrong. The shim's log macros (shim/shim_log.h) check each format
// with this at compile time.
#pragma once

#include <string_view>

namespace idmb {

constexpr bool is_apr_format(std::string_view format) {
  for (std::size_t i = 0; i < format.size(); ++i) {
    if (format[i] != '%') continue;
    ++i;
    while (i < format.size() && std::string_view("-+ #0123456789.*").find(format[i]) != std::string_view::npos) ++i;
    if (i < format.size() && std::string_view("zjtL").find(format[i]) != std::string_view::npos) return false;
  }
  return true;
}

}  // namespace idmb
