// The container side of AJP (ajp_backend.h): decode_forward_request, against a reference
// decoder written here from the wire format (AJP13_AND_PROXY.md part 2, as Tomcat reads a
// FORWARD_REQUEST), not from the core's code; and decode_request_body_chunk.
//
// Input: byte 0 chooses the mode (low bit); the rest is one payload (after the packet header).
//   mode 0  a FORWARD_REQUEST payload (type byte 0x02 first)
//   mode 1  a request-body packet payload
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "idmb/ajp_backend.h"
#include "idmb/ajp_codec.h"

using namespace idmb::ajp;
using fuzz::Owned;
using fuzz::show;

namespace {

// Method codes 1..27 (section 2.4) and request header codes 0xA001..0xA00E (section 2.5).
constexpr std::array<std::string_view, 27> kMethodNames = {
    "OPTIONS",  "GET",        "HEAD",   "POST",        "PUT",    "DELETE", "TRACE",  "PROPFIND",         "PROPPATCH",
    "MKCOL",    "COPY",       "MOVE",   "LOCK",        "UNLOCK", "ACL",    "REPORT", "VERSION-CONTROL",  "CHECKIN",
    "CHECKOUT", "UNCHECKOUT", "SEARCH", "MKWORKSPACE", "UPDATE", "LABEL",  "MERGE",  "BASELINE-CONTROL", "MKACTIVITY",
};
constexpr std::array<std::string_view, 14> kHeaderNames = {
    "accept",     "accept-charset", "accept-encoding", "accept-language", "authorization",
    "connection", "content-type",   "content-length",  "cookie",          "cookie2",
    "host",       "pragma",         "referer",         "user-agent",
};

// ---- reference decoder -------------------------------------------------------------------

class Cursor {
 public:
  explicit Cursor(std::span<const std::uint8_t> p) : p_(p) {}
  std::size_t left() const { return p_.size() - pos_; }
  bool u8(std::uint8_t& v) {
    if (left() < 1) return false;
    v = p_[pos_++];
    return true;
  }
  bool u16(std::uint16_t& v) {
    if (left() < 2) return false;
    v = static_cast<std::uint16_t>(p_[pos_] << 8 | p_[pos_ + 1]);
    pos_ += 2;
    return true;
  }
  // len(2) bytes NUL, or 0xFFFF = null (reads as empty, `null` set).
  bool string(std::string_view& s, bool* null = nullptr) {
    std::uint16_t len;
    if (!u16(len)) return false;
    if (null) *null = len == 0xFFFF;
    if (len == 0xFFFF) {
      s = {};
      return true;
    }
    if (left() < std::size_t{len} + 1 || p_[pos_ + len] != 0) return false;
    s = std::string_view(reinterpret_cast<const char*>(p_.data() + pos_), len);
    pos_ += std::size_t{len} + 1;
    return true;
  }
  // The next two bytes are a header code (0xA0 first).
  bool at_code() const { return left() >= 2 && p_[pos_] == 0xA0; }

