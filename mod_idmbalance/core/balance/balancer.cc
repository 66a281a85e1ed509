// Member choice over the shared table. Every child process and thread reads and updates the
// same MemberSlot atomics without a lock: all accesses are relaxed, counters use atomic
// read-modify-write (no count is ever lost), and the choice itself may race (two pickers can
// see the same minimum and both take it), which only makes the distribution slightly uneven.
//
// This file is what every balancing method shares: which members are candidates and in which
// order (actives, standbys, panic), session affinity and its failover, `max=` reservations,
// the slow-start weight, and the accounting and passive health around an attempt. What differs
// per method (which candidate, what a request costs) is its MethodPolicy: method_policy.h (the
// contract), methods.h (the four), and the virtual clock three of them share, virtual_clock.h.
#include "idmb/balancer.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>

#include "methods.h"

namespace idmb::balance {
namespace {

using config::Activation;
using table::Health;
using table::MemberSlot;

constexpr auto kRelaxed = std::memory_order_relaxed;

// The manager may write anything, so clamp what we read to what the config allows: a weight
// is then below 2^24, which keeps busy * weight in range (methods.h).
constexpr std::uint32_t kMaxFactor = config::kMaxFactor;

std::uint32_t factor_of(const MemberSlot& s) {
  return std::clamp<std::uint32_t>(s.factor.load(kRelaxed), 1, kMaxFactor);
}

std::uint64_t busy_of(const MemberSlot& s) {
  return static_cast<std::uint64_t>(std::max<std::int32_t>(s.busy.load(kRelaxed), 0));
}

bool health_usable(const MemberSlot& s) {
  const auto h = static_cast<Health>(s.health.load(kRelaxed));
  return h == Health::Ok || h == Health::Recovering;
}

// Any state a version writes, Error and Ejected included: what panic balances over.
bool health_known(const MemberSlot& s) {
  const auto h = static_cast<Health>(s.health.load(kRelaxed));
  return h == Health::Ok || h == Health::Recovering || h == Health::Error || h == Health::Ejected;
}

// An ejected outlier still answers: its live sessions stay (as on a draining member) rather than
// lose their login; only new requests go elsewhere.
bool health_serves_sessions(const MemberSlot& s) {
  return health_usable(s) || static_cast<Health>(s.health.load(kRelaxed)) == Health::Ejected;
}

Activation activation_of(const MemberSlot& s) { return static_cast<Activation>(s.activation.load(kRelaxed)); }

std::string_view route_of(const MemberSlot& s) { return {s.route, ::strnlen(s.route, table::kNameSize)}; }

bool contains(std::span<const int> list, int member) {
  return std::find(list.begin(), list.end(), member) != list.end();
}

// Candidates on the stack for ordinary balancers; the heap only for unusually large ones.
class Candidates {
 public:
  explicit Candidates(std::size_t capacity) {
    if (capacity > kInline) heap_.resize(capacity);
  }
  void push(const Candidate& c) { data()[size_++] = c; }
  void clear() { size_ = 0; }
  std::size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Candidate& operator[](std::size_t i) { return data()[i]; }
  std::span<Candidate> all() { return {data(), size_}; }
  // Keeps, in order, the candidates that pass `keep`.
  template <class Keep>
  void keep_if(Keep keep) {
    std::size_t kept = 0;
    for (std::size_t i = 0; i < size_; ++i) {
      if (keep(data()[i])) data()[kept++] = data()[i];
    }
    size_ = kept;
  }

 private:
  static constexpr std::size_t kInline = 32;
  Candidate* data() { return heap_.empty() ? inline_.data() : heap_.data(); }
  std::array<Candidate, kInline> inline_;
  std::vector<Candidate> heap_;
  std::size_t size_ = 0;
};

}  // namespace

// Factor <= 100000 and percent <= 100, so the product fits.
std::uint32_t weight_of(const MemberSlot& s, LazyNow& now, const health::Policy& policy) {
  const std::uint32_t factor = factor_of(s);
  if (s.health.load(kRelaxed) != static_cast<std::uint32_t>(Health::Recovering)) return factor * kWeightScale;
  const std::uint32_t percent = health::slow_start_percent(s, now.get(), policy);
  return std::max<std::uint32_t>(factor * percent, 1);
}

// The candidates of one normal choice, gathered in member order, and the choice among them.
class Balancer::Round {
 public:
  Round(Balancer& balancer, std::span<const int> exclude)
      : balancer_(balancer), exclude_(exclude), candidates_(balancer.size()), now_(balancer.clock_) {}

