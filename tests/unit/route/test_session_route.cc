// Session routes: the `;jsessionid=` path parameter, then the JSESSIONID cookies.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <string>
#include <string_view>
#include <vector>

#include "idmb/session_route.h"

using idmb::route::route_of;
using idmb::route::session_routes;
using idmb::route::sets_session_cookie;

namespace {

std::vector<std::string> routes(std::string_view path, std::string_view cookie, std::string_view name = "JSESSIONID",
                                std::string_view param = "jsessionid") {
  std::vector<std::string> out;
  for (std::string_view r : session_routes(path, cookie, name, param)) out.emplace_back(r);
  return out;
}

using Routes = std::vector<std::string>;

}  // namespace

TEST_CASE("route_of", "[route]") {
  const auto [id, expected] = GENERATE(table<std::string, std::string>({
      {"abc.t1", "t1"},
      {"ABC123.tomcat-1", "tomcat-1"},
      {"abc.node_2", "node_2"},
      {".t1", "t1"},
      {"abc", ""},
      {"abc.", ""},
      {"", ""},
      {".", ""},
      {"..", "."},
      // Everything after the first '.' (Tomcat's ids have none): a jvmRoute keeps its dots.
      {"abc.t1.x", "t1.x"},
      {"abc..t1", ".t1"},
      {"ABC.web1.example.org", "web1.example.org"},
      {"abc.dc1.node-02", "dc1.node-02"},
      {"abc.01", "01"},
      {"abc._n", "_n"},
      {"abc.t 1", ""},
      {"abc.t1 ", ""},
      {"abc.t1\"", ""},
      {"abc.t%31", ""},
      {"abc.t1;x", ""},
      {"abc.t\xc3\xa9", ""},  // non-ASCII
      {std::string("abc.t\0", 6), ""},
  }));
  INFO(id);
  CHECK(route_of(id) == expected);
}

TEST_CASE("session_routes: cookies", "[route]") {
  const auto [cookie, expected] = GENERATE(table<std::string, Routes>({
      {"", {}},
      {"JSESSIONID=abc.t1", {"t1"}},
      {"JSESSIONID=abc", {}},
      {"JSESSIONID=abc.", {}},
      {"JSESSIONID=", {}},
      {"JSESSIONID", {}},
      {"JSESSIONID=.t1", {"t1"}},
      {"a=1; JSESSIONID=abc.t1; b=2", {"t1"}},
      {"a=1;JSESSIONID=abc.t1;b=2", {"t1"}},
      {"a=x.t9; JSESSIONID=abc.t1", {"t1"}},
      // quoted values
      {"JSESSIONID=\"abc.t1\"", {"t1"}},
      {"a=1; JSESSIONID=\"abc.t2\"; b=2", {"t2"}},
      {"JSESSIONID=\"abc.t1", {}},
      {"JSESSIONID=\"", {}},
      {"JSESSIONID=\"\"", {}},
      {"JSESSIONID=abc.t1\"", {}},
      {"JSESSIONID=\" abc.t1 \"", {}},
      // several JSESSIONID cookies (one per path, say): all of them, in order
      {"JSESSIONID=a.t1; JSESSIONID=b.t2", {"t1", "t2"}},
      {"JSESSIONID=b.t2; x=y; JSESSIONID=a.t1", {"t2", "t1"}},
      {"JSESSIONID=bad; JSESSIONID=b.t2", {"t2"}},
      {"JSESSIONID=a.t1; JSESSIONID=a.t1", {"t1", "t1"}},
      // names that contain the cookie name do not match
      {"JSESSIONIDX=a.t1", {}},
      {"XJSESSIONID=a.t1", {}},
      {"MY_JSESSIONID=a.t1; JSESSIONID_OLD=b.t2", {}},
      {"jsessionid=a.t1", {}},
      {"JSessionId=a.t1", {}},
      {"x=JSESSIONID=a.t1", {}},
      {"XJSESSIONID=a.t9; JSESSIONID=b.t1", {"t1"}},
      // whitespace
      {"JSESSIONID = abc.t1", {"t1"}},
      {"  JSESSIONID=abc.t1  ", {"t1"}},
      {"\tJSESSIONID\t=\tabc.t1\t", {"t1"}},
      {"a=1 ;  JSESSIONID  =  \"abc.t1\"  ; b=2", {"t1"}},
      {"JSESSION ID=abc.t1", {}},
      // Cookie headers merged by httpd with ", "
      {"a=1, JSESSIONID=abc.t1", {"t1"}},
      {"JSESSIONID=a.t1, JSESSIONID=b.t2", {"t1", "t2"}},
      {"a=1; b=2, c=3; JSESSIONID=a.t3,JSESSIONID=b.t4", {"t3", "t4"}},
      // malformed lists
      {";;;", {}},
      {",,,", {}},
      {"=; =abc.t1; JSESSIONID", {}},
      {";JSESSIONID=abc.t1;", {"t1"}},
      {"JSESSIONID=abc.t1=x", {}},
      {"JSESSIONID=abc=.t1", {"t1"}},
      {"JSESSIONID=abc.t1.t2", {"t1.t2"}},  // everything after the first '.'
      // RFC 2109 style attributes are just other cookies
      {"$Version=1; JSESSIONID=abc.t1; $Path=/app", {"t1"}},
  }));
  INFO(cookie);
  CHECK(routes("/app/x", cookie) == expected);
}

