// IdmMount / IdmUnmount: validation, precedence, exclusions, inheritance.
#include <catch2/catch.hpp>

#include <chrono>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "idmb/mount_map.h"
#include "idmb/uri_path.h"

using idmb::MountMap;

namespace {

// The balancer a path maps to, "" for none: readable in table-driven CHECKs.
std::string target(const MountMap& map, std::string_view path) {
  const std::string* balancer = map.match(path);
  return balancer == nullptr ? "" : *balancer;
}

void mount_all(MountMap& map, const std::vector<std::pair<std::string, std::string>>& rules) {
  for (const auto& [pattern, balancer] : rules) REQUIRE(map.mount(pattern, balancer).ok());
}

}  // namespace

TEST_CASE("mount: accepted patterns", "[config][mount]") {
  const std::string pattern =
      GENERATE(as<std::string>{}, "/", "/app", "/app/", "/app/*", "/*.jsp", "/a?c", "/*", "/app/*/x", "/\xc3\xa4pp/*");
  MountMap map;
  INFO(pattern);
  CHECK(map.mount(pattern, "app").ok());
  CHECK(map.unmount(pattern, "*").ok());
  CHECK_FALSE(map.empty());
}

TEST_CASE("mount: rejected patterns say why", "[config][mount]") {
  const auto [pattern, reason] = GENERATE(table<std::string, std::string>({
      {"", "IdmMount: the pattern must start with '/', got ''"},
      {"app/*", "IdmMount: the pattern must start with '/', got 'app/*'"},
      {"*.jsp", "IdmMount: the pattern must start with '/'"},
      {"/a b", "IdmMount: the pattern must not contain spaces or control characters"},
      {"/a\tb", "IdmMount: the pattern must not contain spaces or control characters"},
      {std::string("/a\0b", 4), "IdmMount: the pattern must not contain spaces or control"},
      {"/a\x7f", "IdmMount: the pattern must not contain spaces or control characters"},
      {"/a;jsessionid=*", "IdmMount /a;jsessionid=*: the pattern can never match: ';'"},
      {"//app/*", "IdmMount //app/*: the pattern can never match: paths are normalised"},
      {"/a//b", "IdmMount /a//b: the pattern can never match"},
      {"/a/./b", "IdmMount /a/./b: the pattern can never match"},
      {"/a/../b", "IdmMount /a/../b: the pattern can never match"},
      {"/a/..", "IdmMount /a/..: the pattern can never match"},
      {"/.", "IdmMount /.: the pattern can never match"},
  }));
  MountMap map;
  const auto s = map.mount(pattern, "app");
  REQUIRE_FALSE(s.ok());
  CHECK_THAT(s.error(), Catch::StartsWith(reason));
  CHECK(map.empty());

  const auto u = map.unmount(pattern, "app");
  REQUIRE_FALSE(u.ok());
  CHECK_THAT(u.error(), Catch::StartsWith("IdmUnmount"));
  CHECK(map.unmounts().empty());
}

TEST_CASE("mount: balancer names", "[config][mount]") {
  MountMap map;
  const auto star = map.mount("/app/*", "*");
  REQUIRE_FALSE(star.ok());
  CHECK(star.error() == "IdmMount /app/*: '*' is not a valid balancer name");
  CHECK_FALSE(map.mount("/app/*", "").ok());
  CHECK_FALSE(map.mount("/app/*", "a b").ok());
  CHECK(map.unmount("/app/*", "*").ok());
  CHECK_FALSE(map.unmount("/app/*", "").ok());
  CHECK(map.empty());
}

TEST_CASE("mount: the same pattern twice", "[config][mount]") {
  MountMap map;
  REQUIRE(map.mount("/x", "A").ok());
  REQUIRE(map.mount("/x", "A").ok());  // same balancer: no-op
  CHECK(map.mounts().size() == 1);

  const auto s = map.mount("/x", "B");
  REQUIRE_FALSE(s.ok());
  CHECK(s.error() == "IdmMount /x already mounted to balancer A");
  CHECK(target(map, "/x") == "A");

  REQUIRE(map.unmount("/x/y", "A").ok());
  REQUIRE(map.unmount("/x/y", "A").ok());
  REQUIRE(map.unmount("/x/y", "*").ok());  // another exclusion of the same pattern
  CHECK(map.unmounts().size() == 2);
}

