// Private to the balancer: the contract each balancing method (IdmMethod
// requests|traffic|busyness|p2c) fulfils. In the spirit of nginx's upstream peer contract, a
// method has a "get" side, pick(), and a "free" side, the charges a request's start and finish
// put on the member's virtual clock (lb_value). Everything that is the same for every method
// stays in the Balancer and happens in one place: which members are candidates (activation,
// health, exclusions, standby and panic, `max=` reservations), the slow-start weight, the
// counters, and passive health (record_error, record_success). A method cannot forget any of it.
//
// The method can change at run time (the manager writes the shared balancer record), so the
// Balancer looks the policy up from the method value for every choice, start and finish
// (with_policy, methods.h). The policies are stateless and compile-time: the lookup is one
// switch, and a policy's code is inlined where it is used, so the hot path pays no indirect call.
#pragma once

#include <concepts>
#include <cstdint>
#include <span>

#include "idmb/balancer.h"
#include "idmb/config.h"
#include "idmb/health.h"
#include "idmb/worker_table_layout.h"

namespace idmb::balance {

// Weights are factors in hundredths (see MemberWeight); costs divide by the weight, so they
// scale up by the same amount.
inline constexpr std::uint32_t kWeightScale = 100;

// The clock, read once per decision and only if a ramping member needs it.
class LazyNow {
 public:
  explicit LazyNow(Clock& clock) : clock_(clock) {}
  std::int64_t get() {
    if (!known_) {
      now_ = clock_.now_ms();
      known_ = true;
    }
    return now_;
  }

 private:
  Clock& clock_;
  std::int64_t now_ = 0;
  bool known_ = false;
};

// A member's weight: its factor in hundredths, scaled down by the slow-start share while it
// is Recovering (at least 1). Hundredths, so that the ramp also works at factor 1 (10% of
// factor 1 is weight 10 against a healthy member's 100, not a rounded 1 against 1). In
// balancer.cc, next to the factor clamp.
std::uint32_t weight_of(const table::MemberSlot& slot, LazyNow& now, const health::Policy& policy);

// The weight of the member a charge is for, worked out on first use only: a method that
// charges nothing never reads the slot's factor or the clock.
class MemberWeight {
 public:
  MemberWeight(const table::MemberSlot& slot, LazyNow& now, const health::Policy& policy)
      : slot_(slot), now_(now), policy_(policy) {}
  std::uint32_t get() {
    if (weight_ == 0) weight_ = weight_of(slot_, now_, policy_);  // weight_of is never 0
    return weight_;
  }

 private:
  const table::MemberSlot& slot_;
  LazyNow& now_;
  const health::Policy& policy_;
  std::uint32_t weight_ = 0;
};

// A snapshot of one candidate, taken once per choice so that one decision sees one value.
struct Candidate {
  int index;             // the member
  std::uint32_t weight;  // weight_of()
  std::uint64_t busy;    // requests in flight (never negative)
  std::uint64_t lb;      // lb_value
  std::int64_t clock;    // lb relative to the first candidate (modular), set by the method
};

// What a method may use besides the candidates: the slots (to lift a lagging clock, see
// virtual_clock.h) and the injected randomness.
struct PickContext {
  std::span<table::MemberSlot* const> slots;
  Random& random;
};

// What a balancing method provides (methods.h has the four):
//   pick(candidates, context)  "get": the member (a Candidate::index) that takes a new request.
//                              `candidates` holds at least two, in member order; a method may
//                              update their `clock` and the slots' lb_value.
//   start_cost(weight)         what a request costs the member's lb_value when it starts
//                              there; 0: nothing.
//   finish_cost(out, in, weight)  what it costs when it finishes, having moved these bytes.
template <class P>
concept MethodPolicy = requires(const P& policy, std::span<Candidate> candidates, PickContext& context,
                                MemberWeight& weight, std::uint64_t bytes) {
  { policy.pick(candidates, context) } -> std::same_as<int>;
  { policy.start_cost(weight) } -> std::same_as<std::uint64_t>;
  { policy.finish_cost(bytes, bytes, weight) } -> std::same_as<std::uint64_t>;
};

}  // namespace idmb::balance
