// In-memory doubles for the forwarder's two sides, plus builders for Tomcat's packets.
#pragma once

#include <algorithm>
#include <cstdint>
#include <deque>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "idmb/forwarder.h"

namespace idmb::test {

using Bytes = std::vector<std::uint8_t>;

// Tomcat -> httpd packet with 'AB' magic around `payload`.
// Sized once and filled in place: growing a 4-byte vector with insert() makes GCC 12 at -O3
// warn falsely (-Warray-bounds) inside the reallocation.
inline Bytes container_packet(const Bytes& payload) {
  Bytes p(4 + payload.size());
  p[0] = 0x41;
  p[1] = 0x42;
  p[2] = static_cast<std::uint8_t>(payload.size() >> 8);
  p[3] = static_cast<std::uint8_t>(payload.size());
  std::copy(payload.begin(), payload.end(), p.begin() + 4);
  return p;
}

inline void put_string(Bytes& b, const std::string& s) {
  b.push_back(static_cast<std::uint8_t>(s.size() >> 8));
  b.push_back(static_cast<std::uint8_t>(s.size()));
  b.insert(b.end(), s.begin(), s.end());
  b.push_back(0);
}

inline Bytes send_headers(int status, const std::vector<std::pair<std::string, std::string>>& headers) {
  Bytes b{0x04, static_cast<std::uint8_t>(status >> 8), static_cast<std::uint8_t>(status)};
  put_string(b, std::to_string(status));
  b.push_back(static_cast<std::uint8_t>(headers.size() >> 8));
  b.push_back(static_cast<std::uint8_t>(headers.size()));
  for (const auto& [name, value] : headers) {
    put_string(b, name);
    put_string(b, value);
  }
  return container_packet(b);
}

inline Bytes body_chunk(const std::string& data) {
  Bytes b{0x03};
  put_string(b, data);  // len, data, trailing NUL: the same shape as a string
  return container_packet(b);
}

inline Bytes end_response(bool reuse) { return container_packet({0x05, static_cast<std::uint8_t>(reuse ? 1 : 0)}); }

inline Bytes get_body_chunk(std::uint16_t n) {
  return container_packet({0x06, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
}

inline Bytes cpong() { return container_packet({0x09}); }

// A backend that answers with a scripted byte stream and records what it was sent. Replies
// are released one script step per write, like a server that answers what it read.
class FakeBackend final : public forward::BackendStream {
 public:
  // Bytes Tomcat sends after the n-th write from us (0-based).
  void reply_after_write(std::size_t write_index, const Bytes& bytes) {
    if (scripted_.size() <= write_index) {
      scripted_.resize(write_index + 1);
    }
    scripted_[write_index].insert(scripted_[write_index].end(), bytes.begin(), bytes.end());
  }
  // What read_exact returns once nothing is left to read.
  forward::IoStatus when_drained = forward::IoStatus::Eof;
  forward::IoStatus fail_writes_with = forward::IoStatus::Ok;

  forward::IoStatus write_all(std::span<const std::uint8_t> data) override {
    if (fail_writes_with != forward::IoStatus::Ok) {
      return fail_writes_with;
    }
    writes.emplace_back(data.begin(), data.end());
    if (writes.size() - 1 < scripted_.size()) {
      const Bytes& next = scripted_[writes.size() - 1];
      readable_.insert(readable_.end(), next.begin(), next.end());
    }
    return forward::IoStatus::Ok;
  }
  forward::IoStatus read_exact(std::span<std::uint8_t> out) override {
    if (readable_.size() < out.size()) {
      return when_drained;
    }
    for (auto& byte : out) {
      byte = readable_.front();
      readable_.pop_front();
    }
    return forward::IoStatus::Ok;
  }
  void set_timeout_ms(std::uint32_t ms) override { timeout_ms = ms; }
  // Like a socket's read buffer: what an earlier write released is already in hand.
  bool has_buffered_input() const override { return !readable_.empty(); }

  std::vector<Bytes> writes;
  std::uint32_t timeout_ms = 0;

 private:
  std::vector<Bytes> scripted_;
  std::deque<std::uint8_t> readable_;
};

// A client with a body to upload and a log of what it was sent.
class FakeClient final : public forward::ClientSide {
 public:
  explicit FakeClient(std::string body = {}, bool body_is_short = false)
      : body_(std::move(body)), body_is_short_(body_is_short) {}

  // What the read after the last body byte returns, if not end of body / Error (short body).
  std::optional<forward::IoStatus> body_ends_with;

  Read read_body(std::span<std::uint8_t> out) override {
    if (pos_ == body_.size()) {
      if (body_ends_with) return {*body_ends_with, 0};
      return {body_is_short_ ? forward::IoStatus::Error : forward::IoStatus::Ok, 0};
    }
    std::size_t n = std::min(out.size(), std::min<std::size_t>(body_.size() - pos_, read_size));
    std::copy_n(body_.begin() + static_cast<long>(pos_), n, out.begin());
    pos_ += n;
    return {forward::IoStatus::Ok, n};
  }
  void restart_body() { pos_ = 0; }  // a retry that resends the body from its start
  bool send_headers(const ajp::SendHeaders& h, std::optional<std::uint64_t> length) override {
    status = h.status;
    content_length = length;
    for (const auto& header : h.headers) {
      headers.emplace_back(std::string(header.name), std::string(header.value));
    }
    return !gone;
  }
  bool send_body(std::span<const std::uint8_t> data) override {
    received.append(data.begin(), data.end());
    return !gone;
  }
  bool flush() override {
    ++flushes;
    return !gone;
  }
  bool send_pending() override {
    pending_at.push_back(received.size());
    return !gone && !pending_fails;
  }

  std::size_t read_size = 100000;  // largest slice one read_body returns
  bool gone = false;
  bool pending_fails = false;  // the client is found gone only when held bytes are sent
  int status = 0;
  std::optional<std::uint64_t> content_length;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string received;
  int flushes = 0;
  std::vector<std::size_t> pending_at;  // received.size() at each send_pending

 private:
  std::string body_;
  bool body_is_short_;
  std::size_t pos_ = 0;
};

}  // namespace idmb::test
