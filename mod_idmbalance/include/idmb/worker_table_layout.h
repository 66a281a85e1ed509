// The shared worker table's memory layout: pointer-free, fixed-size, versioned. Every httpd
// child maps the same bytes; counters and state are lock-free atomics, so the request path
// takes no cross-process lock. Records are found again by identity (balancer + member name)
// after a graceful restart. Functions that operate on it live in worker_table.h.
// In memory: TableHeader, `capacity` MemberSlots, kEventRingSize EventEntries, then
// `process_capacity` process records (ProcessRecord followed by its row of holds).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace idmb::table {

inline constexpr std::uint32_t kMagic = 0x424d4449;  // "IDMB" little-endian
inline constexpr std::uint32_t kLayoutVersion = 7;
inline constexpr std::size_t kNameSize = 64;            // names and routes are < 64 bytes (config enforces)
inline constexpr std::size_t kEventRingSize = 64;       // state-change events kept for the status page
inline constexpr std::size_t kEventTextSize = 112;      // bytes of text per event (longer text is cut)
inline constexpr std::uint32_t kNoMember = 0xffffffff;  // an event about the server, not one member

// Why a request failed, counted per member. Client faults and refused responses are counted
// too, but never make a member unhealthy.
enum class ErrorClass : std::uint32_t {
  Connect = 0,    // refused or timed out
  Cping,          // no CPONG in time
  BackendClosed,  // closed or reset mid-exchange
  Protocol,       // invalid AJP
  Timeout,        // reply timeout
  FailStatus,     // a configured fail-on status code
  Client,         // client framing error or abort (informational)
  Response,       // a response we refused (what the application sent for one request)
  kCount
};
inline constexpr std::size_t kErrorClassCount = static_cast<std::size_t>(ErrorClass::kCount);

// Health as seen by the balancer (the activation is the operator's choice, kept apart).
enum class Health : std::uint32_t {
  Ok = 0,
  Error,       // taken out after backend faults; comes back by probing
  Recovering,  // probed good again; ramping up (slow start)
  Ejected,     // an outlier among its peers (outlier_detection.h): out until ejected_until_ms,
               // then back by probing like Error
};

// Response times and rolling counts of one member (read and written through latency.h only).
// Buckets: kLatencyBoundsUs (latency.h) gives the upper bound of each but the last, which
// counts what took longer than 60 s.
inline constexpr std::size_t kLatencyBuckets = 29;
inline constexpr std::size_t kLatencyMinutes = 16;  // 15 whole minutes and the current one

struct LatencyHistogram {
  std::atomic<std::uint64_t> buckets[kLatencyBuckets];
  std::atomic<std::uint64_t> sum_us;       // of every sample counted in buckets
  std::atomic<std::uint64_t> reserved[2];  // unused: whole cache lines, no padding
};

// One minute of the rolling window, slot (minute % kLatencyMinutes) of the ring. Its attempts
// are the sum of `total` and `untimed` (one counter fewer to bump on the request path).
struct LatencyMinute {
  std::atomic<std::int32_t> minute;                   // wall ms / 60000 of the counts below; 0: never used
  std::atomic<std::uint32_t> untimed;                 // attempts that ended then without reaching the member
  std::atomic<std::uint32_t> errors;                  // failures counted in errors_total (all but Client)
  std::atomic<std::uint32_t> total[kLatencyBuckets];  // timed attempts: start -> end
};

struct alignas(64) MemberLatency {
  LatencyHistogram total;       // since start (carried over graceful restarts, zeroed by reset)
  LatencyHistogram first_byte;  // the same for the time to the response headers
  LatencyMinute minutes[kLatencyMinutes];
};
// No padding anywhere (the carry-over test compares every byte), and whole cache lines.
static_assert(sizeof(LatencyMinute) == 4 * (3 + kLatencyBuckets));
static_assert(sizeof(MemberLatency) % 64 == 0 &&
              sizeof(MemberLatency) == 2 * sizeof(LatencyHistogram) + kLatencyMinutes * sizeof(LatencyMinute));

// A new field must be carried over a graceful restart by WorkerTable::carry_over_from, or be
// listed there as not carried, with why (a unit test checks every byte).
struct alignas(64) MemberSlot {
  // Identity: written by the parent before any child exists, then read-only.
  char balancer[kNameSize];
  char member[kNameSize];
  char route[kNameSize];
  std::uint64_t identity;               // hash of balancer and member name; 0 = unused slot
  std::uint32_t configured_activation;  // what the config said, to tell a config edit from a
  std::uint32_t configured_factor;      // manager edit at the next graceful restart

  // Operator state (config, then manager edits; survives graceful restart).
  std::atomic<std::uint32_t> activation;  // config::Activation
  std::atomic<std::uint32_t> factor;      // 1..config::kMaxFactor

