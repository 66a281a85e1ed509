// Session-id and route parsing (idmb/session_route.h): session_routes and route_of, against a
// reference written from the header's contract, plus properties: every route is non-empty
// [A-Za-z0-9_.-] and a view into the inputs; path routes come before cookie routes; the query
// does not count; a well-formed NAME=id.ROUTE cookie appended to any header is found last.
//
// Input: 0x1F-separated fields: control, raw_path, cookie_header, cookie_name, path_param,
// query, route. control[0] bit 0: use JSESSIONID / jsessionid instead of the fields.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "idmb/session_route.h"

using fuzz::Owned;
using fuzz::show;
using idmb::route::route_of;
using idmb::route::session_routes;

namespace {

bool is_route_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.';  // a jvmRoute keeps its own dots: everything after the id's first '.'
}

bool is_valid_route(std::string_view r) {
  if (r.empty()) return false;
  for (char c : r) {
    if (!is_route_char(c)) return false;
  }
  return true;
}

std::string_view reference_route_of(std::string_view id) {
  const std::size_t dot = id.find('.');
  if (dot == std::string_view::npos) return {};
  const std::string_view r = id.substr(dot + 1);
  return is_valid_route(r) ? r : std::string_view{};
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Every ";PARAM=" in the path before '?', value up to the next ';' or '/'; then every
// ';'/','-separated NAME=VALUE cookie (OWS trimmed, one pair of quotes removed).
std::vector<std::string_view> reference_routes(std::string_view path, std::string_view cookies, std::string_view name,
                                               std::string_view param) {
  std::vector<std::string_view> out;
  const auto add = [&](std::string_view id) {
    if (const auto r = reference_route_of(id); !r.empty()) out.push_back(r);
  };
  if (!param.empty()) {
    const std::string_view p = path.substr(0, path.find('?'));
    for (std::size_t i = 0; i < p.size(); ++i) {
      if (p[i] != ';') continue;
      const std::string_view rest = p.substr(i + 1);
      if (rest.size() > param.size() && rest.substr(0, param.size()) == param && rest[param.size()] == '=') {
        const std::string_view value = rest.substr(param.size() + 1);
        add(value.substr(0, value.find_first_of(";/")));
      }
    }
  }
  if (!name.empty()) {
    std::size_t start = 0;
    while (start < cookies.size()) {
      std::size_t end = start;
      while (end < cookies.size() && cookies[end] != ';' && cookies[end] != ',') ++end;
      const std::string_view pair = cookies.substr(start, end - start);
      start = end + 1;
      const std::size_t eq = pair.find('=');
      if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != name) continue;
      std::string_view value = trim(pair.substr(eq + 1));
      if (!value.empty() && value.front() == '"') {
        if (value.size() < 2 || value.back() != '"') continue;
        value = value.substr(1, value.size() - 2);
      }
      add(value);
    }
  }
  return out;
}

bool same_views(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i].data() != b[i].data() || a[i].size() != b[i].size()) return false;
  }
  return true;
}

bool same_text(const std::vector<std::string_view>& a, const std::vector<std::string_view>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

std::string list(const std::vector<std::string_view>& v) {
  std::string out = "[";
  for (std::string_view s : v) out += show(s) + " ";
  return out + "]";
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::Fields fields(data, size);
  const std::string_view control = fields.next();
  const Owned path(fields.next());
  const Owned cookies(fields.next());
  Owned name(fields.next());
  Owned param(fields.next());
  const std::string_view query = fields.next();
  const std::string_view route = fields.next();
  if (fuzz::Fields::byte(control, 0) & 1) {
    name = Owned("JSESSIONID");
    param = Owned("jsessionid");
  }

  const auto routes = session_routes(path.view(), cookies.view(), name.view(), param.view());
  const auto expected = reference_routes(path.view(), cookies.view(), name.view(), param.view());
  FUZZ_CHECK(same_views(routes, expected), "got " + list(routes) + ", reference " + list(expected));
  for (std::string_view r : routes) {
    FUZZ_CHECK(is_valid_route(r), "route " + show(r));
    FUZZ_CHECK(path.contains(r) || cookies.contains(r), "route is not a view into the inputs");
  }

  // The path part and the cookie part are independent, path routes first.
  auto from_path = session_routes(path.view(), "", name.view(), param.view());
  const auto from_cookies = session_routes("", cookies.view(), name.view(), param.view());
  from_path.insert(from_path.end(), from_cookies.begin(), from_cookies.end());
  FUZZ_CHECK(same_views(routes, from_path), "path + cookie routes differ from both together");

  // The query is not part of the path.
  if (path.view().find('?') == std::string_view::npos) {
    const Owned with_query(std::string(path.view()) + "?" + std::string(query));
    const auto q = session_routes(with_query.view(), "", name.view(), param.view());
    const auto p = session_routes(path.view(), "", name.view(), param.view());
    FUZZ_CHECK(same_text(q, p), "a query changed the path routes: " + list(q) + " vs " + list(p));
  }

  // route_of on each input as a whole.
  for (const Owned* in : {&path, &cookies}) {
    const std::string_view r = route_of(in->view());
    FUZZ_CHECK(r.data() == reference_route_of(in->view()).data() && r == reference_route_of(in->view()),
               "route_of(" + show(in->view()) + ") = " + show(r));
    if (!r.empty()) {
      FUZZ_CHECK(in->contains(r) && r.data() + r.size() == in->view().data() + in->view().size());
      FUZZ_CHECK(r.data()[-1] == '.' &&
                 in->view().find('.') == static_cast<std::size_t>(r.data() - 1 - in->view().data()));
    }
  }

  // A well-formed cookie appended to any header is the last route found.
  const std::string_view cookie_name = name.view();
  const bool name_ok = !cookie_name.empty() && cookie_name.find_first_of(";,= \t") == std::string_view::npos;
  if (name_ok && is_valid_route(route)) {
    const Owned header(std::string(cookies.view()) + "; " + std::string(cookie_name) + "=ABC123." + std::string(route));
    const auto with = session_routes("", header.view(), cookie_name, param.view());
    FUZZ_CHECK(!with.empty() && with.back() == route, "appended cookie's route not found: " + list(with));
    const Owned id("s1." + std::string(route));
    FUZZ_CHECK(route_of(id.view()) == route);
  }
  return 0;
}
