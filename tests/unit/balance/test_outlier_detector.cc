// The outlier detector over shared slots with an injected clock: windows from the counters
// between two judgements, ejection into health Ejected, no readmission by probes before the
// ejection time, then back through probing and slow start, the level's multiplier and decay,
// and the balancer skipping an ejected member for new requests while its sessions stay.
#include <catch2/catch.hpp>

#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>
#include <vector>

#include "idmb/balancer.h"
#include "idmb/config.h"
#include "idmb/health.h"
#include "idmb/latency.h"
#include "idmb/outlier_detector.h"

using idmb::outlier::Detector;
using idmb::outlier::Policy;
using idmb::table::ErrorClass;
using idmb::table::Health;
using idmb::table::MemberSlot;
namespace health = idmb::health;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;

struct Members {
  explicit Members(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      owned.push_back(std::make_unique<MemberSlot>());
      slots.push_back(owned.back().get());
    }
  }
  // `requests` more requests on member i, `faults` of them failed with a reply timeout.
  void serve(std::size_t i, std::uint64_t requests, std::uint64_t faults) {
    slots[i]->requests += requests;
    slots[i]->errors[static_cast<std::size_t>(ErrorClass::Timeout)] += faults;
  }
  Health health(std::size_t i) const { return static_cast<Health>(slots[i]->health.load()); }
  std::vector<std::unique_ptr<MemberSlot>> owned;
  std::vector<MemberSlot*> slots;
};

Policy on() {
  Policy p;
  p.enabled = true;
  p.interval_ms = 10000;
  p.min_requests = 10;
  return p;
}

// The first run: baselines only, never a verdict.
void take_baselines(Detector& d, Members& m, const Policy& p) { REQUIRE(d.run(m.slots, p, 50, kT0).empty()); }

}  // namespace

TEST_CASE("detector: the first run takes baselines; judgement once per interval", "[outlier]") {
  Members m(3);
  Detector d;
  const Policy p = on();
  m.serve(1, 100, 100);  // before the detector started: not in any window
  take_baselines(d, m, p);
  CHECK(d.run(m.slots, p, 50, kT0 + 10000).empty());  // an empty window
  m.serve(0, 20, 0);
  m.serve(1, 20, 10);
  m.serve(2, 20, 0);
  CHECK(d.run(m.slots, p, 50, kT0 + 15000).empty());  // not due yet
  const auto changes = d.run(m.slots, p, 50, kT0 + 20000);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].member == 1);
  CHECK(changes[0].transition.to == Health::Ejected);
  CHECK(health::describe(changes[0].transition).find("ok -> ejected") == 0);
  CHECK(changes[0].transition.cause == "outlier: error rate 50% (10/20), peers 0%; out 30s (x1)");
  CHECK(m.health(1) == Health::Ejected);
  CHECK(m.slots[1]->ejected_until_ms == kT0 + 20000 + 30000);
  CHECK(m.slots[1]->ejection_level == 1);
  CHECK(m.slots[1]->outlier_ejections == 1);
  CHECK(m.slots[1]->ejections == 1);
  CHECK(m.health(0) == Health::Ok);
  CHECK(m.health(2) == Health::Ok);
}

TEST_CASE("detector: off, nothing happens whatever the figures", "[outlier]") {
  Members m(2);
  Detector d;
  Policy p = on();
  p.enabled = false;
  d.run(m.slots, p, 50, kT0);
  m.serve(0, 100, 0);
  m.serve(1, 100, 100);
  CHECK(d.run(m.slots, p, 50, kT0 + 10000).empty());
  CHECK(m.health(1) == Health::Ok);
}

TEST_CASE("detector: client faults and refused responses are not the member's errors", "[outlier]") {
  Members m(2);
  Detector d;
  const Policy p = on();
  take_baselines(d, m, p);
  m.serve(0, 50, 0);
  m.slots[1]->requests += 50;
  m.slots[1]->errors[static_cast<std::size_t>(ErrorClass::Client)] += 50;
  m.slots[1]->errors[static_cast<std::size_t>(ErrorClass::Response)] += 50;
  CHECK(d.run(m.slots, p, 50, kT0 + 10000).empty());
}

