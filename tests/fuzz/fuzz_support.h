// Shared helpers for the libFuzzer targets: a property check that aborts (libFuzzer then
// saves the input as a crash file), exact-size heap copies (so ASan sees any read past a
// field), and a field splitter for the structured targets.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace fuzz {

[[noreturn]] inline void property_failed(const char* expr, const char* file, int line, const std::string& info) {
  std::fprintf(stderr, "\n==== fuzz property failed: %s\n     at %s:%d\n", expr, file, line);
  if (!info.empty()) std::fprintf(stderr, "     %s\n", info.c_str());
  std::fflush(stderr);
  std::abort();
}

// CHECK(cond) or CHECK(cond, "what") with a std::string-convertible second argument.
#define FUZZ_CHECK(cond, ...)                                                                  \
  do {                                                                                         \
    if (!(cond)) ::fuzz::property_failed(#cond, __FILE__, __LINE__, std::string(__VA_ARGS__)); \
  } while (0)

// Printable form of bytes for a failure message: \xNN for anything outside 0x20..0x7E.
inline std::string show(std::string_view s, std::size_t max = 200) {
  std::string out = "\"";
  for (std::size_t i = 0; i < s.size() && i < max; ++i) {
    const auto b = static_cast<unsigned char>(s[i]);
    if (b >= 0x20 && b < 0x7F && b != '"' && b != '\\') {
      out += static_cast<char>(b);
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", b);
      out += buf;
    }
  }
  if (s.size() > max) out += "...";
  return out + "\"";
}

// A string (or byte run) in its own allocation of exactly its size: a read one byte past the
// end is a heap-buffer-overflow for ASan (std::string's capacity slack would hide it).
class Owned {
 public:
  explicit Owned(std::string_view s) : size_(s.size()), data_(new char[s.size() == 0 ? 1 : s.size()]) {
    if (size_ != 0) std::memcpy(data_.get(), s.data(), size_);
  }
  std::string_view view() const { return {data_.get(), size_}; }
  const std::uint8_t* bytes() const { return reinterpret_cast<const std::uint8_t*>(data_.get()); }
  std::size_t size() const { return size_; }
  // True if `v` lies inside this buffer (an empty view anywhere in it, or a null one, counts).
  bool contains(std::string_view v) const {
    if (v.empty()) return true;
    const char* b = data_.get();
    return v.data() >= b && v.data() + v.size() <= b + size_;
  }

 private:
  std::size_t size_;
  std::unique_ptr<char[]> data_;
};

// Owned copies that stay put (a deque never moves its elements), so views into them stay valid.
class Arena {
 public:
  std::string_view keep(std::string_view s) { return owned_.emplace_back(s).view(); }
  std::string_view keep_string(std::string s) {
    strings_.push_back(std::move(s));
    return keep(strings_.back());
  }
  const std::deque<Owned>& all() const { return owned_; }
  bool contains(std::string_view v) const {
    for (const Owned& o : owned_) {
      if (o.contains(v)) return true;
    }
    return false;
  }

 private:
  std::deque<Owned> owned_;
  std::deque<std::string> strings_;
};

// The input of a structured target: fields separated by the byte 0x1F (ASCII unit separator),
// so seeds are readable and mutations stay local to a field. Missing fields read as empty.
inline constexpr char kSep = '\x1F';

class Fields {
 public:
  Fields(const std::uint8_t* data, std::size_t size) : rest_(reinterpret_cast<const char*>(data), size) {}

  bool done() const { return done_; }

  std::string_view next() {
    if (done_) return {};
    const std::size_t sep = rest_.find(kSep);
    const std::string_view field = rest_.substr(0, sep);
    if (sep == std::string_view::npos) {
      done_ = true;
      rest_ = {};
    } else {
      rest_.remove_prefix(sep + 1);
    }
    return field;
  }

  // Byte i of a control field, 0 if it is shorter.
  static std::uint8_t byte(std::string_view field, std::size_t i) {
    return i < field.size() ? static_cast<std::uint8_t>(field[i]) : 0;
  }
  static std::uint16_t u16(std::string_view field, std::size_t i) {
    return static_cast<std::uint16_t>(byte(field, i) << 8 | byte(field, i + 1));
  }

 private:
  std::string_view rest_;
  bool done_ = false;
};

// A field starting with 0x1E expands to exactly N bytes (N = the next two bytes, big-endian,
// at most `cap`) of its tail repeated: lets the fuzzer reach the 40 KiB and 64 KiB limits with
// small inputs, at an exact length. Any other field is returned as is.
inline std::string expand(std::string_view field, std::size_t cap = 140000) {
  if (field.size() < 3 || field[0] != '\x1E') return std::string(field);
  const std::size_t n = std::min<std::size_t>(Fields::u16(field, 1), cap);
  std::string_view unit = field.substr(3);
  if (unit.empty()) unit = "a";
  std::string out(unit.substr(0, n));
  out.reserve(n);
  while (out.size() < n) out.append(out, 0, std::min(out.size(), n - out.size()));  // doubling
  return out;
}

constexpr char ascii_lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c; }
constexpr char ascii_upper(char c) { return (c >= 'a' && c <= 'z') ? static_cast<char>(c - 32) : c; }

inline std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_lower(c);
  return out;
}
inline std::string upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = ascii_upper(c);
  return out;
}
inline bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (ascii_lower(a[i]) != ascii_lower(b[i])) return false;
  }
  return true;
}

// A simple reference glob: '*' any run (including '/'), '?' one byte, by dynamic programming
// (deliberately not the core's algorithm).
inline bool reference_glob(std::string_view pattern, std::string_view text) {
  // dp[j]: pattern[0..i) matches text[0..j)
  std::vector<char> dp(text.size() + 1, 0), next(text.size() + 1, 0);
  dp[0] = 1;
  for (char p : pattern) {
    next.assign(text.size() + 1, 0);
    if (p == '*') {
      bool any = false;
      for (std::size_t j = 0; j <= text.size(); ++j) {
        any = any || dp[j];
        next[j] = any;
      }
    } else {
      for (std::size_t j = 1; j <= text.size(); ++j) next[j] = dp[j - 1] && (p == '?' || p == text[j - 1]);
    }
    dp.swap(next);
  }
  return dp[text.size()];
}

}  // namespace fuzz
