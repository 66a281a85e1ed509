// Step 1 of the request path: what may be forwarded at all, how the body is framed, and which
// headers Tomcat sees.
#include <algorithm>
#include <charconv>

#include "../util/ascii.h"
#include "idmb/http_rules.h"
#include "idmb/request_path.h"
#include "idmb/uri_path.h"

namespace idmb::request {
namespace {

// Client framing: chunked, a strict Content-Length, or no body. Anything else is refused here,
// before a byte goes to Tomcat (request smuggling, CVE-2022-26377 class).
std::optional<Refusal> plan_body(const ClientHead& head, forward::BodyPlan& plan) {
  if (head.transfer_encoding) {
    if (!ascii::iequals(*head.transfer_encoding, "chunked")) {
      return Refusal{kBadRequest, "Transfer-Encoding other than chunked"};
    }
    plan.kind = forward::BodyPlan::Kind::Chunked;
    return std::nullopt;
  }
  if (!head.content_length) return std::nullopt;
  const auto length = http::parse_content_length(*head.content_length);
  if (!length) return Refusal{kBadRequest, "invalid Content-Length"};
  // Refused before Tomcat runs anything; a chunked body is stopped at the limit instead.
  if (head.body_limit > 0 && *length > head.body_limit) {
    return Refusal{kPayloadTooLarge, "Content-Length above LimitRequestBody"};
  }
  if (*length > 0) {
    plan.kind = forward::BodyPlan::Kind::Length;
    plan.length = *length;
  }
  return std::nullopt;
}

// Did the client send this field with this value? (Its Connection header listed it.)
bool as_client_sent(std::span<const ajp::Header> listed, const ajp::Header& field) {
  return std::any_of(listed.begin(), listed.end(), [&](const ajp::Header& h) {
    return ascii::iequals(h.name, field.name) && h.value == field.value;
  });
}

// Content-Length is never copied: Tomcat's framing must be exactly the body plan's (a client
// naming it in Connection must not make the two disagree: request smuggling).
bool forwardable(const ClientHead& head, const ajp::Header& field) {
  if (http::is_content_length(field.name) || http::is_hop_by_hop(field.name)) return false;
  return head.client_connection.empty() ||
         !http::drop_listed_field(head.client_connection, field.name, as_client_sent(head.client_listed, field));
}

}  // namespace

std::optional<Refusal> prepare(const ClientHead& head, ajp::ForwardRequest& request, Prepared& out) {
  // TraceEnable applies to forwarded URLs too (httpd's own check runs in the default handler,
  // which mounted URLs never reach).
  if (head.trace_disabled && head.method == "TRACE") {
    return Refusal{kMethodNotAllowed, "TRACE refused (TraceEnable Off)"};
  }
  if (auto refusal = plan_body(head, out.body)) return refusal;
  if (!is_forwardable_raw_path(request.uri)) {
    return Refusal{kBadRequest, "request path contains bytes that cannot be forwarded"};
  }
  auto& headers = request.headers;
  headers.erase(
      std::remove_if(headers.begin(), headers.end(), [&](const ajp::Header& h) { return !forwardable(head, h); }),
      headers.end());
  if (out.body.kind == forward::BodyPlan::Kind::Length) {
    auto& text = out.content_length_text;
    const auto written = std::to_chars(text.data(), text.data() + text.size(), out.body.length);
    headers.push_back(
        {"Content-Length", std::string_view(text.data(), static_cast<std::size_t>(written.ptr - text.data()))});
  } else if (out.body.kind == forward::BodyPlan::Kind::None && head.content_length) {
    headers.push_back({"Content-Length", "0"});  // an explicit empty body stays explicit
  }
  return std::nullopt;
}

}  // namespace idmb::request
