// Session affinity input: the session ids a request carries and the routes in them.
// Tomcat's session id is "ID.jvmRoute"; the route is the text after the first '.'.
#pragma once

#include <string_view>
#include <vector>

namespace idmb::route {

// Routes found in the request, in the order they should be tried: the `;PARAM=` path
// parameter of the raw request path (before any '?') first, then every COOKIE cookie in the
// Cookie header(s) in order. Ids without a '.', with an empty route, or with a route that has
// characters outside [A-Za-z0-9_-] are skipped. Views point into the inputs.
std::vector<std::string_view> session_routes(std::string_view raw_path, std::string_view cookie_header,
                                             std::string_view cookie_name, std::string_view path_param);

// The route part of one session id, or empty if it has none (or an invalid one).
std::string_view route_of(std::string_view session_id);

// True when one Set-Cookie value sets the cookie `cookie_name` to a non-empty value: the member
// that sent it opened a session (a new one, or a new id for one it had). Clearing the cookie
// (an empty value, as on logout) is not opening one. Cookie names are case-sensitive.
bool sets_session_cookie(std::string_view set_cookie_value, std::string_view cookie_name);

}  // namespace idmb::route
