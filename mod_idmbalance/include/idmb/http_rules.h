// HTTP framing rules the proxy enforces on both sides.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace idmb::http {

// Strict Content-Length: digits only, no sign, no spaces, no overflow. nullopt if invalid.
std::optional<std::uint64_t> parse_content_length(std::string_view text);

// Case-insensitive "Content-Length".
bool is_content_length(std::string_view name);

// Case-insensitive "Set-Cookie".
bool is_set_cookie(std::string_view name);

// Headers that describe one hop and are never forwarded to Tomcat (Connection, Keep-Alive,
// Proxy-Connection, TE, Trailer, Transfer-Encoding, Upgrade, Proxy-Authorization is kept).
bool is_hop_by_hop(std::string_view name);

// True if `name` is listed in the given Connection header value (comma separated tokens).
bool listed_in_connection(std::string_view connection_value, std::string_view name);

// True if a Connection value names any field, not only the options "close" and "keep-alive"
// (what browsers send): only then is there anything to remember about the client's fields.
bool connection_lists_fields(std::string_view connection_value);

// A field the client's own Connection header lists is dropped before Tomcat only if the client
// sent it with the value it has now (`as_client_sent`): a field an httpd module set or changed
// (RequestHeader, an auth module) stays, and so does Host, which Tomcat needs whatever the
// client says. Content-Length is never copied anyway (the body plan sets it).
bool drop_listed_field(std::string_view client_connection, std::string_view name, bool as_client_sent);

// Backend response headers that must not reach the client as sent: Content-Length (checked
// and re-set by the proxy), Transfer-Encoding (httpd frames the body itself; CVE-2024-24795)
// and hop-by-hop ones.
bool drop_from_response(std::string_view name);

// A 1xx is never a final response. Tomcat sends none over AJP (it drops early hints), so one
// in SEND_HEADERS is the application's: passed on, a 101 would make the client (or a proxy in
// front) treat the connection as switched to another protocol.
constexpr bool is_final_status(int status) { return status >= 200; }

// True if the status code has no body (1xx, 204, 304).
constexpr bool status_has_no_body(int status) { return status < 200 || status == 204 || status == 304; }

}  // namespace idmb::http