TEST_CASE("detector: an ejected member comes back only by probes after its time, then slow start", "[outlier]") {
  Members m(2);
  Detector d;
  const Policy p = on();
  health::Policy hp;  // rise 2, probes every 5 s, slow start 30 s
  take_baselines(d, m, p);
  m.serve(0, 50, 0);
  m.serve(1, 50, 50);
  REQUIRE(d.run(m.slots, p, 50, kT0 + 10000).size() == 1);
  MemberSlot& s = *m.slots[1];
  const std::int64_t until = kT0 + 40000;
  REQUIRE(s.ejected_until_ms == until);

  SECTION("good probes during the ejection do not readmit it") {
    CHECK_FALSE(health::probe_due(s, kT0 + 14999, hp));
    CHECK(health::probe_due(s, kT0 + 15000, hp));
    CHECK_FALSE(health::on_probe_result(s, true, kT0 + 15000, hp).changed);
    CHECK_FALSE(health::on_probe_result(s, true, kT0 + 20000, hp).changed);
    CHECK_FALSE(health::on_probe_result(s, true, until - 1, hp).changed);
    CHECK(m.health(1) == Health::Ejected);
    const auto back = health::on_probe_result(s, true, until, hp);
    REQUIRE(back.changed);
    CHECK(health::describe(back) == "ejected -> recovering after 30s: 4 good probes in a row");
    CHECK(m.health(1) == Health::Recovering);
    CHECK(health::slow_start_percent(s, until, hp) == hp.slow_start_min_percent);
    CHECK(health::settle(s, until + 30000, hp).to == Health::Ok);
  }
  SECTION("after its time, still rise good probes") {
    CHECK_FALSE(health::on_probe_result(s, true, until + 1, hp).changed);
    CHECK(health::on_probe_result(s, true, until + 5000, hp).changed);
  }
  SECTION("failed probes while ejected: error, and still not back before its time") {
    health::on_probe_result(s, false, kT0 + 15000, hp);
    const auto down = health::on_probe_result(s, false, kT0 + 20000, hp);
    REQUIRE(down.changed);
    CHECK(health::describe(down).find("ejected -> error") == 0);
    health::on_probe_result(s, true, kT0 + 25000, hp);
    CHECK_FALSE(health::on_probe_result(s, true, kT0 + 30000, hp).changed);
    CHECK(health::on_probe_result(s, true, until, hp).to == Health::Recovering);
  }
  SECTION("the manager's recover ends the ejection early") {
    health::force_recovery_probe(s);
    CHECK(health::probe_due(s, kT0 + 10001, hp));
    health::on_probe_result(s, true, kT0 + 10001, hp);
    CHECK(health::on_probe_result(s, true, kT0 + 10002, hp).to == Health::Recovering);
  }
  SECTION("request faults on it (its sessions) change nothing") {
    for (int i = 0; i < 5; ++i)
      CHECK_FALSE(health::on_request_failure(s, ErrorClass::Timeout, kT0 + 11000, hp).changed);
    CHECK(m.health(1) == Health::Ejected);
  }
}

TEST_CASE("detector: ejected again soon doubles the time; quiet time decays the level", "[outlier]") {
  Members m(2);
  Detector d;
  const Policy p = on();
  health::Policy hp;
  hp.slow_start_ms = 0;
  hp.rise = 1;
  take_baselines(d, m, p);
  m.serve(0, 50, 0);
  m.serve(1, 50, 50);
  REQUIRE(d.run(m.slots, p, 50, kT0 + 10000).size() == 1);
  MemberSlot& s = *m.slots[1];
  // Back at its time (40 s), bad again at once: the second ejection lasts 60 s.
  REQUIRE(health::on_probe_result(s, true, kT0 + 40000, hp).to == Health::Ok);
  d.run(m.slots, p, 50, kT0 + 40000);  // a window spanning the ejection: discard it
  m.serve(0, 50, 0);
  m.serve(1, 50, 50);
  const auto again = d.run(m.slots, p, 50, kT0 + 50000);
  REQUIRE(again.size() == 1);
  CHECK(again[0].transition.cause.find("out 1m (x2)") != std::string::npos);
  CHECK(s.ejected_until_ms == kT0 + 50000 + 60000);
  CHECK(s.outlier_ejections == 2);
  // Back at 110 s; two quiet ejection times later (170 s) the level is 0 again.
  REQUIRE(health::on_probe_result(s, true, kT0 + 110000, hp).to == Health::Ok);
  d.run(m.slots, p, 50, kT0 + 140000);
  CHECK(s.ejection_level == 1);
  d.run(m.slots, p, 50, kT0 + 170000);
  CHECK(s.ejection_level == 0);
  m.serve(0, 50, 0);
  m.serve(1, 50, 50);
  const auto third = d.run(m.slots, p, 50, kT0 + 180000);
  REQUIRE(third.size() == 1);
  CHECK(third[0].transition.cause.find("out 30s (x1)") != std::string::npos);
}

