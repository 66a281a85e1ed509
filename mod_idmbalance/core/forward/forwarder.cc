// The AJP exchange state machine: send FORWARD_REQUEST and the body as Tomcat asks for it,
// relay SEND_HEADERS / SEND_BODY_CHUNK to the client, stop at END_RESPONSE.
#include "idmb/forwarder.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <variant>

#include "idmb/http_rules.h"
#include "idmb/session_route.h"

namespace idmb::forward {

std::string_view to_string(IoStatus s) {
  switch (s) {
    case IoStatus::Ok: return "ok";
    case IoStatus::Eof: return "connection closed by peer";
    case IoStatus::Timeout: return "timed out";
    case IoStatus::Error: return "I/O error";
    case IoStatus::TooLarge: return "over LimitRequestBody";
  }
  return "?";
}

std::string_view to_string(Outcome o) {
  switch (o) {
    case Outcome::Ok: return "ok";
    case Outcome::ClientBodyError: return "client body error";
    case Outcome::ClientAborted: return "client aborted";
    case Outcome::ConnectFailed: return "connect failed";
    case Outcome::CpingFailed: return "CPING failed";
    case Outcome::LocalFailure: return "local resource failure";
    case Outcome::BackendClosed: return "backend closed connection";
    case Outcome::BackendTimeout: return "reply timeout";
    case Outcome::ProtocolError: return "AJP protocol error";
    case Outcome::InvalidResponse: return "invalid response";
    case Outcome::RequestTooLarge: return "request head too large";
    case Outcome::ClientBodyTooLarge: return "request body too large";
    case Outcome::NewSessionRefused: return "new session refused";
    case Outcome::FailOnStatus: return "status listed in IdmFailOnStatus";
    case Outcome::RetryOnStatus: return "status listed in IdmFailOnStatus (not blamed)";
    case Outcome::Stopping: return "Tomcat is stopping";
  }
  return "?";
}

namespace {

class Exchange {
 public:
  Exchange(const BodyPlan& body, const ExchangeOptions& options, std::span<std::uint8_t> packet, BackendStream& backend,
           ClientSide& client)
      : body_(body),
        options_(options),
        packet_(packet.first(options.packet_size)),
        backend_(backend),
        client_(client),
        body_remaining_(body.kind == BodyPlan::Kind::Length ? body.length : 0),
        body_done_(body.kind == BodyPlan::Kind::None) {}

  Result run(const ajp::ForwardRequest& request) {
    backend_.set_timeout_ms(options_.reply_timeout_ms);
    auto size = ajp::encode_forward_request(request, packet_);
    if (!size) {
      return finish(Outcome::RequestTooLarge, size.error());
    }
    // From here on a byte may have reached Tomcat; behind a CPING, only once it answers.
    result_.request_sent = !options_.cping_first;
    awaiting_cpong_ = options_.cping_first;
    return send_request(*size) ? relay_response() : result_;
  }

 private:
  // Relays Tomcat's packets until END_RESPONSE or a failure; result_ tells which.
  Result relay_response() {
    for (;;) {
      // What the client was handed goes out before a wait on the backend, not after it: a
      // response that came in one read leaves in one pass, after END_RESPONSE.
      if (!backend_.has_buffered_input() && !client_.send_pending()) {
        return finish(Outcome::ClientAborted, "client gone while sending body");
      }
      auto payload = read_packet();
      if (!payload) {
        return result_;
      }
      auto message = ajp::decode_message(*payload, ajp::HeadCheck::LayoutOnly);
      if (!message) {
        return finish(Outcome::ProtocolError, message.error());
      }
      if (awaiting_cpong_ && !std::holds_alternative<ajp::Cpong>(*message)) {
        return finish(Outcome::ProtocolError, "reply before the CPONG to the CPING ahead of the request");
      }
      if (!std::visit([this](const auto& m) { return on(m); }, *message)) {
        return result_;
      }
    }
  }

