// Session routes from the request: the `;jsessionid=` path parameter, then the cookies.
// Every step is a single forward scan, so hostile inputs (very long ids, headers full of
// separators) cost linear time.
#include "idmb/session_route.h"

#include <cstddef>
#include <string_view>
#include <vector>

#include "../util/text.h"

namespace idmb::route {
namespace {

// The alphabet of a member's route (config::is_valid_route), which Tomcat appends to the id as
// its jvmRoute; anything else cannot name a member, so it is not a route.
constexpr bool is_route_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.';
}

using text::trim;

void add_route(std::vector<std::string_view>& routes, std::string_view session_id) {
  const std::string_view route = route_of(session_id);
  if (!route.empty()) routes.push_back(route);
}

// Every `;PARAM=VALUE` in the path, in order. The query is not part of the path, and the
// value ends where the next path parameter or segment starts.
void add_path_param_routes(std::vector<std::string_view>& routes, std::string_view raw_path, std::string_view param) {
  if (param.empty()) return;
  const std::string_view path = raw_path.substr(0, raw_path.find('?'));
  std::size_t pos = 0;
  while ((pos = path.find(';', pos)) != std::string_view::npos) {
    const std::string_view rest = path.substr(pos + 1);
    if (rest.size() <= param.size() || !rest.starts_with(param) || rest[param.size()] != '=') {
      ++pos;
      continue;
    }
    const std::size_t value_start = pos + 1 + param.size() + 1;
    std::size_t value_end = path.find_first_of(";/", value_start);
    if (value_end == std::string_view::npos) value_end = path.size();
    add_route(routes, path.substr(value_start, value_end - value_start));
    pos = value_end;
  }
}

// Every NAME cookie, in order. httpd merges repeated Cookie headers with ", ", so ',' separates
// cookies as well as ';' (RFC 6265 cookie values contain neither, quoted or not).
void add_cookie_routes(std::vector<std::string_view>& routes, std::string_view header, std::string_view name) {
  if (name.empty()) return;
  std::size_t pos = 0;
  while (pos < header.size()) {
    std::size_t end = header.find_first_of(";,", pos);
    if (end == std::string_view::npos) end = header.size();
    const std::string_view pair = header.substr(pos, end - pos);
    pos = end + 1;

    const std::size_t eq = pair.find('=');
    if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != name) continue;
    std::string_view value = trim(pair.substr(eq + 1));
    if (!value.empty() && value.front() == '"') {
      // A quoted value must close; a lone quote is malformed, not part of the id.
      if (value.size() < 2 || value.back() != '"') continue;
      value = value.substr(1, value.size() - 2);
    }
    add_route(routes, value);
  }
}

}  // namespace

std::vector<std::string_view> session_routes(std::string_view raw_path, std::string_view cookie_header,
                                             std::string_view cookie_name, std::string_view path_param) {
  std::vector<std::string_view> routes;
  add_path_param_routes(routes, raw_path, path_param);
  add_cookie_routes(routes, cookie_header, cookie_name);
  return routes;
}

std::string_view route_of(std::string_view session_id) {
  const std::size_t dot = session_id.find('.');
  if (dot == std::string_view::npos) return {};
  const std::string_view route = session_id.substr(dot + 1);
  if (route.empty()) return {};
  // Everything after the first '.', as Tomcat and mod_jk read it: a jvmRoute such as
  // "web1.example.org" or "dc1.node1" keeps its own dots (Tomcat's ids have none).
  for (char c : route) {
    if (!is_route_char(c)) return {};
  }
  return route;
}

bool sets_session_cookie(std::string_view set_cookie_value, std::string_view cookie_name) {
  if (cookie_name.empty()) return false;
  // NAME=VALUE comes first; the attributes (Path, Max-Age, ...) follow after ';'.
  const std::string_view pair = set_cookie_value.substr(0, set_cookie_value.find(';'));
  const std::size_t eq = pair.find('=');
  if (eq == std::string_view::npos || trim(pair.substr(0, eq)) != cookie_name) return false;
  std::string_view value = trim(pair.substr(eq + 1));
  if (value.size() >= 2 && value.front() == '"' && value.back() == '"') value = value.substr(1, value.size() - 2);
  return !value.empty();
}

}  // namespace idmb::route
