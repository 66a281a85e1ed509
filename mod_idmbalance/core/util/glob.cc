#include "glob.h"

namespace idmb {

// On a mismatch only the most recent '*' is retried with one more byte: earlier stars can
// never need more, so this is O(pattern * text) at worst, with no recursion and no allocation.
bool glob_match(std::string_view pattern, std::string_view text) {
  constexpr std::size_t kNone = std::string_view::npos;
  std::size_t p = 0;
  std::size_t t = 0;
  std::size_t star = kNone;  // pattern index of the last '*' seen
  std::size_t star_t = 0;    // text index that '*' currently extends to
  while (t < text.size()) {
    if (p < pattern.size() && pattern[p] == '*') {
      star = p++;
      star_t = t;
    } else if (p < pattern.size() && (pattern[p] == '?' || pattern[p] == text[t])) {
      ++p;
      ++t;
    } else if (star != kNone) {
      p = star + 1;
      t = ++star_t;
    } else {
      return false;
    }
  }
  while (p < pattern.size() && pattern[p] == '*') ++p;
  return p == pattern.size();
}

}  // namespace idmb
