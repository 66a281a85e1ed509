// The member health state machine, over the shared slot (every child sees one state):
//
//   Ok ──(`fall` consecutive backend faults on requests, or one connect failure,
//         or `fall` consecutive failed probes)──> Error
//   Error ──(`rise` consecutive good probes)──> Recovering   (straight to Ok without slow start)
//   Recovering ──(a failed probe, or faults as for Ok)──> Error
//   Recovering ──(slow_start_ms after it began; settle())──> Ok
//   Ok, Recovering ──(an outlier among its peers; eject(), outlier_detection.h)──> Ejected
//   Ejected ──(`rise` good probes, not before ejected_until_ms)──> Recovering (or Ok)
//   Ejected ──(`fall` failed probes)──> Error (still not back before ejected_until_ms)
//
// A member in Error comes back by probing only, never by gambling a user request. Client
// faults never count. Every function takes the time explicitly (injected clock), and every
// state change is made by a compare-exchange on `health`, so when several threads or processes
// see the same fault at once exactly one of them gets `changed` and logs it.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "idmb/expected.h"
#include "idmb/worker_table_layout.h"

namespace idmb::health {

struct Policy {
  std::uint32_t fall = 2;                  // consecutive backend faults (or failed probes) -> Error
  std::uint32_t rise = 2;                  // consecutive good probes: Error -> Recovering
  std::uint32_t probe_interval_ms = 5000;  // between probes of a member in Error or Recovering
  bool probe_healthy = true;               // probe Ok members too (at healthy_probe_interval_ms)
  std::uint32_t healthy_probe_interval_ms = 10000;
  std::uint32_t slow_start_ms = 30000;        // ramp after recovery or re-activation; 0 = off
  std::uint32_t slow_start_min_percent = 10;  // the ramp's starting share, 1..100
  std::uint32_t panic_percent = 50;           // fewer usable actives than this % -> panic; 0 = never
  std::string probe_uri;                      // empty: probe with CPING; else a GET over AJP, 2xx/3xx = good
};

// Checks the ranges above (fall, rise, intervals >= 1; percentages in range).
Status validate(const Policy& policy);

// A state change, or none (changed == false, from == to == the state seen).
struct Transition {
  bool changed = false;
  table::Health from = table::Health::Ok;
  table::Health to = table::Health::Ok;
  std::string cause;              // why, for the log and the event ring (empty if unchanged)
  std::int64_t previous_ms = -1;  // time spent in `from`; -1 if unknown
};

// A request on this member succeeded: the consecutive-failure count starts again. Never
// changes the state (an Error member comes back by probing only).
Transition on_request_success(table::MemberSlot& slot);

// Tomcat answers every request whose AJP secret does not match with 403 and closes the
// connection, while CPING (which carries no secret) keeps passing: the member looks healthy and
// serves nothing. Records whether the last answer looked like that; true only when it starts to,
// so that it is logged once, however many requests see it.
bool note_secret_refusal(table::MemberSlot& slot, bool looks_refused, std::int64_t now_ms);

// A request on this member failed with `error`. Client faults change nothing. Backend faults
// count; at `fall` consecutive ones (a connect failure at once: nothing listens) the member
// goes to Error.
Transition on_request_failure(table::MemberSlot& slot, table::ErrorClass error, std::int64_t now_ms,
                              const Policy& policy);

// Is a probe of this member due? Error and Recovering members every probe_interval_ms, Ok ones
// every healthy_probe_interval_ms when probe_healthy; never a Stopped member. Never probed (or
// forced, or the clock went back): due at once.
bool probe_due(const table::MemberSlot& slot, std::int64_t now_ms, const Policy& policy);

// The outcome of one probe (CPING or health URL); `detail` says what failed, for the cause.
Transition on_probe_result(table::MemberSlot& slot, bool ok, std::int64_t now_ms, const Policy& policy,
                           std::string_view detail = {});

// Recovering -> Ok once the slow-start window has passed. The prober calls it each round.
Transition settle(table::MemberSlot& slot, std::int64_t now_ms, const Policy& policy);

// The member's share of its factor, in percent: 100, except while Recovering, where it ramps
// linearly from slow_start_min_percent to 100 over slow_start_ms from state_since_ms.
std::uint32_t slow_start_percent(const table::MemberSlot& slot, std::int64_t now_ms, const Policy& policy);

// The manager re-activated the member: an Ok member ramps up again (-> Recovering now), a
// Recovering one restarts its ramp (not a state change). A member in Error stays there (it
// needs its probes). Nothing happens with slow start off.
Transition begin_slow_start(table::MemberSlot& slot, std::int64_t now_ms, const Policy& policy);

// The manager's "recover": the member's next probe is due at once, and an outlier ejection's
// time is over (its good probes readmit it).
void force_recovery_probe(table::MemberSlot& slot);

// Outlier ejection: Ok or Recovering -> Ejected, not readmitted by probes before `until_ms`;
// records the ejection `level` (the time multiplier) and counts the ejection. Any other state
// is left alone (unchanged).
Transition eject(table::MemberSlot& slot, std::int64_t now_ms, std::int64_t until_ms, std::uint32_t level,
                 std::string cause);

// "ok", "error", "recovering", "ejected" ("unknown" for a value no version writes).
std::string_view to_string(table::Health health);
// One line for the log and the event ring, e.g. "ok -> error after 2h 5m: connect failed".
std::string describe(const Transition& transition);

}  // namespace idmb::health
