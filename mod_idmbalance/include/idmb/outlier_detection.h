// Outlier ejection, in Envoy's spirit: a member whose error rate or p99 latency over the last
// interval stands far above its peers' is taken out of rotation for a while (health Ejected),
// for base ejection time × how many times in a row it was ejected (capped). It comes back like
// a failed member: by probing (not before its time is up), then slow start. Ejection never
// takes out more than max_ejected_percent of the active members (at least one may go), never
// the last usable one, and never so many that the balancer would be in panic.
//
// Pure decisions over plain figures: the prober gathers the windows from the shared table and
// applies the verdicts (health::eject), so this is tested with any numbers and any clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "idmb/expected.h"

namespace idmb::outlier {

// IdmOutlierDetection. Factors are in hundredths (200 = 2x). Off by default.
struct Policy {
  bool enabled = false;
  std::uint32_t interval_ms = 10000;            // between two judgements; also the window judged
  std::uint32_t min_requests = 20;              // a member (and each peer it is compared to) needs this many
  std::uint32_t error_factor = 200;             // error rate >= factor x the peers' median; 0 = not judged
  std::uint32_t error_min_percent = 20;         // and at least this error rate, 1..100
  std::uint32_t latency_factor = 300;           // p99 >= factor x the peers' median p99; 0 = not judged
  std::uint32_t latency_min_ms = 1000;          // and at least this p99
  std::uint32_t ejection_time_ms = 30000;       // base ejection time, x the ejection level
  std::uint32_t max_ejection_time_ms = 300000;  // longest ejection
  std::uint32_t max_ejected_percent = 10;       // of the active members; at least one member
};

inline constexpr std::uint32_t kMaxFactor = 100000;  // 1000x, in hundredths
inline constexpr std::uint32_t kMaxMinRequests = 1000000;

// What one member did over the last interval, and where it stands now.
struct MemberWindow {
  bool active = false;                  // activation Active: the members the percentages are of
  bool usable = false;                  // health Ok or Recovering: in rotation, judged and a peer
  bool ejected = false;                 // health Ejected now
  std::uint64_t requests = 0;           // attempts over the window
  std::uint64_t errors = 0;             // of those, the member's faults
  std::optional<std::uint32_t> p99_ms;  // none: no latency figure (latency not judged)
  std::uint32_t level = 0;              // times ejected in a row (decays; see decayed_level)
};

// A verdict: take member `member` (index into the windows) out until `until_ms`.
struct Ejection {
  std::size_t member = 0;
  std::int64_t until_ms = 0;
  std::uint32_t level = 1;  // its new ejection level (the multiplier used)
  std::string cause;        // e.g. "outlier: error rate 45% (9 of 20) vs peers' median 0%, ejected for 30s"
};

// Whose window stands out, within the limits above, most outlying first. `panic_percent` is the
// balancer's IdmPanicThreshold.
std::vector<Ejection> decide(std::span<const MemberWindow> members, const Policy& policy, std::uint32_t panic_percent,
                             std::int64_t now_ms);

// How long an ejection at `level` (1 = first) lasts: ejection_time_ms x level, at most
// max_ejection_time_ms.
std::int64_t ejection_ms(std::uint32_t level, const Policy& policy);

// The level after `since_ms`: one lower for every whole ejection_time_ms the member has spent in
// rotation since its last ejection ended or its level last dropped (Envoy's multiplier decay).
// Returns the new level and moves `since_ms` on by the steps taken.
std::uint32_t decayed_level(std::uint32_t level, std::int64_t& since_ms, std::int64_t now_ms, const Policy& policy);

// Checks ranges (interval and ejection times >= 1 ms, percentages 1..100, max >= base time).
Status validate(const Policy& policy);

}  // namespace idmb::outlier
