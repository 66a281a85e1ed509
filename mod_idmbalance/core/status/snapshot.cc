// Builds the status snapshot from the configuration and the shared worker table.
#include <atomic>
#include <string>

#include "idmb/health.h"
#include "idmb/status_snapshot.h"

namespace idmb::status {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

std::string_view activation_name(std::uint32_t raw) {
  if (raw > static_cast<std::uint32_t>(config::Activation::Standby)) return "unknown";
  return config::to_string(static_cast<config::Activation>(raw));
}

std::string_view health_name(std::uint32_t raw) { return health::to_string(static_cast<table::Health>(raw)); }

std::string address_of(const config::MemberConfig& m) { return m.host + ":" + std::to_string(m.port); }

MemberStatus member_status(const config::MemberConfig& cfg, const table::MemberSlot* slot, std::int64_t now_ms,
                           std::uint64_t drain_quiet_ms) {
  MemberStatus m;
  m.name = cfg.name;
  m.route = cfg.route;
  m.address = address_of(cfg);
  m.domain = cfg.domain;
  m.redirect = cfg.redirect;
  if (slot == nullptr) {
    // Not in the table (should not happen once the table is built): show the config only.
    m.activation = std::string(config::to_string(cfg.activation));
    m.state = "ok";
    m.factor = cfg.factor;
  } else {
    m.activation = std::string(activation_name(slot->activation.load(kRelaxed)));
    m.factor = slot->factor.load(kRelaxed);
    m.state = std::string(health_name(slot->health.load(kRelaxed)));
    m.state_since_ms = slot->state_since_ms.load(kRelaxed);
    m.busy = slot->busy.load(kRelaxed);
    m.requests = slot->requests.load(kRelaxed);
    for (std::size_t i = 0; i < table::kErrorClassCount; ++i) {
      m.errors[i] = slot->errors[i].load(kRelaxed);
    }
    m.bytes_in = slot->bytes_in.load(kRelaxed);
    m.bytes_out = slot->bytes_out.load(kRelaxed);
    m.sticky_hits = slot->sticky_hits.load(kRelaxed);
    m.last_error_ms = slot->last_error_ms.load(kRelaxed);
    m.secret_refused_ms = slot->secret_refused_ms.load(kRelaxed);
    const std::uint32_t last_class = slot->last_error_class.load(kRelaxed);
    if (m.last_error_ms != 0) {
      m.last_error = std::string(error_class_name(static_cast<table::ErrorClass>(last_class)));
    }
    m.last_sticky_ms = slot->last_sticky_ms.load(kRelaxed);
    m.last_probe_ms = slot->last_probe_ms.load(kRelaxed);
    m.last_probe_ok = m.last_probe_ms > 0 && slot->last_probe_ok.load(kRelaxed) != 0;
    m.ejected_until_ms = slot->ejected_until_ms.load(kRelaxed);
    m.outlier_ejections = slot->outlier_ejections.load(kRelaxed);
    m.latency = latency_status(slot->latency, now_ms);
  }
  for (std::size_t i = 0; i < table::kErrorClassCount; ++i) {
    if (i != static_cast<std::size_t>(table::ErrorClass::Client)) m.errors_total += m.errors[i];
  }
  m.drained = is_drained(m.activation, m.busy, m.last_sticky_ms, now_ms, drain_quiet_ms);
  return m;
}

}  // namespace

