// encode_forward_request fed arbitrary request fields. The encoder must refuse exactly what a
// model of the rules (ajp_codec.h) refuses; what it accepts must have the size the model
// computes, a header that decode_packet_header accepts (magic swapped to 'AB') with the right
// length, and read back field by field the way Tomcat reads it (a coded header name is one
// whose first byte is 0xA0), with nothing written past the returned size.
//
// Input: 0x1F-separated fields (a field starting with 0x1E expands, see fuzz_support.h):
//   control, method, protocol, uri, remote_addr, remote_host, server_name, secret, remote_user,
//   auth_type, query_string, route, ssl_cert, ssl_cipher, ssl_session, then name/value pairs:
//   the first control[7] pairs are headers, the rest request attributes. A name field
//   "\x1D" K picks the K-th coded header name (headers) or allowed attribute (attributes).
//   control[0]  output size: low 4 bits index kOutSizes; bit 4: the exact size the model
//               computes minus (bits 5..6), to hit the boundary
//   control[1]  which of remote_host, secret, remote_user, auth_type, query_string, route,
//               ssl_cert, ssl_cipher are set (bits 0..7)
//   control[2]  bit 0 ssl_session set, bit 1 ssl_key_size set, bit 2 is_ssl, bit 3 the method
//               field's first byte picks one of the 27 coded methods
//   control[3..4] server_port, control[5..6] ssl_key_size
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "idmb/ajp_codec.h"

using namespace idmb::ajp;
using fuzz::Fields;
using fuzz::show;

namespace {

constexpr std::array<std::size_t, 16> kOutSizes = {8192, 8192, 8192, 65536, 65536, 16384, 0,      3,
                                                   4,    5,    16,   64,    256,   70000, 131072, 8192};

// The wire format's tables (AJP13 sections 2.4, 2.5) and Tomcat's default attribute allow-list,
// written out here again as the model.
constexpr std::array<std::string_view, 27> kMethods = {
    "OPTIONS",  "GET",        "HEAD",   "POST",        "PUT",    "DELETE", "TRACE",  "PROPFIND",         "PROPPATCH",
    "MKCOL",    "COPY",       "MOVE",   "LOCK",        "UNLOCK", "ACL",    "REPORT", "VERSION-CONTROL",  "CHECKIN",
    "CHECKOUT", "UNCHECKOUT", "SEARCH", "MKWORKSPACE", "UPDATE", "LABEL",  "MERGE",  "BASELINE-CONTROL", "MKACTIVITY"};
constexpr std::array<std::string_view, 14> kRequestHeaders = {
    "accept",     "accept-charset", "accept-encoding", "accept-language", "authorization",
    "connection", "content-type",   "content-length",  "cookie",          "cookie2",
    "host",       "pragma",         "referer",         "user-agent"};
constexpr std::array<std::string_view, 13> kAllowedAttributes = {"AJP_LOCAL_ADDR",
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
                                                                 "jakarta.servlet.request.secure_protocol"};

int model_method_code(std::string_view m) {
  for (std::size_t i = 0; i < kMethods.size(); ++i) {
    if (m == kMethods[i]) return static_cast<int>(i + 1);
  }
  return 0xFF;
}
int model_header_code(std::string_view name) {
  for (std::size_t i = 0; i < kRequestHeaders.size(); ++i) {
    if (fuzz::iequals(name, kRequestHeaders[i])) return 0xA001 + static_cast<int>(i);
  }
  return 0;
}
bool model_allowed(std::string_view name) {
  for (std::string_view a : kAllowedAttributes) {
    if (name == a) return true;
  }
  return false;
}

// Size and validity of the packet the rules describe.
struct Model {
  bool valid = true;
  std::size_t size = kHeaderSize;
  void string(std::string_view s, std::size_t max = 0xFFFE) {
    if (s.size() > max || s.find('\0') != std::string_view::npos) valid = false;
    size += 2 + s.size() + 1;
  }
};

const std::optional<std::string_view>* optional_fields(const ForwardRequest& r, std::size_t i) {
  const std::optional<std::string_view>* all[] = {&r.secret, &r.remote_user, &r.auth_type,  &r.query_string,
                                                  &r.route,  &r.ssl_cert,    &r.ssl_cipher, &r.ssl_session};
  return all[i];
}
constexpr std::uint8_t kOptionalCodes[] = {0x0C, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09};

Model model(const ForwardRequest& r) {
  Model m;
  if (r.method.empty()) m.valid = false;
  m.size += 2;  // type, method
  m.string(r.protocol);
  m.string(r.uri);
  m.string(r.remote_addr);
  if (r.remote_host) {
    m.string(*r.remote_host);
  } else {
    m.size += 2;
  }
  m.string(r.server_name);
  m.size += 2 + 1 + 2;  // port, is_ssl, header count
  for (const Header& h : r.headers) {
    if (model_header_code(h.name) != 0) {
      m.size += 2;
    } else {
      if (h.name.empty()) m.valid = false;
      m.string(h.name, 0x9FFF);
    }
    m.string(h.value);
  }
  for (std::size_t i = 0; i < 8; ++i) {
    if (const auto& v = *optional_fields(r, i)) {
      m.size += 1;
      m.string(*v);
    }
  }
  if (r.ssl_key_size) m.size += 3;
  if (model_method_code(r.method) == 0xFF) {
    m.size += 1;
    m.string(r.method);
  }
  for (const Header& a : r.request_attributes) {
    if (!model_allowed(a.name)) m.valid = false;
    m.size += 1;
    m.string(a.name);
    m.string(a.value);
  }
  m.size += 1;  // 0xFF
  return m;
}

// Reads the packet back the way Tomcat's AjpProcessor does.
class TomcatReader {
 public:
  explicit TomcatReader(std::span<const std::uint8_t> p) : p_(p) {}
  std::uint8_t u8() {
    FUZZ_CHECK(pos_ < p_.size(), "read past the packet");
    return p_[pos_++];
  }
  std::uint16_t u16() {
    const std::uint16_t hi = u8();
    return static_cast<std::uint16_t>(hi << 8 | u8());
  }
  std::uint16_t peek16() const {
    FUZZ_CHECK(pos_ + 2 <= p_.size(), "peek past the packet");
    return static_cast<std::uint16_t>(p_[pos_] << 8 | p_[pos_ + 1]);
  }
  // nullopt for the null string (0xFFFF).
  std::optional<std::string_view> string() {
    const std::uint16_t len = u16();
    if (len == 0xFFFF) return std::nullopt;
    FUZZ_CHECK(pos_ + len + 1 <= p_.size(), "string past the packet");
    std::string_view s(reinterpret_cast<const char*>(p_.data() + pos_), len);
    pos_ += len;
    FUZZ_CHECK(u8() == 0, "string without its NUL");
    return s;
  }
  void expect_string(std::string_view want, const char* what) {
    const auto got = string();
    FUZZ_CHECK(got && *got == want, std::string(what) + ": " + (got ? show(*got) : "null") + " vs " + show(want));
  }
  bool at_end() const { return pos_ == p_.size(); }

