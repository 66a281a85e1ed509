// The request path's glue: request_rec -> request::prepare / request::forward (the core
// decides), with the pools, the client brigade, the clock and the error log behind the core's
// interfaces.
#include <array>
#include <charconv>
#include <chrono>
#include <string>
#include <thread>

#include "httpd.h"
#include "http_core.h"
#include "http_log.h"
#include "http_protocol.h"
#include "http_request.h"

#include "apr_strings.h"
#include "client_brigade.h"
#include "idmb/request_path.h"
#include "idmb/session_route.h"
#include "request_mapping.h"
#include "runtime.h"
#include "shim_log.h"
#include "shim_module.h"

APLOG_USE_MODULE(idmbalance);

namespace idmb::shim {
namespace {

MemberRuntime& member_at(BalancerRuntime& balancer, int member) {
  return balancer.members[static_cast<std::size_t>(member)];
}

class PooledBackends final : public request::Backends {
 public:
  PooledBackends(request_rec* r, BalancerRuntime& balancer) : r_(r), balancer_(balancer) {}

  std::unique_ptr<forward::BackendStream> take_pooled(int m, std::uint64_t& idle_ms) override {
    MemberRuntime& member = member_at(balancer_, m);
    while (auto connection = member.pool.take()) {
      if (!connection->idle_and_clean()) {
        IDMB_LOG_R(APLOG_DEBUG, r_, "member %s (%s): pooled connection was closed by the backend",
                   member.config->name.c_str(), member.address.c_str());
        continue;
      }
      idle_ms = static_cast<std::uint64_t>(
          std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - connection->last_used).count());
      return connection;
    }
    return nullptr;
  }

  std::unique_ptr<forward::BackendStream> connect(int m, std::string& error, bool& local) override {
    return connect_member(member_at(balancer_, m), balancer_.config->connect_timeout_ms, error, local);
  }

  void keep(int m, std::unique_ptr<forward::BackendStream> connection) override {
    // Every stream the core holds came from take_pooled() or connect() above.
    member_at(balancer_, m)
        .pool.give_back(std::unique_ptr<BackendConnection>(static_cast<BackendConnection*>(connection.release())));
  }

  void clear_pool(int m) override { member_at(balancer_, m).pool.clear(); }

 private:
  request_rec* r_;
  BalancerRuntime& balancer_;
};

class RequestEnv final : public request::Env, public log::Sink {
 public:
  RequestEnv(request_rec* r, Runtime& runtime, BalancerRuntime& balancer)
      : r_(r), runtime_(runtime), balancer_(balancer) {}

