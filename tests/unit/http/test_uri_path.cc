// Path normalisation for mount matching, and the raw-path forwarding check.
#include <catch2/catch.hpp>

#include <optional>
#include <string>

#include "idmb/uri_path.h"

using idmb::is_forwardable_raw_path;
using idmb::normalize_path_for_mount;

TEST_CASE("normalize_path_for_mount: resolved paths", "[uri]") {
  const auto [input, expected] = GENERATE(table<std::string, std::string>({
      {"/app/..;/manager/html", "/manager/html"},
      {"/a//b", "/a/b"},
      {"/a/./b", "/a/b"},
      {"/app;jsessionid=ABC.node1/x.jsp", "/app/x.jsp"},
      {"/", "/"},
      {"//", "/"},
      {"/app", "/app"},
      {"/app/", "/app/"},
      {"/app//", "/app/"},
      {"/app/.", "/app/"},
      {"/app/./", "/app/"},
      {"/a/b/..", "/a/"},
      {"/a/b/../", "/a/"},
      {"/a/b/../c", "/a/c"},
      {"/a/..", "/"},
      {"/.", "/"},
      {"/;x", "/"},
      {"/a;b;c/d", "/a/d"},
      {"/a/;x", "/a/"},
      {"/app/.;x/y", "/app/y"},
      {"/a/b/..;", "/a/"},
      {"/...", "/..."},  // not a dot segment
      {"/a/.../b", "/a/.../b"},
      {"/a/..b/c", "/a/..b/c"},
      {"/a/b./c", "/a/b./c"},
      {"/x.jsp;jsessionid=1.n1", "/x.jsp"},
      {"///a///b///", "/a/b/"},
      {"/%2e%2e/x", "/%2e%2e/x"},  // input is already decoded: '%' is literal here
  }));
  INFO(input);
  const auto out = normalize_path_for_mount(input);
  REQUIRE(out.has_value());
  CHECK(*out == expected);
  // Normalising again changes nothing.
  const auto again = normalize_path_for_mount(*out);
  REQUIRE(again.has_value());
  CHECK(*again == *out);
}

TEST_CASE("normalize_path_for_mount: rejected paths", "[uri]") {
  const std::string input = GENERATE(as<std::string>{}, "/..", "/../a", "/a/../..", "/a/b/../../..", "/..;x/a",
                                     "/a/..;/..;/b", "relative", "", ".", "./a", "\\a", "*");
  INFO(input);
  CHECK(normalize_path_for_mount(input) == std::nullopt);
}

TEST_CASE("is_forwardable_raw_path", "[uri]") {
  const auto [raw, ok] = GENERATE(table<std::string, bool>({
      {"/", true},
      {"/app/x.jsp", true},
      {"/app/x%20y", true},
      {"/a;jsessionid=1.n1", true},
      {"/a/../b", true},  // dot segments are the normaliser's business, not this check's
      {"/\xc3\xa4", true},
      {"", false},
      {"app", false},
      {"*", false},
      {"/a b", false},
      {"/a\tb", false},
      {"/a\r\nX-Injected: 1", false},
      {std::string("/a\0b", 4), false},
      {"/a\x7f", false},
      {"/a\x1f", false},
      {"/a#frag", false},
      {"/a?q=1", false},
  }));
  INFO(raw);
  CHECK(is_forwardable_raw_path(raw) == ok);
}
