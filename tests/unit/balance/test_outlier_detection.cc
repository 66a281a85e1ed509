// Outlier ejection decisions over plain windows: who stands out (error rate, p99) against the
// peers' median, the minimum request volume, max ejected percent and panic threshold, the
// ejection time multiplier and its decay, and the policy's ranges.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "idmb/outlier_detection.h"

using idmb::outlier::decayed_level;
using idmb::outlier::decide;
using idmb::outlier::Ejection;
using idmb::outlier::ejection_ms;
using idmb::outlier::MemberWindow;
using idmb::outlier::Policy;

namespace {

constexpr std::int64_t kNow = 1'700'000'000'000;

Policy on() {
  Policy p;
  p.enabled = true;
  return p;
}

MemberWindow member(std::uint64_t requests, std::uint64_t errors, std::optional<std::uint32_t> p99 = std::nullopt) {
  MemberWindow w;
  w.active = true;
  w.usable = true;
  w.requests = requests;
  w.errors = errors;
  w.p99_ms = p99;
  return w;
}

MemberWindow ejected_member() {
  MemberWindow w;
  w.active = true;
  w.ejected = true;
  return w;
}

std::vector<std::size_t> members_of(const std::vector<Ejection>& out) {
  std::vector<std::size_t> v;
  for (const Ejection& e : out) v.push_back(e.member);
  return v;
}

}  // namespace

TEST_CASE("outlier: off by default, nothing is ejected", "[outlier]") {
  const std::vector<MemberWindow> w = {member(100, 0), member(100, 100)};
  CHECK_FALSE(Policy{}.enabled);
  CHECK(decide(w, Policy{}, 50, kNow).empty());
}

TEST_CASE("outlier: an error rate far above the peers' ejects that member", "[outlier]") {
  const std::vector<MemberWindow> w = {member(100, 1), member(100, 40), member(100, 2)};
  const auto out = decide(w, on(), 50, kNow);
  REQUIRE(out.size() == 1);
  CHECK(out[0].member == 1);
  CHECK(out[0].level == 1);
  CHECK(out[0].until_ms == kNow + 30000);
  CHECK(out[0].cause == "outlier: error rate 40% (40/100), peers 1%; out 30s (x1)");
}

TEST_CASE("outlier: the error rate must reach both the factor and the floor", "[outlier]") {
  Policy p = on();
  SECTION("below the floor (20%) however far above the peers") {
    CHECK(decide(std::vector{member(100, 0), member(100, 19)}, p, 50, kNow).empty());
    CHECK(decide(std::vector{member(100, 0), member(100, 20)}, p, 50, kNow).size() == 1);
  }
  SECTION("above the floor but under factor x the peers' median") {
    // Peers at 30%: 2x needs 60%.
    CHECK(decide(std::vector{member(100, 30), member(100, 59)}, p, 50, kNow).empty());
    CHECK(members_of(decide(std::vector{member(100, 30), member(100, 60)}, p, 50, kNow)) ==
          std::vector<std::size_t>{1});
  }
  SECTION("a fractional factor") {
    p.error_factor = 150;
    CHECK(decide(std::vector{member(100, 30), member(100, 44)}, p, 50, kNow).empty());
    CHECK(decide(std::vector{member(100, 30), member(100, 45)}, p, 50, kNow).size() == 1);
  }
  SECTION("error_factor 0 turns the error check off") {
    p.error_factor = 0;
    CHECK(decide(std::vector{member(100, 0), member(100, 100)}, p, 50, kNow).empty());
  }
  SECTION("all equally bad: nobody stands out") {
    CHECK(decide(std::vector{member(100, 90), member(100, 90), member(100, 90)}, p, 50, kNow).empty());
  }
}

