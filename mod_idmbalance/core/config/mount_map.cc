// IdmMount / IdmUnmount rules and the per-request lookup.
#include "idmb/mount_map.h"

#include <string>
#include <string_view>

#include "idmb/config.h"
#include "../util/glob.h"
#include "../util/text.h"

namespace idmb {
namespace {

constexpr std::string_view kAnyBalancer = "*";

bool is_wildcard(char c) { return c == '*' || c == '?'; }

std::size_t count_literals(std::string_view pattern) {
  std::size_t n = 0;
  for (char c : pattern) n += is_wildcard(c) ? 0 : 1;
  return n;
}

// "/prefix/*" also covers "/prefix" itself, so a mount of an application's tree catches the
// request for its bare context path.
bool rule_matches(std::string_view pattern, std::string_view path) {
  if (glob_match(pattern, path)) return true;
  return pattern.size() > 2 && pattern.ends_with("/*") && glob_match(pattern.substr(0, pattern.size() - 2), path);
}

// Paths are normalised before matching, so a pattern with "//", "." or ".." segments or a
// ';' could never match; failing loudly beats an IdmUnmount that silently protects nothing.
Status check_pattern(std::string_view directive, std::string_view pattern) {
  const std::string prefix = std::string(directive) + " " + std::string(pattern) + ": ";
  if (pattern.empty() || pattern.front() != '/') {
    return fail(std::string(directive) + ": the pattern must start with '/', got " + text::quoted(pattern));
  }
  for (char c : pattern) {
    const auto byte = static_cast<unsigned char>(c);
    if (byte <= 0x20 || byte == 0x7F) {
      return fail(std::string(directive) +
                  ": the pattern must not contain spaces or control "
                  "characters");
    }
  }
  if (pattern.find(';') != std::string_view::npos) {
    return fail(prefix +
                "the pattern can never match: ';' path parameters are removed "
                "before matching");
  }
  std::size_t start = 1;
  while (start < pattern.size()) {
    const std::size_t slash = pattern.find('/', start);
    const std::size_t end = slash == std::string_view::npos ? pattern.size() : slash;
    const std::string_view segment = pattern.substr(start, end - start);
    if (segment == "." || segment == ".." || (segment.empty() && slash != std::string_view::npos)) {
      return fail(prefix +
                  "the pattern can never match: paths are normalised (no '//', "
                  "'.' or '..' segments) before matching");
    }
    if (slash == std::string_view::npos) break;
    start = slash + 1;
  }
  return Ok{};
}

}  // namespace

Status MountMap::mount(std::string_view pattern, std::string_view balancer) {
  if (auto checked = check_pattern("IdmMount", pattern); !checked) return checked;
  if (!config::is_valid_name(balancer)) {
    return fail("IdmMount " + std::string(pattern) + ": '" + std::string(balancer) + "' is not a valid balancer name");
  }
  for (const Rule& rule : mounts_) {
    if (rule.pattern != pattern) continue;
    if (rule.balancer == balancer) return Ok{};
    return fail("IdmMount " + std::string(pattern) + " already mounted to balancer " + rule.balancer);
  }
  mounts_.push_back(Rule{std::string(pattern), std::string(balancer), count_literals(pattern)});
  return Ok{};
}

Status MountMap::unmount(std::string_view pattern, std::string_view balancer) {
  if (auto checked = check_pattern("IdmUnmount", pattern); !checked) return checked;
  if (balancer != kAnyBalancer && !config::is_valid_name(balancer)) {
    return fail("IdmUnmount " + std::string(pattern) + ": '" + std::string(balancer) +
                "' is not a valid balancer name (or '*' for every balancer)");
  }
  for (const Rule& rule : unmounts_) {
    if (rule.pattern == pattern && rule.balancer == balancer) return Ok{};
  }
  unmounts_.push_back(Rule{std::string(pattern), std::string(balancer), count_literals(pattern)});
  return Ok{};
}

void MountMap::merge_from(const MountMap& base) {
  if (&base == this) return;
  // A vhost's own mount of a pattern overrides the inherited one.
  for (const Rule& inherited : base.mounts_) {
    bool present = false;
    for (const Rule& own : mounts_) present = present || own.pattern == inherited.pattern;
    if (!present) mounts_.push_back(inherited);
  }
  for (const Rule& inherited : base.unmounts_) {
    bool present = false;
    for (const Rule& own : unmounts_) {
      present = present || (own.pattern == inherited.pattern && own.balancer == inherited.balancer);
    }
    if (!present) unmounts_.push_back(inherited);
  }
}

const std::string* MountMap::match(std::string_view normalized_path) const {
  const Rule* best = nullptr;
  bool best_exact = false;
  std::size_t best_literals = 0;
  for (const Rule& rule : mounts_) {
    const std::size_t literals = rule.literals;
    const bool exact = literals == rule.pattern.size();
    // Only a strictly more specific rule can displace the current winner (ties: first wins),
    // so skip the glob for anything that could not.
    if (best != nullptr && (best_exact || (!exact && literals <= best_literals))) continue;
    const bool hit = exact ? rule.pattern == normalized_path : rule_matches(rule.pattern, normalized_path);
    if (!hit) continue;
    best = &rule;
    best_exact = exact;
    best_literals = literals;
  }
  if (best == nullptr) return nullptr;

  // Unmounts exclude; they never make the request fall back to a less specific mount.
  return unmounted(best->balancer, normalized_path) ? nullptr : &best->balancer;
}

bool MountMap::unmounted(std::string_view balancer, std::string_view normalized_path) const {
  for (const Rule& rule : unmounts_) {
    if ((rule.balancer == balancer || rule.balancer == kAnyBalancer) && rule_matches(rule.pattern, normalized_path)) {
      return true;
    }
  }
  return false;
}

}  // namespace idmb
