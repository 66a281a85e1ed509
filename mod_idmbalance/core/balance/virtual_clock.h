// Private to the balancer: the per-member virtual clock (lb_value) that the requests, traffic
// and busyness methods share, in fixed-point "cost units".
//
// A request or a byte costs a member cost / weight (stride scheduling): the member with the
// smallest clock goes next, so picks follow the weights smoothly, and one fetch_add is all the
// cross-process state a charge needs. Clocks are compared modulo 2^64 (signed difference, as
// with TCP sequence numbers), so wrap-around is harmless.
//
// A member that was out of rotation (error, stopped, excluded) keeps its old clock and would
// take every request until it caught up; before each choice, any candidate more than one
// window behind the most advanced candidate is lifted to that distance (a compare-exchange,
// lost races are harmless). For requests and busyness the window is two rounds at factor 1 (a
// legitimate spread is at most one stride), so a member that comes back gets at most about one
// round's worth before it alternates. For traffic it is kTrafficWindowBytes: that both bounds a
// returning member's head start (at most 1 MiB, i.e. 256 request charges, per unit of factor)
// and is how much byte imbalance the method remembers (mod_jk forgets by halving lb_value every
// minute instead). That lift also heals a clock that has drifted more than 2^63 away: whichever
// clock looks most advanced becomes the reference and the others are pulled to it. Relaxed
// atomics, as everywhere in the balancer: a lost race only makes one choice uneven.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "idmb/config.h"
#include "method_policy.h"

namespace idmb::balance::clock {

// One request at factor 1. Large, so kRequestCost / factor truncates by < 1e-7 relative.
inline constexpr std::uint64_t kRequestCost = std::uint64_t{1} << 32;
inline constexpr std::uint64_t kRequestWindow = 2 * kRequestCost;
// One byte at factor 1 (traffic).
inline constexpr std::uint64_t kByteCost = std::uint64_t{1} << 16;
// What traffic charges a request at its start, so that requests in flight, whose bytes are
// not counted yet, still spread.
inline constexpr std::uint64_t kTrafficRequestBytes = 4096;
inline constexpr std::uint64_t kTrafficWindowBytes = std::uint64_t{1} << 20;
inline constexpr std::uint64_t kTrafficWindow = kTrafficWindowBytes * kByteCost;

// kRequestCost * kWeightScale stays below 2^64.
static_assert(kRequestCost <= std::numeric_limits<std::uint64_t>::max() / kWeightScale);

// One request on a member of `weight`.
inline std::uint64_t request_cost(std::uint32_t weight) { return kRequestCost * kWeightScale / weight; }

// bytes * kByteCost * kWeightScale must stay below 2^64. A clamp at this many bytes changes no
// charge: at any weight (at most kMaxFactor in hundredths) far fewer bytes already cost a
// whole window.
inline constexpr std::uint64_t kMaxChargedBytes =
    std::numeric_limits<std::uint64_t>::max() / (kByteCost * kWeightScale);
static_assert(kMaxChargedBytes >= kTrafficWindowBytes * config::kMaxFactor);

// `bytes` on a member of `weight`, at most one traffic window (more would be forgotten by the
// window anyway).
inline std::uint64_t traffic_cost(std::uint64_t bytes, std::uint32_t weight) {
  bytes = std::min(bytes, kMaxChargedBytes);
  return std::min(bytes * kByteCost * kWeightScale / weight, kTrafficWindow);
}

// The lag window is `base` for members at full weight of factor 1 or more; a ramping member
// of weight w < kWeightScale advances kWeightScale / w times faster per request, so the
// window widens by that much, or its healthy peers would be lifted on every pick.
inline std::uint64_t window_for(std::span<const Candidate> candidates, std::uint64_t base) {
  std::uint32_t lightest = kWeightScale;
  for (const Candidate& c : candidates) lightest = std::min(lightest, c.weight);
  return base * ((kWeightScale + lightest - 1) / lightest);
}

// Sets each candidate's `clock` and lifts the members that lag more than the window behind the
// most advanced one. `base_window` is the window at full weight (kRequestWindow or
// kTrafficWindow), widened by window_for().
inline void settle(std::span<Candidate> candidates, std::span<table::MemberSlot* const> slots,
                   std::uint64_t base_window) {
  const std::uint64_t window = window_for(candidates, base_window);
  const std::uint64_t ref = candidates[0].lb;
  std::int64_t newest = 0;
  for (Candidate& c : candidates) {
    c.clock = static_cast<std::int64_t>(c.lb - ref);
    newest = std::max(newest, c.clock);
  }
  const std::int64_t floor = newest - static_cast<std::int64_t>(window);
  for (Candidate& c : candidates) {
    if (c.clock >= floor) continue;
    std::uint64_t expected = c.lb;
    const std::uint64_t lifted = ref + static_cast<std::uint64_t>(floor);
    // On failure another picker moved it (a start, or the same lift): fine either way.
    slots[static_cast<std::size_t>(c.index)]->lb_value.compare_exchange_strong(expected, lifted,
                                                                               std::memory_order_relaxed);
    c.clock = floor;
  }
}

// Smallest clock; ties go to the lowest member index (candidates are in index order).
inline int earliest(std::span<const Candidate> candidates) {
  const Candidate* best = &candidates[0];
  for (const Candidate& c : candidates) {
    if (c.clock < best->clock) best = &c;
  }
  return best->index;
}

}  // namespace idmb::balance::clock
