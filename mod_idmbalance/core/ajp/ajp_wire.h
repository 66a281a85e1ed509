// Private to core/ajp: AJP13 wire constants and big-endian helpers shared by the codec files.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

namespace idmb::ajp::wire {

// Packet magic: server->container 0x1234, container->server 'AB'.
inline constexpr std::uint8_t kToContainer0 = 0x12;
inline constexpr std::uint8_t kToContainer1 = 0x34;
inline constexpr std::uint8_t kFromContainer0 = 0x41;
inline constexpr std::uint8_t kFromContainer1 = 0x42;

// Message types.
inline constexpr std::uint8_t kForwardRequest = 0x02;
inline constexpr std::uint8_t kSendBodyChunk = 0x03;
inline constexpr std::uint8_t kSendHeaders = 0x04;
inline constexpr std::uint8_t kEndResponse = 0x05;
inline constexpr std::uint8_t kGetBodyChunk = 0x06;
inline constexpr std::uint8_t kCpong = 0x09;
inline constexpr std::uint8_t kCping = 0x0A;

// FORWARD_REQUEST attribute codes (section 2.6).
inline constexpr std::uint8_t kAttrRemoteUser = 0x03;
inline constexpr std::uint8_t kAttrAuthType = 0x04;
inline constexpr std::uint8_t kAttrQueryString = 0x05;
inline constexpr std::uint8_t kAttrRoute = 0x06;
inline constexpr std::uint8_t kAttrSslCert = 0x07;
inline constexpr std::uint8_t kAttrSslCipher = 0x08;
inline constexpr std::uint8_t kAttrSslSession = 0x09;
inline constexpr std::uint8_t kAttrReqAttribute = 0x0A;
inline constexpr std::uint8_t kAttrSslKeySize = 0x0B;
inline constexpr std::uint8_t kAttrSecret = 0x0C;
inline constexpr std::uint8_t kAttrStoredMethod = 0x0D;
inline constexpr std::uint8_t kAttrAreDone = 0xFF;

// A string length of 0xFFFF means null: no bytes and no NUL follow.
inline constexpr std::uint16_t kNullString = 0xFFFF;
// High byte of a coded header name; the receiver peeks two bytes to tell code from length.
inline constexpr std::uint8_t kHeaderCodePrefix = 0xA0;

inline void put_u16(std::uint8_t* p, std::uint16_t v) {
  p[0] = static_cast<std::uint8_t>(v >> 8);
  p[1] = static_cast<std::uint8_t>(v & 0xFF);
}

inline std::uint16_t get_u16(const std::uint8_t* p) { return static_cast<std::uint16_t>((p[0] << 8) | p[1]); }

// Canonical name for a SEND_HEADERS code's low byte (1..11), or empty if unknown.
std::string_view response_header_name(std::uint8_t low_byte);

// Shared by the encoder (ajp_tables.cc) and the backend-side decoder (ajp_backend.cc).
// Index + 1 is the AJP method code (section 2.4).
inline constexpr std::array<std::string_view, 27> kMethods = {
    "OPTIONS",  "GET",        "HEAD",   "POST",        "PUT",    "DELETE", "TRACE",  "PROPFIND",         "PROPPATCH",
    "MKCOL",    "COPY",       "MOVE",   "LOCK",        "UNLOCK", "ACL",    "REPORT", "VERSION-CONTROL",  "CHECKIN",
    "CHECKOUT", "UNCHECKOUT", "SEARCH", "MKWORKSPACE", "UPDATE", "LABEL",  "MERGE",  "BASELINE-CONTROL", "MKACTIVITY",
};

// Index + 1 is the low byte of the 0xA0xx request header code (section 2.5).
inline constexpr std::array<std::string_view, 14> kRequestHeaders = {
    "accept",     "accept-charset", "accept-encoding", "accept-language", "authorization",
    "connection", "content-type",   "content-length",  "cookie",          "cookie2",
    "host",       "pragma",         "referer",         "user-agent",
};

}  // namespace idmb::ajp::wire
