// Member choice: distributions per method, smoothness, activation and health semantics,
// session affinity with redirect/domain/force failover, and the accounting around a request.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <deque>
#include <functional>
#include <memory>
#include <numeric>
#include <random>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "idmb/balancer.h"
#include "support/fake_sources.h"
#include "support/text.h"

using idmb::balance::Balancer;
using idmb::balance::Choice;
using idmb::config::Activation;
using idmb::config::BalancerConfig;
using idmb::config::MemberConfig;
using idmb::config::Method;
using idmb::health::Policy;
using idmb::table::Health;
using idmb::table::MemberSlot;
using idmb::test::numbered;

namespace {

struct FakeRandom : idmb::test::SeededRandom {
  FakeRandom() : SeededRandom(20240611) {}
};

struct FakeClock : idmb::test::ManualClock {
  FakeClock() : ManualClock(1'000'000) {}
};

struct Spec {
  std::string name;
  std::uint32_t factor = 1;
  Activation activation = Activation::Active;
  std::string domain = {};
  std::string redirect = {};
  std::uint32_t distance = 0;
};

// A balancer over slots allocated here (no worker table): the slots start zeroed, with route,
// activation and factor filled in as the table's add() would.
class Rig {
 public:
  explicit Rig(const std::vector<Spec>& specs, Method method = Method::Requests, const Policy& policy = {})
      : slots_(std::make_unique<MemberSlot[]>(specs.size())) {
    config.name = "app";
    config.method = method;
    std::vector<MemberSlot*> pointers;
    for (std::size_t i = 0; i < specs.size(); ++i) {
      MemberConfig m;
      m.name = specs[i].name;
      m.route = specs[i].name;
      m.factor = specs[i].factor;
      m.activation = specs[i].activation;
      m.domain = specs[i].domain;
      m.redirect = specs[i].redirect;
      m.distance = specs[i].distance;
      config.members.push_back(m);
      MemberSlot& s = slots_[i];
      std::strncpy(s.route, m.route.c_str(), sizeof s.route - 1);
      s.activation = static_cast<std::uint32_t>(m.activation);
      s.factor = m.factor;
      s.health = static_cast<std::uint32_t>(Health::Ok);
      pointers.push_back(&s);
    }
    balancer = std::make_unique<Balancer>(config, std::move(pointers), random, clock, policy);
  }
  Rig(const Rig&) = delete;
  Rig& operator=(const Rig&) = delete;

  MemberSlot& slot(int i) { return slots_[static_cast<std::size_t>(i)]; }
  void set(int i, Activation a) { slot(i).activation = static_cast<std::uint32_t>(a); }
  void set(int i, Health h) { slot(i).health = static_cast<std::uint32_t>(h); }

  Choice choose(std::vector<std::string_view> routes = {}, std::vector<int> exclude = {}) {
    return balancer->choose(routes, exclude);
  }
  // One complete request without affinity.
  int pick() {
    const Choice c = choose();
    balancer->start(c.member, c.sticky);
    balancer->finish(c.member, 100, 1000);
    return c.member;
  }

  BalancerConfig config;
  FakeRandom random;
  FakeClock clock;
  std::unique_ptr<Balancer> balancer;

 private:
  std::unique_ptr<MemberSlot[]> slots_;
};

// For tests of what happens when members are unusable: panic would balance over them anyway.
Policy no_panic() {
  Policy p;
  p.panic_percent = 0;
  return p;
}

std::vector<Spec> weighted(std::vector<std::uint32_t> factors) {
  std::vector<Spec> specs;
  for (std::size_t i = 0; i < factors.size(); ++i) specs.push_back({numbered("m", i), factors[i]});
  return specs;
}

// Runs `picks` requests, keeping up to `in_flight` of them open (finished oldest first, which
// is what equal service times look like). Returns each member's share of the picks, or of the
// bytes when `bytes` gives every request a size.
std::vector<double> run(Rig& rig, int picks, std::size_t in_flight, std::function<std::uint64_t()> bytes = nullptr) {
  std::vector<double> amount(rig.balancer->size(), 0.0);
  std::deque<std::pair<int, std::uint64_t>> open;
  double total = 0;
  const auto finish_oldest = [&] {
    const auto [member, size] = open.front();
    open.pop_front();
    rig.balancer->finish(member, size / 4, size - size / 4);
  };
  for (int i = 0; i < picks; ++i) {
    const Choice c = rig.choose();
    REQUIRE(c.member >= 0);
    const std::uint64_t size = bytes ? bytes() : 1000;
    rig.balancer->start(c.member, false);
    open.emplace_back(c.member, size);
    const double counted = bytes ? static_cast<double>(size) : 1.0;
    amount[static_cast<std::size_t>(c.member)] += counted;
    total += counted;
    if (open.size() > in_flight) finish_oldest();
  }
  while (!open.empty()) finish_oldest();
  for (double& a : amount) a /= total;
  return amount;
}

void check_shares(const std::vector<double>& shares, const std::vector<std::uint32_t>& factors) {
  const double sum = std::accumulate(factors.begin(), factors.end(), 0.0);
  for (std::size_t i = 0; i < factors.size(); ++i) {
    INFO("member " << i << " factor " << factors[i] << " share " << shares[i]);
    CHECK(std::abs(shares[i] - factors[i] / sum) < 0.02);
  }
}

constexpr int kPicks = 100'000;

}  // namespace

