// The prober: a thread in every child, of which one at a time (holding the lease in the shared
// table) probes every member with a fresh connection and CPING/CPONG. Members in error come
// back through rise good probes, healthy ones are taken out after fall failed ones, and a
// recovered member's slow start is settled here. No user request is ever used as a probe. The
// lease holder also runs outlier ejection (outlier_detector.h) for balancers that turn it on.
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <optional>
#include <thread>
#include <unistd.h>

#include "httpd.h"
#include "http_log.h"

#include "idmb/health.h"
#include "idmb/outlier_detector.h"
#include "runtime.h"
#include "shim_module.h"
#include "shim_log.h"

APLOG_USE_MODULE(idmbalance);

namespace idmb::shim {
namespace {

constexpr std::chrono::milliseconds kTick{250};
// Renewed before every member's probe, and longer than one probe can take with default
// timeouts (connect 5 s + CPING 2 s + health URL 2 s), so no second child starts probing
// while a slow probe is under way. A child that dies holding it is replaced this much later.
constexpr std::int64_t kLeaseMs = 15000;
// How often the lease holder looks for children that died without the parent's child_status
// hook releasing what they held (an MPM that does not run it).
constexpr std::int64_t kSweepMs = 5000;

struct Prober {
  Runtime* runtime;
  server_rec* server;
  std::atomic<bool> stop{false};
  // Wakes the tick's wait when the child exits: a stopping child does not wait out a tick.
  std::mutex stop_mutex;
  std::condition_variable stop_signal;
  std::thread thread;
  std::vector<outlier::Detector> detectors;  // one per balancer, in runtime order
};

// One outlier judgement of `balancer` when its interval is due; each ejection is logged and
// becomes an event like any other state change.
void detect_outliers(Prober& p, BalancerRuntime& balancer, outlier::Detector& detector) {
  const config::BalancerConfig& cfg = *balancer.config;
  if (!cfg.outlier.enabled) {
    return;
  }
  std::vector<table::MemberSlot*> slots;
  for (auto& member : balancer.members) {
    slots.push_back(member.slot);
  }
  const std::int64_t now = p.runtime->clock.now_ms();
  for (auto& change : detector.run(slots, cfg.outlier, cfg.health.panic_percent, now)) {
    report_transition(*p.runtime, p.server, balancer, balancer.members[change.member], change.transition);
  }
}

// The client side of a health request: no body to send, the answer's status kept, its body
// dropped.
class ProbeClient final : public forward::ClientSide {
 public:
  Read read_body(std::span<std::uint8_t>) override { return {forward::IoStatus::Ok, 0}; }
  bool send_headers(const ajp::SendHeaders& headers, std::optional<std::uint64_t>) override {
    status = headers.status;
    return true;
  }
  bool send_body(std::span<const std::uint8_t>) override { return true; }
  bool flush() override { return true; }
  int status = 0;
};

// GET uri over AJP, as a request from the prober itself; 2xx and 3xx are good.
bool probe_uri(const BalancerRuntime& balancer, const MemberRuntime& member, BackendConnection& connection,
               std::string& detail) {
  const auto& cfg = *balancer.config;
  ajp::ForwardRequest request;
  request.method = "GET";
  request.protocol = "HTTP/1.1";
  request.uri = cfg.health.probe_uri;
  request.remote_addr = "127.0.0.1";
  request.server_name = member.config->host;
  request.server_port = member.config->port;
  request.headers.push_back({"Host", member.address});
  request.headers.push_back({"User-Agent", "mod_idmbalance-probe"});
  if (!member.secret.empty()) {
    request.secret = member.secret;
  }
  std::vector<std::uint8_t> packet(cfg.packet_size);
  forward::ExchangeOptions options;
  options.packet_size = cfg.packet_size;
  options.reply_timeout_ms = cfg.ping_timeout_ms;
  ProbeClient client;
  forward::Result result = forward::exchange(request, {}, options, packet, connection, client);
  if (result.outcome != forward::Outcome::Ok) {
    detail =
        "GET " + cfg.health.probe_uri + ": " + std::string(forward::to_string(result.outcome)) + ": " + result.detail;
    return false;
  }
  if (client.status < 200 || client.status >= 400) {
    detail = "GET " + cfg.health.probe_uri + ": status " + std::to_string(client.status);
    return false;
  }
  return true;
}

// The probe's verdict, or nothing when this process could not even try (no descriptor or
// local port): that says nothing about the member.
std::optional<bool> probe(const BalancerRuntime& balancer, const MemberRuntime& member, std::string& detail) {
  const auto& cfg = *balancer.config;
  bool local = false;
  auto connection = connect_member(member, cfg.connect_timeout_ms, detail, local);
  if (!connection) {
    detail = "connect: " + detail;
    if (local) {
      return std::nullopt;
    }
    return false;
  }
  if (!forward::cping(*connection, cfg.ping_timeout_ms, detail)) {
    return false;
  }
  return cfg.health.probe_uri.empty() || probe_uri(balancer, member, *connection, detail);
}

void probe_round(Prober& p, std::uint32_t pid) {
  Runtime& runtime = *p.runtime;
  p.detectors.resize(runtime.balancers.size());
  std::size_t index = 0;
  for (auto& balancer : runtime.balancers) {
    detect_outliers(p, balancer, p.detectors[index++]);
    const health::Policy& policy = balancer.config->health;
    for (auto& member : balancer.members) {
      table::MemberSlot& slot = *member.slot;
      // Still ours? Another child may have taken over if we were slow: then it probes.
      if (p.stop.load() || !runtime.table->try_take_prober_lease(pid, runtime.clock.now_ms(), kLeaseMs)) {
        return;
      }
      if (slot.activation.load(std::memory_order_relaxed) == static_cast<std::uint32_t>(config::Activation::Stopped)) {
        continue;  // the operator took it out: nobody should touch it
      }
      report_transition(runtime, p.server, balancer, member, health::settle(slot, runtime.clock.now_ms(), policy));
      if (!health::probe_due(slot, runtime.clock.now_ms(), policy)) {
        continue;
      }
      std::string detail;
      std::optional<bool> ok = probe(balancer, member, detail);
      if (!ok) {
        IDMB_LOG_S(APLOG_WARNING, p.server, "member %s (%s): cannot probe: %s", member.config->name.c_str(),
                   member.address.c_str(), detail.c_str());
        continue;
      }
      if (!*ok) {
        IDMB_LOG_S(APLOG_DEBUG, p.server, "member %s (%s): probe failed: %s", member.config->name.c_str(),
                   member.address.c_str(), detail.c_str());
      }
      report_transition(runtime, p.server, balancer, member,
                        health::on_probe_result(slot, *ok, runtime.clock.now_ms(), policy, detail));
    }
  }
}

void run(Prober& p) {
  const auto pid = static_cast<std::uint32_t>(::getpid());
  std::int64_t last_sweep_ms = 0;
  while (!p.stop.load()) {
    if (p.runtime->table && p.runtime->table->try_take_prober_lease(pid, p.runtime->clock.now_ms(), kLeaseMs)) {
      try {
        if (const std::int64_t now = p.runtime->clock.now_ms(); now - last_sweep_ms >= kSweepMs) {
          last_sweep_ms = now;
          sweep_dead_children(*p.runtime, p.server);
        }
        probe_round(p, pid);
      } catch (const std::exception& e) {
        IDMB_LOG_S(APLOG_ERR, p.server, "idmbalance prober: %s", e.what());
      }
    } else {
      // Another child judges now: our windows would span its time too.
      for (auto& detector : p.detectors) {
        detector.reset();
      }
    }
    std::unique_lock lock(p.stop_mutex);
    p.stop_signal.wait_for(lock, kTick, [&p] { return p.stop.load(); });
  }
  if (p.runtime->table) {
    p.runtime->table->release_prober_lease(pid);  // let another child take over at once
  }
}

apr_status_t stop_prober(void* data) {
  auto* p = static_cast<Prober*>(data);
  {
    std::lock_guard lock(p->stop_mutex);  // so the store cannot fall between the wait's check and its sleep
    p->stop.store(true);
  }
  p->stop_signal.notify_all();
  if (p->thread.joinable()) {
    p->thread.join();
  }
  return APR_SUCCESS;
}

}  // namespace

void start_prober(Runtime& runtime, server_rec* s, apr_pool_t* child_pool) {
  if (runtime.balancers.empty()) {
    return;
  }
  auto* p = pool_new<Prober>(child_pool);
  p->runtime = &runtime;
  p->server = s;
  p->thread = std::thread([p] { run(*p); });
  // Registered after pool_new's destructor cleanup, so it runs first (cleanups run in reverse).
  apr_pool_cleanup_register(child_pool, p, stop_prober, apr_pool_cleanup_null);
}

}  // namespace idmb::shim
