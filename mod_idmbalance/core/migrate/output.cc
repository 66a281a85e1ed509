// The converter's output text and its directive list (output.h).
#include "output.h"

namespace idmb::migrate {

std::string conf_word(std::string_view word) {
  if (!word.empty() && word.find_first_of(" \t\"'\\") == std::string_view::npos) return std::string(word);
  std::string out = "\"";
  for (char c : word) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

void Output::line(std::string_view indent, std::string_view text) {
  text_.append(indent);
  text_.append(text);
  text_ += '\n';
}

void Output::directive(std::string_view indent, std::size_t scope, const Origin& origin, std::string_view name,
                       const std::vector<std::string>& args) {
  std::string text(name);
  for (const std::string& a : args) text += " " + conf_word(a);
  if (!name.empty() && name.front() == '<') text += ">";
  line(indent, text);
  directives_.push_back(EmittedDirective{scope, origin, std::move(text)});
}

void Output::warn(std::string_view indent, const Origin& origin, std::string message) {
  // A template's line inherited by several workers is reported once.
  for (const Warning& w : warnings_) {
    if (w.origin.file == origin.file && w.origin.line == origin.line && w.message == message) return;
  }
  note(indent, "warning: " + message);
  warnings_.push_back(Warning{origin, std::move(message)});
}

std::string format_warning(const Warning& w) {
  std::string where = w.origin.file;
  if (w.origin.line != 0) where += ":" + std::to_string(w.origin.line);
  return where + ": warning: " + w.message;
}

}  // namespace idmb::migrate
