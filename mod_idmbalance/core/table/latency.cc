// Response-time histograms and the rolling one-minute ring (see latency.h for the race a
// minute change allows and why it is acceptable).
#include "idmb/latency.h"

#include <algorithm>
#include <atomic>

namespace idmb::latency {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;
constexpr std::int64_t kRing = static_cast<std::int64_t>(table::kLatencyMinutes);

// Floor division: a wall clock before 1970 still gets consecutive minutes.
std::int64_t minute_of(std::int64_t now_ms) {
  return now_ms >= 0 ? now_ms / kMinuteMs : -((-now_ms + kMinuteMs - 1) / kMinuteMs);
}

table::LatencyMinute& slot_of(table::MemberLatency& l, std::int64_t minute) {
  return l.minutes[static_cast<std::size_t>(((minute % kRing) + kRing) % kRing)];
}
const table::LatencyMinute& slot_of(const table::MemberLatency& l, std::int64_t minute) {
  return l.minutes[static_cast<std::size_t>(((minute % kRing) + kRing) % kRing)];
}

void zero(table::LatencyMinute& m) {
  m.untimed.store(0, kRelaxed);
  m.errors.store(0, kRelaxed);
  for (auto& b : m.total) b.store(0, kRelaxed);
}

// The ring slot for `minute`, claimed for it if it still holds an older minute; nullptr when
// it holds a newer one (a writer whose clock is behind another child's: counted since start
// only).
table::LatencyMinute* claim(table::MemberLatency& l, std::int64_t minute) {
  table::LatencyMinute& m = slot_of(l, minute);
  const auto wanted = static_cast<std::int32_t>(minute);  // minutes since 1970 fit until 6053
  std::int32_t tag = m.minute.load(kRelaxed);
  if (tag == wanted) return &m;
  while (tag < wanted) {
    if (m.minute.compare_exchange_weak(tag, wanted, kRelaxed)) {
      zero(m);
      return &m;
    }
  }
  return tag == wanted ? &m : nullptr;
}

void add(table::LatencyHistogram& h, std::size_t bucket, std::int64_t us) {
  h.buckets[bucket].fetch_add(1, kRelaxed);
  h.sum_us.fetch_add(static_cast<std::uint64_t>(us), kRelaxed);
}

// Adds `weight` times the counts of `minute` (if the ring still holds it) into `out`.
void add_minute(const table::MemberLatency& l, std::int64_t minute, double weight, Window& out) {
  const table::LatencyMinute& m = slot_of(l, minute);
  if (weight <= 0 || m.minute.load(kRelaxed) != static_cast<std::int32_t>(minute)) return;
  double timed = 0;
  for (std::size_t i = 0; i < table::kLatencyBuckets; ++i) {
    const double n = static_cast<double>(m.total[i].load(kRelaxed)) * weight;
    out.total[i] += n;
    timed += n;
  }
  out.requests += timed + static_cast<double>(m.untimed.load(kRelaxed)) * weight;
  out.errors += static_cast<double>(m.errors.load(kRelaxed)) * weight;
}

}  // namespace

std::size_t bucket_index(std::int64_t us) {
  // Branch-light binary search over 28 bounds: about 5 compares.
  const auto it = std::lower_bound(kBoundsUs.begin(), kBoundsUs.end(), us);
  return static_cast<std::size_t>(it - kBoundsUs.begin());
}

void record_attempt(table::MemberLatency& l, std::int64_t now_ms, const Attempt& attempt) {
  table::LatencyMinute* m = claim(l, minute_of(now_ms));
  if (attempt.total_us >= 0) {
    const std::size_t b = bucket_index(attempt.total_us);
    add(l.total, b, attempt.total_us);
    if (m != nullptr) m->total[b].fetch_add(1, kRelaxed);
  } else if (m != nullptr) {
    m->untimed.fetch_add(1, kRelaxed);
  }
  if (attempt.error && m != nullptr) m->errors.fetch_add(1, kRelaxed);
  if (attempt.first_byte_us >= 0) add(l.first_byte, bucket_index(attempt.first_byte_us), attempt.first_byte_us);
}

void record_error(table::MemberLatency& l, std::int64_t now_ms) {
  if (table::LatencyMinute* m = claim(l, minute_of(now_ms))) m->errors.fetch_add(1, kRelaxed);
}

