// Step 2 of the request path: choose, reserve, attempt, retry or fail over, answer.
#include <algorithm>
#include <string>

#include "idmb/failure.h"
#include "idmb/latency.h"
#include "idmb/request_path.h"

namespace idmb::request {

using forward::Outcome;
using log::Level;

int status_for(const forward::Result& result) {
  switch (result.outcome) {
    case Outcome::Ok:
    case Outcome::ClientAborted: return kHandled;
    case Outcome::ClientBodyError:
    case Outcome::RequestTooLarge: return kBadRequest;
    case Outcome::ClientBodyTooLarge: return kPayloadTooLarge;
    case Outcome::ConnectFailed:
    case Outcome::CpingFailed:
    case Outcome::LocalFailure: return kServiceUnavailable;
    case Outcome::BackendClosed: return result.request_sent ? kBadGateway : kServiceUnavailable;
    case Outcome::BackendTimeout: return kGatewayTimeout;
    case Outcome::ProtocolError:
    case Outcome::InvalidResponse: return kBadGateway;
    case Outcome::NewSessionRefused:  // always retried; left over only when no member remains
    case Outcome::FailOnStatus:       // IdmFailOnStatus: Tomcat's answer is not passed on
    case Outcome::RetryOnStatus:
    case Outcome::Stopping: return kServiceUnavailable;
  }
  return kBadGateway;
}

namespace {

constexpr std::uint32_t kQueuePollMs = 10;

// Every successful start() gets exactly one finish(), even if something throws in between:
// a lost finish would leave the member looking busy (and full, with max=) for good.
class Reservation {
 public:
  Reservation(balance::Balancer& balancer, int member) : balancer_(balancer), member_(member) {}
  ~Reservation() {
    if (!finished_) balancer_.finish(member_, 0, 0);
  }
  Reservation(const Reservation&) = delete;
  Reservation& operator=(const Reservation&) = delete;
  void finish(const forward::Result& result) {
    finished_ = true;
    balancer_.finish(member_, result.bytes_to_backend, result.bytes_from_backend);
  }

 private:
  balance::Balancer& balancer_;
  int member_;
  bool finished_ = false;
};

// Builds a log line only when its level is on.
template <class... Parts>
void note(log::Sink& sink, Level level, const Parts&... parts) {
  if (!sink.enabled(level)) return;
  std::string line;
  const auto add = [&line](const auto& part) {
    if constexpr (std::is_arithmetic_v<std::decay_t<decltype(part)>>) {
      line += std::to_string(part);
    } else {
      line += part;
    }
  };
  (add(parts), ...);
  sink.write(level, line);
}

// The client side of an exchange, noting when the response headers come (time to first byte).
class TimedClient final : public forward::ClientSide {
 public:
  TimedClient(forward::ClientSide& client, Env& env) : client_(client), env_(env) {}
  Read read_body(std::span<std::uint8_t> out) override { return client_.read_body(out); }
  bool send_headers(const ajp::SendHeaders& headers, std::optional<std::uint64_t> content_length) override {
    if (headers_us_ < 0) headers_us_ = env_.monotonic_us();
    return client_.send_headers(headers, content_length);
  }
  bool send_body(std::span<const std::uint8_t> data) override { return client_.send_body(data); }
  bool send_pending() override { return client_.send_pending(); }
  bool flush() override { return client_.flush(); }
  void restart() { headers_us_ = -1; }
  std::int64_t headers_us() const { return headers_us_; }