TEST_CASE("every method spreads new requests by factor", "[balance]") {
  const Method method = GENERATE(Method::Requests, Method::Traffic, Method::Busyness, Method::P2C);
  const std::vector<std::uint32_t> factors =
      GENERATE(std::vector<std::uint32_t>{1, 2, 3, 4}, std::vector<std::uint32_t>{1, 1},
               std::vector<std::uint32_t>{5, 1}, std::vector<std::uint32_t>{100, 1, 37});
  // Without requests in flight busyness and p2c see only ties; with many, the load decides.
  // (With only a handful in flight least-busy choices cannot follow factors: a weight-1
  // member is picked whenever it is idle.)
  const std::size_t in_flight = GENERATE(0u, 64u, 256u);
  CAPTURE(idmb::config::to_string(method), factors, in_flight);
  Rig rig(weighted(factors), method);
  check_shares(run(rig, kPicks, in_flight), factors);
  for (std::size_t i = 0; i < factors.size(); ++i) CHECK(rig.slot(static_cast<int>(i)).busy == 0);
}

TEST_CASE("factors above 100, as mod_jk configs have them, spread alike", "[balance]") {
  const Method method = GENERATE(Method::Requests, Method::Traffic, Method::Busyness, Method::P2C);
  const std::vector<std::uint32_t> factors{100000, 25000, 300};
  CAPTURE(idmb::config::to_string(method));
  Rig rig(weighted(factors), method);
  check_shares(run(rig, kPicks, 64), factors);
}

TEST_CASE("p2c draws by weight when the weights add up past 2^32", "[balance]") {
  // 500 members at factor 100000 weigh 5e9 together.
  Rig rig(weighted(std::vector<std::uint32_t>(500, 100000)), Method::P2C);
  std::vector<int> seen(500, 0);
  for (int i = 0; i < 20000; ++i) ++seen[static_cast<std::size_t>(rig.pick())];
  // Every member drawn, none far above its 1/500 share (an overflowed draw would pile onto few).
  CHECK(*std::min_element(seen.begin(), seen.end()) > 0);
  CHECK(*std::max_element(seen.begin(), seen.end()) < 200);
}

TEST_CASE("traffic spreads bytes by factor when response sizes vary", "[balance]") {
  const std::vector<std::uint32_t> factors =
      GENERATE(std::vector<std::uint32_t>{1, 2, 3, 4}, std::vector<std::uint32_t>{5, 1});
  const std::size_t in_flight = GENERATE(0u, 8u);
  CAPTURE(factors, in_flight);
  Rig rig(weighted(factors), Method::Traffic);
  std::mt19937_64 sizes(7);
  // Mostly small pages, now and then a large download.
  const auto size = [&]() -> std::uint64_t {
    return sizes() % 20 == 0 ? 200'000 + sizes() % 300'000 : 500 + sizes() % 20'000;
  };
  check_shares(run(rig, kPicks, in_flight, size), factors);
}

TEST_CASE("requests is smooth: factors 5,1,1 give member 0 five of any seven picks", "[balance]") {
  Rig rig(weighted({5, 1, 1}));
  std::vector<int> seq;
  for (int i = 0; i < 7000; ++i) seq.push_back(rig.pick());
  for (std::size_t i = 0; i + 7 <= seq.size(); ++i) {
    INFO("window at " << i);
    REQUIRE(std::count(seq.begin() + i, seq.begin() + i + 7, 0) == 5);
  }
}

