// The health state machine with an injected clock: fall/rise thresholds, which faults count,
// probe intervals, the slow-start curve, settling, and one report per change under races.
#include <catch2/catch.hpp>

#include <atomic>
#include <cstdint>
#include <memory>
#include <thread>
#include <vector>

#include "idmb/config.h"
#include "idmb/health.h"

using idmb::config::Activation;
using idmb::health::Policy;
using idmb::health::Transition;
using idmb::table::ErrorClass;
using idmb::table::Health;
using idmb::table::MemberSlot;
namespace health = idmb::health;

namespace {

constexpr std::int64_t kT0 = 1'700'000'000'000;  // an arbitrary wall-clock start

std::unique_ptr<MemberSlot> make_slot(Health h = Health::Ok, Activation a = Activation::Active) {
  auto slot = std::make_unique<MemberSlot>();
  slot->health = static_cast<std::uint32_t>(h);
  slot->activation = static_cast<std::uint32_t>(a);
  return slot;
}

Health health_of(const MemberSlot& s) { return static_cast<Health>(s.health.load()); }

void set(MemberSlot& s, Health h, std::int64_t since = kT0) {
  s.health = static_cast<std::uint32_t>(h);
  s.state_since_ms = since;
}

}  // namespace

TEST_CASE("fall consecutive backend faults take a member out", "[health]") {
  const ErrorClass error = GENERATE(ErrorClass::Cping, ErrorClass::BackendClosed, ErrorClass::Protocol,
                                    ErrorClass::Timeout, ErrorClass::FailStatus);
  const std::uint32_t fall = GENERATE(1u, 2u, 3u);
  CAPTURE(static_cast<int>(error), fall);
  Policy policy;
  policy.fall = fall;
  auto slot = make_slot();
  slot->state_since_ms = kT0 - 60'000;

  for (std::uint32_t i = 1; i < fall; ++i) {
    const Transition t = health::on_request_failure(*slot, error, kT0 + i, policy);
    CHECK_FALSE(t.changed);
    CHECK(t.from == Health::Ok);
    CHECK(t.to == Health::Ok);
    CHECK(t.cause.empty());
    CHECK(slot->consecutive_failures == i);
  }
  const Transition out = health::on_request_failure(*slot, error, kT0 + 100, policy);
  CHECK(out.changed);
  CHECK(out.from == Health::Ok);
  CHECK(out.to == Health::Error);
  CHECK(out.previous_ms == 60'100);
  CHECK_FALSE(out.cause.empty());
  if (fall > 1) CHECK_THAT(out.cause, Catch::Contains(std::to_string(fall) + " consecutive"));
  CHECK(health_of(*slot) == Health::Error);
  CHECK(slot->state_since_ms == kT0 + 100);
  CHECK(slot->ejections == 1);

  // Further faults (panic traffic, say) change nothing and report nothing.
  const Transition again = health::on_request_failure(*slot, error, kT0 + 200, policy);
  CHECK_FALSE(again.changed);
  CHECK(again.from == Health::Error);
  CHECK(slot->state_since_ms == kT0 + 100);
  CHECK(slot->ejections == 1);
}

TEST_CASE("a connect failure takes a member out at once", "[health]") {
  Policy policy;
  policy.fall = 5;
  const Health from = GENERATE(Health::Ok, Health::Recovering);
  auto slot = make_slot(from);
  const Transition t = health::on_request_failure(*slot, ErrorClass::Connect, kT0, policy);
  CHECK(t.changed);
  CHECK(t.from == from);
  CHECK(t.to == Health::Error);
  CHECK(t.cause == "connect failed");
  CHECK(t.previous_ms == -1);  // state_since was never set
  CHECK(health_of(*slot) == Health::Error);
}

TEST_CASE("client faults and refused responses never count against a member", "[health]") {
  Policy policy;
  policy.fall = 1;
  auto slot = make_slot();
  for (int i = 0; i < 1000; ++i) {
    CHECK_FALSE(health::on_request_failure(*slot, ErrorClass::Client, kT0 + i, policy).changed);
    CHECK_FALSE(health::on_request_failure(*slot, ErrorClass::Response, kT0 + i, policy).changed);
  }
  CHECK(health_of(*slot) == Health::Ok);
  CHECK(slot->consecutive_failures == 0);
  // Nor does a value outside the enumeration.
  CHECK_FALSE(health::on_request_failure(*slot, ErrorClass::kCount, kT0, policy).changed);
  CHECK(slot->consecutive_failures == 0);
}

TEST_CASE("a successful request resets the consecutive-failure count", "[health]") {
  Policy policy;  // fall = 2
  auto slot = make_slot();
  for (int round = 0; round < 10; ++round) {
    CHECK_FALSE(health::on_request_failure(*slot, ErrorClass::Timeout, kT0, policy).changed);
    const Transition ok = health::on_request_success(*slot);
    CHECK_FALSE(ok.changed);
    CHECK(ok.to == Health::Ok);
    CHECK(slot->consecutive_failures == 0);
  }
  CHECK(health_of(*slot) == Health::Ok);
  health::on_request_failure(*slot, ErrorClass::Timeout, kT0, policy);
  CHECK(health::on_request_failure(*slot, ErrorClass::Protocol, kT0, policy).changed);
}

TEST_CASE("a member in error does not come back by a user request", "[health]") {
  auto slot = make_slot(Health::Error);
  const Transition t = health::on_request_success(*slot);
  CHECK_FALSE(t.changed);
  CHECK(t.from == Health::Error);
  CHECK(health_of(*slot) == Health::Error);
}

TEST_CASE("a recovering member goes back to error on faults like a healthy one", "[health]") {
  Policy policy;
  auto slot = make_slot(Health::Recovering);
  CHECK_FALSE(health::on_request_failure(*slot, ErrorClass::BackendClosed, kT0, policy).changed);
  const Transition t = health::on_request_failure(*slot, ErrorClass::BackendClosed, kT0 + 1, policy);
  CHECK(t.changed);
  CHECK(t.from == Health::Recovering);
  CHECK(t.to == Health::Error);
}

TEST_CASE("a change seen by many threads at once is reported once", "[health]") {
  constexpr int kThreads = 8;
  constexpr int kRounds = 200;
  Policy policy;
  auto slot = make_slot();
  std::atomic<int> reported{0};
  std::atomic<int> ready{0};
  std::atomic<int> round_gate{0};

  // Each round: every thread hammers the same Ok member with faults (some request faults,
  // some failed probes); exactly one of them may see `changed`.
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < kRounds; ++round) {
        while (round_gate.load() < round) std::this_thread::yield();
        for (int i = 0; i < 20; ++i) {
          const Transition tr = (t % 2 == 0)
                                    ? health::on_request_failure(*slot, ErrorClass::Timeout, kT0 + round, policy)
                                    : health::on_probe_result(*slot, false, kT0 + round, policy, "cping");
          if (tr.changed) {
            if (tr.to != Health::Error || tr.from != Health::Ok) std::abort();
            reported.fetch_add(1);
          }
        }
        ready.fetch_add(1);
      }
    });
  }
  for (int round = 0; round < kRounds; ++round) {
    while (ready.load() < kThreads * (round + 1)) std::this_thread::yield();
    REQUIRE(reported.load() == round + 1);
    REQUIRE(health_of(*slot) == Health::Error);
    // Back to Ok for the next round.
    set(*slot, Health::Ok);
    slot->consecutive_failures = 0;
    slot->probe_fails = 0;
    round_gate.store(round + 1);
  }
  for (std::thread& t : threads) t.join();
  CHECK(reported.load() == kRounds);
  CHECK(slot->ejections == kRounds);
}

