// Health as the balancer sees it: the slow-start share of a recovering member in every method,
// and the order of actives, standbys and panic in the normal choice.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "idmb/balancer.h"
#include "support/fake_sources.h"

using idmb::balance::Balancer;
using idmb::balance::Choice;
using idmb::config::Activation;
using idmb::config::BalancerConfig;
using idmb::config::MemberConfig;
using idmb::config::Method;
using idmb::health::Policy;
using idmb::table::Health;
using idmb::table::MemberSlot;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;

struct SeededRandom : idmb::test::SeededRandom {
  SeededRandom() : idmb::test::SeededRandom(99) {}
};

struct FakeClock : idmb::test::ManualClock {
  FakeClock() : ManualClock(kT0) {}
};

struct Member {
  std::string name;
  std::uint32_t factor = 1;
  Activation activation = Activation::Active;
  Health health = Health::Ok;
  std::string domain = {};
};

class Rig {
 public:
  Rig(const std::vector<Member>& members, const Policy& policy = {}, Method method = Method::Requests)
      : slots_(std::make_unique<MemberSlot[]>(members.size())) {
    config.name = "app";
    config.method = method;
    std::vector<MemberSlot*> pointers;
    for (std::size_t i = 0; i < members.size(); ++i) {
      MemberConfig m;
      m.name = m.route = members[i].name;
      m.factor = members[i].factor;
      m.activation = members[i].activation;
      m.domain = members[i].domain;
      config.members.push_back(m);
      MemberSlot& s = slots_[i];
      std::strncpy(s.route, m.route.c_str(), sizeof s.route - 1);
      s.activation = static_cast<std::uint32_t>(m.activation);
      s.factor = m.factor;
      s.health = static_cast<std::uint32_t>(members[i].health);
      pointers.push_back(&s);
    }
    balancer = std::make_unique<Balancer>(config, std::move(pointers), random, clock, policy);
  }
  MemberSlot& slot(int i) { return slots_[static_cast<std::size_t>(i)]; }
  void set(int i, Health h, std::int64_t since = kT0) {
    slot(i).health = static_cast<std::uint32_t>(h);
    slot(i).state_since_ms = since;
  }

  Choice session(std::string_view route) { return balancer->choose({&route, 1}); }
  // A member in error takes a request only in panic.
  bool in_error(int member) { return member >= 0 && slot(member).health == static_cast<std::uint32_t>(Health::Error); }

  // Picks `n` times (each a complete request, `in_flight` kept open); returns the members
  // chosen, in order, and whether any choice was a panic one (went to a member in error).

  std::vector<int> picks(int n, std::size_t in_flight = 0, bool* any_panic = nullptr) {
    std::vector<int> seq;
    std::deque<int> open;
    for (int i = 0; i < n; ++i) {
      const Choice c = balancer->choose({});
      if (any_panic != nullptr && in_error(c.member)) *any_panic = true;
      seq.push_back(c.member);
      if (c.member < 0) continue;
      balancer->start(c.member, false);
      open.push_back(c.member);
      if (open.size() > in_flight) {
        balancer->finish(open.front(), 100, 1000);
        open.pop_front();
      }
    }
    for (int m : open) balancer->finish(m, 100, 1000);
    return seq;
  }

  BalancerConfig config;
  SeededRandom random;
  FakeClock clock;
  std::unique_ptr<Balancer> balancer;

 private:
  std::unique_ptr<MemberSlot[]> slots_;
};

double share(const std::vector<int>& seq, int member) {
  return static_cast<double>(std::count(seq.begin(), seq.end(), member)) / static_cast<double>(seq.size());
}

std::set<int> distinct(const std::vector<int>& seq) { return {seq.begin(), seq.end()}; }

}  // namespace