TEST_CASE("requests follows a factor changed at run time", "[balance]") {
  Rig rig(weighted({1, 1}));
  run(rig, 1000, 0);
  rig.slot(1).factor = 3;
  check_shares(run(rig, kPicks, 0), {1, 3});
  rig.slot(0).factor = 0;  // not a valid factor: treated as 1
  check_shares(run(rig, kPicks, 0), {1, 3});
}

TEST_CASE("a member that returns with a stale clock gets no burst", "[balance]") {
  const Method method = GENERATE(Method::Requests, Method::Busyness);
  CAPTURE(idmb::config::to_string(method));
  Rig rig(weighted({1, 1, 1, 1}), method);
  for (int i = 0; i < 3; ++i) rig.slot(i).lb_value = 1'000'000'000'000ull + static_cast<std::uint64_t>(i) * 1000;
  rig.slot(3).lb_value = 0;
  std::vector<int> seq;
  for (int i = 0; i < 400; ++i) seq.push_back(rig.pick());
  // One round is four picks; the returning member may lead it, but not take more than that.
  CHECK(std::count(seq.begin(), seq.begin() + 8, 3) <= 3);
  CHECK(std::count(seq.begin(), seq.end(), 3) == Approx(100).margin(4));
}

TEST_CASE("clocks near the 64-bit wrap keep the factors", "[balance]") {
  const Method method = GENERATE(Method::Requests, Method::Traffic, Method::Busyness);
  CAPTURE(idmb::config::to_string(method));
  Rig rig(weighted({1, 2, 3, 4}), method);
  for (int i = 0; i < 4; ++i) rig.slot(i).lb_value = ~std::uint64_t{0} - (std::uint64_t{1} << 36);
  rig.slot(2).lb_value = std::uint64_t{1} << 62;  // nonsense far away: pulled together, no starvation
  check_shares(run(rig, kPicks, 0), {1, 2, 3, 4});
}

TEST_CASE("standby members take new requests only when no active member can", "[balance]") {
  Rig rig({{"a"}, {"b"}, {"s", 1, Activation::Standby}});
  for (int i = 0; i < 50; ++i) CHECK(rig.pick() != 2);

  SECTION("actives in error") {
    rig.set(0, Health::Error);
    rig.set(1, Health::Error);
  }
  SECTION("actives stopped or disabled") {
    rig.set(0, Activation::Stopped);
    rig.set(1, Activation::Disabled);
  }
  SECTION("actives excluded for this request") {
    CHECK(rig.choose({}, {0, 1}).member == 2);
    return;
  }
  for (int i = 0; i < 10; ++i) CHECK(rig.pick() == 2);

  rig.set(1, Health::Recovering);
  rig.set(1, Activation::Active);
  for (int i = 0; i < 10; ++i) CHECK(rig.pick() == 1);
}

TEST_CASE("distance: the nearest usable members take every new request", "[balance]") {
  const Method method = GENERATE(Method::Requests, Method::Traffic, Method::Busyness, Method::P2C);
  CAPTURE(idmb::config::to_string(method));
  Spec near1{"near1"}, near2{"near2"}, mid{"mid"}, far{"far"};
  mid.distance = 1;
  far.distance = 2;
  Rig rig({far, near1, mid, near2}, method, no_panic());
  std::vector<int> seen(4, 0);
  for (int i = 0; i < 100; ++i) ++seen[static_cast<std::size_t>(rig.pick())];
  CHECK(seen[0] + seen[2] == 0);
  CHECK(seen[1] > 25);  // both nearest members share the load
  CHECK(seen[3] > 25);

  // Three tiers: the next one only when no nearer member can take the request.
  rig.set(1, Health::Error);
  rig.set(3, Activation::Stopped);
  for (int i = 0; i < 10; ++i) CHECK(rig.pick() == 2);
  CHECK(rig.choose({}, {2}).member == 0);
  rig.set(2, Activation::Disabled);
  for (int i = 0; i < 10; ++i) CHECK(rig.pick() == 0);
  rig.set(1, Health::Ok);
  CHECK(rig.pick() == 1);
}

