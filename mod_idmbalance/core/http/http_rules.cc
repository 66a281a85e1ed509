// Header and framing rules applied to requests sent to Tomcat and to its responses.
#include "idmb/http_rules.h"

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "../util/ascii.h"
#include "../util/text.h"

namespace idmb::http {
namespace {

constexpr std::array<std::string_view, 7> kHopByHop = {"Connection", "Keep-Alive",        "Proxy-Connection", "TE",
                                                       "Trailer",    "Transfer-Encoding", "Upgrade"};

}  // namespace

std::optional<std::uint64_t> parse_content_length(std::string_view text) {
  // Anything looser ("1,1", " 1", "+1") is a request-smuggling vector: two parsers that
  // disagree on the body length disagree on where the next request starts.
  return ascii::parse_decimal(text);
}

bool is_hop_by_hop(std::string_view name) {
  for (std::string_view hop : kHopByHop) {
    if (ascii::iequals(name, hop)) return true;
  }
  return false;
}

bool listed_in_connection(std::string_view connection_value, std::string_view name) {
  const std::string_view wanted = text::trim(name);
  if (wanted.empty()) return false;
  while (true) {
    const std::size_t comma = connection_value.find(',');
    if (ascii::iequals(text::trim(connection_value.substr(0, comma)), wanted)) return true;
    if (comma == std::string_view::npos) return false;
    connection_value.remove_prefix(comma + 1);
  }
}

bool connection_lists_fields(std::string_view connection_value) {
  while (true) {
    const std::size_t comma = connection_value.find(',');
    const std::string_view token = text::trim(connection_value.substr(0, comma));
    if (!token.empty() && !ascii::iequals(token, "close") && !ascii::iequals(token, "keep-alive")) return true;
    if (comma == std::string_view::npos) return false;
    connection_value.remove_prefix(comma + 1);
  }
}

bool drop_listed_field(std::string_view client_connection, std::string_view name, bool as_client_sent) {
  return as_client_sent && !ascii::iequals(name, "Host") && listed_in_connection(client_connection, name);
}

bool is_content_length(std::string_view name) { return ascii::iequals(name, "Content-Length"); }

bool is_set_cookie(std::string_view name) { return ascii::iequals(name, "Set-Cookie"); }

bool drop_from_response(std::string_view name) { return is_content_length(name) || is_hop_by_hop(name); }

}  // namespace idmb::http
