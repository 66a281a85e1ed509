// Response-time histograms and the rolling minute ring (latency.h), on injected wall times.
#include <catch2/catch.hpp>

#include <memory>

#include "idmb/latency.h"

using idmb::latency::Attempt;
using idmb::latency::bucket_index;
using idmb::latency::kBoundsUs;
using idmb::latency::kMinuteMs;
using idmb::latency::quantile_ms;
using idmb::table::kLatencyBuckets;
using idmb::table::MemberLatency;

namespace {

constexpr std::int64_t kT0 = 1'790'000'040'000;  // a whole minute in 2026, wall ms
static_assert(kT0 % kMinuteMs == 0);

std::unique_ptr<MemberLatency> fresh() { return std::make_unique<MemberLatency>(); }

void timed(MemberLatency& l, std::int64_t now_ms, std::int64_t us, int times = 1) {
  for (int i = 0; i < times; ++i) idmb::latency::record_attempt(l, now_ms, Attempt{us, us / 2});
}

}  // namespace

TEST_CASE("bucket_index puts a time in the first bucket whose bound is not below it", "[latency]") {
  CHECK(bucket_index(-5) == 0);
  CHECK(bucket_index(0) == 0);
  CHECK(bucket_index(1000) == 0);  // bounds are inclusive (Prometheus' le)
  CHECK(bucket_index(1001) == 1);
  CHECK(bucket_index(2000) == 1);
  CHECK(bucket_index(60'000'000) == kLatencyBuckets - 2);
  CHECK(bucket_index(60'000'001) == kLatencyBuckets - 1);
  CHECK(bucket_index(INT64_MAX) == kLatencyBuckets - 1);
  for (std::size_t i = 0; i < kBoundsUs.size(); ++i) {
    CHECK(bucket_index(kBoundsUs[i]) == i);
    if (i > 0) CHECK(kBoundsUs[i] > kBoundsUs[i - 1]);
  }
}

TEST_CASE("quantile_ms interpolates inside the bucket and knows no samples", "[latency]") {
  idmb::latency::Buckets b{};
  CHECK_FALSE(quantile_ms(b, 0.5).has_value());
  b[0] = 100;  // all in (0, 1 ms]
  CHECK(*quantile_ms(b, 0.5) == Approx(0.5));
  CHECK(*quantile_ms(b, 1.0) == Approx(1.0));
  b = {};
  b[1] = 50;  // (1, 2] ms
  b[5] = 50;  // (7, 10] ms
  CHECK(*quantile_ms(b, 0.25) == Approx(1.5));
  CHECK(*quantile_ms(b, 0.5) == Approx(2.0));
  CHECK(*quantile_ms(b, 0.99) == Approx(7.0 + 3.0 * 49.0 / 50.0));
  b = {};
  b[kLatencyBuckets - 1] = 3;  // slower than the last bound: no upper end
  CHECK(*quantile_ms(b, 0.99) == Approx(60000.0));
}

