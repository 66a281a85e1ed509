// Path normalisation and mount matching (idmb/uri_path.h, idmb/mount_map.h).
//   normalize_path_for_mount: equal to a reference (segment stack); its output starts with '/',
//     has no "//", no "." or ".." segment and no ';'; normalising again changes nothing; the
//     output is never longer than the input; inserting "./", "x/../" or ";junk" anywhere a
//     segment ends changes nothing (the CVE-2018-11759 class: what is matched is what Tomcat
//     serves).
//   is_forwardable_raw_path: equal to its documented rule.
//   MountMap::match over a small fixed map: equal to a reference (DP glob, most specific
//     mount, unmounts exclude).
//
// Input: the whole input is the decoded path; its first byte also picks where the
// metamorphic insertion goes.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fuzz_support.h"
#include "idmb/mount_map.h"
#include "idmb/uri_path.h"

using fuzz::Owned;
using fuzz::show;
using idmb::is_forwardable_raw_path;
using idmb::MountMap;
using idmb::normalize_path_for_mount;

namespace {

struct Rule {
  const char* pattern;
  const char* balancer;
};
// Exact, prefix, glob with '*' and '?', overlaps, and unmounts by balancer and by '*'.
constexpr Rule kMounts[] = {
    {"/app/*", "app"},        {"/app/admin/*", "admin"}, {"/exact", "exact"}, {"/dir/*.jsp", "jsp"},
    {"/static/*", "app"},     {"/a?c/*", "q"},           {"/", "root"},       {"/*.do", "do"},
    {"/app/admin", "exact2"}, {"/x/*/y/*", "xy"},
};
constexpr Rule kUnmounts[] = {
    {"/static/*.png", "app"},
    {"/app/private/*", "*"},
    {"/app/admin/public/*", "admin"},
    {"/dir/skip*.jsp", "other"},
};

const MountMap& fixed_map() {
  static const MountMap map = [] {
    MountMap m;
    for (const Rule& r : kMounts) {
      if (!m.mount(r.pattern, r.balancer).ok()) std::abort();
    }
    for (const Rule& r : kUnmounts) {
      if (!m.unmount(r.pattern, r.balancer).ok()) std::abort();
    }
    return m;
  }();
  return map;
}

bool ref_rule_matches(std::string_view pattern, std::string_view path) {
  if (fuzz::reference_glob(pattern, path)) return true;
  return pattern.size() > 2 && pattern.substr(pattern.size() - 2) == "/*" &&
         fuzz::reference_glob(pattern.substr(0, pattern.size() - 2), path);
}

// The most specific mount (an exact pattern, then the most literal bytes; ties: first),
// unless an unmount for its balancer (or '*') matches.
std::optional<std::string_view> reference_match(std::string_view path) {
  const Rule* best = nullptr;
  int best_rank = -1;
  for (const Rule& r : kMounts) {
    const std::string_view p = r.pattern;
    std::size_t literals = 0;
    for (char c : p) literals += (c == '*' || c == '?') ? 0 : 1;
    const bool exact = literals == p.size();
    const bool hit = exact ? p == path : ref_rule_matches(p, path);
    const int rank = exact ? 1 << 20 : static_cast<int>(literals);
    if (hit && rank > best_rank) {
      best = &r;
      best_rank = rank;
    }
  }
  if (best == nullptr) return std::nullopt;
  for (const Rule& u : kUnmounts) {
    if ((std::string_view(u.balancer) == best->balancer || std::string_view(u.balancer) == "*") &&
        ref_rule_matches(u.pattern, path)) {
      return std::nullopt;
    }
  }
  return std::string_view(best->balancer);
}

// Split on '/', drop ";params" per segment, then resolve with a stack.
std::optional<std::string> reference_normalize(std::string_view in) {
  if (in.empty() || in[0] != '/') return std::nullopt;
  std::vector<std::string_view> stack;
  bool directory = false;
  std::size_t pos = 1;
  while (true) {
    const std::size_t slash = in.find('/', pos);
    std::string_view seg = in.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    if (const std::size_t semi = seg.find(';'); semi != std::string_view::npos) seg = seg.substr(0, semi);
    if (seg == "..") {
      if (stack.empty()) return std::nullopt;
      stack.pop_back();
      directory = true;
    } else if (seg.empty() || seg == ".") {
      directory = true;
    } else {
      stack.push_back(seg);
      directory = false;
    }
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
  std::string out;
  for (std::string_view s : stack) out.append("/").append(s);
  if (out.empty() || directory) out += '/';
  return out;
}

void check_normal_form(std::string_view out) {
  FUZZ_CHECK(!out.empty() && out[0] == '/', show(out));
  FUZZ_CHECK(out.find("//") == std::string_view::npos, show(out));
  FUZZ_CHECK(out.find(';') == std::string_view::npos, show(out));
  // No "." or ".." segment anywhere (including at the end).
  std::size_t pos = 1;
  while (pos <= out.size()) {
    const std::size_t slash = out.find('/', pos);
    const std::string_view seg =
        out.substr(pos, slash == std::string_view::npos ? std::string_view::npos : slash - pos);
    FUZZ_CHECK(seg != "." && seg != "..", "dot segment in " + show(out));
    if (slash == std::string_view::npos) break;
    pos = slash + 1;
  }
}

std::string show_opt(const std::optional<std::string>& s) { return s ? show(*s) : "nullopt"; }

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const Owned input(std::string_view(reinterpret_cast<const char*>(data), size));
  const std::string_view path = input.view();

  // The raw-path rule, as documented.
  bool forwardable = !path.empty() && path[0] == '/';
  for (char c : path) {
    const auto b = static_cast<unsigned char>(c);
    if (b <= 0x20 || b == 0x7F || c == '#' || c == '?') forwardable = false;
  }
  FUZZ_CHECK(is_forwardable_raw_path(path) == forwardable, show(path));

  const auto normal = normalize_path_for_mount(path);
  const auto expected = reference_normalize(path);
  FUZZ_CHECK(normal == expected, show(path) + " -> " + show_opt(normal) + ", reference " + show_opt(expected));

  // Where a segment ends (before a '/' or at the end), these change nothing Tomcat serves.
  std::vector<std::size_t> ends;
  for (std::size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') ends.push_back(i);
  }
  if (!path.empty() && path[0] == '/' && !ends.empty()) {
    const std::size_t at = ends[(size > 0 ? data[0] : 0) % ends.size()];
    const std::string before(path.substr(0, at));
    const std::string after(path.substr(at));
    // A ";param" at a segment's end (the segment may already have one: then it is more of it).
    const auto p1 = normalize_path_for_mount(before + ";x=1.n" + after);
    FUZZ_CHECK(p1 == normal, "';x=1.n' at " + std::to_string(at) + " of " + show(path) + ": " + show_opt(p1));
    // "/." and "/seg/.." after a segment.
    const auto p2 = normalize_path_for_mount(before + "/." + after);
    const auto p3 = normalize_path_for_mount(before + "/zz;q/.." + after);
    // Appending "/." to a path that does not end in a directory makes it one: compare the
    // directory form then.
    if (at == path.size() && normal && normal->back() != '/') {
      FUZZ_CHECK(p2 && *p2 == *normal + "/", show(path) + " + '/.' -> " + show_opt(p2));
      FUZZ_CHECK(p3 && *p3 == *normal + "/", show(path) + " + '/zz/..' -> " + show_opt(p3));
    } else {
      FUZZ_CHECK(p2 == normal, "'/.' at " + std::to_string(at) + " of " + show(path) + ": " + show_opt(p2));
      FUZZ_CHECK(p3 == normal, "'/zz;q/..' at " + std::to_string(at) + " of " + show(path) + ": " + show_opt(p3));
    }
    // A doubled slash.
    if (at < path.size()) {
      const auto p4 = normalize_path_for_mount(before + "/" + after);
      FUZZ_CHECK(p4 == normal, "'//' at " + std::to_string(at) + " of " + show(path) + ": " + show_opt(p4));
    }
  }

  if (!normal) {
    (void)fixed_map().match(path);  // not meaningful for a path that does not normalise: no crash
    return 0;
  }
  check_normal_form(*normal);
  FUZZ_CHECK(normal->size() <= path.size(), show(path) + " grew to " + show(*normal));
  const auto again = normalize_path_for_mount(*normal);
  FUZZ_CHECK(again && *again == *normal, "not idempotent: " + show(*normal) + " -> " + show_opt(again));

  const Owned n(*normal);
  const std::string* got = fixed_map().match(n.view());
  const auto want = reference_match(n.view());
  FUZZ_CHECK((got != nullptr) == want.has_value() && (got == nullptr || *got == *want),
             show(*normal) + " -> " + (got ? *got : "none") + ", reference " + (want ? std::string(*want) : "none"));
  return 0;
}
