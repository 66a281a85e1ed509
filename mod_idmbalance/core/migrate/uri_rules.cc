// mod_jk mount rules (jk_uri_rules.h).
#include "idmb/jk_uri_rules.h"

#include "../util/text.h"

namespace idmb::migrate {
namespace {

// "worker;ext=v;ext2=v2" -> the worker and its extensions.
Status split_extensions(std::string_view value, UriRule& rule) {
  std::size_t semi = value.find(';');
  rule.worker = text::trim(value.substr(0, semi));
  if (rule.worker.empty()) return fail("no worker named in " + text::quoted(value));
  while (semi != std::string_view::npos) {
    const std::size_t next = value.find(';', semi + 1);
    const std::string_view ext = value.substr(semi + 1, next == std::string_view::npos ? next : next - semi - 1);
    semi = next;
    if (text::trim(ext).empty()) continue;
    const std::size_t eq = ext.find('=');
    if (eq == std::string_view::npos) return fail("rule extension without '=': " + text::quoted(ext));
    rule.extensions.emplace_back(text::trim(ext.substr(0, eq)), text::trim(ext.substr(eq + 1)));
  }
  return Ok{};
}

Status set_patterns(std::string_view pattern, UriRule& rule) {
  if (pattern.empty()) return Ok{};  // JkMount WORKER inside <Location>
  if (pattern.front() != '/') return fail("a pattern must start with '/', got " + text::quoted(pattern));
  const std::size_t bar = pattern.find('|');
  if (bar == std::string_view::npos) {
    rule.patterns.emplace_back(pattern);
  } else {
    rule.patterns.emplace_back(pattern.substr(0, bar));
    rule.patterns.push_back(std::string(pattern.substr(0, bar)) + std::string(pattern.substr(bar + 1)));
  }
  return Ok{};
}

}  // namespace

Expected<UriRule> parse_mount_args(std::string_view pattern, std::string_view worker_and_ext, bool exclusion) {
  UriRule rule;
  rule.exclusion = exclusion;
  if (auto st = set_patterns(pattern, rule); !st) return fail(st.error());
  if (auto st = split_extensions(worker_and_ext, rule); !st) return fail(st.error());
  return rule;
}

Expected<UriRule> parse_uri_rule(std::string_view key, std::string_view value) {
  bool disabled = false;
  bool exclusion = false;
  if (!key.empty() && key.front() == '-') {
    disabled = true;
    key.remove_prefix(1);
  }
  if (!key.empty() && key.front() == '!') {
    exclusion = true;
    key.remove_prefix(1);
  }
  if (key.empty()) return fail("a rule needs a pattern");
  auto rule = parse_mount_args(key, value, exclusion);
  if (rule) rule->disabled = disabled;
  return rule;
}

}  // namespace idmb::migrate
