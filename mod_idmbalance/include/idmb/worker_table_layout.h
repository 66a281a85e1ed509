// The shared worker table's memory layout: pointer-free, fixed-size, versioned. Every httpd
// child maps the same bytes; counters and state are lock-free atomics, so the request path
// takes no cross-process lock. Records are found again by identity (balancer + member name)
// after a graceful restart. Functions that operate on it live in worker_table.h.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace idmb::table {

inline constexpr std::uint32_t kMagic = 0x424d4449;  // "IDMB" little-endian
inline constexpr std::uint32_t kLayoutVersion = 2;
inline constexpr std::size_t kNameSize = 64;         // names and routes are < 64 bytes (config enforces)

// Why a request failed, counted per member. Client faults are counted too, but never make a
// member unhealthy.
enum class ErrorClass : std::uint32_t {
  Connect = 0,     // refused or timed out
  Cping,           // no CPONG in time
  BackendClosed,   // closed or reset mid-exchange
  Protocol,        // invalid AJP
  Timeout,         // reply timeout
  FailStatus,      // a configured fail-on status code
  Client,          // client framing error or abort (informational)
  kCount
};
inline constexpr std::size_t kErrorClassCount = static_cast<std::size_t>(ErrorClass::kCount);

// Health as seen by the balancer (the activation is the operator's choice, kept apart).
enum class Health : std::uint32_t {
  Ok = 0,
  Error,       // taken out after backend faults; comes back by probing
  Recovering,  // probed good again; ramping up (slow start)
};

struct alignas(64) MemberSlot {
  // Identity: written by the parent before any child exists, then read-only.
  char balancer[kNameSize];
  char member[kNameSize];
  char route[kNameSize];
  std::uint64_t identity;  // hash of balancer and member name; 0 = unused slot
  std::uint32_t configured_activation;  // what the config said, to tell a config edit from a
  std::uint32_t configured_factor;      // manager edit at the next graceful restart

  // Operator state (config, then manager edits; survives graceful restart).
  std::atomic<std::uint32_t> activation;  // config::Activation
  std::atomic<std::uint32_t> factor;      // 1..100

  // Health.
  std::atomic<std::uint32_t> health;      // Health
  std::atomic<std::int64_t> state_since_ms;
  std::atomic<std::int64_t> last_error_ms;
  std::atomic<std::uint32_t> last_error_class;  // ErrorClass

  // Load and counters.
  std::atomic<std::int32_t> busy;          // requests in flight
  std::atomic<std::uint64_t> lb_value;     // the policy's accumulated cost
  std::atomic<std::uint64_t> requests;     // requests assigned
  std::atomic<std::uint64_t> errors[kErrorClassCount];
  std::atomic<std::uint64_t> bytes_out;    // request body bytes sent to the member
  std::atomic<std::uint64_t> bytes_in;     // response body bytes received from it
  std::atomic<std::uint64_t> sticky_hits;  // requests routed by their session route
  std::atomic<std::int64_t> last_sticky_ms;
};

struct alignas(64) TableHeader {
  std::uint32_t magic;
  std::uint32_t version;
  std::uint32_t capacity;    // member slots that follow
  std::uint32_t slot_size;   // sizeof(MemberSlot) when written: a layout check
  std::atomic<std::uint32_t> count;  // slots in use
  std::atomic<std::uint64_t> generation;  // bumped by every (re)start that rebuilt the table
};

static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "shared counters need address-free atomics");
static_assert(std::atomic<std::int64_t>::is_always_lock_free);
static_assert(std::atomic<std::uint32_t>::is_always_lock_free);

}  // namespace idmb::table