  // Each returns true to read on, false once result_ is final.
  bool on(const ajp::SendHeaders& h) {
    if (headers_seen_) {
      return stop(Outcome::ProtocolError, "second SEND_HEADERS");
    }
    if (auto head = ajp::check_response_head(h); !head) {
      return stop(Outcome::InvalidResponse, head.error());
    }
    if (!http::is_final_status(h.status)) {
      return stop(Outcome::InvalidResponse, "status " + std::to_string(h.status) + " is not a final response");
    }
    headers_seen_ = true;
    result_.status = h.status;
    discard_body_ = options_.head_request || http::status_has_no_body(h.status);
    auto declared = declared_length(h);
    if (!declared) {
      return stop(Outcome::InvalidResponse, declared.error());
    }
    if (!http::status_has_no_body(h.status)) {
      declared_length_ = *declared;
    }
    for (const int code : options_.fail_on_status) {
      if (code == h.status || code == -h.status) {
        return stop(code > 0 ? Outcome::FailOnStatus : Outcome::RetryOnStatus,
                    "Tomcat answered " + std::to_string(h.status) + ", listed in IdmFailOnStatus");
      }
    }
    result_.opened_session = opens_session(h);
    if (result_.opened_session && options_.refuse_new_session) {
      return stop(Outcome::NewSessionRefused,
                  "the response opens a new " + std::string(options_.session_cookie) + " session");
    }
    // The client sees nothing yet: headers leave with the first body bytes or the end.
    if (!client_.send_headers(h, declared_length_)) {
      return stop(Outcome::ClientAborted, "client gone while sending headers");
    }
    return true;
  }

  bool on(const ajp::BodyChunk& c) {
    if (!headers_seen_) {
      return stop(Outcome::ProtocolError, "body chunk before SEND_HEADERS");
    }
    result_.bytes_from_backend += c.data.size();
    if (!discard_body_ && declared_length_ && result_.bytes_from_backend > *declared_length_) {
      return stop(Outcome::InvalidResponse, "response body longer than its Content-Length");
    }
    if (discard_body_ && !c.data.empty()) {
      return true;
    }
    result_.response_started = true;
    const bool client_ok = c.data.empty() ? client_.flush() : client_.send_body(c.data);
    return client_ok || stop(Outcome::ClientAborted, "client gone while sending body");
  }

  bool on(const ajp::GetBodyChunk& g) {
    return send_body_packet(std::min<std::size_t>(g.requested, ajp::max_request_body_chunk(options_.packet_size)));
  }

  bool on(const ajp::EndResponse& e) {
    if (!headers_seen_) {
      return stop(Outcome::ProtocolError, "END_RESPONSE before SEND_HEADERS");
    }
    if (!discard_body_ && declared_length_ && result_.bytes_from_backend != *declared_length_) {
      return stop(Outcome::InvalidResponse, "response body shorter than its Content-Length");
    }
    // A connector paused for a stop answers this to a request it reads: it never reached the
    // application (an application's own 503 has a body or keeps the connection).
    if (result_.status == 503 && !e.reuse && result_.bytes_from_backend == 0) {
      return stop(Outcome::Stopping, "503 without a body, connection closed: the request did not run");
    }
    result_.outcome = Outcome::Ok;
    result_.reuse_connection = e.reuse;
    return false;
  }

  bool on(const ajp::Cpong&) {
    if (!awaiting_cpong_) return stop(Outcome::ProtocolError, "unexpected CPONG during a request");
    awaiting_cpong_ = false;
    result_.request_sent = true;
    return true;
  }

