// AJP 1.3 codec: encodes what httpd sends to Tomcat, decodes what Tomcat answers.
// Pure functions over byte spans (fuzzable). Wire format: shared/reference/AJP13_AND_PROXY.md part 2.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "idmb/expected.h"

namespace idmb::ajp {

inline constexpr std::size_t kHeaderSize = 4;         // magic(2) + length(2)
inline constexpr std::size_t kMinPacketSize = 8192;   // Tomcat's default packetSize
inline constexpr std::size_t kMaxPacketSize = 65536;  // length field is 16 bits
inline constexpr std::size_t kBodyChunkOverhead = 6;  // 0x1234 + len(2) + chunk len(2)
inline constexpr std::uint8_t kStoredMethod = 0xFF;   // real name goes in attribute 0x0D

// Largest request-body slice one packet can carry (8186 for 8192).
constexpr std::size_t max_request_body_chunk(std::size_t packet_size) { return packet_size - kBodyChunkOverhead; }

// AJP method code for an HTTP method (case-sensitive, as HTTP methods are), or kStoredMethod.
std::uint8_t method_code(std::string_view method);

// Two-byte code for a request header name (case-insensitive), or 0 if it has none.
std::uint16_t request_header_code(std::string_view name);

// True if Tomcat's AJP connector accepts this req_attribute (0x0A) name without configuration.
bool is_allowed_request_attribute(std::string_view name);

struct Header {
  std::string_view name;
  std::string_view value;
};

// Everything FORWARD_REQUEST carries. Optional attributes are sent only when set.
struct ForwardRequest {
  std::string_view method;    // "GET", "PATCH", ...
  std::string_view protocol;  // "HTTP/1.1"
  std::string_view uri;       // %-encoded path, no query
  std::string_view remote_addr;
  std::optional<std::string_view> remote_host;  // null on the wire when unset
  std::string_view server_name;
  std::uint16_t server_port = 0;
  bool is_ssl = false;
  std::vector<Header> headers;

  std::optional<std::string_view> secret;        // 0x0C
  std::optional<std::string_view> remote_user;   // 0x03
  std::optional<std::string_view> auth_type;     // 0x04
  std::optional<std::string_view> query_string;  // 0x05
  std::optional<std::string_view> route;         // 0x06
  std::optional<std::string_view> ssl_cert;      // 0x07, PEM chain
  std::optional<std::string_view> ssl_cipher;    // 0x08
  std::optional<std::string_view> ssl_session;   // 0x09
  std::optional<std::uint16_t> ssl_key_size;     // 0x0B, a 2-byte int, not a string
  std::vector<Header> request_attributes;        // 0x0A name/value; names must pass is_allowed_request_attribute
  // 0x0A name/value from IdmEnvAttribute: names the operator configured, which Tomcat accepts
  // only when its connector's allowedRequestAttributesPattern matches them. Sent after the
  // attributes above; a name must not be empty.
  std::vector<Header> configured_attributes;
};

// Encodes a complete FORWARD_REQUEST packet (header included) into `out`, whose size is the
// packet size. Fails if it does not fit, a string is >= 0xFFFF bytes, or an attribute name is
// not allowed. Returns the number of bytes written.
Expected<std::size_t> encode_forward_request(const ForwardRequest& request, std::span<std::uint8_t> out);

// CPING: 12 34 00 01 0A. Returns 5.
inline constexpr std::size_t kCpingSize = 5;
std::size_t encode_cping(std::span<std::uint8_t> out);

// A request-body packet: the caller has placed `n` data bytes at out[kBodyChunkOverhead..];
// this writes the 6-byte prefix and returns n + 6. n == 0 gives the end-of-body packet.
std::size_t finish_body_chunk(std::span<std::uint8_t> out, std::size_t n);

// Validates a Tomcat->httpd packet header ('AB' magic) and returns the payload length,
// which is 1..packet_size-4.
Expected<std::uint16_t> decode_packet_header(std::span<const std::uint8_t> header, std::size_t packet_size);

struct SendHeaders {
  std::uint16_t status = 0;
  std::string_view reason;
  std::vector<Header> headers;  // coded names decoded to their canonical spelling
};
struct BodyChunk {
  std::span<const std::uint8_t> data;  // empty: Tomcat asks for a flush
};
struct EndResponse {
  bool reuse = false;
};
struct GetBodyChunk {
  std::uint16_t requested = 0;
};
struct Cpong {};

using Message = std::variant<SendHeaders, BodyChunk, EndResponse, GetBodyChunk, Cpong>;

// What decode_message checks in a SEND_HEADERS beyond its layout.
enum class HeadCheck {
  Strict,      // also the response head rules (check_response_head)
  LayoutOnly,  // only the layout: the caller applies check_response_head itself
};

// Decodes one Tomcat->httpd payload (after the 4-byte header). Every field is bounded by the
// payload; unknown types/codes, chunk length != payload length - 4 and a SEND_HEADERS whose
// layout does not add up are errors, and with HeadCheck::Strict so is a head that
// check_response_head refuses. Views point into `payload`.
Expected<Message> decode_message(std::span<const std::uint8_t> payload, HeadCheck check = HeadCheck::Strict);

// The rules for a response head that is well-formed AJP: status 100..999, no CR, LF or NUL in
// the reason, a header name or value, no empty name. A head that breaks them is what the
// application asked for (setStatus(1000), a header value with a newline), not a sign that the
// member is broken: the forwarder answers 502 without blaming the member.
Status check_response_head(const SendHeaders& head);

}  // namespace idmb::ajp