TEST_CASE("session_routes: path parameter", "[route]") {
  const auto [path, expected] = GENERATE(table<std::string, Routes>({
      {"/app/x.jsp", {}},
      {"/app/x.jsp;jsessionid=abc.t1", {"t1"}},
      {"/app/x.jsp;jsessionid=abc.t1?a=b", {"t1"}},
      {"/app/x.jsp;jsessionid=abc.t1;other=1", {"t1"}},
      {"/app/x.jsp;other=1;jsessionid=abc.t1", {"t1"}},
      {"/app;jsessionid=abc.t1/x.jsp", {"t1"}},  // middle segment
      {"/app;jsessionid=abc.t1;v=2/x.jsp", {"t1"}},
      {"/app/x.jsp?jsessionid=abc.t1", {}},      // a query parameter is not a path one
      {"/app/x.jsp?a=1;jsessionid=abc.t1", {}},  // after '?' is the query
      {"/app/x.jsp;jsessionid=abc.t1?;jsessionid=def.t2", {"t1"}},
      {"/app/x.jsp;jsessionid=abc", {}},
      {"/app/x.jsp;jsessionid=", {}},
      {"/app/x.jsp;jsessionid", {}},
      {"/app/x.jsp;jsessionid=abc.", {}},
      {"/app/x.jsp;jsessionid=?x", {}},
      {"/app/x.jsp;JSESSIONID=abc.t1", {}},  // case-sensitive
      {"/app/x.jsp;jsessionidx=abc.t1", {}},
      {"/app/x.jsp;xjsessionid=abc.t1", {}},
      {"/app/jsessionid=abc.t1", {}},  // needs the ';'
      {"/app/x.jsp;;jsessionid=abc.t1", {"t1"}},
      {"/app/x.jsp;jsessionid=abc.t1.x", {"t1.x"}},
      {"/app/x.jsp;jsessionid=abc.web1.example.org", {"web1.example.org"}},
      {"/app/x.jsp;jsessionid=abc.t%31", {}},  // raw path: no decoding
      {"/a;jsessionid=x.t1/b;jsessionid=y.t2", {"t1", "t2"}},
      {"/a;jsessionid=bad/b;jsessionid=y.t2", {"t2"}},
      {";jsessionid=x.t1", {"t1"}},
      {"", {}},
      {"?", {}},
  }));
  INFO(path);
  CHECK(routes(path, "") == expected);
}

TEST_CASE("session_routes: path parameter comes before the cookies", "[route]") {
  CHECK(routes("/app;jsessionid=a.p1", "JSESSIONID=b.c1; JSESSIONID=c.c2") == Routes{"p1", "c1", "c2"});
  CHECK(routes("/app;jsessionid=bad", "JSESSIONID=b.c1") == Routes{"c1"});
  CHECK(routes("/app?;jsessionid=a.p1", "JSESSIONID=b.c1") == Routes{"c1"});
}

TEST_CASE("session_routes: custom names (IdmSticky MYSESS mysess)", "[route]") {
  CHECK(routes("/x;mysess=a.p1", "MYSESS=b.c1", "MYSESS", "mysess") == Routes{"p1", "c1"});
  CHECK(routes("/x;jsessionid=a.p1", "JSESSIONID=b.c1", "MYSESS", "mysess").empty());
  CHECK(routes("/x;mysessx=a.p1", "MYSESSX=b.c1; XMYSESS=c.c2", "MYSESS", "mysess").empty());
  CHECK(routes("/x", "JSESSIONID=a.t9; MYSESS=\"b.c1\"", "MYSESS", "mysess") == Routes{"c1"});
  // No path parameter configured, or no cookie: that source is not looked at.
  CHECK(routes("/x;=a.p1;jsessionid=a.p2", "JSESSIONID=b.c1", "JSESSIONID", "") == Routes{"c1"});
  CHECK(routes("/x;jsessionid=a.p1", "=b.c1", "", "jsessionid") == Routes{"p1"});
}

