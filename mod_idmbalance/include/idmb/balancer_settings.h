// Balancer-wide settings that the manager can change at run time (method, sticky force), in
// shared memory next to the worker table so that every child sees a change at once and a
// graceful restart keeps it. Same rules as the worker table: pointer-free, fixed-size,
// versioned (a header with magic, version and slot size, checked on attach), found again by
// name, a config edit wins over an older runtime edit.
// In memory: SettingsHeader, then `capacity` BalancerSlots.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "idmb/config.h"
#include "idmb/expected.h"
#include "idmb/worker_table_layout.h"

namespace idmb::table {

inline constexpr std::uint32_t kSettingsMagic = 0x53424449;  // "IDBS" little-endian
// Bump on any change to SettingsHeader or BalancerSlot: a generation with another layout is
// then not attached (its runtime edits are not carried over) rather than misread.
inline constexpr std::uint32_t kSettingsVersion = 1;

struct alignas(64) SettingsHeader {
  std::uint32_t magic;
  std::uint32_t version;
  std::uint32_t capacity;   // balancer slots that follow
  std::uint32_t slot_size;  // sizeof(BalancerSlot) when written: a layout check
};

struct alignas(64) BalancerSlot {
  char name[kNameSize];
  std::uint32_t configured_method;
  std::uint32_t configured_sticky_force;
  std::atomic<std::uint32_t> method;        // config::Method
  std::atomic<std::uint32_t> sticky_force;  // 0 or 1
};

class BalancerSettings {
 public:
  static std::size_t bytes_needed(std::size_t capacity);
  // Formats `memory` (at least bytes_needed(capacity), 64-byte aligned) as `capacity` unused
  // slots.
  static Expected<BalancerSettings> create(std::span<std::byte> memory, std::size_t capacity);
  // The settings another generation created in `memory` (unused slots have an empty name);
  // checks magic, version, slot size and bounds.
  static Expected<BalancerSettings> attach(std::span<std::byte> memory);

  Expected<BalancerSlot*> add(const config::BalancerConfig& balancer);
  BalancerSlot* find(std::string_view name) const;
  // Keeps runtime edits of balancers that still exist, unless the config changed that setting.
  void carry_over_from(const BalancerSettings& previous);

 private:
  BalancerSettings(BalancerSlot* slots, std::size_t capacity) : slots_(slots), capacity_(capacity) {}
  BalancerSlot* slots_;
  std::size_t capacity_;
  std::size_t used_ = 0;
};

// The runtime method; an out-of-range value (never written by us) reads as requests.
config::Method method_of(const BalancerSlot& slot);

}  // namespace idmb::table
