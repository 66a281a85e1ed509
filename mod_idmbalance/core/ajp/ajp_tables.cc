// AJP13 lookup tables: method codes, header codes, Tomcat's default req_attribute allow-list.
#include <array>
#include <cstdint>
#include <string_view>

#include "ajp_wire.h"
#include "idmb/ajp_codec.h"

namespace idmb::ajp {
namespace {

// Index + 1 is the low byte of the 0xA0xx response header code (section 2.7).
constexpr std::array<std::string_view, 11> kResponseHeaders = {
    "Content-Type", "Content-Language", "Content-Length", "Date",   "Last-Modified",    "Location",
    "Set-Cookie",   "Set-Cookie2",      "Servlet-Engine", "Status", "WWW-Authenticate",
};

// Tomcat's AjpProcessor accepts these without allowedRequestAttributesPattern; anything else
// is a 403 and a closed connection. The IIS CERT_* / HTTPS_* names are left out on purpose.
constexpr std::array<std::string_view, 13> kAllowedAttributes = {
    "AJP_LOCAL_ADDR",
    "AJP_REMOTE_PORT",
    "AJP_SSL_PROTOCOL",
    "JK_LB_ACTIVATION",
    "javax.servlet.request.cipher_suite",
    "javax.servlet.request.key_size",
    "javax.servlet.request.ssl_session",
    "javax.servlet.request.X509Certificate",
    "jakarta.servlet.request.cipher_suite",
    "jakarta.servlet.request.key_size",
    "jakarta.servlet.request.ssl_session",
    "jakarta.servlet.request.X509Certificate",
    "jakarta.servlet.request.secure_protocol",
};

// ASCII-only case folding: header names are tokens, and locale must not matter.
constexpr char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + ('a' - 'A')) : c; }

// `lower_ref` is already lower case.
bool equals_ignore_case(std::string_view s, std::string_view lower_ref) {
  if (s.size() != lower_ref.size()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != lower_ref[i] && lower(s[i]) != lower_ref[i]) return false;
  }
  return true;
}

}  // namespace

std::uint8_t method_code(std::string_view method) {
  for (std::size_t i = 0; i < wire::kMethods.size(); ++i) {
    if (method == wire::kMethods[i]) return static_cast<std::uint8_t>(i + 1);
  }
  return kStoredMethod;
}

std::uint16_t request_header_code(std::string_view name) {
  for (std::size_t i = 0; i < wire::kRequestHeaders.size(); ++i) {
    if (equals_ignore_case(name, wire::kRequestHeaders[i])) {
      return static_cast<std::uint16_t>((wire::kHeaderCodePrefix << 8) | (i + 1));
    }
  }
  return 0;
}

bool is_allowed_request_attribute(std::string_view name) {
  for (std::string_view allowed : kAllowedAttributes) {
    if (name == allowed) return true;
  }
  return false;
}

namespace wire {

std::string_view response_header_name(std::uint8_t low_byte) {
  if (low_byte == 0 || low_byte > kResponseHeaders.size()) return {};
  return kResponseHeaders[low_byte - 1];
}

}  // namespace wire
}  // namespace idmb::ajp
