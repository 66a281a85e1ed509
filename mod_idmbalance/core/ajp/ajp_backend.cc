// AJP13, container side: decoding FORWARD_REQUEST and request-body packets, encoding
// SEND_HEADERS, SEND_BODY_CHUNK, END_RESPONSE, GET_BODY_CHUNK and CPONG. Every read is
// bounded by the received payload, as in ajp_decode.cc.
#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>

#include "../util/ascii.h"
#include "ajp_reader.h"
#include "ajp_wire.h"
#include "idmb/ajp_backend.h"

namespace idmb::ajp {
namespace {

constexpr std::uint8_t kAttrContext = 0x01;      // read and ignored, as Tomcat does
constexpr std::uint8_t kAttrServletPath = 0x02;  // read and ignored, as Tomcat does
constexpr std::uint8_t kShutdown = 0x07;
constexpr std::size_t kMaxString = wire::kNullString - 1;
constexpr std::size_t kMaxLiteralHeaderName = 0xA000 - 1;

std::string num(std::size_t v) { return std::to_string(v); }

std::string hex(unsigned v, int digits) {
  char buf[12];
  std::snprintf(buf, sizeof buf, "0x%0*X", digits, v);
  return buf;
}

// 0xA0xx for a response header with a code (case-insensitive), else 0.
std::uint16_t response_header_code(std::string_view name) {
  for (std::uint8_t low = 1;; ++low) {
    std::string_view known = wire::response_header_name(low);
    if (known.empty()) return 0;
    if (ascii::iequals(name, known)) return static_cast<std::uint16_t>((wire::kHeaderCodePrefix << 8) | low);
  }
}

using wire::Reader;

// The error text of a failed string read, or nullptr; a null string reads as empty.
const char* read_string(Reader& r, std::string_view& s, bool* is_null = nullptr) {
  const Reader::Str got = r.string(s);
  if (is_null != nullptr) *is_null = got == Reader::Str::Null;
  switch (got) {
    case Reader::Str::Truncated: return "truncated";
    case Reader::Str::Unterminated: return "not NUL-terminated";
    default: return nullptr;
  }
}

Error field_error(const char* problem, const std::string& where) {
  return fail(std::string("FORWARD_REQUEST ") + where + " " + problem);
}

// Writes after the 4-byte header; past the end of `out` it only counts (for the error text).
class Writer {
 public:
  explicit Writer(std::span<std::uint8_t> out) : out_(out) {}

  void byte(std::uint8_t b) {
    if (pos_ < out_.size()) out_[pos_] = b;
    ++pos_;
  }
  void u16(std::uint16_t v) {
    byte(static_cast<std::uint8_t>(v >> 8));
    byte(static_cast<std::uint8_t>(v & 0xFF));
  }
  // The caller checked the length and the NUL.
  void string(std::string_view s) {
    u16(static_cast<std::uint16_t>(s.size()));
    // Not for an empty view: its data() may be null, which memcpy must not get.
    if (!s.empty() && pos_ + s.size() <= out_.size()) std::memcpy(out_.data() + pos_, s.data(), s.size());
    pos_ += s.size();
    byte(0);
  }
  std::size_t size() const { return pos_; }

