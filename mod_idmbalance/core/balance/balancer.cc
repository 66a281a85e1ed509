// Member choice over the shared table. Every child process and thread reads and updates the
// same MemberSlot atomics without a lock: all accesses are relaxed, counters use atomic
// read-modify-write (no count is ever lost), and the choice itself may race (two pickers can
// see the same minimum and both take it), which only makes the distribution slightly uneven.
//
// lb_value is a per-member virtual clock in fixed-point "cost units":
//   requests  each request costs kRequestCost / factor (stride scheduling: the member with
//             the smallest clock goes next, so picks follow the factors smoothly, and one
//             fetch_add is all the cross-process state a pick needs);
//   busyness  the member with the fewest in-flight requests per factor goes next; the
//             requests clock breaks ties;
//   traffic   each request costs a fixed kTrafficRequestBytes at start (so requests in flight,
//             whose bytes are not counted yet, still spread) plus its bytes at finish, per
//             factor;
//   p2c       does not use the clock.
// Clocks are compared modulo 2^64 (signed difference, as with TCP sequence numbers), so
// wrap-around is harmless. A member that was out of rotation (error, stopped, excluded) keeps
// its old clock and would take every request until it caught up; before each choice, any
// candidate more than one window behind the most advanced candidate is lifted to that
// distance (a compare-exchange, lost races are harmless). For requests and busyness the
// window is two rounds at factor 1 (a legitimate spread is at most one stride), so a member
// that comes back gets at most about one round's worth before it alternates. For traffic it is
// kTrafficWindowBytes: that both bounds a returning member's head start (at most 1 MiB, i.e.
// 256 request charges, per unit of factor) and is how much byte imbalance the method
// remembers (mod_jk forgets by halving lb_value every minute instead).
// That lift also heals a clock that has drifted more than 2^63 away: whichever clock looks
// most advanced becomes the reference and the others are pulled to it.
//
// Every method weighs a member by its factor times its slow-start share (health.h): a member
// that has just recovered or been re-activated starts at slow_start_min_percent of its factor
// and reaches the whole factor at the end of the window (at least weight 1 throughout).
#include "idmb/balancer.h"

#include <algorithm>
#include <array>
#include <atomic>
#include <cstring>
#include <limits>