TEST_CASE("a recovering member's share follows the slow-start ramp in every method", "[health][balance]") {
  const Method method = GENERATE(Method::Requests, Method::Traffic, Method::Busyness, Method::P2C);
  CAPTURE(idmb::config::to_string(method));
  // Busyness and p2c decide by load, so they need requests in flight to follow weights.
  const std::size_t in_flight = (method == Method::Busyness || method == Method::P2C) ? 64 : 0;
  Rig rig({{"a", 10}, {"b", 10}}, Policy{}, method);
  rig.set(1, Health::Recovering, kT0);

  struct Point {
    std::int64_t elapsed;
    double expected;  // b's share: weight 10 * percent against a's 10 * 100
  };
  // 10% at the start, 55% half-way through the 30 s window, 100% at its end and after.
  for (const Point& p : {Point{0, 100.0 / 1100}, Point{15'000, 550.0 / 1550}, Point{30'000, 0.5}, Point{90'000, 0.5}}) {
    CAPTURE(p.elapsed);
    rig.clock.now = kT0 + p.elapsed;
    const auto seq = rig.picks(20'000, in_flight);
    CHECK(std::abs(share(seq, 1) - p.expected) < 0.02);
  }
  // Past the window it is fully weighted even though settle() has not run yet.
  CHECK(rig.slot(1).health == static_cast<std::uint32_t>(Health::Recovering));
}

TEST_CASE("a ramping member ramps at factor 1 too (weights are in hundredths)", "[health][balance]") {
  Rig rig({{"a", 1}, {"b", 1}});
  rig.set(1, Health::Recovering, kT0);  // 10% of factor 1: weight 10 against 100
  CHECK(share(rig.picks(11'000), 1) == Approx(1.0 / 11).margin(0.01));
}

TEST_CASE("the clock is read only when a ramping member needs it", "[health][balance]") {
  Rig rig({{"a"}, {"b"}});
  rig.picks(100);
  CHECK(rig.clock.reads == 0);
  rig.set(1, Health::Recovering, kT0);
  rig.clock.reads = 0;
  rig.balancer->choose({});
  CHECK(rig.clock.reads == 1);  // one read per decision, not per member
}

TEST_CASE("panic threshold boundaries", "[health][balance]") {
  // Four actives; `usable` of them healthy.
  const auto rig_with = [](int usable, std::uint32_t panic_percent) {
    Policy policy;
    policy.panic_percent = panic_percent;
    auto rig = std::make_unique<Rig>(std::vector<Member>{{"a"}, {"b"}, {"c"}, {"d"}}, policy);
    for (int i = usable; i < 4; ++i) rig->set(i, Health::Error);
    return rig;
  };
  struct Case {
    int usable;
    std::uint32_t panic_percent;
    bool panic;
  };
  const Case c = GENERATE(Case{2, 50, false},                      // 50% is not below 50%
                          Case{1, 50, true},                       // 25% is
                          Case{0, 50, true}, Case{1, 25, false},   // 25% is not below 25%
                          Case{1, 26, true}, Case{3, 100, true},   // 100: any member in error
                          Case{4, 100, false}, Case{0, 0, false},  // 0: never
                          Case{1, 0, false});
  CAPTURE(c.usable, c.panic_percent);
  auto rig = rig_with(c.usable, c.panic_percent);
  bool any_panic = false;
  const auto seq = rig->picks(400, 0, &any_panic);
  CHECK(any_panic == c.panic);
  if (c.panic) {
    CHECK(distinct(seq) == std::set<int>{0, 1, 2, 3});  // all of them, as if healthy
    for (int m = 0; m < 4; ++m) CHECK(share(seq, m) == Approx(0.25).margin(0.01));
  } else if (c.usable > 0) {
    CHECK(*distinct(seq).rbegin() == c.usable - 1);  // only the usable ones
    CHECK(*distinct(seq).begin() == 0);
  } else {
    CHECK(distinct(seq) == std::set<int>{-1});
  }
}

TEST_CASE("panic counts health, not this request's exclusions", "[health][balance]") {
  Rig rig({{"a"}, {"b"}, {"c"}, {"d"}});
  const std::vector<int> exclude{0, 1, 2};
  const Choice c = rig.balancer->choose({}, exclude);
  CHECK(c.member == 3);
  const std::vector<int> all{0, 1, 2, 3};
  CHECK(rig.balancer->choose({}, all).member == -1);

  // In panic, excluded members stay excluded.
  for (int i = 1; i < 4; ++i) rig.set(i, Health::Error);
  for (int i = 0; i < 20; ++i) {
    const Choice p = rig.balancer->choose({}, exclude);
    CHECK(p.member == 3);
    CHECK(rig.in_error(p.member));
  }
  CHECK(rig.balancer->choose({}, all).member == -1);
}

TEST_CASE("exclusions for this request do not start panic", "[health][balance]") {
  // One of five in error: 80% usable. Were the three exclusions counted as unusable (20%), panic
  // would send some of these requests to the member in error.
  Rig rig({{"a"}, {"b"}, {"c"}, {"d"}, {"e", 1, Activation::Active, Health::Error}});
  const std::vector<int> exclude{0, 1, 2};
  for (int i = 0; i < 50; ++i) {
    const Choice c = rig.balancer->choose({}, exclude);
    CHECK(c.member == 3);
    rig.balancer->start(c.member, false);
    rig.balancer->finish(c.member, 0, 0);
  }
}

TEST_CASE("panic never uses disabled or stopped members", "[health][balance]") {
  Rig rig({{"a"},
           {"b", 1, Activation::Active, Health::Error},
           {"c", 1, Activation::Active, Health::Error},
           {"dis", 1, Activation::Disabled},
           {"stop", 1, Activation::Stopped}});
  bool any_panic = false;
  const auto seq = rig.picks(300, 0, &any_panic);
  CHECK(any_panic);
  CHECK(distinct(seq) == std::set<int>{0, 1, 2});
}

TEST_CASE("standby before panic, panic before refusing", "[health][balance]") {
  Rig rig({{"a"}, {"b"}, {"s", 1, Activation::Standby}});

  SECTION("no usable active, a usable standby: the standby, not panic") {
    rig.set(0, Health::Error);
    rig.set(1, Health::Error);
    bool any_panic = false;
    const auto seq = rig.picks(50, 0, &any_panic);
    CHECK(distinct(seq) == std::set<int>{2});
    CHECK_FALSE(any_panic);
  }
  SECTION("no usable active, no usable standby: panic over actives and standbys") {
    for (int i = 0; i < 3; ++i) rig.set(i, Health::Error);
    bool any_panic = false;
    const auto seq = rig.picks(300, 0, &any_panic);
    CHECK(any_panic);
    CHECK(distinct(seq) == std::set<int>{0, 1, 2});
  }
  SECTION("the last usable active is excluded: the standby, without panic") {
    rig.set(0, Health::Error);  // 1 of 2 usable: 50%, no panic
    const std::vector<int> exclude{1};
    const Choice c = rig.balancer->choose({}, exclude);
    CHECK(c.member == 2);
  }
}

TEST_CASE("panic with some usable actives: the standbys join in", "[health][balance]") {
  Rig rig({{"a"},
           {"b", 1, Activation::Active, Health::Error},
           {"c", 1, Activation::Active, Health::Error},
           {"s", 1, Activation::Standby}});
  bool any_panic = false;
  const auto seq = rig.picks(400, 0, &any_panic);
  CHECK(any_panic);
  CHECK(distinct(seq) == std::set<int>{0, 1, 2, 3});
}

TEST_CASE("panic and sessions", "[health][balance]") {
  Rig rig({{"a"}, {"b"}, {"c"}});
  rig.set(0, Health::Error);
  rig.set(1, Health::Error);  // 1 of 3 usable: panic

  // A session on a member in error: it is failed over by the normal choice, which in panic may
  // be its own member again; then it simply stays.
  std::set<int> seen;
  for (int i = 0; i < 60; ++i) {
    const Choice c = rig.session("a");
    REQUIRE(c.member >= 0);
    CHECK(c.sticky == (c.member == 0));
    CHECK(c.route_changed == (c.member != 0));
    seen.insert(c.member);
    rig.balancer->start(c.member, c.sticky);
    rig.balancer->finish(c.member, 0, 0);
  }
  CHECK(seen == std::set<int>{0, 1, 2});

  // A session on the usable member is sticky as always.
  const Choice live = rig.session("c");
  CHECK(live.member == 2);
  CHECK(live.sticky);
}

TEST_CASE("domain failover takes usable domain members only, panic or not", "[health][balance]") {
  Rig rig({{"a", 1, Activation::Active, Health::Error, "d"},
           {"b", 1, Activation::Active, Health::Ok, "d"},
           {"c", 1, Activation::Active, Health::Error, "other"},
           {"e", 1, Activation::Active, Health::Error, "other"}});
  // 1 of 4 usable: panic, but the session of a moves to b, its live domain peer.
  for (int i = 0; i < 20; ++i) {
    const Choice c = rig.session("a");
    CHECK(c.member == 1);
    CHECK(c.route_changed);
  }
}

TEST_CASE("record_error and record_success drive the member's health", "[health][balance]") {
  Rig rig({{"a"}, {"b"}});
  rig.clock.now = kT0;
  CHECK_FALSE(rig.balancer->record_error(0, idmb::table::ErrorClass::Timeout).changed);
  rig.balancer->record_success(0);
  CHECK(rig.slot(0).consecutive_failures == 0);
  CHECK_FALSE(rig.balancer->record_error(0, idmb::table::ErrorClass::Timeout).changed);
  for (int i = 0; i < 5; ++i) CHECK_FALSE(rig.balancer->record_error(0, idmb::table::ErrorClass::Client).changed);
  const auto out = rig.balancer->record_error(0, idmb::table::ErrorClass::Timeout);
  CHECK(out.changed);
  CHECK(out.to == Health::Error);
  CHECK(rig.slot(0).state_since_ms == kT0);
  for (int i = 0; i < 10; ++i) CHECK(rig.balancer->choose({}).member == 1);

  // A connect failure is enough on its own; bad indexes change nothing.
  CHECK(rig.balancer->record_error(1, idmb::table::ErrorClass::Connect).changed);
  CHECK_FALSE(rig.balancer->record_error(2, idmb::table::ErrorClass::Connect).changed);
  CHECK_FALSE(rig.balancer->record_error(-1, idmb::table::ErrorClass::Connect).changed);
  rig.balancer->record_success(7);
}