TEST_CASE("since_start counts every attempt that reached the member, with its sum", "[latency]") {
  auto l = fresh();
  timed(*l, kT0, 1500);                               // bucket 1
  timed(*l, kT0 + 5, 12'000, 2);                      // bucket 6
  idmb::latency::record_attempt(*l, kT0, Attempt{});  // refused connection: not timed
  const auto total = idmb::latency::since_start(l->total);
  CHECK(total.count == 3);
  CHECK(total.sum_us == 1500 + 24'000);
  CHECK(total.buckets[1] == 1);
  CHECK(total.buckets[6] == 2);
  const auto first = idmb::latency::since_start(l->first_byte);
  CHECK(first.count == 3);
  CHECK(first.sum_us == 750 + 12'000);
  CHECK(first.buckets[0] == 1);
}

TEST_CASE("window counts the current minute, whole minutes, and the share of the oldest", "[latency]") {
  auto l = fresh();
  timed(*l, kT0 - 2 * kMinuteMs + 10, 5000, 60);  // two minutes back
  timed(*l, kT0 - kMinuteMs + 10, 5000, 30);      // the last whole minute
  timed(*l, kT0 + 1000, 5000, 6);                 // the current one
  idmb::latency::record_error(*l, kT0 + 1000);
  idmb::latency::record_attempt(*l, kT0 + 2000, Attempt{});  // untimed: a request all the same

  // 15 s into the current minute: the last minute covers 3/4 of the minute before.
  const auto w = idmb::latency::window(*l, kT0 + 15'000, 1);
  CHECK(w.requests == Approx(7 + 30 * 0.75));
  CHECK(w.errors == Approx(1));
  CHECK(w.total[3] == Approx(6 + 30 * 0.75));
  // Two minutes: the current, the last whole one, and 3/4 of the one before.
  CHECK(idmb::latency::window(*l, kT0 + 15'000, 2).requests == Approx(7 + 30 + 60 * 0.75));
  CHECK(idmb::latency::per_second(60, 1) == Approx(1.0));
  CHECK(idmb::latency::per_second(60, 5) == Approx(0.2));
}

TEST_CASE("a ring slot left from 16 minutes ago is reset by the next writer", "[latency]") {
  auto l = fresh();
  timed(*l, kT0, 5000, 10);
  idmb::latency::record_error(*l, kT0);
  const std::int64_t later = kT0 + 16 * kMinuteMs;                    // the same slot of the ring
  CHECK(idmb::latency::window(*l, later, 15).requests == Approx(0));  // old tag: not read
  timed(*l, later, 5000, 2);
  const auto m = idmb::latency::minute_ago(*l, later + 1, 0);
  CHECK(m.requests == 2);
  CHECK(m.errors == 0);
  CHECK(idmb::latency::since_start(l->total).count == 12);  // since start keeps everything
}

TEST_CASE("a writer behind another child's clock does not reset a newer minute", "[latency]") {
  auto l = fresh();
  const std::int64_t now = kT0 + 16 * kMinuteMs;
  timed(*l, now, 5000, 3);
  timed(*l, kT0, 5000, 1);  // 16 minutes behind: same slot, older tag
  CHECK(idmb::latency::minute_ago(*l, now, 0).requests == 3);
  CHECK(idmb::latency::since_start(l->total).count == 4);
}

TEST_CASE("minute_ago gives whole minutes for the sparklines", "[latency]") {
  auto l = fresh();
  for (int ago = 1; ago <= 15; ++ago) timed(*l, kT0 - ago * kMinuteMs + 30'000, 20'000, ago);
  for (int ago = 1; ago <= 15; ++ago) {
    const auto m = idmb::latency::minute_ago(*l, kT0 + 5, ago);
    CHECK(m.requests == static_cast<std::uint64_t>(ago));
    CHECK(m.total[bucket_index(20'000)] == Approx(ago));
  }
  CHECK(idmb::latency::minute_ago(*l, kT0 + 5, 16).requests == 0);  // outside the ring
  CHECK(idmb::latency::minute_ago(*l, kT0 + 5, -1).requests == 0);
}

TEST_CASE("reset and copy cover the histograms and the ring", "[latency]") {
  auto a = fresh();
  timed(*a, kT0, 3000, 4);
  idmb::latency::record_error(*a, kT0);
  auto b = fresh();
  idmb::latency::copy(*b, *a);
  CHECK(idmb::latency::since_start(b->total).sum_us == 12'000);
  CHECK(idmb::latency::window(*b, kT0 + 10, 1).errors == Approx(1));
  idmb::latency::reset(*a);
  CHECK(idmb::latency::since_start(a->total).count == 0);
  CHECK(idmb::latency::since_start(a->first_byte).sum_us == 0);
  CHECK(idmb::latency::window(*a, kT0 + 10, 15).requests == Approx(0));
}
