// The status snapshot: one plain-data copy of the live worker table plus the configuration it
// belongs to. The HTML, JSON and Prometheus renderers (status_render.h) all work from it, so
// the three views always agree and can be golden-tested from a hand-built snapshot.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "idmb/config.h"
#include "idmb/latency.h"
#include "idmb/worker_table_layout.h"

namespace idmb::status {

// "connect", "cping", "backend_closed", "protocol", "timeout", "fail_status", "client",
// "response"; "unknown" for a value outside the enum. These are the JSON keys and Prometheus labels.
std::string_view error_class_name(table::ErrorClass c);

// A member's response times and rolling rates (latency.h), as of the snapshot's time. Times
// are of attempts that reached the member: reserving it -> the end of its answer ("total"),
// or -> its response headers ("first byte"). Quantiles are nullopt without samples.
struct LatencyStatus {
  latency::Histogram total;                      // since start
  latency::Histogram first_byte;                 // since start
  std::optional<double> p50_ms, p90_ms, p99_ms;  // since start, total
  // The last minute (a sliding 60 s; latency::window), total.
  latency::Buckets minute_buckets{};
  double minute_requests = 0;
  std::optional<double> minute_p50_ms, minute_p90_ms, minute_p99_ms;
  std::optional<double> first_byte_p50_ms, first_byte_p90_ms, first_byte_p99_ms;  // since start
  static constexpr std::array<int, 3> kRateMinutes = {1, 5, 15};
  std::array<double, 3> requests_per_s{};  // over kRateMinutes
  std::array<double, 3> errors_per_s{};
  // Per minute, oldest first (the sparklines): 14 whole minutes, then the current one so far.
  std::array<std::uint64_t, latency::kWindowMinutes> history_requests{};
  std::array<std::uint64_t, latency::kWindowMinutes> history_errors{};
  std::array<std::optional<double>, latency::kWindowMinutes> history_p99_ms{};
};

// Fills a LatencyStatus from the shared record at `now_ms`.
LatencyStatus latency_status(const table::MemberLatency& l, std::int64_t now_ms);

struct MemberStatus {
  std::string name;
  std::string route;
  std::string address;  // "host:port" (an IPv6 host keeps its brackets)
  std::string domain;
  std::string redirect;
  std::string activation;           // active | disabled | stopped | standby (runtime, from the table)
  std::string state;                // ok | error | recovering | ejected
  std::int64_t state_since_ms = 0;  // 0: unknown
  std::uint32_t factor = 1;         // runtime, from the table
  std::int64_t busy = 0;            // requests in flight
  std::uint64_t requests = 0;
  std::array<std::uint64_t, table::kErrorClassCount> errors{};  // indexed by ErrorClass
  std::uint64_t errors_total = 0;  // every class except Client: client faults are not the member's
  std::uint64_t bytes_in = 0;      // response bytes received from the member
  std::uint64_t bytes_out = 0;     // request body bytes sent to it
  std::uint64_t sticky_hits = 0;
  std::int64_t last_error_ms = 0;      // 0: never
  std::int64_t secret_refused_ms = 0;  // since when its answers look like a refused AJP secret; 0: not
  std::string last_error;              // error_class_name of the last error, "" if none
  std::int64_t last_sticky_ms = 0;     // last answer to a live session there; 0: never
  std::int64_t last_probe_ms = 0;      // 0: not probed yet
  bool last_probe_ok = false;          // the result of that probe
  // Disabled, nothing in flight, and no live session used it for the quiet time: safe to take
  // down.
  bool drained = false;

  // Outlier ejection: when the latest one ends (0: never ejected) and how many there were.
  std::int64_t ejected_until_ms = 0;
  std::uint64_t outlier_ejections = 0;
  LatencyStatus latency;
};

struct StickyStatus {
  bool enabled = true;
  std::string cookie;
  std::string path_param;
  bool force = false;
};

struct BalancerStatus {
  std::string name;
  std::string method;  // requests | traffic | busyness | p2c
  StickyStatus sticky;
  std::vector<std::string> mounts;  // patterns mounted on this balancer
  std::vector<MemberStatus> members;
};

// A member's state change ("ok -> error after 2h 5m: connect failed"), newest first. The
// caller fills these from the worker table's shared event ring (WorkerTable::recent_events),
// naming balancer and member from the event's slot.
struct Event {
  std::int64_t time_ms = 0;
  std::string balancer;
  std::string member;
  std::string text;
};

struct Snapshot {
  std::int64_t generated_ms = 0;
  std::string version;           // module version string
  std::uint64_t generation = 0;  // worker table generation (bumped by each rebuilding restart)
  std::string nonce;             // manager only; empty on the read-only page
  std::vector<BalancerStatus> balancers;
  std::vector<Event> events;
};

// What take_snapshot reads for one balancer.
struct BalancerSource {
  const config::BalancerConfig* config = nullptr;
  // Parallel to config->members; a missing or null entry yields the configured values and
  // zero counters.
  std::vector<const table::MemberSlot*> slots;
  std::vector<std::string> mounts;
  // Runtime balancer settings changed by the manager, when the caller keeps them; the
  // configured values otherwise.
  std::optional<config::Method> method;
  std::optional<bool> sticky_force;
};

struct SnapshotInfo {
  std::string version;
  std::uint64_t generation = 0;
  std::string nonce;
};

// Copies every member's atomics (each read once, relaxed: a snapshot of counters that move
// independently is never exactly simultaneous, and nothing here needs it to be). Activation
// and factor come from the table, since the manager may have changed them.
Snapshot take_snapshot(const std::vector<BalancerSource>& sources, std::int64_t now_ms, std::uint64_t drain_quiet_ms,
                       const SnapshotInfo& info = {});

// The drain rule on its own: disabled, busy <= 0 and no live session's request answered for
// `drain_quiet_ms` (Balancer::note_live_session).
bool is_drained(std::string_view activation, std::int64_t busy, std::int64_t last_sticky_ms, std::int64_t now_ms,
                std::uint64_t drain_quiet_ms);

}  // namespace idmb::status