  // Adds member `i` (slot `s`) unless it is excluded for this request or at its `max=` limit.
  // A full member is passed over like an excluded one, its overflow going to the others; it
  // still counts as usable for the panic arithmetic.
  void offer(int i, const MemberSlot& s) {
    if (contains(exclude_, i)) return;
    if (!balancer_.has_room(i)) {
      saw_full_ = true;
      return;
    }
    candidates_.push({i, weight_of(s, now_, balancer_.policy_), busy_of(s), s.lb_value.load(kRelaxed), 0});
  }
  // Offers the usable active members (of `domain`, if given) and counts the actives: the
  // numbers panic() needs.
  void offer_active(std::string_view domain) {
    const int n = static_cast<int>(balancer_.size());
    for (int i = 0; i < n; ++i) {
      const MemberSlot& s = balancer_.slot(i);
      if (activation_of(s) != Activation::Active) continue;
      ++active_;
      if (!health_usable(s)) continue;
      ++usable_active_;
      if (!domain.empty() && balancer_.config_.members[static_cast<std::size_t>(i)].domain != domain) continue;
      offer(i, s);
    }
  }
  // Usable actives are fewer than panic_percent of all active members (after offer_active()).
  bool panic() const {
    const std::uint32_t percent = balancer_.policy_.panic_percent;
    return percent > 0 && active_ > 0 && usable_active_ * 100 < std::uint64_t{percent} * active_;
  }
  // Offers every member whose slot passes `takes`.
  template <class Takes>
  void offer_all(Takes takes) {
    const int n = static_cast<int>(balancer_.size());
    for (int i = 0; i < n; ++i) {
      const MemberSlot& s = balancer_.slot(i);
      if (takes(s)) offer(i, s);
    }
  }
  bool empty() const { return candidates_.empty(); }
  void clear() { candidates_.clear(); }

  // distance=: only the candidates with the lowest distance go to the method (mod_jk's
  // distance tiers: local members first, the other site's only when none of those can).
  void keep_nearest() {
    const auto& members = balancer_.config_.members;
    const auto distance = [&](const Candidate& c) { return members[static_cast<std::size_t>(c.index)].distance; };
    std::uint32_t nearest = config::kMaxDistance;
    for (const Candidate& c : candidates_.all()) nearest = std::min(nearest, distance(c));
    candidates_.keep_if([&](const Candidate& c) { return distance(c) == nearest; });
  }

  // The method's pick among the candidates, or -1 (full if a `max=` limit was in the way).
  Pick result() {
    if (candidates_.empty()) return {-1, saw_full_};
    keep_nearest();
    if (candidates_.size() == 1) return {candidates_[0].index, false};  // no method needed, no clock lifted
    PickContext context{balancer_.slots_, balancer_.random_};
    const std::span<Candidate> all = candidates_.all();
    return {with_policy(balancer_.method(), [&](const auto& method) { return method.pick(all, context); }), false};
  }