 private:
  forward::ClientSide& client_;
  Env& env_;
  std::int64_t headers_us_ = -1;
};

class Forwarding {
 public:
  Forwarding(const config::BalancerConfig& cfg, balance::Balancer& chooser, ajp::ForwardRequest& request,
             const Prepared& prepared, const Plan& plan, Dependencies deps, std::span<std::uint8_t> packet)
      : cfg_(cfg),
        chooser_(chooser),
        request_(request),
        body_(prepared.body),
        plan_(plan),
        deps_(deps),
        timed_(deps.client, deps.env),
        packet_(packet),
        routes_(plan.session_routes),
        replayable_(failure::replayable(plan.method, body_.kind != forward::BodyPlan::Kind::None)) {
    options_.packet_size = cfg.packet_size;
    options_.reply_timeout_ms = cfg.reply_timeout_ms;
    options_.head_request = plan.head_only;
    if (cfg.sticky.enabled) options_.session_cookie = cfg.sticky.cookie;
    options_.fail_on_status = cfg.fail_on_status;
    options_.cping_first = cfg.ping_before_post && !failure::is_idempotent(plan.method);
  }

  int run() {
    const int answer = choose_and_attempt();
    if (!tried_.empty()) deps_.env.summary({static_cast<int>(tried_.size()), tried_.front(), backend_us_});
    return answer;
  }

 private:
  int choose_and_attempt() {
    if (auto refused = prefetch_body()) return *refused;
    queue_deadline_ms_ = deps_.env.monotonic_ms() + cfg_.queue_timeout_ms;
    while (tried_.size() < chooser_.size()) {
      balance::Choice choice = chooser_.choose(routes_, tried_);
      choice.route_changed = choice.route_changed || moved_off_disabled_;
      if (choice.refused_by_force) {
        note(deps_.log, Level::Warning, "balancer ", cfg_.name, ": session route ", choice.session_route,
             " is unavailable and sticky sessions are forced");
        return kServiceUnavailable;
      }
      if (choice.member < 0 && !choice.full) break;
      // Every candidate full, or this session's member full: wait, then give up with 503.
      if (choice.member < 0 || !chooser_.start(choice.member, choice.sticky)) {
        if (wait_for_room()) continue;
        return queue_timed_out(choice.member);
      }
      if (auto answer = attempt(choice)) return *answer;
    }
    note(deps_.log, Level::Error, "balancer ", cfg_.name, ": no usable member (", tried_.size(), " tried)");
    return last_failure_status_;
  }

  // The first body packet (or IdmRequestBodyBuffer bytes) in hand before any place,
  // connection or Tomcat thread is taken: a client that stalls is held by httpd alone.
  std::optional<int> prefetch_body() {
    if (body_.kind == forward::BodyPlan::Kind::None) return std::nullopt;
    std::size_t first = std::max<std::size_t>(ajp::max_request_body_chunk(cfg_.packet_size), cfg_.request_body_buffer);
    if (body_.kind == forward::BodyPlan::Kind::Length) {
      first = static_cast<std::size_t>(std::min<std::uint64_t>(first, body_.length));
    }
    const forward::IoStatus s = deps_.client.prefetch_body(first);
    if (s == forward::IoStatus::Ok) return std::nullopt;
    note(deps_.log, Level::Info, "balancer ", cfg_.name,
         ": refusing client request: request body: ", forward::to_string(s));
    return s == forward::IoStatus::TooLarge ? kPayloadTooLarge : kBadRequest;
  }

  // With max= limits, a request that finds its member(s) full waits a little for a place.
  bool wait_for_room() {
    if (deps_.env.monotonic_ms() >= queue_deadline_ms_) return false;
    deps_.env.sleep_ms(kQueuePollMs);
    return true;
  }

  int queue_timed_out(int member) {
    note(deps_.log, Level::Warning, "balancer ", cfg_.name, ": ",
         member < 0 ? std::string("every member is") : std::string(cfg_.members[static_cast<std::size_t>(member)].name),
         " at its max= limit for ", cfg_.queue_timeout_ms, " ms");
    deps_.env.retry_after(1);
    return kServiceUnavailable;
  }