TEST_CASE("distance: a session stays on its member whatever its distance", "[balance]") {
  Spec near{"near"}, far{"far"};
  far.distance = 5;
  Rig rig({near, far});
  const Choice c = rig.choose({"far"});
  CHECK(c.member == 1);
  CHECK(c.sticky);
  CHECK(rig.choose({"nosuch"}).member == 0);
}

TEST_CASE("a standby member keeps its own sessions while usable", "[balance]") {
  Rig rig({{"a"}, {"s", 1, Activation::Standby}});
  const Choice c = rig.choose({"s"});
  CHECK(c.member == 1);
  CHECK(c.sticky);
  rig.set(1, Health::Error);
  const Choice moved = rig.choose({"s"});
  CHECK(moved.member == 0);
  CHECK(moved.route_changed);
}

TEST_CASE("a disabled member gets no new requests but keeps its sessions", "[balance]") {
  Rig rig({{"a"}, {"b", 1, Activation::Disabled}, {"c"}});
  for (int i = 0; i < 100; ++i) CHECK(rig.pick() != 1);
  const Choice c = rig.choose({"b"});
  CHECK(c.member == 1);
  CHECK(c.sticky);
  CHECK_FALSE(c.route_changed);
  CHECK(c.session_route == "b");
}

TEST_CASE("a stopped member gets nothing, not even its sessions", "[balance]") {
  Rig rig({{"a"}, {"b", 1, Activation::Stopped}});
  for (int i = 0; i < 100; ++i) CHECK(rig.pick() == 0);
  const Choice c = rig.choose({"b"});
  CHECK(c.member == 0);
  CHECK_FALSE(c.sticky);
  CHECK(c.route_changed);
  CHECK(c.session_route == "b");
}

TEST_CASE("a session goes to the member its route names", "[balance]") {
  Rig rig(weighted({1, 1, 1}));
  for (int i = 0; i < 20; ++i) {
    const Choice c = rig.choose({"m2"});
    CHECK(c.member == 2);
    CHECK(c.sticky);
    CHECK_FALSE(c.route_changed);
    CHECK_FALSE(c.refused_by_force);
    CHECK(c.session_route == "m2");
  }
  SECTION("an erroring member loses its sessions") {
    rig.set(2, Health::Error);
    const Choice c = rig.choose({"m2"});
    CHECK(c.member >= 0);
    CHECK(c.member != 2);
    CHECK(c.route_changed);
  }
  SECTION("a recovering member is usable") {
    rig.set(2, Health::Recovering);
    CHECK(rig.choose({"m2"}).member == 2);
  }
  SECTION("routes match exactly") {
    CHECK_FALSE(rig.choose({"M2"}).sticky);
    CHECK_FALSE(rig.choose({"m"}).sticky);
    CHECK_FALSE(rig.choose({"m22"}).sticky);
  }
}

TEST_CASE("several routes: the first one whose member can take it", "[balance]") {
  Rig rig(weighted({1, 1, 1}));
  SECTION("unknown routes are skipped") {
    const Choice c = rig.choose({"zz", "m1", "m2"});
    CHECK(c.member == 1);
    CHECK(c.sticky);
    CHECK(c.session_route == "m1");
  }
  SECTION("a later live route beats failing over an earlier one") {
    rig.set(0, Activation::Stopped);
    const Choice c = rig.choose({"m0", "m2"});
    CHECK(c.member == 2);
    CHECK(c.sticky);
    CHECK_FALSE(c.route_changed);
  }
  SECTION("failover concerns the first route that names a member") {
    rig.config.members[0].redirect = "m1";
    rig.config.members[2].redirect = "m2";
    rig.set(0, Health::Error);
    rig.set(2, Health::Error);
    const Choice c = rig.choose({"zz", "m0", "m2"});
    CHECK(c.member == 1);
    CHECK(c.route_changed);
    CHECK(c.session_route == "m0");
  }
}

TEST_CASE("unknown routes fall back to the normal choice", "[balance]") {
  Rig rig(weighted({1, 1}));
  rig.config.sticky.force = true;  // force concerns known routes only
  const Choice c = rig.choose({"nobody"});
  CHECK(c.member >= 0);
  CHECK_FALSE(c.sticky);
  CHECK_FALSE(c.route_changed);
  CHECK_FALSE(c.refused_by_force);
  CHECK(c.session_route == "nobody");
}

