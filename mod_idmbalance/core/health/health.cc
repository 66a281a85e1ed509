// The member health state machine over the shared slot. All accesses are relaxed atomics, as
// in the balancer: the slot's fields are independent facts, and a reader that sees a new state
// with an old state_since for a moment only shows a slightly wrong duration. The one thing that
// must be exact is who reports a change; the compare-exchange on `health` decides that.
#include "idmb/health.h"

#include <algorithm>
#include <atomic>

#include "../util/text.h"
#include "idmb/config.h"

namespace idmb::health {
namespace {

using table::ErrorClass;
using table::Health;
using table::MemberSlot;

constexpr auto kRelaxed = std::memory_order_relaxed;

constexpr std::uint32_t raw(Health h) { return static_cast<std::uint32_t>(h); }

bool is_usable(std::uint32_t h) { return h == raw(Health::Ok) || h == raw(Health::Recovering); }

// Values no version writes are shown as Error: unusable, and probes can repair them.
Health health_of(std::uint32_t h) {
  return h == raw(Health::Ok) || h == raw(Health::Recovering) || h == raw(Health::Ejected) ? static_cast<Health>(h)
                                                                                           : Health::Error;
}

Transition unchanged(std::uint32_t h) {
  Transition t;
  t.from = t.to = health_of(h);
  return t;
}

std::string_view fault_name(ErrorClass error) {
  switch (error) {
    case ErrorClass::Connect: return "connect failed";
    case ErrorClass::Cping: return "no CPONG in time";
    case ErrorClass::BackendClosed: return "backend closed the connection";
    case ErrorClass::Protocol: return "AJP protocol error";
    case ErrorClass::Timeout: return "reply timed out";
    case ErrorClass::FailStatus: return "fail-on status code";
    case ErrorClass::Response: return "refused response";
    case ErrorClass::Client:
    case ErrorClass::kCount: break;
  }
  return "client fault";
}

// Moves the slot from exactly `from` (a raw value) to `to`; the caller that wins the exchange
// gets the Transition with changed set, anyone else sees the state as it is.
Transition move(MemberSlot& slot, std::uint32_t from, Health to, std::int64_t now_ms, std::string cause) {
  std::uint32_t seen = from;
  if (!slot.health.compare_exchange_strong(seen, raw(to), kRelaxed)) return unchanged(seen);
  const std::int64_t since = slot.state_since_ms.exchange(now_ms, kRelaxed);
  Transition t;
  t.changed = true;
  t.from = health_of(from);
  t.to = to;
  t.cause = std::move(cause);
  t.previous_ms = since > 0 && since <= now_ms ? now_ms - since : -1;
  return t;
}

// Ok or Recovering -> Error. The next probe comes one interval later: probing a member that
// has just failed would most likely fail too, and it gives a restarting Tomcat a moment.
Transition take_out(MemberSlot& slot, std::int64_t now_ms, std::string cause) {
  std::uint32_t seen = slot.health.load(kRelaxed);
  while (is_usable(seen)) {
    Transition t = move(slot, seen, Health::Error, now_ms, cause);
    if (t.changed) {
      slot.probe_passes.store(0, kRelaxed);  // rise counts probes after the ejection only
      slot.last_probe_ms.store(now_ms, kRelaxed);
      slot.ejections.fetch_add(1, kRelaxed);
      return t;
    }
    seen = slot.health.load(kRelaxed);
  }
  return unchanged(seen);
}

std::string with_detail(std::string text, std::string_view detail) {
  if (!detail.empty()) text.append(": ").append(detail);
  return text;
}

}  // namespace

Status validate(const Policy& policy) {
  const auto at_least_one = [](std::uint32_t v, const char* name) -> Status {
    if (v == 0) return fail(std::string("health policy: ") + name + " must be at least 1");
    return Ok{};
  };
  for (const Status& s : {at_least_one(policy.fall, "fall"), at_least_one(policy.rise, "rise"),
                          at_least_one(policy.probe_interval_ms, "the probe interval"),
                          at_least_one(policy.healthy_probe_interval_ms, "the healthy probe interval")}) {
    if (!s) return s;
  }
  if (policy.slow_start_min_percent < 1 || policy.slow_start_min_percent > 100) {
    return fail("health policy: the slow-start minimum is " + std::to_string(policy.slow_start_min_percent) +
                "%; it must be 1..100");
  }
  if (policy.panic_percent > 100) {
    return fail("health policy: the panic threshold is " + std::to_string(policy.panic_percent) +
                "%; it must be 0..100");
  }
  return Ok{};
}

Transition on_request_success(MemberSlot& slot) {
  // Load first: the common case (no failures) then writes nothing to the shared line.
  if (slot.consecutive_failures.load(kRelaxed) != 0) slot.consecutive_failures.store(0, kRelaxed);
  return unchanged(slot.health.load(kRelaxed));
}

bool note_secret_refusal(MemberSlot& slot, bool looks_refused, std::int64_t now_ms) {
  if (!looks_refused) {
    // Load first: the common case writes nothing to the shared line.
    if (slot.secret_refused_ms.load(kRelaxed) != 0) slot.secret_refused_ms.store(0, kRelaxed);
    return false;
  }
  std::int64_t none = 0;
  return slot.secret_refused_ms.compare_exchange_strong(none, now_ms, kRelaxed);
}

Transition on_request_failure(MemberSlot& slot, ErrorClass error, std::int64_t now_ms, const Policy& policy) {
  if (error == ErrorClass::Client || error == ErrorClass::Response ||
      static_cast<std::size_t>(error) >= table::kErrorClassCount) {
    return unchanged(slot.health.load(kRelaxed));
  }
  const std::uint32_t failures = slot.consecutive_failures.fetch_add(1, kRelaxed) + 1;
  const std::uint32_t fall = std::max<std::uint32_t>(policy.fall, 1);
  // Nothing listens (or nothing answers SYN): waiting for a second user to find out helps nobody.
  if (error == ErrorClass::Connect) return take_out(slot, now_ms, std::string(fault_name(error)));
  if (failures < fall) return unchanged(slot.health.load(kRelaxed));
  std::string cause =
      fall == 1 ? "backend fault: " + std::string(fault_name(error))
                : std::to_string(failures) + " consecutive backend faults, last: " + std::string(fault_name(error));
  return take_out(slot, now_ms, std::move(cause));
}

bool probe_due(const MemberSlot& slot, std::int64_t now_ms, const Policy& policy) {
  if (slot.activation.load(kRelaxed) == static_cast<std::uint32_t>(config::Activation::Stopped)) return false;
  std::uint32_t interval = policy.probe_interval_ms;
  if (slot.health.load(kRelaxed) == raw(Health::Ok)) {
    if (!policy.probe_healthy) return false;
    interval = policy.healthy_probe_interval_ms;
  }
  const std::int64_t last = slot.last_probe_ms.load(kRelaxed);
  if (last == 0 || now_ms < last) return true;  // never probed, forced, or the clock went back
  return now_ms - last >= std::max<std::int64_t>(interval, 1);
}

Transition on_probe_result(MemberSlot& slot, bool ok, std::int64_t now_ms, const Policy& policy,
                           std::string_view detail) {
  slot.last_probe_ms.store(now_ms, kRelaxed);
  slot.last_probe_ok.store(ok ? 1 : 0, kRelaxed);
  const std::uint32_t seen = slot.health.load(kRelaxed);
  if (ok) {
    slot.probe_fails.store(0, kRelaxed);
    const std::uint32_t passes = slot.probe_passes.fetch_add(1, kRelaxed) + 1;
    const std::uint32_t rise = std::max<std::uint32_t>(policy.rise, 1);
    if (is_usable(seen) || passes < rise) return unchanged(seen);
    // An ejected outlier (or one that failed its probes meanwhile) sits out its time first.
    if (now_ms < slot.ejected_until_ms.load(kRelaxed)) return unchanged(seen);
    const Health to = policy.slow_start_ms == 0 ? Health::Ok : Health::Recovering;
    Transition t =
        move(slot, seen, to, now_ms, std::to_string(passes) + (passes == 1 ? " good probe" : " good probes in a row"));
    if (t.changed) slot.consecutive_failures.store(0, kRelaxed);
    return t;
  }
  slot.probe_passes.store(0, kRelaxed);
  const std::uint32_t fails = slot.probe_fails.fetch_add(1, kRelaxed) + 1;
  if (seen == raw(Health::Recovering))
    return take_out(slot, now_ms, with_detail("probe failed while recovering", detail));
  // Not only an outlier but down: shown as Error (its ejection time still holds).
  if (seen == raw(Health::Ejected) && fails >= std::max<std::uint32_t>(policy.fall, 1)) {
    return move(slot, seen, Health::Error, now_ms, with_detail("probe failed while ejected", detail));
  }
  if (seen == raw(Health::Ok) && fails >= std::max<std::uint32_t>(policy.fall, 1)) {
    return take_out(
        slot, now_ms,
        with_detail(fails == 1 ? "probe failed" : std::to_string(fails) + " probes failed in a row", detail));
  }
  return unchanged(seen);
}

Transition settle(MemberSlot& slot, std::int64_t now_ms, const Policy& policy) {
  const std::uint32_t seen = slot.health.load(kRelaxed);
  if (seen != raw(Health::Recovering)) return unchanged(seen);
  std::int64_t since = slot.state_since_ms.load(kRelaxed);
  if (policy.slow_start_ms != 0) {
    if (now_ms < since) {
      // The clock went back: restart the ramp from now rather than stay at its minimum.
      slot.state_since_ms.compare_exchange_strong(since, now_ms, kRelaxed);
      return unchanged(seen);
    }
    if (now_ms - since < static_cast<std::int64_t>(policy.slow_start_ms)) return unchanged(seen);
  }
  return move(slot, seen, Health::Ok, now_ms, policy.slow_start_ms == 0 ? "recovered" : "slow start complete");
}

std::uint32_t slow_start_percent(const MemberSlot& slot, std::int64_t now_ms, const Policy& policy) {
  if (slot.health.load(kRelaxed) != raw(Health::Recovering) || policy.slow_start_ms == 0) return 100;
  const std::int64_t floor = std::clamp<std::uint32_t>(policy.slow_start_min_percent, 1, 100);
  const std::int64_t window = policy.slow_start_ms;
  const std::int64_t elapsed = now_ms - slot.state_since_ms.load(kRelaxed);
  if (elapsed <= 0) return static_cast<std::uint32_t>(floor);
  if (elapsed >= window) return 100;  // settle() has not run yet: the ramp is over all the same
  return static_cast<std::uint32_t>(floor + (100 - floor) * elapsed / window);
}

Transition begin_slow_start(MemberSlot& slot, std::int64_t now_ms, const Policy& policy) {
  const std::uint32_t seen = slot.health.load(kRelaxed);
  if (policy.slow_start_ms == 0) return unchanged(seen);
  if (seen == raw(Health::Recovering)) {
    slot.state_since_ms.store(now_ms, kRelaxed);  // the ramp starts again; not a state change
    return unchanged(seen);
  }
  if (seen != raw(Health::Ok)) return unchanged(seen);
  return move(slot, seen, Health::Recovering, now_ms, "re-activated, slow start");
}

void force_recovery_probe(MemberSlot& slot) {
  slot.last_probe_ms.store(0, kRelaxed);
  // The operator's word ends an outlier ejection early: the next good probes readmit it.
  if (slot.ejected_until_ms.load(kRelaxed) != 0) slot.ejected_until_ms.store(0, kRelaxed);
}

Transition eject(MemberSlot& slot, std::int64_t now_ms, std::int64_t until_ms, std::uint32_t level, std::string cause) {
  // Only the prober lease holder writes the time, so it can be put back if nothing changes.
  const std::int64_t previous_until = slot.ejected_until_ms.load(kRelaxed);
  std::uint32_t seen = slot.health.load(kRelaxed);
  while (is_usable(seen)) {
    // Before the state: a probe that sees Ejected sees its time too.
    slot.ejected_until_ms.store(until_ms, kRelaxed);
    Transition t = move(slot, seen, Health::Ejected, now_ms, cause);
    if (t.changed) {
      slot.probe_passes.store(0, kRelaxed);
      slot.last_probe_ms.store(now_ms, kRelaxed);
      slot.ejection_level.store(level, kRelaxed);
      slot.ejection_decay_ms.store(until_ms, kRelaxed);
      slot.ejections.fetch_add(1, kRelaxed);
      slot.outlier_ejections.fetch_add(1, kRelaxed);
      return t;
    }
    seen = slot.health.load(kRelaxed);
  }
  slot.ejected_until_ms.store(previous_until, kRelaxed);
  return unchanged(seen);
}

std::string_view to_string(Health health) {
  switch (health) {
    case Health::Ok: return "ok";
    case Health::Error: return "error";
    case Health::Recovering: return "recovering";
    case Health::Ejected: return "ejected";
  }
  return "unknown";
}

std::string describe(const Transition& t) {
  if (!t.changed) return {};
  std::string out = std::string(to_string(t.from)) + " -> " + std::string(to_string(t.to));
  if (t.previous_ms >= 0) out += " after " + text::human_duration(t.previous_ms, text::DurationStyle::Brief);
  if (!t.cause.empty()) out += ": " + t.cause;
  return out;
}

}  // namespace idmb::health