namespace idmb::balance {
namespace {

using config::Activation;
using config::Method;
using table::Health;
using table::MemberSlot;

constexpr auto kRelaxed = std::memory_order_relaxed;

// One request at factor 1. Large, so kRequestCost / factor truncates by < 1e-7 relative.
constexpr std::uint64_t kRequestCost = std::uint64_t{1} << 32;
constexpr std::uint64_t kRequestWindow = 2 * kRequestCost;
// One byte at factor 1 (traffic). bytes * kByteCost stays below 2^64 because the bytes of one
// request are clamped to kTrafficWindowBytes * kMaxFactor first: a larger charge would be
// forgotten by the window anyway.
constexpr std::uint64_t kByteCost = std::uint64_t{1} << 16;
constexpr std::uint64_t kTrafficRequestBytes = 4096;
constexpr std::uint64_t kTrafficWindowBytes = std::uint64_t{1} << 20;
constexpr std::uint64_t kTrafficWindow = kTrafficWindowBytes * kByteCost;

// The config allows 1..100; the manager may write anything, so clamp what we read. The upper
// bound keeps busy * factor and the P2C weight sum (< 2^32) in range.
constexpr std::uint32_t kMaxFactor = 1u << 16;
// Weights are factors in hundredths (weight_of); costs divide by the weight, so they scale up
// by the same amount: kRequestCost * 100 and 2^52 bytes-cost * 100 both stay below 2^64.
constexpr std::uint32_t kWeightScale = 100;

std::uint32_t factor_of(const MemberSlot& s) {
  return std::clamp<std::uint32_t>(s.factor.load(kRelaxed), 1, kMaxFactor);
}

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

// Factor scaled by the slow-start share; factor <= 2^16, so the product fits.
// In hundredths of a factor, so that the ramp also works at factor 1 (10% of factor 1 is
// weight 10 against a healthy member's 100, not a rounded 1 against 1).
std::uint32_t weight_of(const MemberSlot& s, LazyNow& now, const health::Policy& policy) {
  const std::uint32_t factor = factor_of(s);
  if (s.health.load(kRelaxed) != static_cast<std::uint32_t>(Health::Recovering)) return factor * kWeightScale;
  const std::uint32_t percent = health::slow_start_percent(s, now.get(), policy);
  return std::max<std::uint32_t>(factor * percent, 1);
}

std::uint64_t busy_of(const MemberSlot& s) {
  return static_cast<std::uint64_t>(std::max<std::int32_t>(s.busy.load(kRelaxed), 0));
}

bool health_usable(const MemberSlot& s) {
  const auto h = static_cast<Health>(s.health.load(kRelaxed));
  return h == Health::Ok || h == Health::Recovering;
}

// Any state a version writes, Error included: what panic balances over.
bool health_known(const MemberSlot& s) {
  const auto h = static_cast<Health>(s.health.load(kRelaxed));
  return h == Health::Ok || h == Health::Recovering || h == Health::Error;
}

Activation activation_of(const MemberSlot& s) {
  return static_cast<Activation>(s.activation.load(kRelaxed));
}

std::string_view route_of(const MemberSlot& s) {
  return {s.route, ::strnlen(s.route, table::kNameSize)};
}

bool contains(std::span<const int> list, int member) {
  return std::find(list.begin(), list.end(), member) != list.end();
}

// Traffic charge for `bytes` on a member of weight `weight` (see weight_of).
std::uint64_t traffic_cost(std::uint64_t bytes, std::uint32_t weight) {
  bytes = std::min<std::uint64_t>(bytes, kTrafficWindowBytes * kMaxFactor);
  return std::min(bytes * kByteCost * kWeightScale / weight, kTrafficWindow);
}

std::uint64_t start_cost(Method method, std::uint32_t weight) {
  switch (method) {
    case Method::Requests:
    case Method::Busyness: return kRequestCost * kWeightScale / weight;
    case Method::Traffic: return traffic_cost(kTrafficRequestBytes, weight);
    case Method::P2C: return 0;
  }
  return 0;
}

// A snapshot of one candidate, taken once per choice so that one decision sees one value.
struct Candidate {
  int index;
  std::uint32_t weight;  // weight_of(): the factor in hundredths, ramped while recovering
  std::uint64_t busy;
  std::uint64_t lb;
  std::int64_t clock;  // lb relative to the first candidate (modular), after lifting
};

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

 private:
  static constexpr std::size_t kInline = 32;
  Candidate* data() { return heap_.empty() ? inline_.data() : heap_.data(); }
  std::array<Candidate, kInline> inline_;
  std::vector<Candidate> heap_;
  std::size_t size_ = 0;
};

// Sets each candidate's `clock` and lifts members that lag more than `window` behind the most
// advanced one (see the file comment).
void settle_clocks(std::span<Candidate> cands, const std::vector<MemberSlot*>& slots,
                   std::uint64_t window) {
  const std::uint64_t ref = cands[0].lb;
  std::int64_t newest = 0;
  for (Candidate& c : cands) {
    c.clock = static_cast<std::int64_t>(c.lb - ref);
    newest = std::max(newest, c.clock);
  }
  const std::int64_t floor = newest - static_cast<std::int64_t>(window);
  for (Candidate& c : cands) {
    if (c.clock >= floor) continue;
    std::uint64_t expected = c.lb;
    const std::uint64_t lifted = ref + static_cast<std::uint64_t>(floor);
    // On failure another picker moved it (a start, or the same lift): fine either way.
    slots[static_cast<std::size_t>(c.index)]->lb_value.compare_exchange_strong(expected, lifted, kRelaxed);
    c.clock = floor;
  }
}

// The lag window is `base` for members at full weight of factor 1 or more; a ramping member
// of weight w < kWeightScale advances kWeightScale / w times faster per request, so the
// window widens by that much, or its healthy peers would be lifted on every pick.
std::uint64_t window_for(std::span<const Candidate> cands, std::uint64_t base) {
  std::uint32_t lightest = kWeightScale;
  for (const Candidate& c : cands) lightest = std::min(lightest, c.weight);
  return base * ((kWeightScale + lightest - 1) / lightest);
}

// Smallest clock; ties go to the lowest member index (candidates are in index order).
int by_clock(std::span<Candidate> cands) {
  const Candidate* best = &cands[0];
  for (const Candidate& c : cands) {
    if (c.clock < best->clock) best = &c;
  }
  return best->index;
}

// a.busy / a.weight < b.busy / b.weight, without division.
bool less_busy(const Candidate& a, const Candidate& b) { return a.busy * b.weight < b.busy * a.weight; }

int by_busy(std::span<Candidate> cands) {
  const Candidate* best = &cands[0];
  for (const Candidate& c : cands) {
    if (less_busy(c, *best) || (!less_busy(*best, c) && c.clock < best->clock)) best = &c;
  }
  return best->index;
}

// Index into `cands` drawn with probability factor / total, skipping `skip` (whose factor the
// caller already took out of `total`). `r` is 32 uniform bits.
std::size_t draw(std::span<const Candidate> cands, std::uint64_t total, std::uint64_t r, std::size_t skip) {
  std::uint64_t point = (r * total) >> 32;  // uniform in [0, total)
  std::size_t last = skip == 0 ? 1 : 0;
  for (std::size_t i = 0; i < cands.size(); ++i) {
    if (i == skip) continue;
    last = i;
    if (point < cands[i].weight) return i;
    point -= cands[i].weight;
  }
  return last;  // unreachable with a consistent total
}

// Power of two choices: two distinct candidates drawn by weight, the less busy per factor
// wins, a tie goes to the first drawn.
int p2c(std::span<const Candidate> cands, Random& random) {
  std::uint64_t total = 0;
  for (const Candidate& c : cands) total += c.weight;
  const std::uint64_t r = random.next();
  const std::size_t none = cands.size();
  const std::size_t first = draw(cands, total, r & 0xffffffffu, none);
  const std::size_t second = draw(cands, total - cands[first].weight, r >> 32, first);
  return less_busy(cands[second], cands[first]) ? cands[second].index : cands[first].index;
}

}  // namespace