TEST_CASE("with stickiness off routes are ignored", "[balance]") {
  Rig rig(weighted({1, 1}));
  rig.config.sticky.enabled = false;
  int to_m1 = 0;
  for (int i = 0; i < 100; ++i) {
    const Choice c = rig.choose({"m1"});
    CHECK_FALSE(c.sticky);
    CHECK_FALSE(c.route_changed);
    CHECK(c.session_route.empty());
    rig.balancer->start(c.member, c.sticky);
    rig.balancer->finish(c.member, 0, 0);
    to_m1 += c.member == 1;
  }
  CHECK(to_m1 == 50);
}

TEST_CASE("failover order: redirect, then domain, then any member", "[balance]") {
  // m0 (down) redirects to r; d1 and d2 share m0's domain; x is elsewhere.
  Rig rig({{"m0", 1, Activation::Active, "dom", "r"},
           {"r"},
           {"d1", 1, Activation::Active, "dom"},
           {"d2", 1, Activation::Active, "dom"},
           {"x", 1, Activation::Active, "other"}},
          Method::Requests, no_panic());
  rig.set(0, Health::Error);
  const auto moved_to = [&] {
    const Choice c = rig.choose({"m0"});
    CHECK(c.route_changed);
    CHECK_FALSE(c.sticky);
    CHECK_FALSE(c.refused_by_force);
    CHECK(c.session_route == "m0");
    if (c.member >= 0) {
      rig.balancer->start(c.member, c.sticky);
      rig.balancer->finish(c.member, 0, 0);
    }
    return c.member;
  };

  for (int i = 0; i < 5; ++i) CHECK(moved_to() == 1);
  rig.set(1, Activation::Disabled);  // a redirect target may be draining: it is chosen by route
  CHECK(moved_to() == 1);

  rig.set(1, Activation::Stopped);
  std::vector<int> seen;
  for (int i = 0; i < 10; ++i) seen.push_back(moved_to());
  CHECK(std::count(seen.begin(), seen.end(), 2) == 5);  // the domain's members, by the method
  CHECK(std::count(seen.begin(), seen.end(), 3) == 5);

  rig.set(2, Health::Error);
  rig.set(3, Activation::Disabled);  // a domain peer takes moved sessions only if it takes new ones
  CHECK(moved_to() == 4);

  SECTION("force refuses instead of moving to another domain") {
    rig.config.sticky.force = true;
    const Choice c = rig.choose({"m0"});
    CHECK(c.member == -1);
    CHECK(c.refused_by_force);
    CHECK(c.session_route == "m0");
  }
  SECTION("force still allows redirect and domain") {
    rig.config.sticky.force = true;
    rig.set(3, Activation::Active);
    CHECK(moved_to() == 3);
    rig.set(1, Activation::Active);
    CHECK(moved_to() == 1);
  }
  SECTION("nothing usable at all") {
    rig.set(4, Health::Error);
    CHECK(moved_to() == -1);
  }
}

TEST_CASE("force refuses a session whose member is down", "[balance]") {
  Rig rig(weighted({1, 1}));
  rig.config.sticky.force = true;
  rig.set(1, Activation::Stopped);
  const Choice c = rig.choose({"m1"});
  CHECK(c.member == -1);
  CHECK(c.refused_by_force);
  CHECK_FALSE(c.sticky);
  // A request without a session is served as usual.
  CHECK(rig.choose().member == 0);
}

TEST_CASE("members excluded for this request are skipped", "[balance]") {
  const Method method = GENERATE(Method::Requests, Method::Traffic, Method::Busyness, Method::P2C);
  CAPTURE(idmb::config::to_string(method));
  Rig rig(weighted({1, 1, 1}), method);
  for (int i = 0; i < 50; ++i) {
    const int m = rig.choose({}, {0, 2}).member;
    CHECK(m == 1);
    rig.balancer->start(m, false);
    rig.balancer->finish(m, 0, 0);
  }
  CHECK(rig.choose({}, {0, 1, 2}).member == -1);

  SECTION("the session's own member, after it failed this request") {
    const Choice c = rig.choose({"m1"}, {1});
    CHECK(c.member >= 0);
    CHECK(c.member != 1);
    CHECK(c.route_changed);
  }
  SECTION("with force, that is a refusal") {
    rig.config.sticky.force = true;
    CHECK(rig.choose({"m1"}, {1}).refused_by_force);
  }
}