  // The FORWARD_REQUEST (encoded at the start of packet_), behind a CPING if asked, and the
  // first body packet, which Tomcat expects unsolicited iff it was told a Content-Length > 0.
  // All in one write when they fit the packet: a small POST (a login form) costs one send,
  // one TCP segment, and Tomcat reads it all at once.
  bool send_request(std::size_t size) {
    std::size_t head = size;
    if (options_.cping_first) {
      std::array<std::uint8_t, ajp::kCpingSize> cping{};
      ajp::encode_cping(cping);
      if (size + cping.size() <= packet_.size()) {
        std::memmove(packet_.data() + cping.size(), packet_.data(), size);
        std::copy(cping.begin(), cping.end(), packet_.begin());
        head += cping.size();
      } else if (auto s = backend_.write_all(cping); s != IoStatus::Ok) {
        return stop(Outcome::BackendClosed, "sending request: " + std::string(to_string(s)));
      }
    }
    const std::size_t max_chunk = ajp::max_request_body_chunk(options_.packet_size);
    if (body_.kind == BodyPlan::Kind::Length && body_.length <= max_chunk &&
        head + ajp::kBodyChunkOverhead + body_.length <= packet_.size()) {
      auto chunk = fill_body_packet(packet_.subspan(head), static_cast<std::size_t>(body_.length));
      return chunk && write_or_stop(packet_.first(head + *chunk), "sending request") && count_sent_body(*chunk);
    }
    if (!write_or_stop(packet_.first(head), "sending request")) return false;
    return body_.kind != BodyPlan::Kind::Length || send_body_packet(max_chunk);
  }

  bool write_or_stop(std::span<const std::uint8_t> bytes, std::string_view what) {
    if (auto s = backend_.write_all(bytes); s != IoStatus::Ok) {
      return stop(Outcome::BackendClosed, std::string(what) + ": " + std::string(to_string(s)));
    }
    return true;
  }

  bool stop(Outcome outcome, std::string detail) {
    finish(outcome, std::move(detail));
    return false;
  }

  // Tomcat's Content-Length, if it sent one: digits only, repeated copies must agree.
  static Expected<std::optional<std::uint64_t>> declared_length(const ajp::SendHeaders& h) {
    std::optional<std::uint64_t> length;
    for (const auto& header : h.headers) {
      if (!http::is_content_length(header.name)) {
        continue;
      }
      auto value = http::parse_content_length(header.value);
      if (!value || (length && *length != *value)) {
        return fail("invalid or conflicting Content-Length from backend");
      }
      length = value;
    }
    return length;
  }

  bool opens_session(const ajp::SendHeaders& h) const {
    if (options_.session_cookie.empty()) return false;
    for (const auto& header : h.headers) {
      if (http::is_set_cookie(header.name) && route::sets_session_cookie(header.value, options_.session_cookie)) {
        return true;
      }
    }
    return false;
  }

  // Reads one Tomcat packet into packet_; returns its payload, or nothing after finish().
  std::optional<std::span<const std::uint8_t>> read_packet() {
    auto header = packet_.first(ajp::kHeaderSize);
    if (auto s = backend_.read_exact(header); s != IoStatus::Ok) {
      fail_read(s, awaiting_cpong_ ? "waiting for the CPONG ahead of the request (not sent)" : "waiting for reply");
      return std::nullopt;
    }
    auto length = ajp::decode_packet_header(header, options_.packet_size);
    if (!length) {
      finish(Outcome::ProtocolError, length.error());
      return std::nullopt;
    }
    auto payload = packet_.subspan(ajp::kHeaderSize, *length);
    if (auto s = backend_.read_exact(payload); s != IoStatus::Ok) {
      fail_read(s, "reading packet");
      return std::nullopt;
    }
    return payload;
  }

  void fail_read(IoStatus s, std::string_view when) {
    std::string detail = std::string(when) + ": " + std::string(to_string(s));
    finish(s == IoStatus::Timeout ? Outcome::BackendTimeout : Outcome::BackendClosed, std::move(detail));
  }

  // Sends up to `max` client body bytes as one packet (the empty packet once the body ends).
  bool send_body_packet(std::size_t max) {
    auto size = fill_body_packet(packet_, max);
    return size && write_or_stop(packet_.first(*size), "sending body") && count_sent_body(*size);
  }

  // Counts a body packet's data bytes once the packet is written; true, to chain after it.
  bool count_sent_body(std::size_t packet_size) {
    result_.bytes_to_backend += packet_size - ajp::kBodyChunkOverhead;
    return true;
  }

