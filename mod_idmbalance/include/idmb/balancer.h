// Member choice for one balancer, over the shared table: session affinity first, then the
// balancing method. As in nginx's upstream peer contract, choose() is the "get" and start(),
// finish(), record_error() and record_success() are the "free": the one place where load
// accounting and passive health happen, whatever the method. Each method (requests, traffic,
// busyness, p2c) is a small policy with one contract (core/balance/method_policy.h; the four
// are in methods.h), looked up from the method value for every call, since the manager may
// change it at run time. Time and randomness are injected. Health (health.h) enters as usable
// or not, the slow-start share of a recovering member, and the panic threshold.
#pragma once

#include <atomic>
#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "idmb/balancer_settings.h"
#include "idmb/config.h"
#include "idmb/health.h"
#include "idmb/worker_table_layout.h"

namespace idmb::balance {

class Random {
 public:
  virtual ~Random() = default;
  virtual std::uint64_t next() = 0;  // uniform 64-bit
};

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::int64_t now_ms() = 0;  // monotonic-enough wall time in ms
};

struct Choice {
  int member = -1;                 // index into the balancer's members; -1: none usable
  bool sticky = false;             // chosen by its session route
  bool route_changed = false;      // the session's route named a member that could not take it
  bool refused_by_force = false;   // sticky force: 503 instead of moving the session
  bool full = false;               // member -1 because every candidate is at its `max=` limit
  std::string_view session_route;  // the route found in the request, if any
};

class Balancer {
 public:
  // `slots[i]` is the table record of `config.members[i]`. `policy` gives the slow-start ramp
  // and the panic threshold (the rest of it is the prober's).
  Balancer(const config::BalancerConfig& config, std::vector<table::MemberSlot*> slots, Random& random, Clock& clock,
           const health::Policy& policy = {});

  // Reads the method and sticky force from the shared balancer record (changed by the
  // manager at run time) instead of the config. Call before the first choose().
  void use_shared_settings(const table::BalancerSlot* settings) { settings_ = settings; }

  // This process's holds (WorkerTable::held of its process record), one per member, so that
  // what its requests hold in flight can be given back if it dies (crash reaping). Set once
  // per child before it serves requests; without it only `busy` counts.
  void use_holds(std::vector<std::atomic<std::int32_t>*> holds) { holds_ = std::move(holds); }

  // Picks a member for a request carrying `session_routes` (see session_route.h).
  // `exclude` lists members already tried for this request (failover).
  Choice choose(std::span<const std::string_view> session_routes, std::span<const int> exclude = {});

  // Accounting around one attempt on `member`: start before sending, finish after. start()
  // reserves one of the member's `max=` places atomically and returns false, counting
  // nothing, when none is free (a sticky request may find its member full).
  bool start(int member, bool sticky);
  // A session's request was answered without the member opening a new session: the session
  // is live there. Stamps last_sticky_ms, the drain clock (a disabled member is drained once
  // no live session has used it for the quiet time; an unknown id does not reset it).
  void note_live_session(int member);
  // Disabled (draining): sessions it has may stay, it must not open new ones.
  bool is_disabled(int member) const;
  // False when the member has a `max=` limit and that many requests in flight.
  bool has_room(int member) const;
  void finish(int member, std::uint64_t bytes_out, std::uint64_t bytes_in);
  // Counts a failed attempt; backend faults also become the member's last error and count
  // toward taking it out (health::on_request_failure with this balancer's policy and clock).
  // Returns the state change, if this call made one, for the log and the event ring.
  health::Transition record_error(int member, table::ErrorClass error);
  // A successful attempt: the member's consecutive-failure count starts again.
  void record_success(int member);

  std::size_t size() const { return slots_.size(); }
  table::MemberSlot& slot(int member) const { return *slots_[static_cast<std::size_t>(member)]; }
  const health::Policy& policy() const { return policy_; }

 private:
  struct Pick {
    int member = -1;
    bool full = false;  // member -1 because `max=` limits passed over a candidate
  };
  class Round;  // the candidates of one normal choice (balancer.cc)

  // The normal choice for a request without a (usable) session; see balancer.cc for the order
  // of actives, standbys and panic. With `domain`, only that domain's usable active members.
  Pick pick_new(std::span<const int> exclude, std::string_view domain = {});
  // pick_new() into `choice` (member and full); returns the member.
  int take_new(Choice& choice, std::span<const int> exclude, std::string_view domain = {});
  // The session's member `named` cannot take its request: redirect, domain, force or any member.
  void fail_over(Choice& choice, int named, std::span<const int> exclude);
  int find_route(std::string_view route) const;
  bool takes_sticky(int member, std::span<const int> exclude) const;
  bool usable_for_sticky(int member) const;

  const config::BalancerConfig& config_;
  std::vector<table::MemberSlot*> slots_;
  Random& random_;
  Clock& clock_;
  health::Policy policy_;
  const table::BalancerSlot* settings_ = nullptr;
  std::vector<std::atomic<std::int32_t>*> holds_;
  std::atomic<std::int32_t>* hold_of(int member) const {
    return static_cast<std::size_t>(member) < holds_.size() ? holds_[static_cast<std::size_t>(member)] : nullptr;
  }
  config::Method method() const;
  bool sticky_force() const;
};

}  // namespace idmb::balance