TEST_CASE("detector: max ejected percent and panic hold across judgements", "[outlier]") {
  Members m(4);
  Detector d;
  Policy p = on();
  p.max_ejected_percent = 25;  // one of four
  take_baselines(d, m, p);
  m.serve(0, 50, 0);
  m.serve(1, 50, 0);
  m.serve(2, 50, 50);
  m.serve(3, 50, 40);
  auto first = d.run(m.slots, p, 50, kT0 + 10000);
  REQUIRE(first.size() == 1);
  CHECK(first[0].member == 2);
  m.serve(0, 50, 0);
  m.serve(1, 50, 0);
  m.serve(3, 50, 40);
  CHECK(d.run(m.slots, p, 50, kT0 + 20000).empty());  // member 2 still out: the limit holds
  CHECK(m.health(3) == Health::Ok);
}

TEST_CASE("detector: counters that went back give an empty window", "[outlier]") {
  Members m(2);
  Detector d;
  const Policy p = on();
  m.serve(1, 1000, 1000);
  take_baselines(d, m, p);
  m.slots[1]->requests = 10;  // a rebuilt table
  m.slots[1]->errors[static_cast<std::size_t>(ErrorClass::Timeout)] = 10;
  m.serve(0, 50, 0);
  CHECK(d.run(m.slots, p, 50, kT0 + 10000).empty());
  d.reset();  // a lost lease: the next run is a baseline again
  m.serve(0, 50, 0);
  m.serve(1, 50, 50);
  CHECK(d.run(m.slots, p, 50, kT0 + 20000).empty());
}

TEST_CASE("balancer: an ejected member gets no new requests, its sessions stay", "[outlier][balance]") {
  idmb::config::BalancerConfig cfg;
  cfg.name = "app";
  for (const char* name : {"a", "b"}) {
    idmb::config::MemberConfig mc;
    mc.name = mc.route = name;
    cfg.members.push_back(mc);
  }
  Members m(2);
  std::strcpy(m.slots[0]->route, "a");
  std::strcpy(m.slots[1]->route, "b");
  struct FixedClock : idmb::balance::Clock {
    std::int64_t now_ms() override { return kT0; }
  } clock;
  struct NoRandom : idmb::balance::Random {
    std::uint64_t next() override { return 0; }
  } random;
  idmb::balance::Balancer b(cfg, m.slots, random, clock);
  REQUIRE(health::eject(*m.slots[1], kT0, kT0 + 30000, 1, "test").changed);
  for (int i = 0; i < 4; ++i) {
    const auto c = b.choose({});
    CHECK(c.member == 0);
    b.start(c.member, false);
  }
  const std::string_view route = "b";
  const auto sticky = b.choose(std::span(&route, 1));
  CHECK(sticky.member == 1);
  CHECK(sticky.sticky);
  // In panic (the other member in error too) the ejected one takes new requests again.
  m.slots[0]->health = static_cast<std::uint32_t>(Health::Error);
  CHECK(b.choose({}).member >= 0);
}

TEST_CASE("detector: a member whose p99 over the last minute stands out is ejected", "[outlier]") {
  Members m(3);
  Detector d;
  const Policy p = on();  // latency_factor 3x, latency_min 1 s
  take_baselines(d, m, p);
  const std::int64_t at = kT0 + 10000;
  for (std::size_t i = 0; i < 3; ++i) {
    m.serve(i, 20, 0);
    const std::int64_t us = i == 2 ? 4'000'000 : 20'000;  // member 2: 4 s, its peers 20 ms
    for (int k = 0; k < 20; ++k) idmb::latency::record_attempt(m.slots[i]->latency, at - 1000, {us, us / 2, false});
  }
  const auto changes = d.run(m.slots, p, 50, at);
  REQUIRE(changes.size() == 1);
  CHECK(changes[0].member == 2);
  CHECK(changes[0].transition.cause.find("outlier: p99 ") == 0);
  CHECK(m.health(2) == Health::Ejected);
  CHECK(m.health(0) == Health::Ok);
}