 private:
  std::span<std::uint8_t> out_;
  std::size_t pos_ = kHeaderSize;
};

bool string_ok(std::string_view s, std::size_t max = kMaxString) {
  return s.size() <= max && s.find('\0') == std::string_view::npos;  // memchr must not get an empty view's null data()
}

Status check_string(std::string_view s, const std::string& what, std::size_t max = kMaxString) {
  if (s.size() > max) return fail(what + " is " + num(s.size()) + " bytes (max " + num(max) + ")");
  if (s.find('\0') != std::string_view::npos) return fail(what + " contains a NUL byte");
  return Ok{};
}

void put_container_header(std::span<std::uint8_t> out, std::size_t payload) {
  out[0] = wire::kFromContainer0;
  out[1] = wire::kFromContainer1;
  wire::put_u16(out.data() + 2, static_cast<std::uint16_t>(payload));
}

}  // namespace

std::string_view method_name(std::uint8_t code) {
  if (code == 0 || code > wire::kMethods.size()) return {};
  return wire::kMethods[code - 1];
}

std::string_view request_header_name(std::uint16_t code) {
  if ((code >> 8) != wire::kHeaderCodePrefix) return {};
  const std::size_t low = code & 0xFF;
  if (low == 0 || low > wire::kRequestHeaders.size()) return {};
  return wire::kRequestHeaders[low - 1];
}

Expected<std::uint16_t> decode_request_packet_header(std::span<const std::uint8_t> header, std::size_t packet_size) {
  if (header.size() < kHeaderSize) return fail("AJP packet header truncated (" + num(header.size()) + " bytes)");
  if (header[0] != wire::kToContainer0 || header[1] != wire::kToContainer1) {
    return fail("bad AJP packet magic " + hex(wire::get_u16(header.data()), 4) + " (expected 0x1234)");
  }
  const std::uint16_t len = wire::get_u16(header.data() + 2);
  if (packet_size < kHeaderSize || len > packet_size - kHeaderSize) {
    return fail("AJP packet length " + num(len) + " exceeds packet size " + num(packet_size));
  }
  return len;
}

RequestMessage classify_request_message(std::span<const std::uint8_t> payload) {
  if (payload.empty()) return RequestMessage::Unknown;
  switch (payload[0]) {
    case wire::kForwardRequest: return RequestMessage::ForwardRequest;
    case wire::kCping: return payload.size() == 1 ? RequestMessage::Cping : RequestMessage::Unknown;
    case kShutdown: return RequestMessage::Shutdown;
    default: return RequestMessage::Unknown;
  }
}

namespace {

void reset(ForwardRequest& out) {
  out.method = out.protocol = out.uri = out.remote_addr = out.server_name = {};
  out.remote_host.reset();
  out.server_port = 0;
  out.is_ssl = false;
  out.headers.clear();
  out.secret.reset();
  out.remote_user.reset();
  out.auth_type.reset();
  out.query_string.reset();
  out.route.reset();
  out.ssl_cert.reset();
  out.ssl_cipher.reset();
  out.ssl_session.reset();
  out.ssl_key_size.reset();
  out.request_attributes.clear();
}

// Prefix code, method, the request line's strings, server port and is_ssl.
Status decode_fixed_fields(Reader& r, ForwardRequest& out, std::uint8_t& method) {
  std::uint8_t type = 0;
  if (!r.u8(type) || type != wire::kForwardRequest) return fail("not a FORWARD_REQUEST");
  if (!r.u8(method)) return fail("FORWARD_REQUEST truncated in method");
  if (method != kStoredMethod) {
    out.method = method_name(method);
    if (out.method.empty()) return fail("FORWARD_REQUEST has unknown method code " + num(method));
  }
  struct Required {
    std::string_view* field;
    const char* name;
  };
  for (auto [field, name] : {Required{&out.protocol, "protocol"}, Required{&out.uri, "request URI"},
                             Required{&out.remote_addr, "remote_addr"}}) {
    if (const char* e = read_string(r, *field)) return field_error(e, name);
  }
  std::string_view host;
  bool host_null = false;
  if (const char* e = read_string(r, host, &host_null)) return field_error(e, "remote_host");
  if (!host_null) out.remote_host = host;
  if (const char* e = read_string(r, out.server_name)) return field_error(e, "server_name");
  if (!r.u16(out.server_port)) return fail("FORWARD_REQUEST truncated in server_port");
  std::uint8_t ssl = 0;
  if (!r.u8(ssl)) return fail("FORWARD_REQUEST truncated in is_ssl");
  out.is_ssl = ssl != 0;
  return Ok{};
}

Status decode_headers(Reader& r, ForwardRequest& out) {
  std::uint16_t count = 0;
  if (!r.u16(count)) return fail("FORWARD_REQUEST truncated in header count");
  // Each header takes at least 4 bytes (code + null value): a lying count reserves no more.
  out.headers.reserve(std::min<std::size_t>(count, r.remaining() / 4));
  for (std::size_t i = 1; i <= count; ++i) {
    Header h;
    std::uint16_t peek = 0;
    if (!r.peek_u16(peek)) return field_error("truncated", "header " + num(i) + " name");
    if ((peek >> 8) == wire::kHeaderCodePrefix) {
      h.name = request_header_name(peek);
      if (h.name.empty()) return fail("FORWARD_REQUEST header " + num(i) + " has unknown code " + hex(peek, 4));
      r.u16(peek);
    } else if (const char* e = read_string(r, h.name)) {
      return field_error(e, "header " + num(i) + " name");
    }
    if (const char* e = read_string(r, h.value)) return field_error(e, "header " + num(i) + " value");
    out.headers.push_back(h);
  }
  return Ok{};
}

// The field a plain string attribute fills and its name for errors; nullptr for other codes.
std::optional<std::string_view>* string_attribute(ForwardRequest& out, std::uint8_t code, const char*& name) {
  switch (code) {
    case wire::kAttrSecret: name = "secret"; return &out.secret;
    case wire::kAttrRemoteUser: name = "remote_user"; return &out.remote_user;
    case wire::kAttrAuthType: name = "auth_type"; return &out.auth_type;
    case wire::kAttrQueryString: name = "query string"; return &out.query_string;
    case wire::kAttrRoute: name = "route"; return &out.route;
    case wire::kAttrSslCert: name = "ssl_cert"; return &out.ssl_cert;
    case wire::kAttrSslCipher: name = "ssl_cipher"; return &out.ssl_cipher;
    case wire::kAttrSslSession: name = "ssl_session"; return &out.ssl_session;
    default: return nullptr;
  }
}

// The attributes that are not one plain string.
Status decode_other_attribute(Reader& r, ForwardRequest& out, std::uint8_t code, std::uint8_t method) {
  switch (code) {
    case wire::kAttrSslKeySize: {
      std::uint16_t size = 0;
      if (!r.u16(size)) return fail("FORWARD_REQUEST truncated in ssl_key_size");
      out.ssl_key_size = size;
      return Ok{};
    }
    case wire::kAttrStoredMethod:
      if (method != kStoredMethod) return fail("FORWARD_REQUEST has a stored method with method code " + num(method));
      if (const char* e = read_string(r, out.method)) return field_error(e, "stored method");
      return Ok{};
    case wire::kAttrReqAttribute: {
      Header a;
      if (const char* e = read_string(r, a.name)) return field_error(e, "request attribute name");
      if (const char* e = read_string(r, a.value)) return field_error(e, "request attribute value");
      out.request_attributes.push_back(a);
      return Ok{};
    }
    case kAttrContext:
    case kAttrServletPath: {
      std::string_view ignored;
      if (const char* e = read_string(r, ignored))
        return field_error(e, code == kAttrContext ? "context" : "servlet_path");
      return Ok{};
    }
    default: return fail("FORWARD_REQUEST has unknown attribute code " + hex(code, 2));
  }
}

// Attributes up to and including the 0xFF terminator.
Status decode_attributes(Reader& r, ForwardRequest& out, std::uint8_t method) {
  for (;;) {
    std::uint8_t code = 0;
    if (!r.u8(code)) return fail("FORWARD_REQUEST truncated before the 0xFF terminator");
    if (code == wire::kAttrAreDone) return Ok{};
    const char* name = nullptr;
    if (std::optional<std::string_view>* slot = string_attribute(out, code, name)) {
      std::string_view value;
      if (const char* e = read_string(r, value)) return field_error(e, name);
      *slot = value;
    } else if (Status s = decode_other_attribute(r, out, code, method); !s) {
      return s;
    }
  }
}

}  // namespace

Status decode_forward_request(std::span<const std::uint8_t> payload, ForwardRequest& out) {
  reset(out);
  Reader r(payload);
  std::uint8_t method = 0;
  if (Status s = decode_fixed_fields(r, out, method); !s) return s;
  if (Status s = decode_headers(r, out); !s) return s;
  if (Status s = decode_attributes(r, out, method); !s) return s;
  if (r.remaining() != 0) return fail("FORWARD_REQUEST has " + num(r.remaining()) + " trailing bytes after 0xFF");
  if (method == kStoredMethod && out.method.empty()) return fail("FORWARD_REQUEST stored method code without its name");
  return Ok{};
}

Expected<std::span<const std::uint8_t>> decode_request_body_chunk(std::span<const std::uint8_t> payload) {
  if (payload.empty()) return payload;
  if (payload.size() < 2) return fail("request body packet truncated (" + num(payload.size()) + " bytes)");
  const std::size_t len = wire::get_u16(payload.data());
  if (len != payload.size() - 2) {
    return fail("request body chunk length " + num(len) + " does not match payload length " + num(payload.size()));
  }
  return payload.subspan(2);
}

Expected<std::size_t> encode_send_headers(const SendHeaders& head, std::span<std::uint8_t> out) {
  if (head.status < 100 || head.status > 999) return fail("SEND_HEADERS status " + num(head.status) + " out of range");
  if (head.headers.size() > 0xFFFF) return fail("too many response headers: " + num(head.headers.size()));
  if (auto s = check_string(head.reason, "reason"); !s) return Error{s.error()};
  // Error texts are built only on failure: a backend encodes a head per request.
  auto where = [](std::size_t i, const char* part) { return "response header " + num(i + 1) + part; };
  Writer w(out);
  w.byte(wire::kSendHeaders);
  w.u16(head.status);
  w.string(head.reason);
  w.u16(static_cast<std::uint16_t>(head.headers.size()));
  for (std::size_t i = 0; i < head.headers.size(); ++i) {
    const Header& h = head.headers[i];
    if (std::uint16_t code = response_header_code(h.name); code != 0) {
      w.u16(code);
    } else {
      if (h.name.empty()) return fail(where(i, " has an empty name"));
      if (!string_ok(h.name, kMaxLiteralHeaderName))
        return Error{check_string(h.name, where(i, " name"), kMaxLiteralHeaderName).error()};
      w.string(h.name);
    }
    if (!string_ok(h.value)) return Error{check_string(h.value, where(i, " value")).error()};
    w.string(h.value);
  }
  if (w.size() > out.size()) {
    return fail("SEND_HEADERS needs " + num(w.size()) + " bytes but the AJP packet size is " + num(out.size()));
  }
  put_container_header(out, w.size() - kHeaderSize);
  return w.size();
}

Expected<std::size_t> encode_send_body_chunk(std::span<const std::uint8_t> data, std::span<std::uint8_t> out) {
  if (out.size() < kSendBodyChunkOverhead || data.size() > max_response_body_chunk(out.size()) ||
      data.size() > max_response_body_chunk(kMaxPacketSize)) {
    return fail("SEND_BODY_CHUNK of " + num(data.size()) + " bytes does not fit a " + num(out.size()) + "-byte packet");
  }
  put_container_header(out, data.size() + 4);
  out[4] = wire::kSendBodyChunk;
  wire::put_u16(out.data() + 5, static_cast<std::uint16_t>(data.size()));
  if (!data.empty()) std::memcpy(out.data() + 7, data.data(), data.size());
  out[7 + data.size()] = 0;
  return data.size() + kSendBodyChunkOverhead;
}

std::size_t encode_end_response(bool reuse, std::span<std::uint8_t> out) {
  if (out.size() < kEndResponseSize) return 0;
  put_container_header(out, 2);
  out[4] = wire::kEndResponse;
  out[5] = reuse ? 1 : 0;
  return kEndResponseSize;
}

std::size_t encode_get_body_chunk(std::uint16_t requested, std::span<std::uint8_t> out) {
  if (out.size() < kGetBodyChunkSize) return 0;
  put_container_header(out, 3);
  out[4] = wire::kGetBodyChunk;
  wire::put_u16(out.data() + 5, requested);
  return kGetBodyChunkSize;
}

std::size_t encode_cpong(std::span<std::uint8_t> out) {
  if (out.size() < kCpongSize) return 0;
  put_container_header(out, 1);
  out[4] = wire::kCpong;
  return kCpongSize;
}

}  // namespace idmb::ajp
