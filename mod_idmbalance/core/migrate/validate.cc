// The converted config checked with the module's own config model (converter.h).
#include <deque>
#include <string>

#include "converter.h"
#include "idmb/directives.h"
#include "idmb/server_config.h"

namespace idmb::migrate {
namespace {

std::string at(const Origin& o) { return o.file + ":" + std::to_string(o.line) + ": error: "; }

Status check_one(config::ServerConfig& scope, const EmittedDirective& d) {
  const std::string_view text = d.text;
  const std::size_t space = text.find(' ');
  const std::string_view name = text.substr(0, space);
  const std::string_view rest = space == std::string_view::npos ? std::string_view() : text.substr(space + 1);
  if (name == "<IdmBalancer") return scope.open_section(rest);
  if (name == "</IdmBalancer>") return scope.close_section();
  const config::Directive* directive = config::find_directive(name);
  if (directive == nullptr) return fail("no such directive " + std::string(name));
  const std::vector<std::string> words = config::split_directive_args(rest);
  const config::Args args(words.begin(), words.end());
  return scope.apply(*directive, args);
}

}  // namespace

Status validate(const std::vector<EmittedDirective>& directives, std::size_t scopes) {
  std::deque<config::ServerConfig> configs(scopes);
  for (const EmittedDirective& d : directives) {
    if (auto st = check_one(configs.at(d.scope), d); !st) {
      return fail(at(d.origin) + "the converted line '" + d.text + "' is refused: " + st.error());
    }
  }
  std::vector<const config::ServerConfig*> all;
  for (const config::ServerConfig& c : configs) all.push_back(&c);
  if (auto st = config::check_servers(all); !st) {
    const Origin first = directives.empty() ? Origin{} : directives.front().origin;
    return fail(at(first) + "the converted config is refused: " + st.error());
  }
  return Ok{};
}

}  // namespace idmb::migrate
