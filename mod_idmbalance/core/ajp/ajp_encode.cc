// AJP13 encoding of what httpd sends to Tomcat: FORWARD_REQUEST, CPING, request-body packets.
#include <cassert>
#include <cstring>
#include <string>

#include "../util/text.h"
#include "ajp_wire.h"
#include "idmb/ajp_codec.h"

namespace idmb::ajp {
namespace {

// Literal header names must not start with 0xA0: Tomcat peeks the length and would read it as
// a header code.
constexpr std::size_t kMaxLiteralHeaderName = 0xA000 - 1;
constexpr std::size_t kMaxString = wire::kNullString - 1;
constexpr std::size_t kMaxHeaders = 0xFFFF;
// Attribute names go into the error log; keep a hostile or huge one short.
constexpr std::size_t kMaxNameInMessage = 64;

std::string quoted(std::string_view s) { return text::quoted(s, {.max_bytes = kMaxNameInMessage}); }

// Writes the payload after the 4-byte header. Past the end of `out` it keeps counting without
// writing, so an overflow error can say how big the packet would have been. The first
// validation error stops all output.
class Writer {
 public:
  explicit Writer(std::span<std::uint8_t> out) : out_(out) {}

  void byte(std::uint8_t b) {
    if (!error_.empty()) return;
    if (pos_ < out_.size()) out_[pos_] = b;
    ++pos_;
  }

  void u16(std::uint16_t v) {
    byte(static_cast<std::uint8_t>(v >> 8));
    byte(static_cast<std::uint8_t>(v & 0xFF));
  }

  // `what` names the field for the error message; it is only evaluated on error.
  template <class What>
  void string(std::string_view s, What&& what, std::size_t max = kMaxString) {
    if (!error_.empty()) return;
    if (s.size() > max) {
      fail(what() + " is " + std::to_string(s.size()) + " bytes (max " + std::to_string(max) + ")");
      return;
    }
    // Tomcat reads by length, but C code on our side would see the value cut at the NUL:
    // two views of one string are how smuggling starts.
    if (s.find('\0') != std::string_view::npos) {  // not memchr: an empty view's data() may be null
      fail(what() + " contains a NUL byte");
      return;
    }
    // Length, bytes and NUL in one bounds check (byte() checks each byte).
    if (pos_ + 2 + s.size() + 1 <= out_.size()) {
      wire::put_u16(out_.data() + pos_, static_cast<std::uint16_t>(s.size()));
      if (!s.empty()) std::memcpy(out_.data() + pos_ + 2, s.data(), s.size());
      out_[pos_ + 2 + s.size()] = 0;
    }
    pos_ += 2 + s.size() + 1;
  }

  void null_string() { u16(wire::kNullString); }

  void fail(std::string message) {
    if (error_.empty()) error_ = std::move(message);
  }

  std::size_t size() const { return pos_; }
  const std::string& error() const { return error_; }

