// The balancer settings segment over caller-provided memory. Like the worker table: the parent
// formats and fills it before any child exists; children touch only the atomics after that.
#include "idmb/balancer_settings.h"

#include <cstring>
#include <limits>
#include <new>
#include <string>

#include "../util/text.h"

namespace idmb::table {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;
constexpr std::size_t kAlignment = 64;

static_assert(sizeof(SettingsHeader) % kAlignment == 0);
static_assert(sizeof(BalancerSlot) % kAlignment == 0);

std::string_view name_of(const BalancerSlot& slot) { return {slot.name, ::strnlen(slot.name, kNameSize)}; }

bool is_aligned(const void* p) { return reinterpret_cast<std::uintptr_t>(p) % kAlignment == 0; }

}  // namespace

std::size_t BalancerSettings::bytes_needed(std::size_t capacity) {
  constexpr std::size_t kMax = std::numeric_limits<std::size_t>::max();
  if (capacity > (kMax - sizeof(SettingsHeader)) / sizeof(BalancerSlot)) return kMax;  // never fits
  return sizeof(SettingsHeader) + capacity * sizeof(BalancerSlot);
}

Expected<BalancerSettings> BalancerSettings::create(std::span<std::byte> memory, std::size_t capacity) {
  if (capacity > std::numeric_limits<std::uint32_t>::max()) {
    return fail("balancer settings: capacity " + std::to_string(capacity) + " is too large");
  }
  const std::size_t needed = bytes_needed(capacity);
  if (memory.size() < needed) {
    return fail("balancer settings: " + std::to_string(memory.size()) + " bytes of memory, " +
                std::to_string(capacity) + " balancers need " + std::to_string(needed));
  }
  if (!is_aligned(memory.data())) return fail("balancer settings: memory is not 64-byte aligned");
  std::memset(memory.data(), 0, needed);
  auto* header = new (memory.data()) SettingsHeader{};
  std::byte* slot_bytes = memory.data() + sizeof(SettingsHeader);
  for (std::size_t i = 0; i < capacity; ++i) new (slot_bytes + i * sizeof(BalancerSlot)) BalancerSlot{};
  header->version = kSettingsVersion;
  header->capacity = static_cast<std::uint32_t>(capacity);
  header->slot_size = static_cast<std::uint32_t>(sizeof(BalancerSlot));
  header->magic = kSettingsMagic;
  return BalancerSettings(std::launder(reinterpret_cast<BalancerSlot*>(slot_bytes)), capacity);
}

Expected<BalancerSettings> BalancerSettings::attach(std::span<std::byte> memory) {
  if (memory.size() < sizeof(SettingsHeader)) {
    return fail("balancer settings: " + std::to_string(memory.size()) + " bytes is smaller than its header (" +
                std::to_string(sizeof(SettingsHeader)) + ")");
  }
  if (!is_aligned(memory.data())) return fail("balancer settings: memory is not 64-byte aligned");
  // The parent formatted these bytes before this process existed (fork) or mapped them.
  const auto* header = std::launder(reinterpret_cast<const SettingsHeader*>(memory.data()));
  if (header->magic != kSettingsMagic) return fail("balancer settings: bad magic: not a balancer settings segment");
  if (header->version != kSettingsVersion) {
    return fail("balancer settings: layout version " + std::to_string(header->version) + ", this module uses " +
                std::to_string(kSettingsVersion));
  }
  if (header->slot_size != sizeof(BalancerSlot)) {
    return fail("balancer settings: slot size " + std::to_string(header->slot_size) + ", this module uses " +
                std::to_string(sizeof(BalancerSlot)));
  }
  if (memory.size() < bytes_needed(header->capacity)) {
    return fail("balancer settings: capacity " + std::to_string(header->capacity) + " needs " +
                std::to_string(bytes_needed(header->capacity)) + " bytes, the memory has " +
                std::to_string(memory.size()));
  }
  auto* slots = std::launder(reinterpret_cast<BalancerSlot*>(memory.data() + sizeof(SettingsHeader)));
  BalancerSettings settings(slots, header->capacity);
  while (settings.used_ < settings.capacity_ && settings.slots_[settings.used_].name[0] != '\0') {
    ++settings.used_;
  }
  return settings;
}

Expected<BalancerSlot*> BalancerSettings::add(const config::BalancerConfig& balancer) {
  if (balancer.name.empty() || balancer.name.size() >= kNameSize) {
    return fail("balancer settings: invalid balancer name " + text::quoted(balancer.name));
  }
  if (find(balancer.name) != nullptr) {
    return fail("balancer settings: balancer '" + balancer.name + "' added twice");
  }
  if (used_ == capacity_) {
    return fail("balancer settings: table full");
  }
  BalancerSlot& slot = slots_[used_++];
  std::memcpy(slot.name, balancer.name.data(), balancer.name.size());
  slot.configured_method = static_cast<std::uint32_t>(balancer.method);
  slot.configured_sticky_force = balancer.sticky.force ? 1 : 0;
  slot.method.store(slot.configured_method, kRelaxed);
  slot.sticky_force.store(slot.configured_sticky_force, kRelaxed);
  return &slot;
}

BalancerSlot* BalancerSettings::find(std::string_view name) const {
  for (std::size_t i = 0; i < used_; ++i) {
    if (name_of(slots_[i]) == name) {
      return &slots_[i];
    }
  }
  return nullptr;
}

void BalancerSettings::carry_over_from(const BalancerSettings& previous) {
  for (std::size_t i = 0; i < used_; ++i) {
    BalancerSlot& slot = slots_[i];
    const BalancerSlot* old = previous.find(name_of(slot));
    if (old == nullptr) {
      continue;
    }
    if (old->configured_method == slot.configured_method) {
      slot.method.store(old->method.load(kRelaxed), kRelaxed);
    }
    if (old->configured_sticky_force == slot.configured_sticky_force) {
      slot.sticky_force.store(old->sticky_force.load(kRelaxed), kRelaxed);
    }
  }
}

config::Method method_of(const BalancerSlot& slot) {
  std::uint32_t m = slot.method.load(kRelaxed);
  return m <= static_cast<std::uint32_t>(config::Method::P2C) ? static_cast<config::Method>(m)
                                                              : config::Method::Requests;
}

}  // namespace idmb::table
