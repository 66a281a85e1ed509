// Outlier ejection over the shared table: once per interval, one balancer's members' windows
// (what each did since the last judgement) go to outlier::decide, and its verdicts become
// health::eject transitions. Run by the prober lease holder only (one process at a time), so the
// request path takes no lock and pays nothing; the window baselines are that process's own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "idmb/health.h"
#include "idmb/outlier_detection.h"
#include "idmb/worker_table_layout.h"

namespace idmb::outlier {

// Backend faults of a slot, summed over the classes that count against a member's health
// (client faults and refused responses never do).
std::uint64_t member_faults(const table::MemberSlot& slot);

class Detector {
 public:
  struct Change {
    std::size_t member = 0;  // index into the slots given to run()
    health::Transition transition;
  };

  // Judges `slots` (one balancer's members, in config order) when `policy.interval_ms` has
  // passed since the last judgement; otherwise, and on the first call (which only takes the
  // baselines), nothing. Decays the ejection levels of members in rotation either way.
  std::vector<Change> run(std::span<table::MemberSlot* const> slots, const Policy& policy, std::uint32_t panic_percent,
                          std::int64_t now_ms);

  // Forgets the baselines (the prober lease was lost: another process judged meanwhile).
  void reset() { baselines_.clear(); }

 private:
  struct Baseline {
    std::uint64_t requests = 0, faults = 0;
  };
  std::vector<MemberWindow> windows(std::span<table::MemberSlot* const> slots, std::int64_t now_ms,
                                    const Policy& policy);
  std::vector<Baseline> baselines_;  // empty: no judgement yet
  std::int64_t last_run_ms_ = 0;
};

}  // namespace idmb::outlier