  // One member, its place reserved: nullopt to go on with another member, else the answer.
  std::optional<int> attempt(const balance::Choice& choice) {
    const int member = choice.member;
    Reservation reservation(chooser_, member);
    tried_.push_back(member);
    deps_.env.chose(member, choice);
    const std::string_view secret = deps_.env.secret_of(member);
    request_.secret = secret.empty() ? std::nullopt : std::optional<std::string_view>(secret);
    options_.refuse_new_session = replayable_ && chooser_.is_disabled(member);

    bool reused = false;
    std::unique_ptr<forward::BackendStream> connection;
    const std::int64_t start_us = deps_.env.monotonic_us();
    const forward::Result result = exchange_once_or_twice(member, reused, connection);
    const std::int64_t end_us = deps_.env.monotonic_us();
    reservation.finish(result);
    record_times(member, result, start_us, end_us);
    if (result.outcome == Outcome::Ok) {
      answered(member, choice, result, reused, std::move(connection));
      return kHandled;
    }
    return failed(member, result);
  }

  // Response times go to the member's histograms only for attempts that reached it: a refused
  // connection says nothing about how fast it answers (it counts in the request rate).
  void record_times(int member, const forward::Result& result, std::int64_t start_us, std::int64_t end_us) {
    latency::Attempt times;
    if (result.request_sent) times.total_us = std::max<std::int64_t>(0, end_us - start_us);
    if (timed_.headers_us() >= 0) times.first_byte_us = std::max<std::int64_t>(0, timed_.headers_us() - start_us);
    // As failed() counts it in errors_total: not for -CODE of IdmFailOnStatus, nor client faults.
    times.error = result.outcome != Outcome::Ok && result.outcome != Outcome::RetryOnStatus &&
                  failure::error_class(result.outcome) != table::ErrorClass::Client;
    latency::record_attempt(chooser_.slot(member).latency, deps_.env.wall_ms(), times);
    backend_us_ += std::max<std::int64_t>(0, end_us - start_us);
  }

  // One extra try on a fresh connection when a pooled one turns out stale.
  forward::Result exchange_once_or_twice(int member, bool& reused,
                                         std::unique_ptr<forward::BackendStream>& connection) {
    forward::Result result;
    for (int attempt = 0; attempt < 2; ++attempt) {
      result = {};
      timed_.restart();  // the headers of the try that answers
      connection = acquire(member, reused, result);
      if (!connection) break;
      result = forward::exchange(request_, body_, options_, packet_, *connection, timed_);
      if (result.outcome == Outcome::Ok) break;
      connection.reset();  // any failure: the connection is closed, never reused
      const bool stale_pooled = reused && result.outcome == Outcome::BackendClosed && may_retry(result);
      if (!stale_pooled) break;
      deps_.client.forget_response();
      note(deps_.log, Level::Debug, "member ", deps_.env.member_label(member), ": pooled connection failed (",
           result.detail, "), retrying on a new one");
    }
    return result;
  }

  // A connection to `member` ready for a request: a pooled one that is still clean (CPINGed
  // first if it sat idle a while), else a new one. On failure returns nullptr and fills
  // `failed` (nothing was sent, so the request may go elsewhere).
  std::unique_ptr<forward::BackendStream> acquire(int member, bool& reused, forward::Result& failed) {
    bool check_fresh = false;
    std::uint64_t idle_ms = 0;
    if (auto pooled = deps_.backends.take_pooled(member, idle_ms)) {
      std::string detail;
      if (idle_ms < cfg_.ping_after_idle_ms || forward::cping(*pooled, cfg_.ping_timeout_ms, detail)) {
        reused = true;
        return pooled;
      }
      // A firewall that dropped one idle connection dropped them all: start afresh, and make
      // sure the member itself answers before a request goes to it.
      note(deps_.log, Level::Info, "member ", deps_.env.member_label(member), ": idle connection failed CPING (",
           detail, "), reconnecting");
      deps_.backends.clear_pool(member);
      check_fresh = true;
    }
    reused = false;
    std::string error;
    bool local = false;
    auto connection = deps_.backends.connect(member, error, local);
    if (!connection) {
      failed.outcome = local ? Outcome::LocalFailure : Outcome::ConnectFailed;
      failed.detail = error;
      return nullptr;
    }
    if (check_fresh && !forward::cping(*connection, cfg_.ping_timeout_ms, error)) {
      failed.outcome = Outcome::CpingFailed;
      failed.detail = "new connection: " + error;
      return nullptr;
    }
    return connection;
  }

