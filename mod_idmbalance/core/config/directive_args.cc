// Splitting a directive's arguments the way httpd's ap_getword_conf does (directives.h).
#include <string>
#include <string_view>
#include <vector>

#include "idmb/directives.h"

namespace idmb::config {
namespace {

// isspace() in the C locale.
constexpr bool is_space(char c) { return c == ' ' || (c >= '\t' && c <= '\r'); }

// The word's text: a backslash before another backslash, or before the word's quote, stands
// for that character.
std::string unescape(std::string_view raw, char quote) {
  std::string out;
  out.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    const bool escape =
        raw[i] == '\\' && i + 1 < raw.size() && (raw[i + 1] == '\\' || (quote != '\0' && raw[i + 1] == quote));
    if (escape) ++i;
    out += raw[i];
  }
  return out;
}

// The next word of `line` (after leading whitespace), and `line` advanced past it and the
// whitespace after it. An empty word at the end of the line.
std::string next_word(std::string_view& line) {
  std::size_t i = 0;
  while (i < line.size() && is_space(line[i])) ++i;
  std::string word;
  if (i < line.size() && (line[i] == '"' || line[i] == '\'')) {
    const char quote = line[i];
    const std::size_t start = ++i;
    while (i < line.size() && line[i] != quote) {
      const bool escaped = line[i] == '\\' && i + 1 < line.size() && (line[i + 1] == quote || line[i + 1] == '\\');
      i += escaped ? 2 : 1;
    }
    word = unescape(line.substr(start, i - start), quote);
    if (i < line.size()) ++i;  // the closing quote
  } else {
    const std::size_t start = i;
    while (i < line.size() && !is_space(line[i])) ++i;
    word = unescape(line.substr(start, i - start), '\0');
  }
  while (i < line.size() && is_space(line[i])) ++i;
  line.remove_prefix(i);
  return word;
}

}  // namespace

std::vector<std::string> split_directive_args(std::string_view line) {
  line = line.substr(0, line.find('\0'));
  std::vector<std::string> words;
  while (!line.empty()) {
    std::string word = next_word(line);
    if (word.empty()) break;
    words.push_back(std::move(word));
  }
  return words;
}

}  // namespace idmb::config