 private:
  std::span<const std::uint8_t> p_;
  std::size_t pos_ = 0;
};

bool reference_headers(Cursor& c, ForwardRequest& r) {
  std::uint16_t count;
  if (!c.u16(count)) return false;
  for (std::uint32_t i = 0; i < count; ++i) {
    Header h;
    if (c.at_code()) {
      std::uint16_t code;
      c.u16(code);
      const std::size_t low = code & 0xFF;
      if (low < 1 || low > kHeaderNames.size()) return false;
      h.name = kHeaderNames[low - 1];
    } else if (!c.string(h.name)) {
      return false;
    }
    if (!c.string(h.value)) return false;
    r.headers.push_back(h);
  }
  return true;
}

bool reference_attributes(Cursor& c, ForwardRequest& r, std::uint8_t method) {
  for (;;) {
    std::uint8_t code;
    if (!c.u8(code)) return false;
    std::string_view v, w;
    std::optional<std::string_view>* slot = nullptr;
    switch (code) {
      case 0xFF: return true;
      case 0x01:  // context and servlet_path: read, not kept
      case 0x02:
        if (!c.string(v)) return false;
        continue;
      case 0x03: slot = &r.remote_user; break;
      case 0x04: slot = &r.auth_type; break;
      case 0x05: slot = &r.query_string; break;
      case 0x06: slot = &r.route; break;
      case 0x07: slot = &r.ssl_cert; break;
      case 0x08: slot = &r.ssl_cipher; break;
      case 0x09: slot = &r.ssl_session; break;
      case 0x0C: slot = &r.secret; break;
      case 0x0A:
        if (!c.string(v) || !c.string(w)) return false;
        r.request_attributes.push_back(Header{v, w});
        continue;
      case 0x0B: {
        std::uint16_t size;
        if (!c.u16(size)) return false;
        r.ssl_key_size = size;
        continue;
      }
      case 0x0D:
        if (method != 0xFF || !c.string(r.method)) return false;
        continue;
      default: return false;
    }
    if (!c.string(v)) return false;
    *slot = v;
  }
}

std::optional<ForwardRequest> reference_decode(std::span<const std::uint8_t> p) {
  Cursor c(p);
  ForwardRequest r;
  std::uint8_t type, method, ssl;
  if (!c.u8(type) || type != 0x02 || !c.u8(method)) return std::nullopt;
  if (method != 0xFF) {
    if (method < 1 || method > kMethodNames.size()) return std::nullopt;
    r.method = kMethodNames[method - 1];
  }
  std::string_view host;
  bool host_null = false;
  if (!c.string(r.protocol) || !c.string(r.uri) || !c.string(r.remote_addr) || !c.string(host, &host_null) ||
      !c.string(r.server_name) || !c.u16(r.server_port) || !c.u8(ssl)) {
    return std::nullopt;
  }
  if (!host_null) r.remote_host = host;
  r.is_ssl = ssl != 0;
  if (!reference_headers(c, r) || !reference_attributes(c, r, method)) return std::nullopt;
  if (c.left() != 0 || (method == 0xFF && r.method.empty())) return std::nullopt;
  return r;
}

// ---- comparisons ---------------------------------------------------------------------------

// Header names compare without case: a literal name may come back coded (lower case).
void check_same(const ForwardRequest& got, const ForwardRequest& want, bool names_any_case) {
  FUZZ_CHECK(got.method == want.method, show(got.method) + " vs " + show(want.method));
  FUZZ_CHECK(got.protocol == want.protocol && got.uri == want.uri && got.remote_addr == want.remote_addr);
  FUZZ_CHECK(got.remote_host == want.remote_host && got.server_name == want.server_name);
  FUZZ_CHECK(got.server_port == want.server_port && got.is_ssl == want.is_ssl);
  FUZZ_CHECK(got.headers.size() == want.headers.size(),
             std::to_string(got.headers.size()) + " vs " + std::to_string(want.headers.size()) + " headers");
  for (std::size_t i = 0; i < got.headers.size(); ++i) {
    const Header &g = got.headers[i], &w = want.headers[i];
    FUZZ_CHECK(names_any_case ? fuzz::iequals(g.name, w.name) : g.name == w.name, show(g.name) + " vs " + show(w.name));
    FUZZ_CHECK(g.value == w.value);
  }
  FUZZ_CHECK(got.secret == want.secret && got.remote_user == want.remote_user && got.auth_type == want.auth_type);
  FUZZ_CHECK(got.query_string == want.query_string && got.route == want.route);
  FUZZ_CHECK(got.ssl_cert == want.ssl_cert && got.ssl_cipher == want.ssl_cipher &&
             got.ssl_session == want.ssl_session && got.ssl_key_size == want.ssl_key_size);
  FUZZ_CHECK(got.request_attributes.size() == want.request_attributes.size());
  for (std::size_t i = 0; i < got.request_attributes.size(); ++i) {
    FUZZ_CHECK(got.request_attributes[i].name == want.request_attributes[i].name &&
               got.request_attributes[i].value == want.request_attributes[i].value);
  }
}

// Every decoded string is a view into the payload, or a name from the code tables.
void check_views(const ForwardRequest& r, const Owned& payload) {
  FUZZ_CHECK(payload.contains(r.method) || method_code(r.method) != kStoredMethod, show(r.method));
  for (std::string_view s : {r.protocol, r.uri, r.remote_addr, r.server_name}) FUZZ_CHECK(payload.contains(s));
  for (const auto* o : {&r.remote_host, &r.secret, &r.remote_user, &r.auth_type, &r.query_string, &r.route, &r.ssl_cert,
                        &r.ssl_cipher, &r.ssl_session}) {
    if (*o) FUZZ_CHECK(payload.contains(**o));
  }
  for (const Header& h : r.headers) {
    FUZZ_CHECK(payload.contains(h.name) || request_header_code(h.name) != 0, show(h.name));
    FUZZ_CHECK(payload.contains(h.value));
  }
  for (const Header& a : r.request_attributes) FUZZ_CHECK(payload.contains(a.name) && payload.contains(a.value));
}

bool has_nul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// What encode_forward_request accepts (ajp_codec.h); the decoder allows more (NULs inside a
// string, any attribute name, an empty literal header name).
bool encodable(const ForwardRequest& r) {
  if (r.method.empty() || has_nul(r.method)) return false;
  for (std::string_view s : {r.protocol, r.uri, r.remote_addr, r.server_name}) {
    if (has_nul(s)) return false;
  }
  for (const auto* o : {&r.remote_host, &r.secret, &r.remote_user, &r.auth_type, &r.query_string, &r.route, &r.ssl_cert,
                        &r.ssl_cipher, &r.ssl_session}) {
    if (*o && has_nul(**o)) return false;
  }
  for (const Header& h : r.headers) {
    if (h.name.empty() || has_nul(h.name) || has_nul(h.value)) return false;
  }
  for (const Header& a : r.request_attributes) {
    if (!is_allowed_request_attribute(a.name) || has_nul(a.value)) return false;
  }
  return true;
}

// A packet decoded once into `out` first: decoding the input into the same object must give
// what a fresh object gets (nothing of the earlier request may survive).
const std::vector<std::uint8_t>& earlier_packet() {
  static const std::vector<std::uint8_t> p = [] {
    ForwardRequest r;
    r.method = "PATCH";
    r.protocol = "HTTP/1.1";
    r.uri = "/earlier";
    r.remote_addr = "10.0.0.1";
    r.remote_host = "client";
    r.server_name = "earlier.example";
    r.server_port = 8443;
    r.is_ssl = true;
    r.headers = {{"host", "earlier.example"}, {"X-Earlier", "1"}};
    r.secret = r.remote_user = r.auth_type = r.query_string = r.route = "x";
    r.ssl_cert = r.ssl_cipher = r.ssl_session = "y";
    r.ssl_key_size = 256;
    r.request_attributes = {{"AJP_REMOTE_PORT", "4711"}};
    std::vector<std::uint8_t> out(8192);
    const auto n = encode_forward_request(r, out);
    if (!n) fuzz::property_failed("earlier packet encodes", __FILE__, __LINE__, n.error());
    out.erase(out.begin(), out.begin() + kHeaderSize);
    out.resize(*n - kHeaderSize);
    return out;
  }();
  return p;
}

void check_forward_request(std::string_view bytes) {
  const Owned payload(bytes);
  const std::span<const std::uint8_t> span(payload.bytes(), payload.size());
  ForwardRequest got;
  const auto status = decode_forward_request(span, got);
  const auto want = reference_decode(span);
  FUZZ_CHECK(status.ok() == want.has_value(),
             (status.ok() ? std::string("accepted") : "refused: " + status.error()) + " " + show(bytes));
  ForwardRequest reused;
  FUZZ_CHECK(decode_forward_request(earlier_packet(), reused).ok());
  const auto again = decode_forward_request(span, reused);
  FUZZ_CHECK(again.ok() == status.ok());
  if (!status.ok()) {
    FUZZ_CHECK(status.error().find("FORWARD_REQUEST") != std::string::npos, status.error());
    FUZZ_CHECK(again.error() == status.error());
    return;
  }
  FUZZ_CHECK(classify_request_message(span) == RequestMessage::ForwardRequest);
  check_same(got, *want, false);
  check_same(reused, *want, false);
  check_views(got, payload);

  // Encoded again by httpd's side and decoded: the same request comes back.
  if (!encodable(got)) return;
  std::vector<std::uint8_t> wire(kHeaderSize + 0xFFFF);
  const auto n = encode_forward_request(got, wire);
  if (!n) return;  // a packet over 0xFFFF bytes (coded names grew)
  const auto len = decode_request_packet_header(std::span(wire.data(), kHeaderSize), wire.size());
  FUZZ_CHECK(len.ok() && *len + kHeaderSize == *n);
  const Owned again_payload(std::string_view(reinterpret_cast<const char*>(wire.data() + kHeaderSize), *len));
  ForwardRequest round;
  const auto back = decode_forward_request(std::span(again_payload.bytes(), again_payload.size()), round);
  FUZZ_CHECK(back.ok(), back.ok() ? "" : back.error());
  check_same(round, got, true);
}

void check_body_chunk(std::string_view bytes) {
  const Owned payload(bytes);
  const auto got = decode_request_body_chunk(std::span(payload.bytes(), payload.size()));
  const std::size_t len =
      bytes.size() >= 2 ? std::size_t{static_cast<std::uint8_t>(bytes[0])} << 8 | static_cast<std::uint8_t>(bytes[1])
                        : 0;
  const bool want = bytes.empty() || (bytes.size() >= 2 && len == bytes.size() - 2);
  FUZZ_CHECK(got.ok() == want, show(bytes));
  if (!got.ok()) return;
  FUZZ_CHECK(got->size() == (bytes.empty() ? 0 : bytes.size() - 2));
  FUZZ_CHECK(got->empty() || got->data() == payload.bytes() + 2);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
  if (data[0] & 1) {
    check_body_chunk(rest);
  } else {
    check_forward_request(rest);
  }
  return 0;
}