 private:
  std::span<const std::uint8_t> p_;
  std::size_t pos_ = 0;
};

void read_back(const ForwardRequest& r, std::span<const std::uint8_t> packet, std::size_t buffer_size) {
  // The length must be what decode_packet_header reads from the same four bytes (with the
  // container's magic), against the buffer the packet was written into.
  std::array<std::uint8_t, 4> header = {0x41, 0x42, packet[2], packet[3]};
  FUZZ_CHECK(packet[0] == 0x12 && packet[1] == 0x34, "magic");
  const auto len = decode_packet_header(header, buffer_size);
  FUZZ_CHECK(len.ok(), "decode_packet_header refused the encoder's header: " + (len.ok() ? "" : len.error()));
  FUZZ_CHECK(*len == packet.size() - kHeaderSize,
             "length field " + std::to_string(*len) + " for " + std::to_string(packet.size()) + " bytes");

  TomcatReader t(packet.subspan(kHeaderSize));
  FUZZ_CHECK(t.u8() == 0x02, "not FORWARD_REQUEST");
  const int method = model_method_code(r.method);
  FUZZ_CHECK(t.u8() == method, "method code");
  t.expect_string(r.protocol, "protocol");
  t.expect_string(r.uri, "uri");
  t.expect_string(r.remote_addr, "remote_addr");
  const auto host = t.string();
  FUZZ_CHECK(host.has_value() == r.remote_host.has_value() && (!host || *host == *r.remote_host), "remote_host");
  t.expect_string(r.server_name, "server_name");
  FUZZ_CHECK(t.u16() == r.server_port, "port");
  FUZZ_CHECK(t.u8() == (r.is_ssl ? 1 : 0), "is_ssl");
  FUZZ_CHECK(t.u16() == r.headers.size(), "header count");
  for (const Header& h : r.headers) {
    const std::uint16_t peek = t.peek16();
    if ((peek >> 8) == 0xA0) {
      FUZZ_CHECK(model_header_code(h.name) == peek, "header " + show(h.name) + " sent as code " + std::to_string(peek));
      t.u16();
    } else {
      FUZZ_CHECK(model_header_code(h.name) == 0, "codable header " + show(h.name) + " sent literally");
      t.expect_string(h.name, "header name");
    }
    t.expect_string(h.value, "header value");
  }
  for (std::size_t i = 0; i < 8; ++i) {
    if (const auto& v = *optional_fields(r, i)) {
      FUZZ_CHECK(t.u8() == kOptionalCodes[i], "attribute code");
      t.expect_string(*v, "attribute value");
    }
  }
  if (r.ssl_key_size) {
    FUZZ_CHECK(t.u8() == 0x0B);
    FUZZ_CHECK(t.u16() == *r.ssl_key_size);
  }
  if (method == 0xFF) {
    FUZZ_CHECK(t.u8() == 0x0D, "stored method attribute");
    t.expect_string(r.method, "stored method");
  }
  for (const Header& a : r.request_attributes) {
    FUZZ_CHECK(t.u8() == 0x0A, "req_attribute code");
    t.expect_string(a.name, "req_attribute name");
    t.expect_string(a.value, "req_attribute value");
  }
  FUZZ_CHECK(t.u8() == 0xFF, "are_done");
  FUZZ_CHECK(t.at_end(), "bytes after are_done");
}

// A name field "\x1D" K picks entry K of `table`, in the case pattern of the next bytes.
template <std::size_t N>
std::string pick_name(std::string_view field, const std::array<std::string_view, N>& table, bool vary_case) {
  if (field.size() < 2 || field[0] != '\x1D') return fuzz::expand(field);
  std::string name(table[static_cast<std::uint8_t>(field[1]) % N]);
  if (vary_case) {
    for (std::size_t i = 0; i < name.size(); ++i) {
      const std::uint8_t bits = Fields::byte(field, 2 + i / 8);
      if (bits & (1u << (i % 8))) name[i] = fuzz::ascii_upper(name[i]);
    }
  }
  return name;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fields fields(data, size);
  fuzz::Arena arena;
  auto next = [&] { return arena.keep_string(fuzz::expand(fields.next())); };

  const std::string_view control = fields.next();
  const std::uint8_t out_sel = Fields::byte(control, 0);
  const std::uint8_t present = Fields::byte(control, 1);
  const std::uint8_t flags = Fields::byte(control, 2);

  ForwardRequest r;
  const std::string_view method_field = fields.next();
  if ((flags & 8) && !method_field.empty()) {
    r.method = kMethods[static_cast<std::uint8_t>(method_field[0]) % kMethods.size()];
  } else {
    r.method = arena.keep_string(fuzz::expand(method_field));
  }
  r.protocol = next();
  r.uri = next();
  r.remote_addr = next();
  const std::string_view remote_host = next();
  if (present & 1) r.remote_host = remote_host;
  r.server_name = next();
  std::optional<std::string_view>* optional[] = {&r.secret, &r.remote_user, &r.auth_type,  &r.query_string,
                                                 &r.route,  &r.ssl_cert,    &r.ssl_cipher, &r.ssl_session};
  for (std::size_t i = 0; i < 8; ++i) {
    const std::string_view v = next();
    const bool set = i < 7 ? (present >> (i + 1)) & 1 : flags & 1;
    if (set) *optional[i] = v;
  }
  r.server_port = Fields::u16(control, 3);
  if (flags & 2) r.ssl_key_size = Fields::u16(control, 5);
  r.is_ssl = flags & 4;
  const std::size_t header_count = Fields::byte(control, 7);
  while (!fields.done() && r.headers.size() + r.request_attributes.size() < 1000) {
    const bool is_header = r.headers.size() < header_count;
    const std::string_view name_field = fields.next();
    const std::string_view name = arena.keep_string(is_header ? pick_name(name_field, kRequestHeaders, true)
                                                              : pick_name(name_field, kAllowedAttributes, false));
    const std::string_view value = next();
    (is_header ? r.headers : r.request_attributes).push_back(Header{name, value});
  }

  const Model m = model(r);
  std::size_t out_size = kOutSizes[out_sel & 15];
  if (out_sel & 0x10) {
    const std::size_t minus = (out_sel >> 5) & 3;
    out_size = m.size > minus ? m.size - minus : 0;
  }
  // Exactly out_size bytes on the heap, so ASan sees a write past the packet.
  std::vector<std::uint8_t> out(out_size, 0xEE);
  const auto got = encode_forward_request(r, std::span(out.data(), out.size()));

  const bool expected = m.valid && m.size <= out_size && m.size - kHeaderSize <= 0xFFFF;
  FUZZ_CHECK(got.ok() == expected,
             std::string(got.ok() ? "encoder accepted" : "encoder refused (" + got.error() + ")") +
                 "; model: " + (m.valid ? "valid" : "invalid") + ", " + std::to_string(m.size) + " bytes into " +
                 std::to_string(out_size));
  if (!got.ok()) {
    FUZZ_CHECK(!got.error().empty());
    return 0;
  }
  FUZZ_CHECK(*got == m.size, "returned " + std::to_string(*got) + ", model " + std::to_string(m.size));
  // Every byte after the packet is still 0xEE (the first one is, and each equals the next).
  const std::size_t tail = out.size() - *got;
  FUZZ_CHECK(tail == 0 || (out[*got] == 0xEE && std::memcmp(out.data() + *got, out.data() + *got + 1, tail - 1) == 0),
             "byte written past the packet");
  read_back(r, std::span<const std::uint8_t>(out.data(), *got), out.size());
  return 0;
}
