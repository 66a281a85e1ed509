// The request path: pick a member, get a pooled (or new) connection, run the exchange, turn
// its outcome into a status and one log line. Balancing decisions come from the core.
#include <chrono>
#include <cstring>
#include <thread>
#include <string>

#include "httpd.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include "client_brigade.h"
#include "idmb/failure.h"
#include "idmb/session_route.h"
#include "apr_strings.h"
#include "request_mapping.h"
#include "runtime.h"
#include "shim_module.h"
#include "shim_log.h"

APLOG_USE_MODULE(idmbalance);

namespace idmb::shim {
namespace {

using forward::Outcome;

constexpr std::chrono::milliseconds kQueuePoll{10};

// Every successful start() gets exactly one finish(), even if something throws in between:
// a lost finish would leave the member looking busy (and full, with max=) for good.
class Attempt {
 public:
  Attempt(balance::Balancer& balancer, int member) : balancer_(balancer), member_(member) {}
  ~Attempt() {
    if (!finished_) {
      balancer_.finish(member_, 0, 0);
    }
  }
  Attempt(const Attempt&) = delete;
  Attempt& operator=(const Attempt&) = delete;
  void finish(const forward::Result& result) {
    finished_ = true;
    balancer_.finish(member_, result.bytes_to_backend, result.bytes_from_backend);
  }