 private:
  Balancer& balancer_;
  std::span<const int> exclude_;
  Candidates candidates_;
  LazyNow now_;
  bool saw_full_ = false;
  std::size_t active_ = 0;         // members with activation Active
  std::size_t usable_active_ = 0;  // of those, the ones whose health is usable
};

Balancer::Balancer(const config::BalancerConfig& config, std::vector<table::MemberSlot*> slots, Random& random,
                   Clock& clock, const health::Policy& policy)
    : config_(config), slots_(std::move(slots)), random_(random), clock_(clock), policy_(policy) {
  // Defensive: a member without both a config entry and a slot can never be chosen.
  slots_.resize(std::min(slots_.size(), config_.members.size()));
}

config::Method Balancer::method() const { return settings_ ? table::method_of(*settings_) : config_.method; }

bool Balancer::sticky_force() const {
  return settings_ ? settings_->sticky_force.load(kRelaxed) != 0 : config_.sticky.force;
}

bool Balancer::usable_for_sticky(int member) const {
  const MemberSlot& s = slot(member);
  const Activation a = activation_of(s);
  return (a == Activation::Active || a == Activation::Disabled || a == Activation::Standby) &&
         health_serves_sessions(s);
}

// The normal choice, in this order:
//   1. the usable active members (not excluded for this request), unless in panic;
//   2. failing those, the usable standby members: a hot standby takes over when no active
//      member can take the request, and does so before panic (it is healthy capacity);
//   3. panic, when usable actives are fewer than panic_percent of all active members: every
//      active and standby member not excluded, in error or not, as if all were healthy (better
//      than piling onto the last survivors or refusing; the health checks may be what is wrong).
//      Disabled and stopped members never take part: those are the operator's decision.
//   4. nothing: -1.
// Panic looks at health only: members excluded for this request failed it, which says nothing
// about the balancer as a whole. A domain choice (session failover) takes usable active
// members of that domain only: no standbys, no panic.
Balancer::Pick Balancer::pick_new(std::span<const int> exclude, std::string_view domain) {
  Round round(*this, exclude);
  round.offer_active(domain);
  if (!domain.empty()) return round.result();
  const bool panic = round.panic();
  if (!panic && !round.empty()) return round.result();
  if (round.empty()) {
    round.offer_all([](const MemberSlot& s) { return activation_of(s) == Activation::Standby && health_usable(s); });
    if (!round.empty()) return round.result();
  }
  if (!panic) return round.result();  // none
  round.clear();
  round.offer_all([](const MemberSlot& s) {
    const Activation a = activation_of(s);
    return (a == Activation::Active || a == Activation::Standby) && health_known(s);
  });
  return round.result();
}

int Balancer::take_new(Choice& choice, std::span<const int> exclude, std::string_view domain) {
  const Pick pick = pick_new(exclude, domain);
  choice.member = pick.member;
  choice.full = pick.full;
  return pick.member;
}

int Balancer::find_route(std::string_view route) const {
  for (int i = 0; i < static_cast<int>(slots_.size()); ++i) {
    if (route_of(slot(i)) == route) return i;
  }
  return -1;
}

bool Balancer::takes_sticky(int member, std::span<const int> exclude) const {
  return member >= 0 && !contains(exclude, member) && usable_for_sticky(member);
}

Choice Balancer::choose(std::span<const std::string_view> session_routes, std::span<const int> exclude) {
  Choice choice;
  if (!config_.sticky.enabled || session_routes.empty()) {
    take_new(choice, exclude);
    return choice;
  }
  // Any route whose member can take it wins, even after one whose member cannot: with two
  // session cookies (say one stale, for another path), the live one is the better guess.
  int named = -1;
  for (std::string_view route : session_routes) {
    const int m = find_route(route);
    if (m < 0) continue;
    if (takes_sticky(m, exclude)) {
      choice.member = m;
      choice.sticky = true;
      choice.session_route = route;
      return choice;
    }
    if (named < 0) {
      named = m;
      choice.session_route = route;
    }
  }
  if (named < 0) {  // unknown routes: a new session as far as we can tell
    choice.session_route = session_routes.front();
    take_new(choice, exclude);
    return choice;
  }
  fail_over(choice, named, exclude);
  return choice;
}

// Its redirect, then its replication domain, then (unless force) any member.
void Balancer::fail_over(Choice& choice, int named, std::span<const int> exclude) {
  const config::MemberConfig& owner = config_.members[static_cast<std::size_t>(named)];
  if (!owner.redirect.empty()) {
    const int target = find_route(owner.redirect);
    if (takes_sticky(target, exclude)) {
      choice.member = target;
      choice.route_changed = true;
      return;
    }
  }
  if (!owner.domain.empty() && take_new(choice, exclude, owner.domain) >= 0) {
    choice.route_changed = true;
    return;
  }
  if (sticky_force()) {
    choice.refused_by_force = true;
    return;
  }
  // In panic the normal choice may land on the session's own member after all: then it stays.
  choice.route_changed = take_new(choice, exclude) != named;
  choice.sticky = choice.member == named;
}

bool Balancer::has_room(int member) const {
  const std::uint32_t max = config_.members[static_cast<std::size_t>(member)].max_busy;
  return max == 0 || busy_of(slot(member)) < max;
}

bool Balancer::start(int member, bool sticky) {
  if (member < 0 || static_cast<std::size_t>(member) >= slots_.size()) return false;
  MemberSlot& s = slot(member);
  const std::uint32_t max = config_.members[static_cast<std::size_t>(member)].max_busy;
  if (max == 0) {
    s.busy.fetch_add(1, kRelaxed);
  } else {
    // Reserve a place only if one is free: check and increment as one step, across processes.
    std::int32_t busy = s.busy.load(kRelaxed);
    do {
      if (busy >= static_cast<std::int32_t>(max)) return false;
    } while (!s.busy.compare_exchange_weak(busy, busy + 1, kRelaxed));
  }
  // Right after busy: a process killed between the two leaves one count for nobody to reap.
  if (auto* hold = hold_of(member)) hold->fetch_add(1, kRelaxed);
  s.requests.fetch_add(1, kRelaxed);
  LazyNow now(clock_);
  MemberWeight weight(s, now, policy_);
  const std::uint64_t cost = with_policy(method(), [&](const auto& m) { return m.start_cost(weight); });
  if (cost != 0) {
    s.lb_value.fetch_add(cost, kRelaxed);
  }
  if (sticky) {
    s.sticky_hits.fetch_add(1, kRelaxed);
  }
  return true;
}

bool Balancer::is_disabled(int member) const {
  return member >= 0 && static_cast<std::size_t>(member) < slots_.size() &&
         activation_of(slot(member)) == Activation::Disabled;
}

void Balancer::note_live_session(int member) {
  if (member < 0 || static_cast<std::size_t>(member) >= slots_.size()) return;
  slot(member).last_sticky_ms.store(clock_.now_ms(), kRelaxed);
}

void Balancer::finish(int member, std::uint64_t bytes_out, std::uint64_t bytes_in) {
  if (member < 0 || static_cast<std::size_t>(member) >= slots_.size()) return;
  MemberSlot& s = slot(member);
  // Saturate at zero: an unpaired finish (a bug elsewhere, or a table carried over while
  // requests were in flight) must not leave a member looking less than idle forever. A CAS
  // loop rather than fetch_sub-and-repair, which can strand a +1 when it races with a start;
  // it measured no slower.
  // The hold first: a reaper never gives back what this finish already gave back.
  if (auto* hold = hold_of(member)) hold->fetch_sub(1, kRelaxed);
  std::int32_t busy = s.busy.load(kRelaxed);
  while (busy > 0 && !s.busy.compare_exchange_weak(busy, busy - 1, kRelaxed)) {}
  s.bytes_out.fetch_add(bytes_out, kRelaxed);
  s.bytes_in.fetch_add(bytes_in, kRelaxed);
  LazyNow now(clock_);
  MemberWeight weight(s, now, policy_);
  const std::uint64_t cost =
      with_policy(method(), [&](const auto& m) { return m.finish_cost(bytes_out, bytes_in, weight); });
  if (cost != 0) {
    s.lb_value.fetch_add(cost, kRelaxed);
  }
}

health::Transition Balancer::record_error(int member, table::ErrorClass error) {
  if (member < 0 || static_cast<std::size_t>(member) >= slots_.size()) return {};
  if (static_cast<std::size_t>(error) >= table::kErrorClassCount) return {};
  MemberSlot& s = slot(member);
  s.errors[static_cast<std::size_t>(error)].fetch_add(1, kRelaxed);
  const std::int64_t now = clock_.now_ms();
  if (error != table::ErrorClass::Client) {
    s.last_error_class.store(static_cast<std::uint32_t>(error), kRelaxed);
    s.last_error_ms.store(now, kRelaxed);
  }
  return health::on_request_failure(s, error, now, policy_);  // client faults: no change
}

void Balancer::record_success(int member) {
  if (member < 0 || static_cast<std::size_t>(member) >= slots_.size()) return;
  health::on_request_success(slot(member));
}

}  // namespace idmb::balance