Balancer::Balancer(const config::BalancerConfig& config, std::vector<table::MemberSlot*> slots, Random& random,
                   Clock& clock, const health::Policy& policy)
    : config_(config), slots_(std::move(slots)), random_(random), clock_(clock), policy_(policy) {
  // Defensive: a member without both a config entry and a slot can never be chosen.
  slots_.resize(std::min(slots_.size(), config_.members.size()));
}

config::Method Balancer::method() const {
  return settings_ ? table::method_of(*settings_) : config_.method;
}

bool Balancer::sticky_force() const {
  return settings_ ? settings_->sticky_force.load(kRelaxed) != 0 : config_.sticky.force;
}

bool Balancer::usable_for_sticky(int member) const {
  const MemberSlot& s = slot(member);
  const Activation a = activation_of(s);
  return (a == Activation::Active || a == Activation::Disabled || a == Activation::Standby) && health_usable(s);
}

bool Balancer::usable_for_new(int member) const {
  const MemberSlot& s = slot(member);
  return activation_of(s) == Activation::Active && health_usable(s);
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
  const int n = static_cast<int>(slots_.size());
  Candidates cands(slots_.size());
  LazyNow now(clock_);
  const auto push = [&](int i, const MemberSlot& s) {
    cands.push({i, weight_of(s, now, policy_), busy_of(s), s.lb_value.load(kRelaxed), 0});
  };
  const auto choose_among = [&]() -> int {
    if (cands.size() == 1) return cands[0].index;
    switch (method()) {
      case Method::Requests:
        settle_clocks(cands.all(), slots_, window_for(cands.all(), kRequestWindow));
        return by_clock(cands.all());
      case Method::Traffic:
        settle_clocks(cands.all(), slots_, window_for(cands.all(), kTrafficWindow));
        return by_clock(cands.all());
      case Method::Busyness:
        settle_clocks(cands.all(), slots_, window_for(cands.all(), kRequestWindow));
        return by_busy(cands.all());
      case Method::P2C:
        return p2c(cands.all(), random_);
    }
    return cands[0].index;
  };

  // A member at its `max=` limit is passed over like an excluded one: its overflow goes to the
  // others (it still counts as usable for the panic arithmetic).
  bool saw_full = false;
  const auto full = [&](int i) {
    const bool is_full = !has_room(i);
    saw_full = saw_full || is_full;
    return is_full;
  };
  std::size_t active = 0;
  std::size_t usable_active = 0;
  for (int i = 0; i < n; ++i) {
    const MemberSlot& s = slot(i);
    if (activation_of(s) != Activation::Active) continue;
    ++active;
    if (!health_usable(s)) continue;
    ++usable_active;
    if (contains(exclude, i)) continue;
    if (!domain.empty() && config_.members[static_cast<std::size_t>(i)].domain != domain) continue;
    if (full(i)) continue;
    push(i, s);
  }
  if (!domain.empty()) return {cands.empty() ? -1 : choose_among(), false, cands.empty() && saw_full};
  const bool panic = policy_.panic_percent > 0 && active > 0 &&
                     usable_active * 100 < std::uint64_t{policy_.panic_percent} * active;
  if (!panic && !cands.empty()) return {choose_among(), false};

  if (cands.empty()) {
    for (int i = 0; i < n; ++i) {
      const MemberSlot& s = slot(i);
      if (activation_of(s) == Activation::Standby && health_usable(s) && !contains(exclude, i) && !full(i)) {
        push(i, s);
      }
    }
    if (!cands.empty()) return {choose_among(), false};
  }
  if (!panic) return {-1, false, saw_full};

  cands.clear();
  for (int i = 0; i < n; ++i) {
    const MemberSlot& s = slot(i);
    const Activation a = activation_of(s);
    if ((a == Activation::Active || a == Activation::Standby) && health_known(s) && !contains(exclude, i) &&
        !full(i)) {
      push(i, s);
    }
  }
  if (cands.empty()) return {-1, false, saw_full};
  return {choose_among(), true};
}

