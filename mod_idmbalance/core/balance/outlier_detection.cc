// Outlier ejection decisions (outlier_detection.h). Rates are in permille so that small error
// counts still compare; the peers' figure is their median, which one bad peer cannot drag
// along (with two members, the peer's own figure).
#include "idmb/outlier_detection.h"

#include <algorithm>

#include "../util/text.h"

namespace idmb::outlier {
namespace {

struct Candidate {
  std::size_t member = 0;
  bool by_errors = false;    // error rate, else latency
  std::uint64_t figure = 0;  // error permille, or p99 ms
  std::uint64_t peers = 0;   // the peers' median of the same figure
  std::uint64_t errors = 0, requests = 0;
};

std::uint64_t permille(std::uint64_t errors, std::uint64_t requests) {
  return requests == 0 ? 0 : std::min<std::uint64_t>(errors, requests) * 1000 / requests;
}

std::uint64_t median(std::vector<std::uint64_t> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : (values[n / 2 - 1] + values[n / 2]) / 2;
}

bool judged(const MemberWindow& m, const Policy& policy) {
  return m.active && m.usable && m.requests >= policy.min_requests && m.requests > 0;
}

// `figure` stands out of `peers` by `factor` (hundredths) and reaches `floor`.
bool stands_out(std::uint64_t figure, std::uint64_t peers, std::uint32_t factor, std::uint64_t floor) {
  return factor != 0 && figure >= floor && figure > peers && figure * 100 >= std::uint64_t{factor} * peers;
}

// Member i judged against its peers: an error-rate outlier first, else a latency one.
std::optional<Candidate> judge(std::span<const MemberWindow> members, std::size_t i, const Policy& policy) {
  std::vector<std::uint64_t> rates, latencies;
  for (std::size_t j = 0; j < members.size(); ++j) {
    if (j == i || !judged(members[j], policy)) continue;
    rates.push_back(permille(members[j].errors, members[j].requests));
    if (members[j].p99_ms) latencies.push_back(*members[j].p99_ms);
  }
  if (rates.empty()) return std::nullopt;  // nobody to compare with
  const MemberWindow& m = members[i];
  Candidate c{i, true, permille(m.errors, m.requests), median(rates), m.errors, m.requests};
  if (stands_out(c.figure, c.peers, policy.error_factor, std::uint64_t{policy.error_min_percent} * 10)) return c;
  if (m.p99_ms && !latencies.empty()) {
    c = Candidate{i, false, *m.p99_ms, median(latencies), m.errors, m.requests};
    if (stands_out(c.figure, c.peers, policy.latency_factor, policy.latency_min_ms)) return c;
  }
  return std::nullopt;
}

std::string percent_text(std::uint64_t permille_value) {
  if (permille_value > 0 && permille_value < 10) return "<1%";
  return std::to_string(permille_value / 10) + "%";
}

std::string cause_of(const Candidate& c, std::uint32_t level, std::int64_t out_ms) {
  using text::human_duration;
  const auto brief = text::DurationStyle::Brief;
  std::string cause = "outlier: ";
  if (c.by_errors) {
    cause += "error rate " + percent_text(c.figure) + " (" + std::to_string(c.errors) + "/" +
             std::to_string(c.requests) + "), peers " + percent_text(c.peers);
  } else {
    cause += "p99 " + std::to_string(c.figure) + "ms, peers " + std::to_string(c.peers) + "ms";
  }
  return cause + "; out " + human_duration(out_ms, brief) + " (x" + std::to_string(level) + ")";
}

// Error-rate outliers before latency ones, each the worst first.
void order(std::vector<Candidate>& candidates) {
  std::stable_sort(candidates.begin(), candidates.end(), [](const Candidate& a, const Candidate& b) {
    if (a.by_errors != b.by_errors) return a.by_errors;
    return a.figure > b.figure;
  });
}

}  // namespace

std::int64_t ejection_ms(std::uint32_t level, const Policy& policy) {
  const std::int64_t base = std::max<std::uint32_t>(policy.ejection_time_ms, 1);
  const std::int64_t cap = std::max<std::int64_t>(policy.max_ejection_time_ms, base);
  return std::min<std::int64_t>(base * std::max<std::uint32_t>(level, 1), cap);
}

std::vector<Ejection> decide(std::span<const MemberWindow> members, const Policy& policy, std::uint32_t panic_percent,
                             std::int64_t now_ms) {
  std::vector<Ejection> out;
  if (!policy.enabled) return out;
  std::vector<Candidate> candidates;
  std::uint64_t active = 0, usable = 0, ejected = 0;
  for (std::size_t i = 0; i < members.size(); ++i) {
    const MemberWindow& m = members[i];
    if (!m.active) continue;
    ++active;
    usable += m.usable ? 1 : 0;
    ejected += m.ejected ? 1 : 0;
    if (!judged(m, policy)) continue;
    if (auto c = judge(members, i, policy)) candidates.push_back(*c);
  }
  order(candidates);
  const std::uint64_t max_ejected = std::max<std::uint64_t>(1, active * policy.max_ejected_percent / 100);
  for (const Candidate& c : candidates) {
    if (ejected >= max_ejected || usable <= 1) break;
    // The survivors must stay at or above the panic threshold: ejecting into panic would
    // spread load over the ejected members again.
    if (panic_percent > 0 && (usable - 1) * 100 < std::uint64_t{panic_percent} * active) break;
    const std::uint32_t level = std::min<std::uint32_t>(members[c.member].level, 1000) + 1;
    const std::int64_t out_ms = ejection_ms(level, policy);
    out.push_back({c.member, now_ms + out_ms, level, cause_of(c, level, out_ms)});
    --usable;
    ++ejected;
  }
  return out;
}

std::uint32_t decayed_level(std::uint32_t level, std::int64_t& since_ms, std::int64_t now_ms, const Policy& policy) {
  if (level == 0) return 0;
  if (now_ms < since_ms) return level;  // still ejected, or the clock went back
  const std::int64_t base = std::max<std::uint32_t>(policy.ejection_time_ms, 1);
  const std::int64_t steps = std::min<std::int64_t>((now_ms - since_ms) / base, level);
  since_ms += steps * base;
  return level - static_cast<std::uint32_t>(steps);
}

Status validate(const Policy& policy) {
  const std::string prefix = "outlier detection: ";
  if (policy.interval_ms == 0 || policy.ejection_time_ms == 0) {
    return fail(prefix + "the interval and the ejection time must be at least 1ms");
  }
  if (policy.max_ejection_time_ms < policy.ejection_time_ms) {
    return fail(prefix + "max_ejection_time must be at least ejection_time");
  }
  if (policy.error_min_percent < 1 || policy.error_min_percent > 100 || policy.max_ejected_percent < 1 ||
      policy.max_ejected_percent > 100) {
    return fail(prefix + "error_min and max_ejected must be 1..100 (percent)");
  }
  const auto factor_ok = [](std::uint32_t f) { return f == 0 || (f >= 100 && f <= kMaxFactor); };
  if (!factor_ok(policy.error_factor) || !factor_ok(policy.latency_factor)) {
    return fail(prefix + "factors must be 0 (off) or 1..1000");
  }
  if (policy.min_requests < 1 || policy.min_requests > kMaxMinRequests) {
    return fail(prefix + "min_requests must be 1.." + std::to_string(kMaxMinRequests));
  }
  return Ok{};
}

}  // namespace idmb::outlier