TEST_CASE("no usable member: -1", "[balance]") {
  Rig rig({{"a"}, {"b", 1, Activation::Disabled}, {"c", 1, Activation::Stopped}, {"s", 1, Activation::Standby}},
          Method::Requests, no_panic());
  rig.set(0, Health::Error);
  rig.set(3, Health::Error);
  const Method method = GENERATE(Method::Requests, Method::Traffic, Method::Busyness, Method::P2C);
  rig.config.method = method;
  CHECK(rig.choose().member == -1);
  CHECK(rig.choose({"a"}).member == -1);
  CHECK(rig.choose({"c"}).member == -1);
  CHECK(rig.choose({"b"}).member == 1);  // only the draining member's own sessions
  rig.set(1, Health::Error);
  CHECK(rig.choose({"b"}).member == -1);
}

TEST_CASE("unknown activation or health values make a member unusable", "[balance]") {
  Rig rig(weighted({1, 1}));
  rig.slot(0).activation = 77;
  rig.slot(1).health = 9;
  CHECK(rig.choose().member == -1);
  CHECK(rig.choose({"m0"}).member == -1);
}

TEST_CASE("start and finish account for one request", "[balance]") {
  const Method method = GENERATE(Method::Requests, Method::Traffic, Method::Busyness, Method::P2C);
  CAPTURE(idmb::config::to_string(method));
  Rig rig(weighted({1, 2}), method);
  MemberSlot& s = rig.slot(1);

  rig.clock.now = 5000;
  rig.balancer->start(1, true);
  CHECK(s.busy == 1);
  CHECK(s.requests == 1);
  CHECK(s.sticky_hits == 1);
  CHECK(s.last_sticky_ms == 0);  // stamped once the answer shows the session is live
  rig.balancer->note_live_session(1);
  CHECK(s.last_sticky_ms == 5000);
  const std::uint64_t after_start = s.lb_value;
  if (method == Method::P2C)
    CHECK(after_start == 0);
  else
    CHECK(after_start > 0);

  rig.clock.now = 6000;
  rig.balancer->start(1, false);
  CHECK(s.busy == 2);
  CHECK(s.requests == 2);
  CHECK(s.sticky_hits == 1);
  CHECK(s.last_sticky_ms == 5000);

  rig.balancer->finish(1, 300, 7000);
  rig.balancer->finish(1, 0, 0);
  CHECK(s.busy == 0);
  CHECK(s.bytes_out == 300);
  CHECK(s.bytes_in == 7000);
  if (method == Method::Traffic)
    CHECK(s.lb_value > 2 * after_start);
  else
    CHECK(s.lb_value == 2 * after_start);

  // Unpaired finishes and bad indexes change nothing they should not.
  rig.balancer->finish(1, 0, 0);
  CHECK(s.busy == 0);
  rig.balancer->start(-1, true);
  rig.balancer->start(2, true);
  rig.balancer->finish(-1, 1, 1);
  rig.balancer->finish(7, 1, 1);
  CHECK(rig.slot(0).requests == 0);
  CHECK(s.requests == 2);
}

TEST_CASE("traffic tolerates huge byte counts", "[balance]") {
  Rig rig(weighted({1, 1}), Method::Traffic);
  const std::uint64_t huge = ~std::uint64_t{0} - 5;
  rig.balancer->start(0, false);
  rig.balancer->finish(0, huge, huge);
  // The giant transfer counts, but member 0 is not shut out for ever.
  std::vector<int> seq;
  for (int i = 0; i < 2000; ++i) seq.push_back(rig.pick());
  CHECK(seq.front() == 1);
  CHECK(std::count(seq.begin(), seq.end(), 0) > 500);
}

TEST_CASE("busy never goes negative over a start/finish sequence", "[balance]") {
  Rig rig(weighted({1, 2, 3}), Method::Busyness);
  std::mt19937_64 rng(3);
  std::vector<int> open;
  for (int i = 0; i < 20'000; ++i) {
    if (open.empty() || rng() % 3 != 0) {
      const Choice c = rig.choose();
      REQUIRE(c.member >= 0);
      rig.balancer->start(c.member, false);
      open.push_back(c.member);
    } else {
      const std::size_t k = rng() % open.size();
      rig.balancer->finish(open[k], 1, 1);
      open.erase(open.begin() + static_cast<std::ptrdiff_t>(k));
    }
    for (int m = 0; m < 3; ++m) {
      REQUIRE(rig.slot(m).busy >= 0);
      REQUIRE(rig.slot(m).busy == std::count(open.begin(), open.end(), m));
    }
  }
}

