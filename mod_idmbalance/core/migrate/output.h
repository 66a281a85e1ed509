// Private to the converter: the text being written and, beside it, every Idm directive in it
// with its scope and the mod_jk line it came from, for validation (validate.cc).
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "idmb/migrate.h"

namespace idmb::migrate {

struct EmittedDirective {
  std::size_t scope = 0;  // 0: the main server, else the n-th <VirtualHost>
  Origin origin;
  std::string text;  // the line as written, without indentation
};

class Output {
 public:
  explicit Output(std::vector<Warning>& warnings) : warnings_(warnings) {}

  void line(std::string_view indent, std::string_view text);
  void comment(std::string_view indent, std::string_view text) { line(indent, "# " + std::string(text)); }
  // An Idm directive (or section line) of `scope`, its arguments quoted where needed.
  void directive(std::string_view indent, std::size_t scope, const Origin& origin, std::string_view name,
                 const std::vector<std::string>& args);
  // A warning on stderr and, where it applies, as a comment in the output.
  void warn(std::string_view indent, const Origin& origin, std::string message);
  void note(std::string_view indent, std::string_view message) {
    comment(indent, "idmbalance-migrate: " + std::string(message));
  }

  std::string& text() { return text_; }
  const std::vector<EmittedDirective>& directives() const { return directives_; }

 private:
  std::string text_;
  std::vector<EmittedDirective> directives_;
  std::vector<Warning>& warnings_;
};

// A word as httpd's tokenizer reads it back: quoted when it holds a space, quote or backslash.
std::string conf_word(std::string_view word);

}  // namespace idmb::migrate