// The current minute counts whole (it lies inside the window by definition), the minutes
// before it whole, and the oldest by the share of it the window still covers.
Window window(const table::MemberLatency& l, std::int64_t now_ms, int minutes) {
  Window out;
  minutes = std::clamp(minutes, 1, kWindowMinutes);
  const std::int64_t current = minute_of(now_ms);
  const double elapsed = static_cast<double>(now_ms - current * kMinuteMs) / static_cast<double>(kMinuteMs);
  for (int ago = 0; ago < minutes; ++ago) add_minute(l, current - ago, 1.0, out);
  add_minute(l, current - minutes, 1.0 - elapsed, out);
  return out;
}

Minute minute_ago(const table::MemberLatency& l, std::int64_t now_ms, int ago) {
  Minute out;
  if (ago < 0 || ago >= static_cast<int>(table::kLatencyMinutes)) return out;
  Window w;
  add_minute(l, minute_of(now_ms) - ago, 1.0, w);
  out.requests = static_cast<std::uint64_t>(w.requests);
  out.errors = static_cast<std::uint64_t>(w.errors);
  out.total = w.total;
  return out;
}

Histogram since_start(const table::LatencyHistogram& h) {
  Histogram out;
  for (std::size_t i = 0; i < table::kLatencyBuckets; ++i) {
    out.buckets[i] = h.buckets[i].load(kRelaxed);
    out.count += out.buckets[i];
  }
  out.sum_us = h.sum_us.load(kRelaxed);
  return out;
}

Buckets as_buckets(const Histogram& h) {
  Buckets out{};
  for (std::size_t i = 0; i < table::kLatencyBuckets; ++i) out[i] = static_cast<double>(h.buckets[i]);
  return out;
}

std::optional<double> quantile_ms(std::span<const double> buckets, double q) {
  double total = 0;
  for (double n : buckets) total += n;
  if (total <= 0 || buckets.empty()) return std::nullopt;
  q = std::clamp(q, 0.0, 1.0);
  const double rank = q * total;
  double below = 0;
  for (std::size_t i = 0; i < buckets.size(); ++i) {
    const double n = buckets[i];
    if (n > 0 && below + n >= rank) {
      const double lower = i == 0 ? 0.0 : static_cast<double>(kBoundsUs[i - 1]) / 1000.0;
      if (i >= kBoundsUs.size()) return lower;  // past the last bound: no upper end to interpolate to
      const double upper = static_cast<double>(kBoundsUs[i]) / 1000.0;
      return lower + (upper - lower) * std::clamp((rank - below) / n, 0.0, 1.0);
    }
    below += n;
  }
  return static_cast<double>(kBoundsUs.back()) / 1000.0;
}

double per_second(double count, int minutes) {
  return minutes <= 0 ? 0.0 : count / (static_cast<double>(minutes) * static_cast<double>(kMinuteMs) / 1000.0);
}

void reset(table::MemberLatency& l) {
  for (table::LatencyHistogram* h : {&l.total, &l.first_byte}) {
    for (auto& b : h->buckets) b.store(0, kRelaxed);
    h->sum_us.store(0, kRelaxed);
  }
  for (auto& m : l.minutes) {
    zero(m);
    m.minute.store(0, kRelaxed);
  }
}

void copy(table::MemberLatency& to, const table::MemberLatency& from) {
  const auto copy_histogram = [](table::LatencyHistogram& a, const table::LatencyHistogram& b) {
    for (std::size_t i = 0; i < table::kLatencyBuckets; ++i) a.buckets[i].store(b.buckets[i].load(kRelaxed), kRelaxed);
    a.sum_us.store(b.sum_us.load(kRelaxed), kRelaxed);
    for (std::size_t i = 0; i < 2; ++i) a.reserved[i].store(b.reserved[i].load(kRelaxed), kRelaxed);
  };
  copy_histogram(to.total, from.total);
  copy_histogram(to.first_byte, from.first_byte);
  for (std::size_t k = 0; k < table::kLatencyMinutes; ++k) {
    table::LatencyMinute& a = to.minutes[k];
    const table::LatencyMinute& b = from.minutes[k];
    a.minute.store(b.minute.load(kRelaxed), kRelaxed);
    a.untimed.store(b.untimed.load(kRelaxed), kRelaxed);
    a.errors.store(b.errors.load(kRelaxed), kRelaxed);
    for (std::size_t i = 0; i < table::kLatencyBuckets; ++i) a.total[i].store(b.total[i].load(kRelaxed), kRelaxed);
  }
}

}  // namespace idmb::latency