  // Health.
  std::atomic<std::uint32_t> health;  // Health
  std::atomic<std::int64_t> state_since_ms;
  std::atomic<std::int64_t> last_error_ms;
  std::atomic<std::uint32_t> last_error_class;  // ErrorClass
  // Health accounting (health.h), shared by the request path of every child and the prober.
  std::atomic<std::uint32_t> consecutive_failures;  // backend faults on requests since the last success
  std::atomic<std::uint32_t> probe_passes;          // consecutive good probes
  std::atomic<std::uint32_t> probe_fails;           // consecutive failed probes
  std::atomic<std::uint32_t> last_probe_ok;         // 1: the last probe passed
  std::atomic<std::int64_t> last_probe_ms;          // 0: never probed, or a probe is due at once
  std::atomic<std::uint64_t> ejections;             // times taken out of rotation (-> Error or Ejected)
  std::atomic<std::int64_t> secret_refused_ms;      // since when its answers look like a refused
                                                    // AJP secret (health.h); 0: they do not
  // Outlier ejection (outlier_detection.h), written by the prober lease holder only.
  std::atomic<std::int64_t> ejected_until_ms;    // no probe readmits it before this; 0: never ejected
  std::atomic<std::int64_t> ejection_decay_ms;   // the level drops by one per ejection time from here
  std::atomic<std::uint64_t> outlier_ejections;  // times ejected as an outlier (also in `ejections`)
  std::atomic<std::uint32_t> ejection_level;     // outlier ejections in a row: the time multiplier

  // Load and counters.
  std::atomic<std::int32_t> busy;       // requests in flight
  std::atomic<std::uint64_t> lb_value;  // the policy's accumulated cost
  std::atomic<std::uint64_t> requests;  // requests assigned
  std::atomic<std::uint64_t> errors[kErrorClassCount];
  std::atomic<std::uint64_t> bytes_out;      // request body bytes sent to the member
  std::atomic<std::uint64_t> bytes_in;       // response body bytes received from it
  std::atomic<std::uint64_t> sticky_hits;    // requests routed by their session route
  std::atomic<std::int64_t> last_sticky_ms;  // last answer to a live session (the drain clock)

  MemberLatency latency;  // response times and rolling counts (latency.h)
};

struct alignas(64) TableHeader {
  std::uint32_t magic;
  std::uint32_t version;
  std::uint32_t capacity;                 // member slots that follow
  std::uint32_t slot_size;                // sizeof(MemberSlot) when written: a layout check
  std::atomic<std::uint32_t> count;       // slots in use
  std::uint32_t event_capacity;           // entries in the event ring after the slots: a layout check
  std::atomic<std::uint64_t> generation;  // bumped by every (re)start that rebuilt the table
  // Which child runs the health probes: holder pid << 32 | end of the lease in whole seconds
  // (of the caller's now_ms clock); 0 = free. One word, so taking and renewing are one CAS:
  // with pid and expiry in two atomics a late renewal and a takeover could both succeed.
  std::atomic<std::uint64_t> prober_lease;
  std::atomic<std::uint64_t> event_writes;    // events ever added: the next event's number
  std::uint32_t process_capacity;             // process records after the event ring: a layout check
  std::atomic<std::uint32_t> process_claims;  // records ever claimed: the next claim number
};

// One httpd child process's share of the members' `busy` counts: what its requests hold in
// flight, one std::atomic<std::int32_t> per member slot in a row right after the record (padded
// to whole cache lines, so processes do not share lines). A child that dies (kill -9, a crash,
// the OOM killer) never decrements what it held; whoever learns of its death (the parent's
// child_status hook, or the prober's sweep) subtracts its row from `busy` and frees the record.
struct alignas(64) ProcessRecord {
  // pid << 32 | claim number << 2 | state (1 live, 2 being reaped); 0 = free. The claim number
  // tells a record reused by a new process with the same pid from the one a reaper looked at.
  std::atomic<std::uint64_t> owner;
};

// Bytes of one process record with its row of holds for `capacity` member slots.
constexpr std::size_t process_stride(std::size_t capacity) {
  return sizeof(ProcessRecord) + (capacity * sizeof(std::int32_t) + 63) / 64 * 64;
}

// One state-change event. Every field is an atomic, so a reader racing a writer reads no torn
// value (only a mix of two events, which the sequence number and the check word reveal).
struct EventEntry {
  std::atomic<std::uint64_t> seq;  // 0 never written; 2n+1 while event n is written; 2n+2 published
  std::atomic<std::int64_t> time_ms;
  std::atomic<std::uint32_t> member;  // slot index, or kNoMember
  std::uint32_t reserved;
  std::atomic<std::uint64_t> check;                     // hash of number, time, member and text
  std::atomic<std::uint64_t> text[kEventTextSize / 8];  // NUL-padded bytes
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared counters need address-free atomics");
static_assert(std::atomic<std::int64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

}  // namespace idmb::table