 private:
  balance::Balancer& balancer_;
  int member_;
  bool finished_ = false;
};

// A connection to `member` ready for a request: a pooled one that is still clean (CPINGed
// first if it sat idle a while), else a new one. On failure returns nullptr and fills
// `failed` (nothing was sent, so the request may go elsewhere).
std::unique_ptr<BackendConnection> acquire(request_rec* r, const BalancerRuntime& balancer, MemberRuntime& member,
                                           bool& reused, forward::Result& failed) {
  const auto& cfg = *balancer.config;
  bool check_fresh = false;
  while (auto connection = member.pool.take()) {
    if (!connection->idle_and_clean()) {
      IDMB_LOG_R(APLOG_DEBUG, r, "member %s (%s): pooled connection was closed by the backend",
                    member.config->name.c_str(), member.address.c_str());
      continue;
    }
    auto idle = Clock::now() - connection->last_used;
    if (idle >= std::chrono::milliseconds(cfg.ping_after_idle_ms)) {
      std::string detail;
      if (!forward::cping(*connection, cfg.ping_timeout_ms, detail)) {
        // A firewall that dropped one idle connection dropped them all: start afresh, and
        // make sure the member itself answers before a request goes to it.
        IDMB_LOG_R(APLOG_INFO, r, "member %s (%s): idle connection failed CPING (%s), reconnecting",
                      member.config->name.c_str(), member.address.c_str(), detail.c_str());
        member.pool.clear();
        check_fresh = true;
        break;
      }
    }
    reused = true;
    return connection;
  }
  reused = false;
  std::string error;
  bool local = false;
  auto connection =
      connect_member(member, cfg.connect_timeout_ms, error, local);
  if (!connection) {
    failed.outcome = local ? Outcome::LocalFailure : Outcome::ConnectFailed;
    failed.detail = error;
    return nullptr;
  }
  if (check_fresh && !forward::cping(*connection, cfg.ping_timeout_ms, error)) {
    failed.outcome = Outcome::CpingFailed;
    failed.detail = "new connection: " + error;
    return nullptr;
  }
  return connection;
}

int status_for(const forward::Result& result) {
  switch (result.outcome) {
    case Outcome::Ok:
    case Outcome::ClientAborted:
      return OK;
    case Outcome::ClientBodyError:
    case Outcome::RequestTooLarge:
      return HTTP_BAD_REQUEST;
    case Outcome::ClientBodyTooLarge:
      return HTTP_REQUEST_ENTITY_TOO_LARGE;
    case Outcome::ConnectFailed:
    case Outcome::CpingFailed:
    case Outcome::LocalFailure:
      return HTTP_SERVICE_UNAVAILABLE;
    case Outcome::BackendClosed:
      return result.request_sent ? HTTP_BAD_GATEWAY : HTTP_SERVICE_UNAVAILABLE;
    case Outcome::BackendTimeout:
      return HTTP_GATEWAY_TIME_OUT;
    case Outcome::ProtocolError:
    case Outcome::InvalidResponse:
      return HTTP_BAD_GATEWAY;
    case Outcome::NewSessionRefused:  // always retried; left over only when no member remains
      return HTTP_SERVICE_UNAVAILABLE;
  }
  return HTTP_INTERNAL_SERVER_ERROR;
}


// Logged once when a member starts answering like Tomcat refusing the AJP secret.
void warn_if_secret_refused(Runtime& runtime, request_rec* r, const BalancerRuntime& balancer,
                            const MemberRuntime& member, const forward::Result& result) {
  const std::int64_t now = runtime.clock.now_ms();
  if (!health::note_secret_refusal(*member.slot, failure::looks_like_secret_refusal(result), now)) {
    return;
  }
  IDMB_LOG_R(APLOG_ERR, r,
             "member %s (%s) of balancer %s answers 403 and closes the connection, as Tomcat does when the "
             "AJP secret does not match: check secret=/IdmSecret against the connector's secret",
             member.config->name.c_str(), member.address.c_str(), balancer.config->name.c_str());
  if (runtime.table) {
    runtime.table->add_event(member.table_index, now, "answers look like a refused AJP secret (403 and close)");
  }
}

// Tells mod_log_config (and CGI/SSI) which member served the request and why.
void export_choice(request_rec* r, const BalancerRuntime& balancer, const MemberRuntime& member,
                   const balance::Choice& choice) {
  apr_table_setn(r->subprocess_env, "IDMB_BALANCER", balancer.config->name.c_str());
  apr_table_setn(r->subprocess_env, "IDMB_MEMBER", member.config->name.c_str());
  apr_table_setn(r->subprocess_env, "IDMB_ROUTE", member.config->route.c_str());
  apr_table_setn(r->subprocess_env, "IDMB_STICKY", choice.sticky ? "1" : "0");
  apr_table_setn(r->subprocess_env, "IDMB_ROUTE_CHANGED", choice.route_changed ? "1" : "0");
  if (!choice.session_route.empty()) {
    apr_table_setn(r->subprocess_env, "IDMB_SESSION_ROUTE",
                   apr_pstrmemdup(r->pool, choice.session_route.data(), choice.session_route.size()));
  }
}

std::vector<std::string_view> routes_of(request_rec* r, const config::StickyConfig& sticky) {
  if (!sticky.enabled) {
    return {};
  }
  const char* cookies = apr_table_get(r->headers_in, "Cookie");
  return route::session_routes(raw_target_path(r->unparsed_uri), cookies ? cookies : "", sticky.cookie,
                               sticky.path_param);
}

}  // namespace

int forward_request(request_rec* r, Runtime& runtime, BalancerRuntime& balancer) {
  const auto& cfg = *balancer.config;
  // TraceEnable applies to forwarded URLs too (httpd's own check runs in the default
  // handler, which mounted URLs never reach).
  if (r->method_number == M_TRACE) {
    auto* core = static_cast<core_server_config*>(ap_get_core_module_config(r->server->module_config));
    if (core->trace_enable == AP_TRACE_DISABLE) {
      IDMB_LOG_R(APLOG_INFO, r, "balancer %s: TRACE refused (TraceEnable Off)", cfg.name.c_str());
      return HTTP_METHOD_NOT_ALLOWED;
    }
  }
  MappedRequest mapped;
  const char* why = nullptr;
  if (int status = map_request(r, mapped, &why); status != OK) {
    IDMB_LOG_R(APLOG_INFO, r, "balancer %s: refusing client request: %s", cfg.name.c_str(), why);
    return status;
  }

  forward::ExchangeOptions options;
  options.packet_size = cfg.packet_size;
  options.reply_timeout_ms = cfg.reply_timeout_ms;
  options.head_request = r->header_only != 0;
  auto* packet = static_cast<std::uint8_t*>(apr_palloc(r->pool, cfg.packet_size));
  ClientBrigade client(r);
  if (mapped.body.kind != forward::BodyPlan::Kind::None) {
    // The first body packet (or IdmRequestBodyBuffer bytes) in hand before any place,
    // connection or Tomcat thread is taken.
    std::size_t first = std::max<std::size_t>(ajp::max_request_body_chunk(cfg.packet_size), cfg.request_body_buffer);
    if (mapped.body.kind == forward::BodyPlan::Kind::Length) {
      first = static_cast<std::size_t>(std::min<std::uint64_t>(first, mapped.body.length));
    }
    if (auto s = client.prefetch_body(first); s != forward::IoStatus::Ok) {
      IDMB_LOG_R(APLOG_INFO, r, "balancer %s: refusing client request: request body: %s", cfg.name.c_str(),
                 std::string(forward::to_string(s)).c_str());
      return s == forward::IoStatus::TooLarge ? HTTP_REQUEST_ENTITY_TOO_LARGE : HTTP_BAD_REQUEST;
    }
  }
  balance::Balancer& chooser = *balancer.balancer;
  const auto request_routes = routes_of(r, cfg.sticky);
  std::span<const std::string_view> routes = request_routes;
  bool moved_off_disabled = false;
  // A disabled member may keep its sessions but must not open new ones (a forged or stale
  // session id would otherwise land there and hold its drain open): where the request can
  // run again elsewhere, its new-session answer is refused and it goes on as a new session.
  const bool replayable = failure::replayable(r->method, mapped.body.kind != forward::BodyPlan::Kind::None);
  if (cfg.sticky.enabled) {
    options.session_cookie = cfg.sticky.cookie;
  }
  std::vector<int> tried;
  int last_failure_status = HTTP_SERVICE_UNAVAILABLE;  // what to answer when every try failed

  // With max= limits, a request that finds its member(s) full waits a little for a place.
  const auto queue_deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(cfg.queue_timeout_ms);
  const auto wait_for_room = [&] {
    if (std::chrono::steady_clock::now() >= queue_deadline) {
      return false;
    }
    std::this_thread::sleep_for(kQueuePoll);
    return true;
  };

  while (tried.size() < balancer.members.size()) {
    balance::Choice choice = chooser.choose(routes, tried);
    choice.route_changed = choice.route_changed || moved_off_disabled;
    if (choice.refused_by_force) {
      IDMB_LOG_R(APLOG_WARNING, r,
                    "balancer %s: session route %.*s is unavailable and sticky sessions are forced", cfg.name.c_str(),
                    static_cast<int>(choice.session_route.size()), choice.session_route.data());
      return HTTP_SERVICE_UNAVAILABLE;
    }
    if (choice.member < 0 && !choice.full) {
      break;
    }
    // Every candidate full, or this session's member full: wait, then give up with 503.
    if (choice.member < 0 || !chooser.start(choice.member, choice.sticky)) {
      if (wait_for_room()) {
        continue;
      }
      IDMB_LOG_R(APLOG_WARNING, r, "balancer %s: %s at its max= limit for %u ms", cfg.name.c_str(),
                    choice.member < 0 ? "every member is" : balancer.members[static_cast<std::size_t>(choice.member)].config->name.c_str(),
                    cfg.queue_timeout_ms);
      apr_table_setn(r->err_headers_out, "Retry-After", "1");
      return HTTP_SERVICE_UNAVAILABLE;
    }
    Attempt accounting(chooser, choice.member);
    tried.push_back(choice.member);
    MemberRuntime& member = balancer.members[static_cast<std::size_t>(choice.member)];
    const char* member_name = member.config->name.c_str();
    export_choice(r, balancer, member, choice);
    mapped.ajp.secret = member.secret.empty() ? std::nullopt : std::optional<std::string_view>(member.secret);
    options.refuse_new_session = replayable && chooser.is_disabled(choice.member);

    // One extra try on a fresh connection when a pooled one turns out stale.
    forward::Result result;
    for (int attempt = 0; attempt < 2; ++attempt) {
      bool reused = false;
      result = {};
      auto connection = acquire(r, balancer, member, reused, result);
      if (!connection) {
        break;
      }
      result = forward::exchange(mapped.ajp, mapped.body, options, {packet, cfg.packet_size}, *connection, client);
      if (result.outcome == Outcome::Ok) {
        accounting.finish(result);
        chooser.record_success(choice.member);
        if (choice.sticky && !result.opened_session) {
          chooser.note_live_session(choice.member);
        }
        warn_if_secret_refused(runtime, r, balancer, member, result);
        if (result.reuse_connection) {
          member.pool.give_back(std::move(connection));
        }
        client.finish();
        IDMB_LOG_R(APLOG_TRACE1, r, "member %s: %d, %s connection", member_name, result.status,
                      reused ? "pooled" : "new");
        return OK;
      }
      connection.reset();  // any failure: the connection is closed, never reused
      bool stale_pooled = reused && result.outcome == Outcome::BackendClosed && failure::may_retry(result, r->method);
      if (!stale_pooled) {
        break;
      }
      client.forget_response();
      IDMB_LOG_R(APLOG_DEBUG, r, "member %s (%s): pooled connection failed (%s), retrying on a new one",
                    member_name, member.address.c_str(), result.detail.c_str());
    }

    accounting.finish(result);
    if (!result.response_started) {
      client.forget_response();  // Tomcat's headers, if any, never left: retry or error page
    }
    if (result.outcome == Outcome::NewSessionRefused) {
      IDMB_LOG_R(APLOG_INFO, r,
                 "member %s of balancer %s is disabled and opened a new session for this request (its "
                 "session id was not live there): sending it to an active member as a new session",
                 member_name, cfg.name.c_str());
      routes = {};
      moved_off_disabled = true;
      continue;
    }
    report_transition(runtime, r->server, balancer, member,
                      chooser.record_error(choice.member, failure::error_class(result.outcome)));
    int level = failure::blames_member(result.outcome)                ? APLOG_ERR
                : result.outcome == Outcome::InvalidResponse ? APLOG_WARNING
                                                             : APLOG_INFO;
    IDMB_LOG_R(level, r, "member %s (%s) of balancer %s: %s: %s", member_name,
                  member.address.c_str(), cfg.name.c_str(), std::string(forward::to_string(result.outcome)).c_str(),
                  result.detail.c_str());
    if (failure::may_retry(result, r->method)) {
      last_failure_status = status_for(result);
      continue;  // nothing harmful happened yet: try another member
    }
    if (result.response_started) {
      if (result.outcome != Outcome::ClientAborted) {
        client.abort_response();
      }
      return OK;
    }
    return status_for(result);
  }
  IDMB_LOG_R(APLOG_ERR, r, "balancer %s: no usable member (%" APR_SIZE_T_FMT " tried)", cfg.name.c_str(),
                tried.size());
  return last_failure_status;
}

}  // namespace idmb::shim