TEST_CASE("match: precedence", "[config][mount]") {
  MountMap map;
  mount_all(map, {
                     {"/app/*", "A"},
                     {"/app/admin/*", "B"},
                     {"/app/login", "C"},
                     {"/*.jsp", "D"},
                     {"/exact", "E"},
                     {"/app/x?y", "F"},
                 });
  const auto [path, expected] = GENERATE(table<std::string, std::string>({
      {"/app", "A"},  // "/prefix/*" covers the bare prefix
      {"/app/", "A"},
      {"/app/foo/bar", "A"},
      {"/app/admin", "B"},
      {"/app/admin/users", "B"},
      {"/app/login", "C"},  // exact beats wildcards
      {"/app/login/x", "A"},
      {"/other/deep/x.jsp", "D"},  // '*' spans '/'
      {"/app/x.jsp", "A"},         // tie on 5 literals: the first mounted wins
      {"/exact", "E"},
      {"/exact/", ""},
      {"/EXACT", ""},  // case-sensitive
      {"/App/foo", ""},
      {"/application", ""},  // "/app/*" is not a string prefix
      {"/app/xzy", "F"},     // 7 literals beat 5
      {"/app/x/y", "F"},     // '?' matches any byte, '/' included
      {"/nothing", ""},
      {"/", ""},
  }));
  INFO(path);
  CHECK(target(map, path) == expected);
}

TEST_CASE("match: exact beats a wildcard regardless of order", "[config][mount]") {
  MountMap map;
  mount_all(map, {{"/ab*", "W"}, {"/ab", "X"}});
  CHECK(target(map, "/ab") == "X");
  CHECK(target(map, "/abc") == "W");
}

TEST_CASE("match: the more literal pattern wins regardless of order", "[config][mount]") {
  MountMap map;
  mount_all(map, {{"/*", "ALL"}, {"/a/*", "A"}, {"/a/b/*", "AB"}});
  CHECK(target(map, "/a/b/c") == "AB");
  CHECK(target(map, "/a/c") == "A");
  CHECK(target(map, "/z") == "ALL");
  CHECK(target(map, "/") == "ALL");
}

TEST_CASE("match: glob details", "[config][mount]") {
  const auto [pattern, path, hit] = GENERATE(table<std::string, std::string, bool>({
      {"/a?c", "/abc", true},
      {"/a?c", "/ac", false},
      {"/a?c", "/abbc", false},
      {"/*.jsp", "/x.jsp", true},
      {"/*.jsp", "/x.jspx", false},
      {"/*.jsp", "/.jsp", true},
      {"/a/*/c", "/a/b/c", true},
      {"/a/*/c", "/a/b/d/c", true},
      {"/a/*/c", "/a/c", false},
      {"/a*b*c", "/aXbYbZc", true},
      {"/a*b*c", "/aXbYcZ", false},
      {"/*", "/", true},
      {"/a/*", "/a", true},
      {"/a/*", "/ab", false},
      {"/a*/*", "/abc", true},  // the bare-prefix form of a wildcard prefix
      {"/\xc3\xa4/*", "/\xc3\xa4/x", true},
      {"/?", "/\xc3", true},  // '?' is one byte, not one character
  }));
  MountMap map;
  REQUIRE(map.mount(pattern, "B").ok());
  INFO(pattern << " vs " << path);
  CHECK((map.match(path) != nullptr) == hit);
}