TEST_CASE("session_routes: views point into the inputs", "[route]") {
  const std::string path = "/app;jsessionid=abc.p1/x";
  const std::string cookie = "JSESSIONID=\"abc.c1\"";
  const auto found = session_routes(path, cookie, "JSESSIONID", "jsessionid");
  REQUIRE(found.size() == 2);
  CHECK(found[0].data() == path.data() + path.find("p1"));
  CHECK(found[1].data() == cookie.data() + cookie.find("c1"));
}

TEST_CASE("session_routes: very long and hostile inputs stay linear", "[route]") {
  constexpr std::size_t kLong = 100 * 1024;
  const std::string long_id(kLong, 'a');
  const std::string long_route(kLong, 'r');
  struct Case {
    std::string name;
    std::string path;
    std::string cookie;
    Routes expected;
  };
  const std::vector<Case> cases = {
      {"100 KB id, cookie", "/", "JSESSIONID=" + long_id + ".t1", {"t1"}},
      {"100 KB id, path", "/a;jsessionid=" + long_id + ".t1/b", "", {"t1"}},
      {"100 KB id without a route", "/a;jsessionid=" + long_id, "JSESSIONID=" + long_id, {}},
      {"100 KB route", "/", "JSESSIONID=x." + long_route, {long_route}},
      {"100 KB route with a bad last char", "/", "JSESSIONID=x." + long_route + "!", {}},
      {"only separators", std::string(kLong, ';'), std::string(kLong, ';'), {}},
      {"only commas and spaces", "/", std::string(kLong, ','), {}},
      {"names without '='",
       "/",
       [] {
         std::string s;
         while (s.size() < kLong) s += "JSESSIONID ";
         return s;
       }(),
       {}},
      {"near-miss path parameters",
       [] {
         std::string s = "/";
         while (s.size() < kLong) s += ";jsessionid;jsessionidx=";
         return s;
       }(),
       "",
       {}},
      {"many short cookies",
       "/",
       [] {
         std::string s;
         while (s.size() < kLong) s += "JSESSIONID=a.t1; ";
         return s;
       }(),
       {}},  // expected filled below
  };
  for (const auto& c : cases) {
    INFO(c.name);
    const auto start = std::chrono::steady_clock::now();
    const auto found = session_routes(c.path, c.cookie, "JSESSIONID", "jsessionid");
    const auto elapsed = std::chrono::steady_clock::now() - start;
    // Linear work on 100 KB is well under a millisecond; quadratic would take seconds.
    CHECK(elapsed < std::chrono::milliseconds(200));
    if (c.name == "many short cookies") {
      CHECK(found.size() == c.cookie.size() / 17);
      CHECK(std::all_of(found.begin(), found.end(), [](std::string_view r) { return r == "t1"; }));
      continue;
    }
    CHECK(Routes(found.begin(), found.end()) == c.expected);
  }
}

TEST_CASE("sets_session_cookie: a non-empty value of that cookie opens a session", "[route]") {
  CHECK(sets_session_cookie("JSESSIONID=ABC.tc2; Path=/app; HttpOnly", "JSESSIONID"));
  CHECK(sets_session_cookie("JSESSIONID=ABC", "JSESSIONID"));
  CHECK(sets_session_cookie(" JSESSIONID = \"ABC.t1\" ;Secure", "JSESSIONID"));
  CHECK_FALSE(sets_session_cookie("JSESSIONID=; Max-Age=0; Path=/app", "JSESSIONID"));  // cleared
  CHECK_FALSE(sets_session_cookie("JSESSIONID=\"\"", "JSESSIONID"));
  CHECK_FALSE(sets_session_cookie("jsessionid=ABC.t1", "JSESSIONID"));           // names are case-sensitive
  CHECK_FALSE(sets_session_cookie("OTHER=1; JSESSIONID=ABC.t1", "JSESSIONID"));  // an attribute, not the pair
  CHECK_FALSE(sets_session_cookie("XJSESSIONID=ABC.t1", "JSESSIONID"));
  CHECK_FALSE(sets_session_cookie("JSESSIONID", "JSESSIONID"));
  CHECK_FALSE(sets_session_cookie("JSESSIONID=ABC.t1", ""));
  CHECK_FALSE(sets_session_cookie("", "JSESSIONID"));
}
