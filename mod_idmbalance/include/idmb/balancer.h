// Member choice for one balancer, over the shared table: session affinity first, then the
// balancing method. The get/release pair (nginx's get/free contract) is the one place where
// load accounting happens. Time and randomness are injected.
#pragma once

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "idmb/config.h"
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
  int member = -1;                   // index into the balancer's members; -1: none usable
  bool sticky = false;               // chosen by its session route
  bool route_changed = false;        // the session's route named a member that could not take it
  bool refused_by_force = false;     // sticky force: 503 instead of moving the session
  std::string_view session_route;    // the route found in the request, if any
};

class Balancer {
 public:
  // `slots[i]` is the table record of `config.members[i]`.
  Balancer(const config::BalancerConfig& config, std::vector<table::MemberSlot*> slots, Random& random,
           Clock& clock);

  // Picks a member for a request carrying `session_routes` (see session_route.h).
  // `exclude` lists members already tried for this request (failover).
  Choice choose(std::span<const std::string_view> session_routes, std::span<const int> exclude = {});

  // Accounting around one attempt on `member`: start before sending, finish after.
  void start(int member, bool sticky);
  void finish(int member, std::uint64_t bytes_out, std::uint64_t bytes_in);
  // Counts a failed attempt; backend faults also become the member's last error.
  void record_error(int member, table::ErrorClass error);

  std::size_t size() const { return slots_.size(); }
  table::MemberSlot& slot(int member) const { return *slots_[static_cast<std::size_t>(member)]; }

 private:
  // Members that may take a new (non-sticky) request; standbys only if no active one can.
  int pick_new(std::span<const int> exclude, std::string_view domain = {});
  bool usable_for_sticky(int member) const;
  bool usable_for_new(int member) const;

  const config::BalancerConfig& config_;
  std::vector<table::MemberSlot*> slots_;
  Random& random_;
  Clock& clock_;
};

}  // namespace idmb::balance