TEST_CASE("outlier: the peers' figure is their median, which one bad peer cannot drag up", "[outlier]") {
  // Members 3 and 4 are both bad; for member 4 the peers are 0, 0, 0, 50 -> median 0.
  const std::vector<MemberWindow> w = {member(100, 0), member(100, 0), member(100, 0), member(100, 50),
                                       member(100, 60)};
  Policy p = on();
  p.max_ejected_percent = 100;
  p.error_min_percent = 20;
  const auto out = decide(w, p, 0, kNow);
  // The worst first.
  CHECK(members_of(out) == std::vector<std::size_t>{4, 3});
}

TEST_CASE("outlier: too few requests are not judged, nor compared with", "[outlier]") {
  Policy p = on();
  p.min_requests = 20;
  SECTION("the member itself") { CHECK(decide(std::vector{member(100, 0), member(19, 19)}, p, 50, kNow).empty()); }
  SECTION("no peer with enough requests: nothing to compare with") {
    CHECK(decide(std::vector{member(19, 0), member(100, 100)}, p, 50, kNow).empty());
  }
  SECTION("enough on both") { CHECK(decide(std::vector{member(20, 0), member(20, 20)}, p, 50, kNow).size() == 1); }
  SECTION("a member without requests") { CHECK(decide(std::vector{member(0, 0), member(0, 0)}, p, 50, kNow).empty()); }
}

TEST_CASE("outlier: p99 latency far above the peers' ejects", "[outlier]") {
  Policy p = on();
  SECTION("3x the peers' median and at least latency_min") {
    const auto out = decide(std::vector{member(100, 0, 100), member(100, 0, 2500), member(100, 0, 120)}, p, 50, kNow);
    REQUIRE(out.size() == 1);
    CHECK(out[0].member == 1);
    CHECK(out[0].cause == "outlier: p99 2500ms, peers 110ms; out 30s (x1)");
  }
  SECTION("slow, but below latency_min (1s)") {
    CHECK(decide(std::vector{member(100, 0, 100), member(100, 0, 999)}, p, 50, kNow).empty());
  }
  SECTION("above latency_min, but not 3x the peers") {
    CHECK(decide(std::vector{member(100, 0, 1000), member(100, 0, 2999)}, p, 50, kNow).empty());
  }
  SECTION("latency_factor 0 turns it off") {
    p.latency_factor = 0;
    CHECK(decide(std::vector{member(100, 0, 100), member(100, 0, 9000)}, p, 50, kNow).empty());
  }
  SECTION("no latency figures: not judged by latency") {
    CHECK(decide(std::vector{member(100, 0), member(100, 0, 9000)}, p, 50, kNow).empty());
  }
  SECTION("an error outlier is named by its error rate") {
    const auto out = decide(std::vector{member(100, 0, 100), member(100, 50, 9000)}, p, 50, kNow);
    REQUIRE(out.size() == 1);
    CHECK(out[0].cause.find("error rate 50%") != std::string::npos);
  }
}

TEST_CASE("outlier: never more than max_ejected percent, but at least one", "[outlier]") {
  Policy p = on();
  // Ten members, three bad.
  std::vector<MemberWindow> w(10, member(100, 0));
  w[2] = member(100, 90);
  w[5] = member(100, 80);
  w[7] = member(100, 70);
  SECTION("10% of 10: one, the worst") { CHECK(members_of(decide(w, p, 0, kNow)) == std::vector<std::size_t>{2}); }
  SECTION("20%: two") {
    p.max_ejected_percent = 20;
    CHECK(members_of(decide(w, p, 0, kNow)) == std::vector<std::size_t>{2, 5});
  }
  SECTION("members already ejected count") {
    p.max_ejected_percent = 20;
    w[9] = ejected_member();
    CHECK(members_of(decide(w, p, 0, kNow)) == std::vector<std::size_t>{2});
    w[8] = ejected_member();
    CHECK(decide(w, p, 0, kNow).empty());
  }
  SECTION("10% of two members still allows one") {
    CHECK(decide(std::vector{member(100, 0), member(100, 50)}, p, 0, kNow).size() == 1);
  }
}