 private:
  std::span<std::uint8_t> out_;
  std::size_t pos_ = kHeaderSize;
  std::string error_;
};

auto field(const char* name) {
  return [name] { return std::string(name); };
}

void attribute(Writer& w, std::uint8_t code, const std::optional<std::string_view>& value, const char* name) {
  if (!value) return;
  w.byte(code);
  w.string(*value, field(name));
}

// Method, the request line's strings, server port and is_ssl.
void write_fixed_fields(Writer& w, const ForwardRequest& request, std::uint8_t method) {
  w.byte(wire::kForwardRequest);
  w.byte(method);
  w.string(request.protocol, field("protocol"));
  w.string(request.uri, field("request URI"));
  w.string(request.remote_addr, field("remote_addr"));
  if (request.remote_host) {
    w.string(*request.remote_host, field("remote_host"));
  } else {
    w.null_string();
  }
  w.string(request.server_name, field("server_name"));
  w.u16(request.server_port);
  w.byte(request.is_ssl ? 1 : 0);
}

void write_headers(Writer& w, const ForwardRequest& request) {
  w.u16(static_cast<std::uint16_t>(request.headers.size()));
  for (std::size_t i = 0; i < request.headers.size(); ++i) {
    const Header& h = request.headers[i];
    auto what = [i](const char* part) {
      return [i, part] { return "request header " + std::to_string(i + 1) + " " + part; };
    };
    if (std::uint16_t code = request_header_code(h.name); code != 0) {
      w.u16(code);
    } else {
      if (h.name.empty()) w.fail("request header " + std::to_string(i + 1) + " has an empty name");
      w.string(h.name, what("name"), kMaxLiteralHeaderName);
    }
    w.string(h.value, what("value"));
  }
}

// The attributes and the 0xFF terminator.
void write_attributes(Writer& w, const ForwardRequest& request, std::uint8_t method) {
  // Same order as mod_proxy_ajp, so packet captures compare easily.
  attribute(w, wire::kAttrSecret, request.secret, "secret");
  attribute(w, wire::kAttrRemoteUser, request.remote_user, "remote_user");
  attribute(w, wire::kAttrAuthType, request.auth_type, "auth_type");
  attribute(w, wire::kAttrQueryString, request.query_string, "query string");
  attribute(w, wire::kAttrRoute, request.route, "route");
  attribute(w, wire::kAttrSslCert, request.ssl_cert, "ssl_cert");
  attribute(w, wire::kAttrSslCipher, request.ssl_cipher, "ssl_cipher");
  attribute(w, wire::kAttrSslSession, request.ssl_session, "ssl_session");
  if (request.ssl_key_size) {
    w.byte(wire::kAttrSslKeySize);
    w.u16(*request.ssl_key_size);  // Tomcat reads an int here, not a string
  }
  if (method == kStoredMethod) {
    w.byte(wire::kAttrStoredMethod);
    w.string(request.method, field("HTTP method"));
  }
  for (const Header& a : request.request_attributes) {
    // Tomcat answers 403 and closes the connection for any other name.
    if (!is_allowed_request_attribute(a.name)) {
      w.fail("request attribute " + quoted(a.name) + " is not accepted by Tomcat's AJP connector");
    }
    w.byte(wire::kAttrReqAttribute);
    w.string(a.name, [] { return std::string("request attribute name"); });
    w.string(a.value, [&a] { return "request attribute " + quoted(a.name) + " value"; });
  }
  for (const Header& a : request.configured_attributes) {
    if (a.name.empty()) w.fail("configured request attribute with an empty name");
    w.byte(wire::kAttrReqAttribute);
    w.string(a.name, [] { return std::string("configured request attribute name"); });
    w.string(a.value, [&a] { return "request attribute " + quoted(a.name) + " value"; });
  }
  w.byte(wire::kAttrAreDone);
}

}  // namespace

Expected<std::size_t> encode_forward_request(const ForwardRequest& request, std::span<std::uint8_t> out) {
  if (request.headers.size() > kMaxHeaders) {
    return fail("too many request headers: " + std::to_string(request.headers.size()) + " (max 65535)");
  }
  if (request.method.empty()) return fail("empty HTTP method");

  Writer w(out);
  const std::uint8_t method = method_code(request.method);
  write_fixed_fields(w, request, method);
  write_headers(w, request);
  write_attributes(w, request, method);

  if (!w.error().empty()) return fail(w.error());
  if (w.size() > out.size()) {
    return fail("FORWARD_REQUEST needs " + std::to_string(w.size()) + " bytes but the AJP packet size is " +
                std::to_string(out.size()));
  }
  const std::size_t payload = w.size() - kHeaderSize;
  if (payload > 0xFFFF) {
    return fail("FORWARD_REQUEST payload of " + std::to_string(payload) + " bytes exceeds the 16-bit AJP length");
  }
  out[0] = wire::kToContainer0;
  out[1] = wire::kToContainer1;
  wire::put_u16(out.data() + 2, static_cast<std::uint16_t>(payload));
  return w.size();
}

std::size_t encode_cping(std::span<std::uint8_t> out) {
  assert(out.size() >= 5);
  if (out.size() < 5) return 0;
  out[0] = wire::kToContainer0;
  out[1] = wire::kToContainer1;
  wire::put_u16(out.data() + 2, 1);
  out[4] = wire::kCping;
  return 5;
}

std::size_t finish_body_chunk(std::span<std::uint8_t> out, std::size_t n) {
  // A caller bug, not a runtime condition: the caller sized n from max_request_body_chunk().
  // Release builds return 0 rather than write a packet whose length lies.
  assert(out.size() >= kBodyChunkOverhead && n <= out.size() - kBodyChunkOverhead && n + 2 <= 0xFFFF);
  if (out.size() < kBodyChunkOverhead || n > out.size() - kBodyChunkOverhead || n + 2 > 0xFFFF) return 0;
  out[0] = wire::kToContainer0;
  out[1] = wire::kToContainer1;
  wire::put_u16(out.data() + 2, static_cast<std::uint16_t>(n + 2));
  wire::put_u16(out.data() + 4, static_cast<std::uint16_t>(n));
  return n + kBodyChunkOverhead;
}

}  // namespace idmb::ajp
