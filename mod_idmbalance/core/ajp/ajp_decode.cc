// AJP13 decoding of what Tomcat sends: packet headers and the five container->server messages.
// Every read is bounded by the received payload (the CVE-2026-28780 class of bugs is exactly
// a length field trusted beyond the buffer).
#include <algorithm>
#include <cstdio>
#include <cstring>
#include <string>

#include "ajp_reader.h"
#include "ajp_wire.h"
#include "idmb/ajp_codec.h"

namespace idmb::ajp {
namespace {

std::string hex16(std::uint16_t v) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "0x%04X", static_cast<unsigned>(v));
  return buf;
}

std::string num(std::size_t v) { return std::to_string(v); }

// CR/LF would split a header when httpd writes it out; NUL would truncate it in C code.
bool has_forbidden_byte(std::string_view s) {
  for (char c : s) {
    if (c == '\r' || c == '\n' || c == '\0') return true;
  }
  return false;
}

using wire::Reader;
using wire::string_failed;

// Names a SEND_HEADERS field for an error, e.g. "header 3 value"; built only on failure so
// the success path allocates nothing but the headers vector.
std::string header_field(std::size_t i, const char* part) { return "header " + num(i) + " " + part; }

Error string_error(Reader::Str r, const std::string& where) {
  if (r == Reader::Str::Truncated) return fail("SEND_HEADERS truncated in " + where);
  return fail("SEND_HEADERS " + where + " not NUL-terminated");
}

Expected<Message> decode_send_headers(std::span<const std::uint8_t> payload, HeadCheck check) {
  Reader r(payload.subspan(1));
  SendHeaders out;

  if (!r.u16(out.status)) return fail("SEND_HEADERS truncated in status");

  // Tomcat always sends a reason (the numeric status); null is tolerated as empty.
  if (Reader::Str rs = r.string(out.reason); string_failed(rs)) return string_error(rs, "reason");

  std::uint16_t count;
  if (!r.u16(count)) return fail("SEND_HEADERS truncated in header count");
  // Each header takes at least 4 bytes (code + null value), so a lying count cannot make us
  // reserve more than the payload justifies.
  out.headers.reserve(std::min<std::size_t>(count, r.remaining() / 4));

  for (std::size_t i = 1; i <= count; ++i) {
    Header h;

    std::uint16_t peek;
    if (!r.peek_u16(peek)) return fail("SEND_HEADERS truncated in " + header_field(i, "name"));
    if ((peek >> 8) == wire::kHeaderCodePrefix) {
      h.name = wire::response_header_name(static_cast<std::uint8_t>(peek & 0xFF));
      if (h.name.empty()) return fail("SEND_HEADERS " + header_field(i, "has unknown code ") + hex16(peek));
      r.u16(peek);
    } else {
      if (Reader::Str ns = r.string(h.name); string_failed(ns)) return string_error(ns, header_field(i, "name"));
    }

    // A null value is read as empty, like the reason.
    if (Reader::Str vs = r.string(h.value); string_failed(vs)) return string_error(vs, header_field(i, "value"));

    out.headers.push_back(h);
  }

  // Extra bytes mean the sender and we disagree on the layout: do not guess.
  if (r.remaining() != 0) {
    return fail("SEND_HEADERS has " + num(r.remaining()) + " trailing bytes after " + num(count) + " headers");
  }
  if (check == HeadCheck::Strict) {
    if (auto head = check_response_head(out); !head) return Error{head.error()};
  }
  return Message{std::move(out)};
}

Expected<Message> decode_body_chunk(std::span<const std::uint8_t> payload) {
  // 03 | len(2) | data | 00: Tomcat always sends the trailing byte, and httpd requires
  // len == payload - 4 exactly; anything else is a framing error.
  if (payload.size() < 4) return fail("SEND_BODY_CHUNK truncated (" + num(payload.size()) + " bytes)");
  const std::size_t len = wire::get_u16(payload.data() + 1);
  if (len != payload.size() - 4) {
    return fail("SEND_BODY_CHUNK length " + num(len) + " does not match payload length " + num(payload.size()));
  }
  if (payload.back() != 0) return fail("SEND_BODY_CHUNK missing trailing NUL");
  return Message{BodyChunk{payload.subspan(3, len)}};
}

Expected<Message> decode_end_response(std::span<const std::uint8_t> payload) {
  if (payload.size() != 2) return fail("END_RESPONSE payload is " + num(payload.size()) + " bytes, expected 2");
  // Only an explicit 1 allows reuse; Tomcat sends 0 after an error.
  return Message{EndResponse{payload[1] == 1}};
}

Expected<Message> decode_get_body_chunk(std::span<const std::uint8_t> payload) {
  if (payload.size() != 3) return fail("GET_BODY_CHUNK payload is " + num(payload.size()) + " bytes, expected 3");
  return Message{GetBodyChunk{wire::get_u16(payload.data() + 1)}};
}

}  // namespace

Expected<std::uint16_t> decode_packet_header(std::span<const std::uint8_t> header, std::size_t packet_size) {
  if (header.size() < kHeaderSize) return fail("AJP packet header truncated (" + num(header.size()) + " bytes)");
  if (header[0] != wire::kFromContainer0 || header[1] != wire::kFromContainer1) {
    return fail("bad AJP packet magic " + hex16(wire::get_u16(header.data())) + " (expected 0x4142 'AB')");
  }
  const std::uint16_t len = wire::get_u16(header.data() + 2);
  if (len == 0) return fail("empty AJP packet (length 0)");
  // The reader's buffer is packet_size bytes and holds the header too.
  if (packet_size < kHeaderSize || len > packet_size - kHeaderSize) {
    return fail("AJP packet length " + num(len) + " exceeds packet size " + num(packet_size));
  }
  return len;
}

Status check_response_head(const SendHeaders& head) {
  if (head.status < 100 || head.status > 999) return fail("SEND_HEADERS status " + num(head.status) + " out of range");
  if (has_forbidden_byte(head.reason)) return fail("SEND_HEADERS reason contains CR, LF or NUL");
  for (std::size_t i = 1; i <= head.headers.size(); ++i) {
    const Header& h = head.headers[i - 1];
    if (h.name.empty()) return fail("SEND_HEADERS " + header_field(i, "has an empty name"));
    if (has_forbidden_byte(h.name)) return fail("SEND_HEADERS " + header_field(i, "name contains CR, LF or NUL"));
    if (has_forbidden_byte(h.value)) return fail("SEND_HEADERS " + header_field(i, "value contains CR, LF or NUL"));
  }
  return Ok{};
}

Expected<Message> decode_message(std::span<const std::uint8_t> payload, HeadCheck check) {
  if (payload.empty()) return fail("empty AJP message");
  switch (payload[0]) {
    case wire::kSendBodyChunk: return decode_body_chunk(payload);
    case wire::kSendHeaders: return decode_send_headers(payload, check);
    case wire::kEndResponse: return decode_end_response(payload);
    case wire::kGetBodyChunk: return decode_get_body_chunk(payload);
    case wire::kCpong:
      if (payload.size() != 1) return fail("CPONG payload is " + num(payload.size()) + " bytes, expected 1");
      return Message{Cpong{}};
    default: return fail("unknown AJP message type " + num(payload[0]));
  }
}

}  // namespace idmb::ajp
