// One request/response exchange with Tomcat over an AJP connection, as a state machine over
// two injected interfaces: the backend byte stream and the client side. The shim implements
// both with APR sockets and bucket brigades; unit tests implement them in memory.
#pragma once

#include <cstdint>
#include <span>
#include <string>

#include "idmb/ajp_codec.h"

namespace idmb::forward {

// TooLarge: the client's body passed the server's LimitRequestBody (client side only).
enum class IoStatus { Ok, Eof, Timeout, Error, TooLarge };
std::string_view to_string(IoStatus s);

// A connected AJP byte stream. Reads and writes block up to the stream's current timeout.
class BackendStream {
 public:
  virtual ~BackendStream() = default;
  virtual IoStatus write_all(std::span<const std::uint8_t> data) = 0;
  // Fills `out` completely, or fails.
  virtual IoStatus read_exact(std::span<std::uint8_t> out) = 0;
  virtual void set_timeout_ms(std::uint32_t ms) = 0;
  // True when bytes already read from the socket wait to be consumed: the next read_exact
  // will not block.
  virtual bool has_buffered_input() const { return false; }
};

// The client's side of the request: where the body comes from, where the response goes.
class ClientSide {
 public:
  virtual ~ClientSide() = default;
  struct Read {
    IoStatus status;  // Ok with n == 0 means end of body; Error means malformed or short body
    std::size_t n;
  };
  virtual Read read_body(std::span<std::uint8_t> out) = 0;
  // Each returns false when the client is gone. `content_length` is Tomcat's Content-Length
  // once checked (the exchange enforces it); the raw header itself is never passed on.
  virtual bool send_headers(const ajp::SendHeaders& headers, std::optional<std::uint64_t> content_length) = 0;
  // send_body may hold the bytes back (bounded) to send them with what follows; send_pending
  // sends what it holds. The exchange calls it before it waits for the backend.
  virtual bool send_body(std::span<const std::uint8_t> data) = 0;
  virtual bool send_pending() { return true; }
  virtual bool flush() = 0;
};

// How the client framed its body, as the shim found it.
struct BodyPlan {
  enum class Kind { None, Length, Chunked };
  Kind kind = Kind::None;
  std::uint64_t length = 0;  // for Kind::Length, > 0
};

// How an exchange ended. The class decides the client's status code and whether the member is
// to blame (issue: failure classification).
enum class Outcome {
  Ok,                  // response complete
  ClientBodyError,     // client body malformed or shorter than announced: 400, member not blamed
  ClientAborted,       // client went away mid-response: member not blamed
  ConnectFailed,       // (shim only) connection refused or timed out: 503
  CpingFailed,         // (shim only) no CPONG on a connection about to be used: 503
  LocalFailure,        // (shim only) this process could not even try (no fd, no local port): 503,
                       // member not blamed
  BackendClosed,       // backend closed or reset: 503 if nothing was sent, else 502
  BackendTimeout,      // no packet within the reply timeout: 504
  ProtocolError,       // backend sent something that is not valid AJP: 502 (the member is broken)
  InvalidResponse,     // valid AJP carrying a response we refuse (status out of range, CR/LF in a
                       // header, a body that contradicts its Content-Length): 502, and since the
                       // application made it for this request, the member is not blamed
  RequestTooLarge,     // request head does not fit one packet: 400 (as httpd answers oversized heads)
  ClientBodyTooLarge,  // the client's body passed LimitRequestBody mid-stream: 413, member not
                       // blamed, the backend connection closed so Tomcat sees the body end short
  NewSessionRefused,   // the response opened a session and the exchange was told to refuse that
                       // (a disabled member, a request that can go elsewhere): nothing reached
                       // the client, the connection is closed, the member is not blamed
  FailOnStatus,        // the answer's status is a CODE of IdmFailOnStatus: nothing reached the client,
                       // the connection is closed, the member is blamed; 503 unless retried elsewhere
  RetryOnStatus,       // the same for a -CODE of IdmFailOnStatus, without blaming the member
  Stopping,            // a 503 without a body on a connection Tomcat closes: what Tomcat answers to a
                       // request it read after its connector paused for a stop (no servlet ran);
                       // nothing reached the client, counted as a fail_status fault, 503 unless
                       // retried elsewhere
};
std::string_view to_string(Outcome o);

struct Result {
  Outcome outcome = Outcome::Ok;
  bool reuse_connection = false;  // only if END_RESPONSE said reuse and nothing went wrong
  // Tomcat may have read some byte of FORWARD_REQUEST. With cping_first, only once the CPONG
  // came: Tomcat answers a CPING before it reads the next message.
  bool request_sent = false;
  bool response_started = false;         // bytes were passed towards the client (headers alone are not)
  bool body_consumed = false;            // some client body byte was read (a retry could not replay it)
  bool opened_session = false;           // the response set the session cookie (ExchangeOptions)
  int status = 0;                        // backend status, once known
  std::uint64_t bytes_to_backend = 0;    // body bytes sent
  std::uint64_t bytes_from_backend = 0;  // body bytes received
  std::string detail;                    // cause, for the log line
};

struct ExchangeOptions {
  std::size_t packet_size = ajp::kMinPacketSize;
  std::uint32_t reply_timeout_ms = 60000;
  bool head_request = false;  // discard any body Tomcat sends
  // The session cookie's name (empty: not looked at). A response that sets it is flagged in
  // Result::opened_session; with refuse_new_session it ends as Outcome::NewSessionRefused
  // before the client sees any of it.
  std::string_view session_cookie;
  bool refuse_new_session = false;
  // IdmFailOnStatus: an answer with status CODE ends as Outcome::FailOnStatus, with -CODE as
  // Outcome::RetryOnStatus, before the client sees any of it.
  std::span<const int> fail_on_status;
  // Send a CPING in the same write as FORWARD_REQUEST and expect CPONG first: a connection closed
  // before the CPONG never reached Tomcat's request processing, so even a POST may go elsewhere
  // (Result::request_sent stays false). A stopping Tomcat closes keep-alive connections without
  // reading what arrives on them; Tomcat processes a request that follows a CPING it answered.
  bool cping_first = false;
};

// Runs one exchange on a connection that is ready for a new request. `packet` must be at least
// options.packet_size bytes; it is used for both directions.
Result exchange(const ajp::ForwardRequest& request, const BodyPlan& body, const ExchangeOptions& options,
                std::span<std::uint8_t> packet, BackendStream& backend, ClientSide& client);

// CPING, then waits up to timeout_ms for CPONG. True if the connection answered correctly.
bool cping(BackendStream& backend, std::uint32_t timeout_ms, std::string& detail);

}  // namespace idmb::forward