  void answered(int member, const balance::Choice& choice, const forward::Result& result, bool reused,
                std::unique_ptr<forward::BackendStream> connection) {
    chooser_.record_success(member);
    if (choice.sticky && !result.opened_session) chooser_.note_live_session(member);
    if (health::note_secret_refusal(chooser_.slot(member), failure::looks_like_secret_refusal(result),
                                    deps_.env.wall_ms())) {
      deps_.env.secret_refused(member);
    }
    if (result.reuse_connection) deps_.backends.keep(member, std::move(connection));
    deps_.client.finish();
    note(deps_.log, Level::Trace1, "member ", cfg_.members[static_cast<std::size_t>(member)].name, ": ", result.status,
         ", ", reused ? "pooled" : "new", " connection");
  }

  // Whether a failed attempt may be tried again. Body bytes went out only if Tomcat closed before
  // the CPONG to a CPING ahead of the request (cping_first): the retry sends them again.
  bool may_retry(const forward::Result& result) {
    if (!failure::may_retry(result, plan_.method)) return false;
    return !result.body_consumed || result.request_sent || deps_.client.rewind_body();
  }

  // After a failed attempt: nullopt to try another member, else the answer.
  std::optional<int> failed(int member, const forward::Result& result) {
    if (!result.response_started) deps_.client.forget_response();  // retry or error page
    if (result.outcome == Outcome::NewSessionRefused) {
      note(deps_.log, Level::Info, "member ", cfg_.members[static_cast<std::size_t>(member)].name, " of balancer ",
           cfg_.name,
           " is disabled and opened a new session for this request (its session id was not live "
           "there): sending it to an active member as a new session");
      routes_ = {};
      moved_off_disabled_ = true;
      return std::nullopt;
    }
    if (result.outcome != Outcome::RetryOnStatus) {  // -CODE of IdmFailOnStatus: not the member's fault
      deps_.env.transition(member, chooser_.record_error(member, failure::error_class(result.outcome)));
    }
    const Level level = failure::blames_member(result.outcome)       ? Level::Error
                        : result.outcome == Outcome::InvalidResponse ? Level::Warning
                                                                     : Level::Info;
    note(deps_.log, level, "member ", deps_.env.member_label(member), " of balancer ", cfg_.name, ": ",
         forward::to_string(result.outcome), ": ", result.detail);
    if (may_retry(result)) {
      last_failure_status_ = status_for(result);
      return std::nullopt;  // nothing harmful happened yet: try another member
    }
    if (result.response_started) {
      if (result.outcome != Outcome::ClientAborted) deps_.client.abort_response();
      return kHandled;
    }
    return status_for(result);
  }

  const config::BalancerConfig& cfg_;
  balance::Balancer& chooser_;
  ajp::ForwardRequest& request_;
  const forward::BodyPlan& body_;
  const Plan& plan_;
  Dependencies deps_;
  TimedClient timed_;
  std::span<std::uint8_t> packet_;
  std::span<const std::string_view> routes_;
  const bool replayable_;
  forward::ExchangeOptions options_;
  std::vector<int> tried_;
  bool moved_off_disabled_ = false;
  std::int64_t queue_deadline_ms_ = 0;
  int last_failure_status_ = kServiceUnavailable;  // what to answer when every try failed
  std::int64_t backend_us_ = 0;                    // Summary::backend_us
};

}  // namespace

int forward(const config::BalancerConfig& cfg, balance::Balancer& chooser, ajp::ForwardRequest& request,
            const Prepared& prepared, const Plan& plan, Dependencies deps, std::span<std::uint8_t> packet) {
  return Forwarding(cfg, chooser, request, prepared, plan, deps, packet).run();
}

}  // namespace idmb::request
