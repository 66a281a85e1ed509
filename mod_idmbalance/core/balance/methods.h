// Private to the balancer: the four balancing methods, each a MethodPolicy (method_policy.h),
// and with_policy(), the one place that turns a method value into its policy. Every method
// weighs a member by its weight, the factor times the slow-start share (a member that has just
// recovered or been re-activated starts at slow_start_min_percent of its factor and reaches the
// whole factor at the end of the window):
//   requests  each request costs kRequestCost / weight on the virtual clock (virtual_clock.h);
//             the member with the smallest clock goes next, so picks follow the factors;
//   traffic   each request costs a fixed kTrafficRequestBytes at start (so requests in flight,
//             whose bytes are not counted yet, still spread) plus its bytes at finish;
//   busyness  the member with the fewest in-flight requests per weight goes next; the requests
//             clock breaks ties;
//   p2c       power of two choices: two members drawn by weight, the less busy one per weight
//             wins. It does not use the clock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <limits>
#include <span>

#include "idmb/config.h"
#include "method_policy.h"
#include "virtual_clock.h"

namespace idmb::balance {

namespace detail {
// a.busy / a.weight < b.busy / b.weight, without division (busy < 2^31, weight < 2^24).
inline bool less_busy(const Candidate& a, const Candidate& b) { return a.busy * b.weight < b.busy * a.weight; }
}  // namespace detail

struct RequestsPolicy {
  int pick(std::span<Candidate> candidates, PickContext& context) const {
    clock::settle(candidates, context.slots, clock::kRequestWindow);
    return clock::earliest(candidates);
  }
  std::uint64_t start_cost(MemberWeight& weight) const { return clock::request_cost(weight.get()); }
  std::uint64_t finish_cost(std::uint64_t, std::uint64_t, MemberWeight&) const { return 0; }
};

struct TrafficPolicy {
  int pick(std::span<Candidate> candidates, PickContext& context) const {
    clock::settle(candidates, context.slots, clock::kTrafficWindow);
    return clock::earliest(candidates);
  }
  std::uint64_t start_cost(MemberWeight& weight) const {
    return clock::traffic_cost(clock::kTrafficRequestBytes, weight.get());
  }
  std::uint64_t finish_cost(std::uint64_t bytes_out, std::uint64_t bytes_in, MemberWeight& weight) const {
    const std::uint64_t bytes = bytes_out > std::numeric_limits<std::uint64_t>::max() - bytes_in
                                    ? std::numeric_limits<std::uint64_t>::max()
                                    : bytes_out + bytes_in;
    return clock::traffic_cost(bytes, weight.get());
  }
};

struct BusynessPolicy {
  int pick(std::span<Candidate> candidates, PickContext& context) const {
    clock::settle(candidates, context.slots, clock::kRequestWindow);
    const Candidate* best = &candidates[0];
    for (const Candidate& c : candidates) {
      if (detail::less_busy(c, *best) || (!detail::less_busy(*best, c) && c.clock < best->clock)) best = &c;
    }
    return best->index;
  }
  std::uint64_t start_cost(MemberWeight& weight) const { return clock::request_cost(weight.get()); }
  std::uint64_t finish_cost(std::uint64_t, std::uint64_t, MemberWeight&) const { return 0; }
};

struct P2cPolicy {
  // Two distinct candidates drawn by weight; a tie goes to the first drawn.
  int pick(std::span<Candidate> candidates, PickContext& context) const {
    std::uint64_t total = 0;
    for (const Candidate& c : candidates) total += c.weight;
    const std::uint64_t r = context.random.next();
    const std::size_t none = candidates.size();
    const std::size_t first = draw(candidates, total, r & 0xffffffffu, none);
    const std::size_t second = draw(candidates, total - candidates[first].weight, r >> 32, first);
    const Candidate& winner =
        detail::less_busy(candidates[second], candidates[first]) ? candidates[second] : candidates[first];
    return winner.index;
  }
  std::uint64_t start_cost(MemberWeight&) const { return 0; }
  std::uint64_t finish_cost(std::uint64_t, std::uint64_t, MemberWeight&) const { return 0; }

  // Index into `candidates` drawn with probability weight / total, skipping `skip` (whose
  // weight the caller already took out of `total`). `r` is 32 uniform bits.
  static std::size_t draw(std::span<const Candidate> candidates, std::uint64_t total, std::uint64_t r,
                          std::size_t skip) {
    // (r * total) >> 32, uniform in [0, total), in two halves: a total of many members at
    // factor 100000 passes 2^32, and r * total would then overflow.
    std::uint64_t point = r * (total >> 32) + ((r * (total & 0xffffffffu)) >> 32);
    std::size_t last = skip == 0 ? 1 : 0;
    for (std::size_t i = 0; i < candidates.size(); ++i) {
      if (i == skip) continue;
      last = i;
      if (point < candidates[i].weight) return i;
      point -= candidates[i].weight;
    }
    return last;  // unreachable with a consistent total
  }
};

static_assert(MethodPolicy<RequestsPolicy> && MethodPolicy<TrafficPolicy> && MethodPolicy<BusynessPolicy> &&
              MethodPolicy<P2cPolicy>);

// Calls `f` with the policy of `method` and returns what it returns; an out-of-range value
// gets the requests policy. The one switch over the methods: each branch is `f` compiled for
// one policy.
template <class F>
decltype(auto) with_policy(config::Method method, F&& f) {
  switch (method) {
    case config::Method::Traffic: return f(TrafficPolicy{});
    case config::Method::Busyness: return f(BusynessPolicy{});
    case config::Method::P2C: return f(P2cPolicy{});
    case config::Method::Requests: break;
  }
  return f(RequestsPolicy{});
}

}  // namespace idmb::balance