TEST_CASE("outlier: the panic threshold bounds ejection", "[outlier]") {
  Policy p = on();
  p.max_ejected_percent = 100;
  std::vector<MemberWindow> w = {member(100, 0), member(100, 0), member(100, 90), member(100, 80)};
  SECTION("50%: two of four may go") { CHECK(decide(w, p, 50, kNow).size() == 2); }
  SECTION("75%: one") { CHECK(members_of(decide(w, p, 75, kNow)) == std::vector<std::size_t>{2}); }
  SECTION("a member in error already counts as unusable") {
    w[1].usable = false;  // in error: three usable of four; one more out leaves 2/4
    CHECK(members_of(decide(w, p, 50, kNow)) == std::vector<std::size_t>{2});
  }
  SECTION("with panic off and any percent, the best member stays") {
    p.error_factor = 100;  // 1x: anything above the peers' median
    const std::vector<MemberWindow> three = {member(100, 0), member(100, 90), member(100, 80)};
    CHECK(members_of(decide(three, p, 0, kNow)) == std::vector<std::size_t>{1, 2});
  }
}

TEST_CASE("outlier: members not in rotation are neither judged nor peers", "[outlier]") {
  Policy p = on();
  std::vector<MemberWindow> w = {member(100, 0), member(100, 90), member(100, 0)};
  SECTION("a disabled member (not active)") {
    w[1].active = false;
    CHECK(decide(w, p, 50, kNow).empty());
  }
  SECTION("an unusable peer does not count as a peer") {
    w[0].usable = false;
    w[2].usable = false;
    CHECK(decide(w, p, 0, kNow).empty());  // no usable peer to compare with (and last usable)
  }
}

TEST_CASE("outlier: ejection time is base x level, capped", "[outlier]") {
  Policy p = on();
  CHECK(ejection_ms(1, p) == 30000);
  CHECK(ejection_ms(3, p) == 90000);
  CHECK(ejection_ms(100, p) == 300000);
  CHECK(ejection_ms(0, p) == 30000);
  std::vector<MemberWindow> w = {member(100, 0), member(100, 90)};
  w[1].level = 2;  // ejected twice in a row before
  const auto out = decide(w, p, 50, kNow);
  REQUIRE(out.size() == 1);
  CHECK(out[0].level == 3);
  CHECK(out[0].until_ms == kNow + 90000);
  CHECK(out[0].cause.find("out 1m 30s (x3)") != std::string::npos);
}

TEST_CASE("outlier: the level decays by one per ejection time in rotation", "[outlier]") {
  Policy p = on();  // 30 s
  std::int64_t since = kNow;
  CHECK(decayed_level(3, since, kNow + 29999, p) == 3);
  CHECK(since == kNow);
  CHECK(decayed_level(3, since, kNow + 30000, p) == 2);
  CHECK(since == kNow + 30000);
  CHECK(decayed_level(2, since, kNow + 95000, p) == 0);  // two more steps, never below 0
  CHECK(since == kNow + 90000);
  std::int64_t future = kNow + 1000;
  CHECK(decayed_level(2, future, kNow, p) == 2);  // still ejected (or the clock went back)
  CHECK(decayed_level(0, since, kNow + 1'000'000, p) == 0);
}

TEST_CASE("outlier: policy ranges", "[outlier]") {
  CHECK(idmb::outlier::validate(on()));
  Policy p = on();
  p.interval_ms = 0;
  CHECK_FALSE(idmb::outlier::validate(p));
  p = on();
  p.max_ejection_time_ms = p.ejection_time_ms - 1;
  CHECK_FALSE(idmb::outlier::validate(p));
  p = on();
  p.max_ejected_percent = 0;
  CHECK_FALSE(idmb::outlier::validate(p));
  p = on();
  p.error_factor = 50;  // 0.5x: below the peers would stand out
  CHECK_FALSE(idmb::outlier::validate(p));
  p = on();
  p.min_requests = 0;
  CHECK_FALSE(idmb::outlier::validate(p));
}