TEST_CASE("good probes reported by racing threads bring a member back once", "[health]") {
  Policy policy;
  policy.rise = 3;
  auto slot = make_slot(Health::Error);
  std::atomic<int> reported{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 1000; ++i) {
        if (health::on_probe_result(*slot, true, kT0, policy).changed) reported.fetch_add(1);
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(reported.load() == 1);
  CHECK(health_of(*slot) == Health::Recovering);
}

TEST_CASE("probe intervals", "[health]") {
  Policy policy;  // 5000 while in error or recovering, 10000 while ok
  auto slot = make_slot();

  SECTION("a member never probed is due at once") {
    CHECK(health::probe_due(*slot, kT0, policy));
    CHECK(health::probe_due(*slot, 1, policy));  // whatever the clock
  }
  SECTION("ok: every healthy interval") {
    health::on_probe_result(*slot, true, kT0, policy);
    CHECK(slot->last_probe_ms == kT0);
    CHECK(slot->last_probe_ok == 1);
    CHECK_FALSE(health::probe_due(*slot, kT0, policy));
    CHECK_FALSE(health::probe_due(*slot, kT0 + 9999, policy));
    CHECK(health::probe_due(*slot, kT0 + 10'000, policy));
  }
  SECTION("ok, with healthy probing off: never") {
    policy.probe_healthy = false;
    CHECK_FALSE(health::probe_due(*slot, kT0, policy));
    slot->last_probe_ms = kT0;
    CHECK_FALSE(health::probe_due(*slot, kT0 + 1'000'000, policy));
  }
  SECTION("error and recovering: every probe interval, healthy probing on or off") {
    policy.probe_healthy = GENERATE(true, false);
    set(*slot, GENERATE(Health::Error, Health::Recovering));
    health::on_probe_result(*slot, false, kT0, policy);
    CHECK(slot->last_probe_ok == 0);
    CHECK_FALSE(health::probe_due(*slot, kT0 + 4999, policy));
    CHECK(health::probe_due(*slot, kT0 + 5000, policy));
  }
  SECTION("taken out by requests: the first probe one interval later") {
    health::on_request_failure(*slot, ErrorClass::Connect, kT0, policy);
    CHECK_FALSE(health::probe_due(*slot, kT0 + 4999, policy));
    CHECK(health::probe_due(*slot, kT0 + 5000, policy));
  }
  SECTION("force_recovery_probe makes it due at once") {
    set(*slot, Health::Error);
    health::on_probe_result(*slot, false, kT0, policy);
    CHECK_FALSE(health::probe_due(*slot, kT0 + 1, policy));
    health::force_recovery_probe(*slot);
    CHECK(health::probe_due(*slot, kT0 + 1, policy));
  }
  SECTION("the clock went back: due") {
    health::on_probe_result(*slot, true, kT0, policy);
    CHECK(health::probe_due(*slot, kT0 - 1, policy));
  }
  SECTION("stopped members are not probed; disabled and standby ones are") {
    slot->activation = static_cast<std::uint32_t>(Activation::Stopped);
    set(*slot, Health::Error);
    CHECK_FALSE(health::probe_due(*slot, kT0, policy));
    slot->activation = static_cast<std::uint32_t>(Activation::Disabled);
    CHECK(health::probe_due(*slot, kT0, policy));
    slot->activation = static_cast<std::uint32_t>(Activation::Standby);
    CHECK(health::probe_due(*slot, kT0, policy));
  }
}

TEST_CASE("rise consecutive good probes bring a member back", "[health]") {
  Policy policy;
  policy.rise = GENERATE(1u, 2u, 4u);
  CAPTURE(policy.rise);
  auto slot = make_slot();
  REQUIRE(health::on_request_failure(*slot, ErrorClass::Connect, kT0, policy).changed);

  std::int64_t now = kT0;
  // A failed probe in between starts the count again.
  for (std::uint32_t i = 1; i < policy.rise; ++i) {
    now += 5000;
    CHECK_FALSE(health::on_probe_result(*slot, true, now, policy).changed);
  }
  now += 5000;
  CHECK_FALSE(health::on_probe_result(*slot, false, now, policy, "refused").changed);
  CHECK(slot->probe_passes == 0);
  CHECK(slot->probe_fails == 1);
  for (std::uint32_t i = 1; i < policy.rise; ++i) {
    now += 5000;
    CHECK_FALSE(health::on_probe_result(*slot, true, now, policy).changed);
    CHECK(health_of(*slot) == Health::Error);
  }
  now += 5000;
  slot->consecutive_failures = 7;
  const Transition t = health::on_probe_result(*slot, true, now, policy);
  CHECK(t.changed);
  CHECK(t.from == Health::Error);
  CHECK(t.to == Health::Recovering);
  CHECK(t.previous_ms == now - kT0);
  CHECK(slot->state_since_ms == now);
  CHECK(slot->consecutive_failures == 0);  // a fresh start for the request path
  CHECK(slot->probe_fails == 0);
}

TEST_CASE("without slow start a member goes from error straight to ok", "[health]") {
  Policy policy;
  policy.slow_start_ms = 0;
  auto slot = make_slot(Health::Error);
  health::on_probe_result(*slot, true, kT0, policy);
  const Transition t = health::on_probe_result(*slot, true, kT0 + 5000, policy);
  CHECK(t.changed);
  CHECK(t.to == Health::Ok);
  CHECK(health::slow_start_percent(*slot, kT0 + 5000, policy) == 100);
}

TEST_CASE("fall consecutive failed probes take a healthy member out", "[health]") {
  Policy policy;
  policy.fall = GENERATE(1u, 2u, 3u);
  CAPTURE(policy.fall);
  auto slot = make_slot();
  std::int64_t now = kT0;
  // One good probe in between starts the count again.
  for (std::uint32_t i = 1; i < policy.fall; ++i) {
    CHECK_FALSE(health::on_probe_result(*slot, false, now += 10'000, policy, "timeout").changed);
  }
  CHECK_FALSE(health::on_probe_result(*slot, true, now += 10'000, policy).changed);
  for (std::uint32_t i = 1; i < policy.fall; ++i) {
    CHECK_FALSE(health::on_probe_result(*slot, false, now += 10'000, policy, "timeout").changed);
  }
  const Transition t = health::on_probe_result(*slot, false, now += 10'000, policy, "no CPONG in 2s");
  CHECK(t.changed);
  CHECK(t.from == Health::Ok);
  CHECK(t.to == Health::Error);
  CHECK_THAT(t.cause, Catch::EndsWith(": no CPONG in 2s"));
  CHECK(slot->ejections == 1);
  // Requests and probes keep separate counts.
  CHECK(slot->consecutive_failures == 0);
}

TEST_CASE("one failed probe sends a recovering member back to error", "[health]") {
  Policy policy;
  policy.fall = 5;
  auto slot = make_slot(Health::Recovering);
  const Transition t = health::on_probe_result(*slot, false, kT0, policy, "refused");
  CHECK(t.changed);
  CHECK(t.from == Health::Recovering);
  CHECK(t.to == Health::Error);
  CHECK(t.cause == "probe failed while recovering: refused");
  CHECK(slot->probe_passes == 0);
}

TEST_CASE("failed probes of a member in error change nothing", "[health]") {
  Policy policy;
  auto slot = make_slot(Health::Error);
  for (int i = 1; i <= 10; ++i) {
    CHECK_FALSE(health::on_probe_result(*slot, false, kT0 + i * 5000, policy).changed);
  }
  CHECK(slot->probe_fails == 10);
  CHECK(slot->ejections == 0);
}

TEST_CASE("the slow-start curve", "[health]") {
  Policy policy;  // 30 s from 10%
  auto slot = make_slot();
  set(*slot, Health::Recovering, kT0);

  CHECK(health::slow_start_percent(*slot, kT0, policy) == 10);
  CHECK(health::slow_start_percent(*slot, kT0 + 7'500, policy) == 32);  // 10 + 90 * 0.25, rounded down
  CHECK(health::slow_start_percent(*slot, kT0 + 15'000, policy) == 55);
  CHECK(health::slow_start_percent(*slot, kT0 + 22'500, policy) == 77);
  CHECK(health::slow_start_percent(*slot, kT0 + 29'999, policy) == 99);
  CHECK(health::slow_start_percent(*slot, kT0 + 30'000, policy) == 100);
  CHECK(health::slow_start_percent(*slot, kT0 + 3'600'000, policy) == 100);
  CHECK(health::slow_start_percent(*slot, kT0 - 5'000, policy) == 10);  // clock went back

  // The curve never decreases.
  std::uint32_t last = 0;
  for (std::int64_t t = 0; t <= 31'000; t += 100) {
    const std::uint32_t p = health::slow_start_percent(*slot, kT0 + t, policy);
    REQUIRE(p >= last);
    last = p;
  }

  SECTION("other minimums") {
    policy.slow_start_min_percent = 50;
    CHECK(health::slow_start_percent(*slot, kT0, policy) == 50);
    CHECK(health::slow_start_percent(*slot, kT0 + 15'000, policy) == 75);
    policy.slow_start_min_percent = 0;  // out of range: 1
    CHECK(health::slow_start_percent(*slot, kT0, policy) == 1);
    policy.slow_start_min_percent = 500;
    CHECK(health::slow_start_percent(*slot, kT0, policy) == 100);
  }
  SECTION("only recovering members ramp") {
    for (Health h : {Health::Ok, Health::Error}) {
      set(*slot, h, kT0);
      CHECK(health::slow_start_percent(*slot, kT0, policy) == 100);
    }
  }
  SECTION("slow start off") {
    policy.slow_start_ms = 0;
    CHECK(health::slow_start_percent(*slot, kT0, policy) == 100);
  }
}

TEST_CASE("settle: recovering becomes ok when the window has passed", "[health]") {
  Policy policy;
  auto slot = make_slot();
  set(*slot, Health::Recovering, kT0);
  CHECK_FALSE(health::settle(*slot, kT0, policy).changed);
  CHECK_FALSE(health::settle(*slot, kT0 + 29'999, policy).changed);
  const Transition t = health::settle(*slot, kT0 + 30'000, policy);
  CHECK(t.changed);
  CHECK(t.from == Health::Recovering);
  CHECK(t.to == Health::Ok);
  CHECK(t.previous_ms == 30'000);
  CHECK(t.cause == "slow start complete");
  CHECK(slot->state_since_ms == kT0 + 30'000);
  CHECK_FALSE(health::settle(*slot, kT0 + 40'000, policy).changed);

  SECTION("nothing to settle in ok or error") {
    set(*slot, Health::Error, kT0);
    CHECK_FALSE(health::settle(*slot, kT0 + 1'000'000, policy).changed);
    CHECK(health_of(*slot) == Health::Error);
  }
  SECTION("slow start switched off meanwhile: at once") {
    set(*slot, Health::Recovering, kT0);
    policy.slow_start_ms = 0;
    CHECK(health::settle(*slot, kT0, policy).changed);
  }
  SECTION("the clock went back: the ramp starts again from now") {
    set(*slot, Health::Recovering, kT0);
    CHECK_FALSE(health::settle(*slot, kT0 - 60'000, policy).changed);
    CHECK(slot->state_since_ms == kT0 - 60'000);
    CHECK(health::settle(*slot, kT0 - 30'000, policy).changed);
  }
}

TEST_CASE("begin_slow_start after re-activation", "[health]") {
  Policy policy;
  auto slot = make_slot();
  const Transition t = health::begin_slow_start(*slot, kT0, policy);
  CHECK(t.changed);
  CHECK(t.from == Health::Ok);
  CHECK(t.to == Health::Recovering);
  CHECK(health::slow_start_percent(*slot, kT0, policy) == 10);

  // Again while ramping: the ramp restarts, no state change.
  CHECK_FALSE(health::begin_slow_start(*slot, kT0 + 20'000, policy).changed);
  CHECK(slot->state_since_ms == kT0 + 20'000);
  CHECK(health::slow_start_percent(*slot, kT0 + 20'000, policy) == 10);

  SECTION("a member in error stays there") {
    set(*slot, Health::Error, kT0);
    CHECK_FALSE(health::begin_slow_start(*slot, kT0 + 1, policy).changed);
    CHECK(health_of(*slot) == Health::Error);
    CHECK(slot->state_since_ms == kT0);
  }
  SECTION("slow start off: nothing") {
    set(*slot, Health::Ok, kT0);
    policy.slow_start_ms = 0;
    CHECK_FALSE(health::begin_slow_start(*slot, kT0 + 1, policy).changed);
    CHECK(health_of(*slot) == Health::Ok);
  }
}

TEST_CASE("a member's life: killed, probed, recovered, ramped up", "[health]") {
  Policy policy;
  auto slot = make_slot();
  std::int64_t now = kT0;
  std::vector<Transition> log;
  const auto keep = [&](Transition t) {
    if (t.changed) log.push_back(std::move(t));
  };

  keep(health::on_request_failure(*slot, ErrorClass::Connect, now, policy));  // kill -9
  // The prober ticks every second: probes fail while Tomcat restarts (20 s), then pass.
  for (int tick = 1; tick <= 120; ++tick) {
    now += 1000;
    if (health::probe_due(*slot, now, policy)) {
      const bool up = now - kT0 > 20'000;
      keep(health::on_probe_result(*slot, up, now, policy, up ? "" : "connection refused"));
    }
    keep(health::settle(*slot, now, policy));
  }
  REQUIRE(log.size() == 3);
  CHECK(log[0].to == Health::Error);
  CHECK(log[1].from == Health::Error);
  CHECK(log[1].to == Health::Recovering);
  CHECK(log[1].previous_ms == 30'000);  // probes at 25 s and 30 s pass (rise 2)
  CHECK(log[2].to == Health::Ok);
  CHECK(log[2].previous_ms == 30'000);
  CHECK(health_of(*slot) == Health::Ok);
  CHECK(slot->ejections == 1);
}

TEST_CASE("describe and to_string", "[health]") {
  Transition t;
  CHECK(health::describe(t).empty());
  t.changed = true;
  t.from = Health::Ok;
  t.to = Health::Error;
  t.cause = "connect failed";
  t.previous_ms = 2 * 3600'000 + 5 * 60'000 + 7'000;
  CHECK(health::describe(t) == "ok -> error after 2h 5m: connect failed");
  t.previous_ms = 125'000;
  CHECK(health::describe(t) == "ok -> error after 2m 5s: connect failed");
  t.previous_ms = 60'000;
  CHECK(health::describe(t) == "ok -> error after 1m: connect failed");
  t.previous_ms = 999;
  CHECK(health::describe(t) == "ok -> error after 999ms: connect failed");
  t.previous_ms = 3 * 86'400'000 + 4 * 3600'000;
  CHECK(health::describe(t) == "ok -> error after 3d 4h: connect failed");
  t.previous_ms = -1;
  t.cause.clear();
  t.from = Health::Recovering;
  CHECK(health::describe(t) == "recovering -> error");
  CHECK(health::to_string(Health::Ok) == "ok");
  CHECK(health::to_string(static_cast<Health>(9)) == "unknown");
}

TEST_CASE("validate a policy", "[health]") {
  CHECK(health::validate(Policy{}).ok());
  const auto broken = [](auto edit) {
    Policy p;
    edit(p);
    return health::validate(p);
  };
  CHECK_THAT(broken([](Policy& p) { p.fall = 0; }).error(), Catch::Contains("fall"));
  CHECK_THAT(broken([](Policy& p) { p.rise = 0; }).error(), Catch::Contains("rise"));
  CHECK_FALSE(broken([](Policy& p) { p.probe_interval_ms = 0; }).ok());
  CHECK_FALSE(broken([](Policy& p) { p.healthy_probe_interval_ms = 0; }).ok());
  CHECK_FALSE(broken([](Policy& p) { p.slow_start_min_percent = 0; }).ok());
  CHECK_FALSE(broken([](Policy& p) { p.slow_start_min_percent = 101; }).ok());
  CHECK_THAT(broken([](Policy& p) { p.panic_percent = 101; }).error(), Catch::Contains("panic"));
  CHECK(broken([](Policy& p) {
          p.panic_percent = 0;
          p.slow_start_ms = 0;
          p.probe_healthy = false;
        }).ok());
}

TEST_CASE("a garbage health value is treated as error and repaired by probes", "[health]") {
  Policy policy;
  policy.rise = 1;
  auto slot = make_slot();
  slot->health = 9;
  CHECK(health::probe_due(*slot, kT0, policy));
  const Transition t = health::on_probe_result(*slot, true, kT0, policy);
  CHECK(t.changed);
  CHECK(t.from == Health::Error);
  CHECK(t.to == Health::Recovering);
}

TEST_CASE("a refused AJP secret is noted once per run of refusals", "[health]") {
  auto slot = make_slot();
  CHECK_FALSE(health::note_secret_refusal(*slot, false, kT0));
  CHECK(health::note_secret_refusal(*slot, true, kT0 + 1));        // starts: log it
  CHECK_FALSE(health::note_secret_refusal(*slot, true, kT0 + 2));  // goes on: already said
  CHECK(slot->secret_refused_ms == kT0 + 1);
  CHECK_FALSE(health::note_secret_refusal(*slot, false, kT0 + 3));  // a normal answer clears it
  CHECK(slot->secret_refused_ms == 0);
  CHECK(health::note_secret_refusal(*slot, true, kT0 + 4));  // and a new run is said again
}