LatencyStatus latency_status(const table::MemberLatency& l, std::int64_t now_ms) {
  LatencyStatus out;
  out.total = latency::since_start(l.total);
  out.first_byte = latency::since_start(l.first_byte);
  const latency::Buckets total = latency::as_buckets(out.total);
  out.p50_ms = latency::quantile_ms(total, 0.5);
  out.p90_ms = latency::quantile_ms(total, 0.9);
  out.p99_ms = latency::quantile_ms(total, 0.99);
  const latency::Buckets first = latency::as_buckets(out.first_byte);
  out.first_byte_p50_ms = latency::quantile_ms(first, 0.5);
  out.first_byte_p90_ms = latency::quantile_ms(first, 0.9);
  out.first_byte_p99_ms = latency::quantile_ms(first, 0.99);
  for (std::size_t i = 0; i < LatencyStatus::kRateMinutes.size(); ++i) {
    const int minutes = LatencyStatus::kRateMinutes[i];
    const latency::Window w = latency::window(l, now_ms, minutes);
    out.requests_per_s[i] = latency::per_second(w.requests, minutes);
    out.errors_per_s[i] = latency::per_second(w.errors, minutes);
    if (minutes == 1) {
      out.minute_buckets = w.total;
      out.minute_requests = w.requests;
      out.minute_p50_ms = latency::quantile_ms(w.total, 0.5);
      out.minute_p90_ms = latency::quantile_ms(w.total, 0.9);
      out.minute_p99_ms = latency::quantile_ms(w.total, 0.99);
    }
  }
  for (int ago = latency::kWindowMinutes - 1; ago >= 0; --ago) {
    const latency::Minute m = latency::minute_ago(l, now_ms, ago);
    const auto i = static_cast<std::size_t>(latency::kWindowMinutes - 1 - ago);
    out.history_requests[i] = m.requests;
    out.history_errors[i] = m.errors;
    out.history_p99_ms[i] = latency::quantile_ms(m.total, 0.99);
  }
  return out;
}

std::string_view error_class_name(table::ErrorClass c) {
  switch (c) {
    case table::ErrorClass::Connect: return "connect";
    case table::ErrorClass::Cping: return "cping";
    case table::ErrorClass::BackendClosed: return "backend_closed";
    case table::ErrorClass::Protocol: return "protocol";
    case table::ErrorClass::Timeout: return "timeout";
    case table::ErrorClass::FailStatus: return "fail_status";
    case table::ErrorClass::Client: return "client";
    case table::ErrorClass::Response: return "response";
    case table::ErrorClass::kCount: break;
  }
  return "unknown";
}

bool is_drained(std::string_view activation, std::int64_t busy, std::int64_t last_sticky_ms, std::int64_t now_ms,
                std::uint64_t drain_quiet_ms) {
  if (activation != "disabled" || busy > 0) return false;
  if (last_sticky_ms <= 0) return true;  // no live session ever answered
  // A sticky time ahead of `now` (another child's clock) means "just now", not drained.
  if (last_sticky_ms > now_ms) return false;
  return static_cast<std::uint64_t>(now_ms - last_sticky_ms) >= drain_quiet_ms;
}

Snapshot take_snapshot(const std::vector<BalancerSource>& sources, std::int64_t now_ms, std::uint64_t drain_quiet_ms,
                       const SnapshotInfo& info) {
  Snapshot snap;
  snap.generated_ms = now_ms;
  snap.version = info.version;
  snap.generation = info.generation;
  snap.nonce = info.nonce;
  snap.balancers.reserve(sources.size());
  for (const BalancerSource& src : sources) {
    if (src.config == nullptr) continue;
    const config::BalancerConfig& cfg = *src.config;
    BalancerStatus b;
    b.name = cfg.name;
    b.method = std::string(config::to_string(src.method.value_or(cfg.method)));
    b.sticky.enabled = cfg.sticky.enabled;
    b.sticky.cookie = cfg.sticky.cookie;
    b.sticky.path_param = cfg.sticky.path_param;
    b.sticky.force = src.sticky_force.value_or(cfg.sticky.force);
    b.mounts = src.mounts;
    b.members.reserve(cfg.members.size());
    for (std::size_t i = 0; i < cfg.members.size(); ++i) {
      const table::MemberSlot* slot = i < src.slots.size() ? src.slots[i] : nullptr;
      b.members.push_back(member_status(cfg.members[i], slot, now_ms, drain_quiet_ms));
    }
    snap.balancers.push_back(std::move(b));
  }
  return snap;
}

}  // namespace idmb::status