TEST_CASE("p2c prefers the less busy of two members per factor", "[balance]") {
  Rig rig(weighted({1, 1}), Method::P2C);
  rig.slot(0).busy = 10;
  for (int i = 0; i < 100; ++i) CHECK(rig.choose().member == 1);
  rig.slot(1).factor = 20;
  rig.slot(1).busy = 100;  // 100/20 = 5 < 10/1
  for (int i = 0; i < 100; ++i) CHECK(rig.choose().member == 1);
  rig.slot(1).busy = 300;  // 300/20 = 15 > 10
  for (int i = 0; i < 100; ++i) CHECK(rig.choose().member == 0);
}

TEST_CASE("threads sharing the slots lose no count", "[balance]") {
  const Method method = GENERATE(Method::Requests, Method::Traffic, Method::Busyness, Method::P2C);
  CAPTURE(idmb::config::to_string(method));
  // One Rig owns the slots; each thread gets its own Balancer over them, as each httpd child
  // process does (Random and Clock are per Balancer).
  Rig rig(weighted({1, 2, 3}), method);
  constexpr int kThreads = 4;
  constexpr int kEach = 25'000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&rig, t] {
      FakeRandom random;
      FakeClock clock;
      std::vector<MemberSlot*> slots;
      for (int i = 0; i < 3; ++i) slots.push_back(&rig.slot(i));
      Balancer balancer(rig.config, slots, random, clock);
      const std::string_view route = "m1";
      std::deque<int> open;
      for (int i = 0; i < kEach; ++i) {
        const bool with_session = (i + t) % 10 == 0;
        const Choice c = with_session ? balancer.choose({&route, 1}) : balancer.choose({});
        if (c.member < 0) std::abort();  // every member stays usable here
        balancer.start(c.member, c.sticky);
        open.push_back(c.member);
        if (open.size() > 8) {
          balancer.finish(open.front(), 1, 2);
          open.pop_front();
        }
      }
      for (int m : open) balancer.finish(m, 1, 2);
    });
  }
  for (std::thread& t : threads) t.join();

  std::uint64_t requests = 0;
  std::uint64_t bytes_in = 0;
  for (int i = 0; i < 3; ++i) {
    CHECK(rig.slot(i).busy == 0);
    requests += rig.slot(i).requests;
    bytes_in += rig.slot(i).bytes_in;
  }
  CHECK(requests == kThreads * kEach);
  CHECK(bytes_in == 2u * kThreads * kEach);
  CHECK(rig.slot(1).sticky_hits == kThreads * kEach / 10);
}

TEST_CASE("record_error counts by class; only backend faults become the last error", "[balance]") {
  Rig rig({{"a"}});
  rig.clock.now = 5000;
  rig.balancer->record_error(0, idmb::table::ErrorClass::Client);
  CHECK(rig.slot(0).errors[static_cast<std::size_t>(idmb::table::ErrorClass::Client)].load() == 1);
  CHECK(rig.slot(0).last_error_ms.load() == 0);
  rig.balancer->record_error(0, idmb::table::ErrorClass::Timeout);
  CHECK(rig.slot(0).errors[static_cast<std::size_t>(idmb::table::ErrorClass::Timeout)].load() == 1);
  CHECK(rig.slot(0).last_error_ms.load() == 5000);
  CHECK(rig.slot(0).last_error_class.load() == static_cast<std::uint32_t>(idmb::table::ErrorClass::Timeout));
}

TEST_CASE("Shared balancer settings override the configured method and sticky force", "[balance]") {
  Rig rig({{"a", 1}, {"b", 1}});
  idmb::table::BalancerSlot settings{};
  settings.method.store(static_cast<std::uint32_t>(Method::Requests));
  settings.sticky_force.store(1);
  rig.balancer->use_shared_settings(&settings);
  rig.set(1, Activation::Stopped);
  // Forced by the shared record although the config says not forced.
  CHECK(rig.choose({"b"}).refused_by_force);
  settings.sticky_force.store(0);
  const Choice moved = rig.choose({"b"});
  CHECK(moved.member == 0);
  CHECK(moved.route_changed);
}