TEST_CASE("match: unmounts exclude without fallback", "[config][mount]") {
  MountMap map;
  mount_all(map, {{"/*", "ROOT"}, {"/app/*", "A"}, {"/shop/*", "S"}});
  REQUIRE(map.unmount("/app/static/*", "A").ok());
  REQUIRE(map.unmount("/shop/static/*", "OTHER").ok());  // names another balancer: no effect
  REQUIRE(map.unmount("/*.png", "*").ok());

  CHECK(target(map, "/app/page") == "A");
  CHECK(target(map, "/app/static/x.css") == "");  // not ROOT: no fallback
  CHECK(target(map, "/app/static") == "");        // "/x/*" covers "/x" in unmounts too
  CHECK(target(map, "/shop/static/x.css") == "S");
  CHECK(target(map, "/shop/logo.png") == "");
  CHECK(target(map, "/logo.png") == "");
  CHECK(target(map, "/index.html") == "ROOT");
}

TEST_CASE("merge_from: the vhost's rules first, inherited ones after", "[config][mount]") {
  MountMap server;
  mount_all(server, {{"/app/*", "S"}, {"/other/*", "S"}});
  REQUIRE(server.unmount("/other/private/*", "S").ok());
  REQUIRE(server.unmount("/app/x/*", "V").ok());

  MountMap vhost;
  mount_all(vhost, {{"/app/*", "V"}, {"/*.jsp", "V"}});
  REQUIRE(vhost.unmount("/app/x/*", "V").ok());

  vhost.merge_from(server);
  REQUIRE(vhost.mounts().size() == 3);
  CHECK(vhost.mounts()[0].pattern == "/app/*");
  CHECK(vhost.mounts()[0].balancer == "V");
  CHECK(vhost.mounts()[1].pattern == "/*.jsp");
  CHECK(vhost.mounts()[2].pattern == "/other/*");
  CHECK(vhost.unmounts().size() == 2);

  CHECK(target(vhost, "/app/y") == "V");
  CHECK(target(vhost, "/app/x/1") == "");
  CHECK(target(vhost, "/other/z") == "S");
  CHECK(target(vhost, "/other/private/a") == "");
  CHECK(target(vhost, "/other/z.jsp") == "S");  // specificity beats origin: 7 literals over 5

  vhost.merge_from(server);  // idempotent
  CHECK(vhost.mounts().size() == 3);
  CHECK(vhost.unmounts().size() == 2);
  vhost.merge_from(vhost);
  CHECK(vhost.mounts().size() == 3);

  CHECK(server.mounts().size() == 2);  // the base is untouched
}

TEST_CASE("match: empty map", "[config][mount]") {
  MountMap map;
  CHECK(map.empty());
  CHECK(map.match("/") == nullptr);
  CHECK(map.match("/anything") == nullptr);
}

TEST_CASE("match: a pathological pattern stays linear-ish", "[config][mount]") {
  MountMap map;
  REQUIRE(map.mount("/*a*a*a*a*a*b", "B").ok());
  const std::string miss = "/" + std::string(4096, 'a');
  const std::string hit = miss + "b";

  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 20; ++i) {
    REQUIRE(map.match(miss) == nullptr);
    REQUIRE(map.match(hit) != nullptr);
  }
  const auto elapsed = std::chrono::steady_clock::now() - start;
  // Backtracking on every '*' would take far longer than the age of the universe here.
  CHECK(elapsed < std::chrono::seconds(2));
}

TEST_CASE("match after normalisation closes the ..; bypass (CVE-2018-11759)", "[config][mount]") {
  MountMap map;
  mount_all(map, {{"/app/*", "A"}, {"/manager/*", "M"}});
  REQUIRE(map.unmount("/manager/*", "*").ok());

  const auto [raw, expected] = GENERATE(table<std::string, std::string>({
      {"/app/..;/manager/html", ""},
      {"/app/..;x=y/manager/html", ""},
      {"/app//../manager/html", ""},
      {"/app/./x.jsp", "A"},
      {"/app;jsessionid=ABC.node1/x.jsp", "A"},
      {"/manager;x/html", ""},
  }));
  const auto normalized = idmb::normalize_path_for_mount(raw);
  REQUIRE(normalized.has_value());
  INFO(raw << " -> " << *normalized);
  CHECK(target(map, *normalized) == expected);
}