Choice Balancer::choose(std::span<const std::string_view> session_routes, std::span<const int> exclude) {
  Choice choice;
  const auto pick_into = [&](std::string_view domain = {}) {
    const Pick pick = pick_new(exclude, domain);
    choice.member = pick.member;
    choice.panic = pick.panic;
    choice.full = pick.full;
    return pick.member;
  };
  if (!config_.sticky.enabled || session_routes.empty()) {
    pick_into();
    return choice;
  }
  const int n = static_cast<int>(slots_.size());
  const auto find_route = [&](std::string_view route) {
    for (int i = 0; i < n; ++i) {
      if (route_of(slot(i)) == route) return i;
    }
    return -1;
  };
  const auto takes_sticky = [&](int m) { return m >= 0 && !contains(exclude, m) && usable_for_sticky(m); };

  // Any route whose member can take it wins, even after one whose member cannot: with two
  // session cookies (say one stale, for another path), the live one is the better guess.
  int named = -1;
  for (std::string_view route : session_routes) {
    const int m = find_route(route);
    if (m < 0) continue;
    if (takes_sticky(m)) {
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
    pick_into();
    return choice;
  }

  // The session's member cannot take it: its redirect, then its replication domain, then
  // (unless force) any member.
  const config::MemberConfig& owner = config_.members[static_cast<std::size_t>(named)];
  if (!owner.redirect.empty()) {
    const int target = find_route(owner.redirect);
    if (takes_sticky(target)) {
      choice.member = target;
      choice.route_changed = true;
      return choice;
    }
  }
  if (!owner.domain.empty()) {
    if (pick_into(owner.domain) >= 0) {
      choice.route_changed = true;
      return choice;
    }
  }
  if (sticky_force()) {
    choice.refused_by_force = true;
    return choice;
  }
  // In panic the normal choice may land on the session's own member after all: then it stays.
  choice.route_changed = pick_into() != named;
  choice.sticky = choice.member == named;
  return choice;
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
  s.requests.fetch_add(1, kRelaxed);
  LazyNow now(clock_);
  if (const std::uint64_t cost = start_cost(method(), weight_of(s, now, policy_)); cost != 0) {
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
  std::int32_t busy = s.busy.load(kRelaxed);
  while (busy > 0 && !s.busy.compare_exchange_weak(busy, busy - 1, kRelaxed)) {
  }
  s.bytes_out.fetch_add(bytes_out, kRelaxed);
  s.bytes_in.fetch_add(bytes_in, kRelaxed);
  if (method() == Method::Traffic) {
    const std::uint64_t bytes = bytes_out > std::numeric_limits<std::uint64_t>::max() - bytes_in
                                    ? std::numeric_limits<std::uint64_t>::max()
                                    : bytes_out + bytes_in;
    LazyNow now(clock_);
    if (const std::uint64_t cost = traffic_cost(bytes, weight_of(s, now, policy_)); cost != 0) {
      s.lb_value.fetch_add(cost, kRelaxed);
    }
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
  health::on_request_success(slot(member), 0);
}

}  // namespace idmb::balance
