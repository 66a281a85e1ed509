// The outlier detector over the shared slots (outlier_detector.h). Relaxed loads throughout:
// a window a few requests off only shifts a rate by a hair, and every state change still goes
// through health::eject's compare-exchange.
#include "idmb/outlier_detector.h"

#include <atomic>

#include "idmb/config.h"
#include "idmb/latency.h"

namespace idmb::outlier {
namespace {

using table::ErrorClass;
using table::Health;
using table::MemberSlot;

constexpr auto kRelaxed = std::memory_order_relaxed;

constexpr ErrorClass kFaults[] = {ErrorClass::Connect,  ErrorClass::Cping,   ErrorClass::BackendClosed,
                                  ErrorClass::Protocol, ErrorClass::Timeout, ErrorClass::FailStatus};

Health health_of(const MemberSlot& s) { return static_cast<Health>(s.health.load(kRelaxed)); }

// The member's ejection level after decay, written back when it dropped. Only while it is in
// rotation: an ejected member's level holds.
std::uint32_t current_level(MemberSlot& s, const MemberWindow& w, std::int64_t now_ms, const Policy& policy) {
  const std::uint32_t level = s.ejection_level.load(kRelaxed);
  if (!w.usable || level == 0) return level;
  std::int64_t since = s.ejection_decay_ms.load(kRelaxed);
  const std::uint32_t decayed = decayed_level(level, since, now_ms, policy);
  if (decayed != level) {
    s.ejection_level.store(decayed, kRelaxed);
    s.ejection_decay_ms.store(since, kRelaxed);
  }
  return decayed;
}

}  // namespace

std::uint64_t member_faults(const MemberSlot& slot) {
  std::uint64_t sum = 0;
  for (ErrorClass c : kFaults) sum += slot.errors[static_cast<std::size_t>(c)].load(kRelaxed);
  return sum;
}

std::vector<MemberWindow> Detector::windows(std::span<MemberSlot* const> slots, std::int64_t now_ms,
                                            const Policy& policy) {
  std::vector<MemberWindow> out(slots.size());
  for (std::size_t i = 0; i < slots.size(); ++i) {
    MemberSlot& s = *slots[i];
    MemberWindow& w = out[i];
    const Health h = health_of(s);
    w.active = s.activation.load(kRelaxed) == static_cast<std::uint32_t>(config::Activation::Active);
    w.usable = h == Health::Ok || h == Health::Recovering;
    w.ejected = h == Health::Ejected;
    const Baseline now{s.requests.load(kRelaxed), member_faults(s)};
    const Baseline& then = baselines_[i];
    // Counters that went back (a rebuilt table) give an empty window, not a huge one.
    w.requests = now.requests >= then.requests ? now.requests - then.requests : 0;
    w.errors = now.faults >= then.faults ? now.faults - then.faults : 0;
    baselines_[i] = now;
    // p99 over the last sliding minute (the table's rolling window): a longer span than the
    // interval, so one slow request in a quiet interval does not decide alone.
    const latency::Window last = latency::window(s.latency, now_ms, 1);
    if (const auto p99 = latency::quantile_ms(last.total, 0.99)) w.p99_ms = static_cast<std::uint32_t>(*p99);
    w.level = current_level(s, w, now_ms, policy);
  }
  return out;
}

std::vector<Detector::Change> Detector::run(std::span<MemberSlot* const> slots, const Policy& policy,
                                            std::uint32_t panic_percent, std::int64_t now_ms) {
  std::vector<Change> changes;
  if (!policy.enabled) return changes;
  if (baselines_.size() != slots.size()) {
    baselines_.assign(slots.size(), {});
    windows(slots, now_ms, policy);  // the baselines only: what came before is no window
    last_run_ms_ = now_ms;
    return changes;
  }
  if (now_ms >= last_run_ms_ && now_ms - last_run_ms_ < static_cast<std::int64_t>(policy.interval_ms)) {
    return changes;
  }
  last_run_ms_ = now_ms;
  const std::vector<MemberWindow> figures = windows(slots, now_ms, policy);
  for (const Ejection& e : decide(figures, policy, panic_percent, now_ms)) {
    health::Transition t = health::eject(*slots[e.member], now_ms, e.until_ms, e.level, e.cause);
    if (t.changed) changes.push_back({e.member, std::move(t)});
  }
  return changes;
}

}  // namespace idmb::outlier
