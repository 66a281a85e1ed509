// Private to core/ajp: the one cursor over a received AJP payload (untrusted bytes), used by
// the server-side decoder (ajp_decode.cc) and the container-side one (ajp_backend.cc). Every
// read checks what is left first, so no length field can reach past the payload.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "ajp_wire.h"

namespace idmb::ajp::wire {

class Reader {
 public:
  explicit Reader(std::span<const std::uint8_t> p) : p_(p) {}

  std::size_t remaining() const { return p_.size() - pos_; }

  bool u8(std::uint8_t& v) {
    if (remaining() < 1) return false;
    v = p_[pos_++];
    return true;
  }

  bool u16(std::uint16_t& v) {
    if (remaining() < 2) return false;
    v = get_u16(p_.data() + pos_);
    pos_ += 2;
    return true;
  }

  bool peek_u16(std::uint16_t& v) const {
    if (remaining() < 2) return false;
    v = get_u16(p_.data() + pos_);
    return true;
  }

  enum class Str { Ok, Null, Truncated, Unterminated };

  // len(2) bytes NUL; 0xFFFF is null (s empty) with nothing after it. On Truncated or
  // Unterminated the cursor may have moved: the caller stops decoding.
  Str string(std::string_view& s) {
    std::uint16_t len;
    if (!u16(len)) return Str::Truncated;
    if (len == kNullString) {
      s = {};
      return Str::Null;
    }
    if (remaining() < std::size_t{len} + 1) return Str::Truncated;
    if (p_[pos_ + len] != 0) return Str::Unterminated;
    s = std::string_view(reinterpret_cast<const char*>(p_.data() + pos_), len);
    pos_ += std::size_t{len} + 1;
    return Str::Ok;
  }

 private:
  std::span<const std::uint8_t> p_;
  std::size_t pos_ = 0;
};

inline bool string_failed(Reader::Str r) { return r == Reader::Str::Truncated || r == Reader::Str::Unterminated; }

}  // namespace idmb::ajp::wire