  std::int64_t monotonic_ms() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now().time_since_epoch()).count();
  }
  std::int64_t monotonic_us() override {
    return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now().time_since_epoch()).count();
  }
  std::int64_t wall_ms() override { return runtime_.clock.now_ms(); }
  void sleep_ms(std::uint32_t ms) override { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

  std::string_view member_label(int m) override {
    const MemberRuntime& member = member_at(balancer_, m);
    label_ = member.config->name + " (" + member.address + ")";
    return label_;
  }
  std::string_view secret_of(int m) override { return member_at(balancer_, m).secret; }

  // Tells mod_log_config (and CGI/SSI) which member served the request and why. The first
  // choice adds the variables (nothing set them before: see summary()); a failover's choice
  // replaces them. setn searches the table and compares every IDMB_* name before it (they all
  // hash alike): five of them measured ~930 instructions per request, addn ~300.
  void chose(int m, const balance::Choice& choice) override {
    const MemberRuntime& member = member_at(balancer_, m);
    const auto set = chose_before_ ? apr_table_setn : apr_table_addn;
    chose_before_ = true;
    set(r_->subprocess_env, "IDMB_BALANCER", balancer_.config->name.c_str());
    set(r_->subprocess_env, "IDMB_MEMBER", member.config->name.c_str());
    set(r_->subprocess_env, "IDMB_ROUTE", member.config->route.c_str());
    set(r_->subprocess_env, "IDMB_STICKY", choice.sticky ? "1" : "0");
    set(r_->subprocess_env, "IDMB_ROUTE_CHANGED", choice.route_changed ? "1" : "0");
    if (!choice.session_route.empty()) {
      set(r_->subprocess_env, "IDMB_SESSION_ROUTE",
          apr_pstrmemdup(r_->pool, choice.session_route.data(), choice.session_route.size()));
    }
  }

  void transition(int m, const health::Transition& transition) override {
    report_transition(runtime_, r_->server, balancer_, member_at(balancer_, m), transition);
  }

  void secret_refused(int m) override {
    const MemberRuntime& member = member_at(balancer_, m);
    IDMB_LOG_R(APLOG_ERR, r_,
               "member %s (%s) of balancer %s answers 403 and closes the connection, as Tomcat does when the "
               "AJP secret does not match: check secret=/IdmSecret against the connector's secret",
               member.config->name.c_str(), member.address.c_str(), balancer_.config->name.c_str());
    if (runtime_.table) {
      runtime_.table->add_event(member.table_index, runtime_.clock.now_ms(),
                                "answers look like a refused AJP secret (403 and close)");
    }
  }

  // mod_jk's JkRequestLogFormat %T, %w and %R have these as IDMB_* for mod_log_config.
  // addn, not setn: these names are set once per request, and setn's search of the whole
  // subprocess_env (with apr_psprintf) measured ~2500 instructions per request; this ~300.
  void summary(const request::Summary& summary) override {
    static constexpr const char* kSmall[] = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"};
    apr_table_addn(r_->subprocess_env, "IDMB_ATTEMPTS",
                   summary.attempts >= 0 && summary.attempts < 10 ? kSmall[summary.attempts]
                                                                  : apr_itoa(r_->pool, summary.attempts));
    apr_table_addn(r_->subprocess_env, "IDMB_FIRST_MEMBER",
                   member_at(balancer_, summary.first_member).config->name.c_str());
    char* out = static_cast<char*>(apr_palloc(r_->pool, 24));
    *std::to_chars(out, out + 23, summary.backend_us < 0 ? 0 : summary.backend_us).ptr = '\0';
    apr_table_addn(r_->subprocess_env, "IDMB_BACKEND_US", out);
  }

  void retry_after(std::uint32_t seconds) override {
    apr_table_setn(r_->err_headers_out, "Retry-After", apr_itoa(r_->pool, static_cast<int>(seconds)));
  }

  bool enabled(log::Level level) const override { return APLOG_R_IS_LEVEL(r_, apr_level(level)); }
  void write(log::Level level, std::string_view message) override {
    IDMB_LOG_R(apr_level(level), r_, "%.*s", static_cast<int>(message.size()), message.data());
  }

 private:
  static int apr_level(log::Level level) {
    switch (level) {
      case log::Level::Error: return APLOG_ERR;
      case log::Level::Warning: return APLOG_WARNING;
      case log::Level::Info: return APLOG_INFO;
      case log::Level::Debug: return APLOG_DEBUG;
      case log::Level::Trace1: return APLOG_TRACE1;
    }
    return APLOG_ERR;
  }

  request_rec* r_;
  Runtime& runtime_;
  BalancerRuntime& balancer_;
  std::string label_;
  bool chose_before_ = false;  // chose() ran: the IDMB_* choice variables exist
};

// The request's header and attribute vectors keep their capacity from one request to the next
// on this thread (their entries are views into each request's pool, cleared at the end): no
// allocation per request. A thread handles one forwarded request at a time.
class ReusedVectors {
 public:
  explicit ReusedVectors(ajp::ForwardRequest& fr) : fr_(fr), spare_(spare()) {
    fr_.headers.swap(spare_.headers);
    fr_.request_attributes.swap(spare_.attributes);
  }
  ~ReusedVectors() {
    fr_.headers.clear();
    fr_.request_attributes.clear();
    fr_.headers.swap(spare_.headers);
    fr_.request_attributes.swap(spare_.attributes);
  }
  ReusedVectors(const ReusedVectors&) = delete;
  ReusedVectors& operator=(const ReusedVectors&) = delete;

 private:
  struct Spare {
    std::vector<ajp::Header> headers;
    std::vector<ajp::Header> attributes;
  };
  static Spare& spare() {
    thread_local Spare vectors;
    return vectors;
  }
  ajp::ForwardRequest& fr_;
  Spare& spare_;
};

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
  ajp::ForwardRequest fr;
  ReusedVectors reused(fr);
  request::ClientHead head;
  std::vector<ajp::Header> client_listed;
  map_request(r, fr, head, client_listed);
  request::Prepared prepared;
  if (auto refusal = request::prepare(head, fr, prepared)) {
    IDMB_LOG_R(APLOG_INFO, r, "balancer %s: refusing client request: %s", cfg.name.c_str(), refusal->why.c_str());
    return refusal->status;
  }

  request::Plan plan;
  plan.method = r->method;
  plan.head_only = r->header_only != 0;
  plan.session_routes = routes_of(r, cfg.sticky);
  PooledBackends backends(r, balancer);
  ClientBrigade client(r);
  RequestEnv env(r, runtime, balancer);
  // The usual 8 KiB packet on the stack: a pool block per request cost ~130 instructions, and
  // as many again when the pool went.
  std::array<std::uint8_t, ajp::kMinPacketSize> small_packet;
  auto* packet = cfg.packet_size <= small_packet.size()
                     ? small_packet.data()
                     : static_cast<std::uint8_t*>(apr_palloc(r->pool, cfg.packet_size));
  const int answer = request::forward(cfg, *balancer.balancer, fr, prepared, plan, {backends, client, env, env},
                                      {packet, cfg.packet_size});
  return answer == request::kHandled ? OK : answer;
}

}  // namespace idmb::shim
