// Response times and rolling request/error counts per member, in the shared worker table
// (MemberLatency in worker_table_layout.h). Every child writes and reads them lock-free:
// relaxed fetch_add on counters, no lock, no allocation on the request path.
//
// Interface (stable; outlier ejection and the status page read through it):
//   Writing (the request path; any thread of any child):
//     record_attempt(slot.latency, now_ms, {total_us, first_byte_us, error})  one per attempt
//       (request_path.cc); `error`: it failed in a class errors_total counts (not Client);
//     record_error(slot.latency, now_ms)  an error alone, for a failure outside an attempt.
//   Reading (any child, any moment; values move while read, each counter read once):
//     window(slot.latency, now_ms, minutes) -> Window: requests, errors and the response time
//       buckets (total time only) of the last `minutes` minutes (1..15) ending at now_ms;
//     since_start(slot.latency.total or .first_byte) -> Histogram: the buckets since start;
//     quantile_ms(buckets, q) -> the q-quantile in ms (nullopt without samples);
//     minute_ago(slot.latency, now_ms, ago) -> the counts of one whole minute (1 = the last);
//     per_second(count, minutes) -> a rate.
//   now_ms is wall time in ms (the table's clock everywhere); all pure but for the atomics.
//
// Rolling windows: a ring of kLatencyMinutes one-minute slots, each tagged with its minute.
// A writer that finds its slot tagged with an older minute claims it with a CAS on the tag
// and zeroes the counts. The race: a writer that sees the new tag before the winner's zeroing
// may have its count zeroed too, and a reader may see the new tag with old counts for those
// microseconds. That loses or leaks at most the few counts racing the change, once a minute
// per member; an exact window would need a lock on the request path, which costs more than
// the precision is worth for a health view.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "idmb/worker_table_layout.h"

namespace idmb::latency {

// Upper bounds (inclusive) of the buckets, in microseconds: about 1 ms to 60 s, roughly
// 1-1.5-2-3-5-7 per decade. Bucket kLatencyBuckets-1 counts everything slower.
inline constexpr std::array<std::int64_t, table::kLatencyBuckets - 1> kBoundsUs = {
    1000,    2000,    3000,    5000,     7000,     10000,    15000,    20000,   30000,   50000,
    70000,   100000,  150000,  200000,   300000,   500000,   700000,   1000000, 1500000, 2000000,
    3000000, 5000000, 7000000, 10000000, 15000000, 20000000, 30000000, 60000000};
inline constexpr std::int64_t kMinuteMs = 60000;
inline constexpr int kWindowMinutes = static_cast<int>(table::kLatencyMinutes) - 1;  // 15

// The bucket a time of `us` microseconds falls into (negative counts as 0).
std::size_t bucket_index(std::int64_t us);

// One attempt at a member, timed from its start (the place reserved) by the caller.
struct Attempt {
  std::int64_t total_us = -1;       // to its end; < 0: the request never reached the member
  std::int64_t first_byte_us = -1;  // to the response headers; < 0: none came
  bool error = false;               // failed in a class errors_total counts (all but Client)
};

void record_attempt(table::MemberLatency& l, std::int64_t now_ms, const Attempt& attempt);
void record_error(table::MemberLatency& l, std::int64_t now_ms);

using Buckets = std::array<double, table::kLatencyBuckets>;

// Counts over a window; a minute only partly inside it counts with that share.
struct Window {
  double requests = 0;
  double errors = 0;
  Buckets total{};  // response times (attempt start -> end) of the timed attempts
};
Window window(const table::MemberLatency& l, std::int64_t now_ms, int minutes);

// One whole minute; all zero when nothing was recorded in it (or it left the ring).
struct Minute {
  std::uint64_t requests = 0;
  std::uint64_t errors = 0;
  Buckets total{};
};
Minute minute_ago(const table::MemberLatency& l, std::int64_t now_ms, int ago);

struct Histogram {
  std::array<std::uint64_t, table::kLatencyBuckets> buckets{};
  std::uint64_t count = 0;  // the sum of buckets (read together, so they always agree)
  std::uint64_t sum_us = 0;
};
Histogram since_start(const table::LatencyHistogram& h);
Buckets as_buckets(const Histogram& h);

// The q-quantile (0 < q <= 1) in ms, interpolated linearly inside its bucket (as Prometheus'
// histogram_quantile does); a quantile in the last bucket reads as its lower bound, 60000.
std::optional<double> quantile_ms(std::span<const double> buckets, double q);

double per_second(double count, int minutes);

// Zeroes everything (the manager's reset).
void reset(table::MemberLatency& l);
// Copies everything (a graceful restart's carry-over).
void copy(table::MemberLatency& to, const table::MemberLatency& from);

}  // namespace idmb::latency
