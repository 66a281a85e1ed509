// String building for test fixtures.
#pragma once

#include <string>
#include <string_view>

namespace idmb::test {

// prefix + std::to_string(n), built by appending: GCC 12 at -O3 warns falsely (-Wrestrict,
// PR 105651) on the shorter "t" + std::to_string(n).
template <typename Number>
std::string numbered(std::string_view prefix, Number n) {
  std::string out(prefix);
  out.append(std::to_string(n));
  return out;
}

}  // namespace idmb::test
