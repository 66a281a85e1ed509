// Test helpers for the status pages: the fixed snapshot behind the golden files, golden-file
// comparison, and small parsers for the JSON and Prometheus output.
#pragma once

#include <catch2/catch.hpp>

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "idmb/status_snapshot.h"

namespace idmb::status::testing {

inline constexpr std::int64_t kNow = 1714564800000;  // 2024-05-01 12:00:00 UTC
inline constexpr std::string_view kNonce = "0123456789abcdef0123456789abcdef";
// A route and a member name that would run script if any renderer forgot to escape them.
inline constexpr std::string_view kEvilRoute = "<script>alert(\"x\\n\")&'</script>";
inline constexpr std::string_view kEvilName = "t2<img src=x onerror=alert(1)>";

inline MemberStatus member(std::string name, std::string route, std::string address) {
  MemberStatus m;
  m.name = std::move(name);
  m.route = std::move(route);
  m.address = std::move(address);
  return m;
}

inline void set_error(MemberStatus& m, table::ErrorClass c, std::uint64_t n) {
  m.errors[static_cast<std::size_t>(c)] = n;
  if (c != table::ErrorClass::Client) m.errors_total += n;
}

// t1's response times: a steady minute of traffic 15 minutes long, slower in the last five,
// and a few errors; recorded through the shared-table code at fixed times, then read back.
inline LatencyStatus t1_latency() {
  auto l = std::make_unique<table::MemberLatency>();
  for (int ago = 15; ago >= 0; --ago) {
    const std::int64_t at = kNow - ago * latency::kMinuteMs - 20'000;
    for (int i = 0; i < 30; ++i) {
      const std::int64_t us = (ago < 5 ? 40'000 : 8'000) + i * 300;
      latency::record_attempt(*l, at, {us, us / 4});
    }
    if (ago % 4 == 1) latency::record_error(*l, at);
  }
  latency::record_attempt(*l, kNow - 1000, {});  // refused: counted, not timed
  return latency_status(*l, kNow);
}

// Two balancers, three members: one busy and healthy, one disabled, drained and in error
// with hostile strings, one standby and recovering with zero counters.
inline Snapshot fixed_snapshot() {
  Snapshot s;
  s.generated_ms = kNow;
  s.version = "mod_idmbalance/0.1.0";
  s.generation = 3;
  s.nonce = std::string(kNonce);

  BalancerStatus op;
  op.name = "operator";
  op.method = "requests";
  op.sticky = {true, "JSESSIONID", "jsessionid", false};
  op.mounts = {"/idm/*", "/idm/admin/*.jsp"};

  MemberStatus t1 = member("t1", "t1", "10.0.0.11:8009");
  t1.activation = "active";
  t1.state = "ok";
  t1.state_since_ms = kNow - 2 * 3600 * 1000 - 5 * 60 * 1000;  // 2h 5m
  t1.factor = 1;
  t1.busy = 3;
  t1.requests = 12345;
  set_error(t1, table::ErrorClass::Connect, 2);
  set_error(t1, table::ErrorClass::Timeout, 1);
  set_error(t1, table::ErrorClass::Client, 4);
  t1.bytes_in = 5 * 1024 * 1024 + 300 * 1024;
  t1.bytes_out = 2048;
  t1.sticky_hits = 9000;
  t1.last_error = "timeout";
  t1.last_error_ms = kNow - 192 * 1000;  // 3m 12s ago
  t1.last_sticky_ms = kNow - 1000;
  t1.last_probe_ms = kNow - 4000;
  t1.last_probe_ok = true;
  t1.latency = t1_latency();
  op.members.push_back(t1);

  MemberStatus t2 = member(std::string(kEvilName), std::string(kEvilRoute), "[::1]:8010");
  t2.domain = "dc2";
  t2.redirect = "t1";
  t2.activation = "disabled";
  t2.state = "error";
  t2.state_since_ms = kNow - 42 * 1000;
  t2.factor = 5;
  t2.busy = 0;
  t2.requests = 77;
  set_error(t2, table::ErrorClass::Connect, 5);
  set_error(t2, table::ErrorClass::BackendClosed, 1);
  t2.bytes_in = 1000;
  t2.bytes_out = 0;
  t2.sticky_hits = 10;
  t2.last_error = "connect";
  t2.last_error_ms = kNow - 42 * 1000;
  t2.last_sticky_ms = kNow - 600 * 1000;
  t2.last_probe_ms = kNow - 2000;
  t2.last_probe_ok = false;
  t2.drained = true;
  op.members.push_back(t2);
  s.balancers.push_back(op);

  BalancerStatus self;
  self.name = "selfservice";
  self.method = "p2c";
  self.sticky = {true, "SSID", "ssid", true};
  self.mounts = {"/self/*"};
  MemberStatus t3 = member("t3", "t3", "tomcat3.example.org:8009");
  t3.activation = "standby";
  t3.state = "recovering";
  t3.state_since_ms = kNow - 5000;
  t3.factor = 100;
  self.members.push_back(t3);
  s.balancers.push_back(self);

  s.events.push_back({kNow - 42 * 1000, "operator", std::string(kEvilName), "state error (connect)"});
  // Quotes, backslash, a control byte, UTF-8 kept as is, and one invalid byte (-> U+FFFD).
  s.events.push_back({kNow - 5000, "selfservice", "t3", "recovering: \"probe\" ok\\\t caf\xc3\xa9 \xff"});
  return s;
}

inline std::filesystem::path data_dir() { return std::filesystem::path(IDMB_TEST_DATA_DIR) / "status"; }

inline std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Compares `actual` with the golden file; IDMB_UPDATE_GOLDENS=1 rewrites the file instead.
inline void check_golden(const std::string& name, const std::string& actual) {
  const auto path = data_dir() / name;
  const char* update = std::getenv("IDMB_UPDATE_GOLDENS");
  if (update != nullptr && std::string_view(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    WARN("rewrote " << path.string());
    return;
  }
  INFO("golden file " << path.string() << " (IDMB_UPDATE_GOLDENS=1 rewrites it)");
  REQUIRE(std::filesystem::exists(path));
  const std::string expected = read_file(path);
  if (expected == actual) {
    SUCCEED();
    return;
  }
  // Point at the first differing line rather than dumping two pages.
  std::istringstream e(expected), a(actual);
  std::string el, al;
  int line = 1;
  while (true) {
    const bool more_e = static_cast<bool>(std::getline(e, el));
    const bool more_a = static_cast<bool>(std::getline(a, al));
    if (!more_e && !more_a) break;
    if (el != al || more_e != more_a) {
      FAIL("first difference at line " << line << "\nexpected: " << el << "\nactual:   " << al);
    }
    ++line;
  }
  FAIL("files differ (line endings?)");
}

// --- A minimal JSON reader, enough to prove the output parses and to read values back.
struct Json {
  // An object member. Not std::pair<std::string, Json>: clang 14 with libstdc++ 12 in C++20
  // rejects a pair holding the still-incomplete Json.
  struct Member;
  enum class Kind { Null, Bool, Number, String, Array, Object } kind = Kind::Null;
  bool b = false;
  std::int64_t n = 0;  // the integer part
  double d = 0;        // the whole number, fraction included
  std::string s;
  std::vector<Json> arr;
  std::vector<Member> obj;  // in document order

  const Json& operator[](std::string_view key) const;
  bool has(std::string_view key) const;
};

struct Json::Member {
  std::string key;
  Json value;
};

inline const Json& Json::operator[](std::string_view key) const {
  for (const auto& [k, v] : obj) {
    if (k == key) return v;
  }
  FAIL("no key " << std::string(key));
  throw std::logic_error("unreachable");
}

inline bool Json::has(std::string_view key) const {
  for (const auto& [k, v] : obj) {
    if (k == key) return true;
  }
  return false;
}

class JsonReader {
 public:
  explicit JsonReader(std::string_view text) : t_(text) {}
  // Throws std::runtime_error on anything malformed, including trailing garbage.
  Json parse() {
    Json v = value();
    ws();
    if (i_ != t_.size()) bad("trailing data");
    return v;
  }

 private:
  [[noreturn]] void bad(const std::string& what) {
    throw std::runtime_error("JSON: " + what + " at offset " + std::to_string(i_));
  }
  void ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\n' || t_[i_] == '\t' || t_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ < t_.size() && t_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  void expect(char c) {
    if (!eat(c)) bad(std::string("expected '") + c + "'");
  }
  bool word(std::string_view w) {
    if (t_.substr(i_, w.size()) != w) return false;
    i_ += w.size();
    return true;
  }
  std::string str() {
    expect('"');
    std::string out;
    while (true) {
      if (i_ >= t_.size()) bad("unterminated string");
      const char c = t_[i_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) bad("raw control character");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (i_ >= t_.size()) bad("bad escape");
      const char e = t_[i_++];
      switch (e) {
        case '"': out += '"'; break;
        case '\\': out += '\\'; break;
        case '/': out += '/'; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          if (i_ + 4 > t_.size()) bad("short \\u");
          const unsigned cp = static_cast<unsigned>(std::stoul(std::string(t_.substr(i_, 4)), nullptr, 16));
          i_ += 4;
          if (cp >= 0x80) bad("test reader handles ASCII \\u only");
          out += static_cast<char>(cp);
          break;
        }
        default: bad("bad escape");
      }
    }
  }
  Json value() {
    ws();
    Json v;
    if (i_ >= t_.size()) bad("unexpected end");
    const char c = t_[i_];
    if (c == '{') {
      ++i_;
      v.kind = Json::Kind::Object;
      if (eat('}')) return v;
      do {
        ws();
        std::string k = str();
        expect(':');
        v.obj.push_back(Json::Member{std::move(k), value()});
      } while (eat(','));
      expect('}');
    } else if (c == '[') {
      ++i_;
      v.kind = Json::Kind::Array;
      if (eat(']')) return v;
      do v.arr.push_back(value());
      while (eat(','));
      expect(']');
    } else if (c == '"') {
      v.kind = Json::Kind::String;
      v.s = str();
    } else if (word("true")) {
      v.kind = Json::Kind::Bool;
      v.b = true;
    } else if (word("false")) {
      v.kind = Json::Kind::Bool;
    } else if (word("null")) {
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      std::size_t end = i_ + 1;
      while (end < t_.size() && t_[end] >= '0' && t_[end] <= '9') ++end;
      v.kind = Json::Kind::Number;
      v.n = std::stoll(std::string(t_.substr(i_, end - i_)));
      if (end < t_.size() && t_[end] == '.') {
        ++end;
        if (end >= t_.size() || t_[end] < '0' || t_[end] > '9') bad("bad fraction");
        while (end < t_.size() && t_[end] >= '0' && t_[end] <= '9') ++end;
      }
      v.d = std::stod(std::string(t_.substr(i_, end - i_)));
      i_ = end;
    } else {
      bad("unexpected character");
    }
    return v;
  }