TEST_CASE("what each method charges the virtual clock at start and at finish", "[balance]") {
  // At factor 1 and full health a member weighs 100 (hundredths): a request costs 2^32 units
  // (requests, busyness), a byte 2^16 (traffic, which charges 4096 bytes at the start).
  struct Row {
    Method method;
    std::uint64_t at_start;
    std::uint64_t at_finish;  // of 300 + 4000 bytes
  };
  const Row row = GENERATE(Row{Method::Requests, std::uint64_t{1} << 32, 0},
                           Row{Method::Traffic, std::uint64_t{4096} << 16, std::uint64_t{4300} << 16},
                           Row{Method::Busyness, std::uint64_t{1} << 32, 0}, Row{Method::P2C, 0, 0});
  CAPTURE(idmb::config::to_string(row.method));
  Rig rig(weighted({1, 1}), row.method);
  MemberSlot& s = rig.slot(0);
  rig.balancer->start(0, false);
  CHECK(s.lb_value == row.at_start);
  rig.balancer->finish(0, 300, 4000);
  CHECK(s.lb_value == row.at_start + row.at_finish);
}

TEST_CASE("traffic charges at most one window, at any factor", "[balance]") {
  constexpr std::uint64_t kWindow = std::uint64_t{1} << 36;  // 1 MiB at 2^16 per byte
  // The manager may write any factor; 2^16 is as heavy as a member gets.
  const std::uint32_t factor = GENERATE(1u, 100u, 1u << 16, 1u << 20);
  CAPTURE(factor);
  Rig rig(weighted({1, 1}), Method::Traffic);
  MemberSlot& s = rig.slot(0);
  s.factor = factor;
  for (const std::uint64_t bytes : {std::uint64_t{1} << 37, ~std::uint64_t{0}}) {
    CAPTURE(bytes);
    const std::uint64_t before = s.lb_value;
    rig.balancer->finish(0, bytes, bytes);
    CHECK(s.lb_value - before == kWindow);
  }
}

TEST_CASE("the method is looked up for every call: a run-time change applies at once", "[balance]") {
  Rig rig(weighted({1, 1}));
  idmb::table::BalancerSlot settings{};
  settings.method.store(static_cast<std::uint32_t>(Method::Requests));
  rig.balancer->use_shared_settings(&settings);
  MemberSlot& s = rig.slot(0);
  rig.balancer->start(0, false);
  CHECK(s.lb_value == std::uint64_t{1} << 32);
  // The manager switches to traffic while the request runs: its finish is charged by bytes.
  settings.method.store(static_cast<std::uint32_t>(Method::Traffic));
  rig.balancer->finish(0, 0, 4096);
  CHECK(s.lb_value == (std::uint64_t{1} << 32) + (std::uint64_t{4096} << 16));
  // p2c charges nothing; a value no version writes reads as requests.
  settings.method.store(static_cast<std::uint32_t>(Method::P2C));
  rig.balancer->start(1, false);
  CHECK(rig.slot(1).lb_value == 0);
  settings.method.store(99);
  rig.balancer->start(1, false);
  CHECK(rig.slot(1).lb_value == std::uint64_t{1} << 32);
}

TEST_CASE("max= limits requests in flight: overflow goes elsewhere, a full balancer says so", "[balance]") {
  Rig rig({{"a", 1}, {"b", 1}});
  rig.config.members[0].max_busy = 2;
  rig.config.members[1].max_busy = 1;
  // Three reservations fit (2 + 1); the fourth finds every member full.
  int taken = 0;
  for (int i = 0; i < 3; ++i) {
    const Choice c = rig.choose();
    REQUIRE(c.member >= 0);
    REQUIRE(rig.balancer->start(c.member, false));
    ++taken;
  }
  CHECK(rig.slot(0).busy.load() == 2);
  CHECK(rig.slot(1).busy.load() == 1);
  const Choice none = rig.choose();
  CHECK(none.member == -1);
  CHECK(none.full);
  // A sticky request may still name a full member: start() refuses and counts nothing.
  const auto requests_before = rig.slot(1).requests.load();
  CHECK_FALSE(rig.balancer->start(1, true));
  CHECK(rig.slot(1).busy.load() == 1);
  CHECK(rig.slot(1).requests.load() == requests_before);
  // One finishes: room again.
  rig.balancer->finish(1, 0, 0);
  CHECK(rig.balancer->has_room(1));
  CHECK(rig.choose().member == 1);
  CHECK(taken == 3);
}
