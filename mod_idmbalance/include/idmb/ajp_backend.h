// AJP 1.3 codec, container side: decodes what httpd sends to Tomcat and encodes what Tomcat
// answers. The mirror of ajp_codec.h, for AJP backends written in C++ (the benchmark's instant
// backend, test doubles). Pure functions over byte spans (fuzzable); decoded views point into
// the payload they were decoded from. Wire format: shared/reference/AJP13_AND_PROXY.md part 2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "idmb/ajp_codec.h"
#include "idmb/expected.h"

namespace idmb::ajp {

// Container->server packet overheads: 'AB' + len(2), then the message.
inline constexpr std::size_t kSendBodyChunkOverhead = 8;  // 'AB' len(2) 03 len(2) ... 00
inline constexpr std::size_t kEndResponseSize = 6;        // 'AB' 00 02 05 reuse
inline constexpr std::size_t kGetBodyChunkSize = 7;       // 'AB' 00 03 06 len(2)
inline constexpr std::size_t kCpongSize = 5;              // 'AB' 00 01 09

// Largest response-body slice one packet can carry (8184 for 8192).
constexpr std::size_t max_response_body_chunk(std::size_t packet_size) { return packet_size - kSendBodyChunkOverhead; }

// The HTTP method for an AJP method code (1..27), or empty for an unknown code. 0xFF
// (kStoredMethod) is not a method: its name travels in attribute 0x0D.
std::string_view method_name(std::uint8_t code);

// The canonical (lower-case) request header name for a 0xA0xx code, or empty if unknown.
std::string_view request_header_name(std::uint16_t code);

// Validates a server->container packet header (0x1234 magic) and returns the payload length,
// 0..packet_size-4 (0 is the empty body packet some front ends send).
Expected<std::uint16_t> decode_request_packet_header(std::span<const std::uint8_t> header, std::size_t packet_size);

// What a server->container payload is, by its first byte. A body packet carries no type: only
// the exchange state (a FORWARD_REQUEST with a body, a GET_BODY_CHUNK sent) tells it apart.
enum class RequestMessage { ForwardRequest, Cping, Shutdown, Unknown };
RequestMessage classify_request_message(std::span<const std::uint8_t> payload);

// Decodes a FORWARD_REQUEST payload (type byte 0x02 first) into `out`, which is cleared first
// and keeps its vectors' capacity (a backend can reuse one object per connection). Every field
// is bounded by the payload: truncation, an unterminated string, an unknown method, header or
// attribute code, a stored-method code without its 0x0D name (or a 0x0D with another code),
// a missing 0xFF terminator and trailing bytes after it are errors. Null strings decode as
// empty, except remote_host, which stays unset. On error `out` is left partly filled. The
// strings in `out` point into `payload`, which must outlive them.
Status decode_forward_request(std::span<const std::uint8_t> payload, ForwardRequest& out);

// A request-body packet's data: len(2) then len bytes, len == payload size - 2. An empty
// payload (length-0 packet) and len 0 both mean the body has ended.
Expected<std::span<const std::uint8_t>> decode_request_body_chunk(std::span<const std::uint8_t> payload);

// Encodes SEND_HEADERS (header included) into `out`, whose size is the packet size. Header
// names that have a response code (Content-Type, Set-Cookie, ...; case-insensitive) are sent
// coded, others literally. Fails if it does not fit, the status is not 100..999, a string is
// >= 0xFFFF bytes or holds a NUL, or a name is empty. Returns the number of bytes written.
Expected<std::size_t> encode_send_headers(const SendHeaders& head, std::span<std::uint8_t> out);

// SEND_BODY_CHUNK with `data` (at most max_response_body_chunk(out.size()) bytes, else an
// error; `data` may alias nothing in `out`). Returns data.size() + kSendBodyChunkOverhead.
Expected<std::size_t> encode_send_body_chunk(std::span<const std::uint8_t> data, std::span<std::uint8_t> out);

// END_RESPONSE, GET_BODY_CHUNK and CPONG: `out` must hold kEndResponseSize, kGetBodyChunkSize
// and kCpongSize bytes (a caller bug otherwise: 0 is returned and nothing written). The
// returned size is that constant.
std::size_t encode_end_response(bool reuse, std::span<std::uint8_t> out);
std::size_t encode_get_body_chunk(std::uint16_t requested, std::span<std::uint8_t> out);
std::size_t encode_cpong(std::span<std::uint8_t> out);

}  // namespace idmb::ajp