  std::string_view t_;
  std::size_t i_ = 0;
};

// --- Prometheus samples: "name{k=\"v\",...}" (labels in output order) -> value.
struct PromSample {
  std::string name;
  std::map<std::string, std::string> labels;
  std::string value;
};

inline std::vector<PromSample> parse_prometheus(const std::string& text) {
  std::vector<PromSample> out;
  std::istringstream in(text);
  std::string line;
  while (std::getline(in, line)) {
    if (line.empty() || line[0] == '#') continue;
    PromSample s;
    std::size_t i = line.find('{');
    REQUIRE(i != std::string::npos);
    s.name = line.substr(0, i);
    ++i;
    while (line[i] != '}') {
      const std::size_t eq = line.find('=', i);
      const std::string key = line.substr(i, eq - i);
      i = eq + 1;
      REQUIRE(line[i] == '"');
      ++i;
      std::string v;
      while (line[i] != '"') {
        if (line[i] == '\\') {
          ++i;
          v += line[i] == 'n' ? '\n' : line[i];
        } else {
          v += line[i];
        }
        ++i;
      }
      ++i;
      s.labels[key] = v;
      if (line[i] == ',') ++i;
    }
    REQUIRE(line.substr(i, 2) == "} ");
    s.value = line.substr(i + 2);
    out.push_back(std::move(s));
  }
  return out;
}

}  // namespace idmb::status::testing