  // Reads up to `max` client body bytes into a body packet at the start of `out` (the empty
  // packet once the body ends); returns its size, or nothing once result_ is final.
  std::optional<std::size_t> fill_body_packet(std::span<std::uint8_t> out, std::size_t max) {
    std::size_t n = 0;
    if (!body_done_) {
      if (body_.kind == BodyPlan::Kind::Length) {
        max = static_cast<std::size_t>(std::min<std::uint64_t>(max, body_remaining_));
      }
      auto room = out.subspan(ajp::kBodyChunkOverhead, max);
      while (n < max) {
        auto read = client_.read_body(room.subspan(n));
        if (read.status == IoStatus::TooLarge) {
          finish(Outcome::ClientBodyTooLarge, "client body: over LimitRequestBody");
          return std::nullopt;
        }
        if (read.status != IoStatus::Ok) {
          return fail_body("client body: " + std::string(to_string(read.status)));
        }
        if (read.n == 0) {
          break;
        }
        n += read.n;
        result_.body_consumed = true;
      }
      if (body_.kind == BodyPlan::Kind::Length) {
        if (n < max) {
          return fail_body("client body shorter than its Content-Length");
        }
        body_remaining_ -= n;
        body_done_ = body_remaining_ == 0;
      } else if (n < max) {
        // The chunked body ended; Tomcat asks once more and then gets the empty packet.
        body_done_ = true;
      }
    }
    return ajp::finish_body_chunk(out, n);
  }

  std::nullopt_t fail_body(std::string detail) {
    finish(Outcome::ClientBodyError, std::move(detail));
    return std::nullopt;
  }

  Result finish(Outcome outcome, std::string detail) {
    result_.outcome = outcome;
    result_.reuse_connection = false;
    result_.detail = std::move(detail);
    return result_;
  }

  const BodyPlan& body_;
  const ExchangeOptions& options_;
  std::span<std::uint8_t> packet_;
  BackendStream& backend_;
  ClientSide& client_;
  std::uint64_t body_remaining_;
  bool body_done_;
  bool headers_seen_ = false;
  bool discard_body_ = false;
  bool awaiting_cpong_ = false;
  std::optional<std::uint64_t> declared_length_;
  Result result_;
};

}  // namespace

Result exchange(const ajp::ForwardRequest& request, const BodyPlan& body, const ExchangeOptions& options,
                std::span<std::uint8_t> packet, BackendStream& backend, ClientSide& client) {
  return Exchange(body, options, packet, backend, client).run(request);
}

bool cping(BackendStream& backend, std::uint32_t timeout_ms, std::string& detail) {
  std::uint8_t buf[ajp::kHeaderSize + 8];
  backend.set_timeout_ms(timeout_ms);
  std::size_t n = ajp::encode_cping(buf);
  if (auto s = backend.write_all({buf, n}); s != IoStatus::Ok) {
    detail = "CPING write: " + std::string(to_string(s));
    return false;
  }
  if (auto s = backend.read_exact({buf, ajp::kHeaderSize}); s != IoStatus::Ok) {
    detail = "waiting for CPONG: " + std::string(to_string(s));
    return false;
  }
  // A CPONG payload is one byte; refuse anything longer than our small buffer.
  auto length = ajp::decode_packet_header({buf, ajp::kHeaderSize}, ajp::kHeaderSize + 8);
  if (!length) {
    detail = "CPONG: " + length.error();
    return false;
  }
  if (auto s = backend.read_exact({buf + ajp::kHeaderSize, *length}); s != IoStatus::Ok) {
    detail = "reading CPONG: " + std::string(to_string(s));
    return false;
  }
  auto message = ajp::decode_message({buf + ajp::kHeaderSize, *length});
  if (!message || !std::holds_alternative<ajp::Cpong>(*message)) {
    detail = "answer to CPING is not CPONG";
    return false;
  }
  return true;
}

}  // namespace idmb::forward
