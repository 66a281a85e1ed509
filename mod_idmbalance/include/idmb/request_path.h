// The life of one forwarded request, decided here and nowhere else:
//   1. prepare(): refuse what must not be forwarded (TRACE when off, bad framing, a body over
//      LimitRequestBody), plan the body, keep only the headers Tomcat may see;
//   2. forward(): read the first body packet, then choose a member -> reserve its place (or
//      wait for one) -> attempt on a pooled or new connection (CPING after idle) -> finish, or
//      retry on a fresh connection, or fail over to another member -> the answer.
// The shim turns a request_rec into these inputs, performs the I/O through the interfaces
// below, and returns the status. Unit tests drive every branch with doubles.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "idmb/ajp_codec.h"
#include "idmb/balancer.h"
#include "idmb/config.h"
#include "idmb/forwarder.h"
#include "idmb/health.h"
#include "idmb/log.h"

namespace idmb::request {

// The answer: an HTTP status for httpd to send, or kHandled when the response (or part of it)
// already went to the client, or the client went away. httpd's HTTP_* have these values.
inline constexpr int kHandled = 0;
inline constexpr int kBadRequest = 400;
inline constexpr int kMethodNotAllowed = 405;
inline constexpr int kPayloadTooLarge = 413;
inline constexpr int kBadGateway = 502;
inline constexpr int kServiceUnavailable = 503;
inline constexpr int kGatewayTimeout = 504;

// What the shim read from the client request (views into the request's memory).
struct ClientHead {
  std::string_view method;
  bool trace_disabled = false;  // TraceEnable Off for this server
  std::optional<std::string_view> transfer_encoding;
  std::optional<std::string_view> content_length;
  std::uint64_t body_limit = 0;  // LimitRequestBody; 0: none
  // The client's Connection header as received, and the fields it lists as the client sent
  // them: only those may be dropped as hop-by-hop (empty unless it lists a field).
  std::string_view client_connection;
  std::span<const ajp::Header> client_listed;
};

struct Refusal {
  int status = kBadRequest;
  std::string why;  // for the log line
};

// What forward() works from. Not copyable: the headers point into content_length_text.
struct Prepared {
  Prepared() = default;
  Prepared(const Prepared&) = delete;
  Prepared& operator=(const Prepared&) = delete;
  forward::BodyPlan body;
  std::array<char, 24> content_length_text{};
};

// Checks the head, plans the body and filters `request.headers` in place (Content-Length is
// re-set from the plan). nullopt: go on with forward(); else answer with the refusal.
std::optional<Refusal> prepare(const ClientHead& head, ajp::ForwardRequest& request, Prepared& out);

// Connections to the balancer's members, pooled per process.
class Backends {
 public:
  virtual ~Backends() = default;
  // A pooled connection to `member` that the backend has not closed, and how long it sat idle;
  // nullptr when the pool has none left.
  virtual std::unique_ptr<forward::BackendStream> take_pooled(int member, std::uint64_t& idle_ms) = 0;
  // A new connection; nullptr with `error` set on failure (`local`: this process could not
  // even try, not the member's fault).
  virtual std::unique_ptr<forward::BackendStream> connect(int member, std::string& error, bool& local) = 0;
  // Back into the pool for the next request (only a connection this Backends handed out).
  virtual void keep(int member, std::unique_ptr<forward::BackendStream> connection) = 0;
  // Closes the member's idle connections (one failed a CPING: the rest are suspect).
  virtual void clear_pool(int member) = 0;
};

// The client side: the body source and the response sink, plus what a retry needs.
class Client : public forward::ClientSide {
 public:
  // Reads up to `limit` body bytes before any member is chosen (read_body hands them out first).
  virtual forward::IoStatus prefetch_body(std::size_t limit) = 0;
  // A retry of a request Tomcat never read (it closed before the CPONG): read_body starts over
  // with the prefetched bytes. False if some body byte came from beyond them.
  virtual bool rewind_body() = 0;
  virtual void finish() = 0;           // a complete response
  virtual void forget_response() = 0;  // nothing went out: a retry or an error page starts clean
  virtual void abort_response() = 0;   // headers went out, the body broke: truncate and close
};

// What a forwarded request cost at the backend, for mod_log_config (Env::summary).
struct Summary {
  int attempts = 0;             // members tried (a retry on a fresh connection is the same attempt)
  int first_member = -1;        // the member tried first
  std::int64_t backend_us = 0;  // time in attempts: place reserved -> exchange over, summed
};

// Time, and what the shim records about the request and its members.
class Env {
 public:
  virtual ~Env() = default;
  virtual std::int64_t monotonic_ms() = 0;  // for waits
  virtual std::int64_t wall_ms() = 0;       // for the shared table's time stamps
  virtual void sleep_ms(std::uint32_t ms) = 0;
  virtual std::string_view member_label(int member) = 0;              // "node1 (127.0.0.1:8009)"
  virtual std::string_view secret_of(int member) = 0;                 // "" for none
  virtual void chose(int member, const balance::Choice& choice) = 0;  // for mod_log_config & co.
  virtual void transition(int member, const health::Transition& transition) = 0;
  virtual void secret_refused(int member) = 0;  // first sign of a refused AJP secret
  virtual void retry_after(std::uint32_t seconds) = 0;
  // For response times (latency.h); the default has monotonic_ms' resolution.
  virtual std::int64_t monotonic_us() { return monotonic_ms() * 1000; }
  // Once per request that was attempted at least once, as forward() ends.
  virtual void summary(const Summary& /*summary*/) {}
};

struct Dependencies {
  Backends& backends;
  Client& client;
  Env& env;
  log::Sink& log;
};

struct Plan {
  std::string_view method;
  bool head_only = false;                        // HEAD: Tomcat's body is discarded
  std::vector<std::string_view> session_routes;  // route::session_routes of the request
};

// Forwards the prepared request to a member of the balancer; returns the answer (see
// kHandled). `packet` must hold cfg.packet_size bytes.
int forward(const config::BalancerConfig& cfg, balance::Balancer& chooser, ajp::ForwardRequest& request,
            const Prepared& prepared, const Plan& plan, Dependencies deps, std::span<std::uint8_t> packet);

// The answer for an attempt that ended with `result` and is not retried.
int status_for(const forward::Result& result);

}  // namespace idmb::request
