#include "idmb/balancer_settings.h"

#include <cstring>
#include <new>

namespace idmb::table {
namespace {

constexpr auto kRelaxed = std::memory_order_relaxed;

std::string_view name_of(const BalancerSlot& slot) {
  return {slot.name, ::strnlen(slot.name, kNameSize)};
}

}  // namespace

Expected<BalancerSettings> BalancerSettings::create(std::span<std::byte> memory, std::size_t capacity) {
  if (memory.size() < bytes_needed(capacity)) {
    return fail("balancer settings: memory too small");
  }
  if (reinterpret_cast<std::uintptr_t>(memory.data()) % alignof(BalancerSlot) != 0) {
    return fail("balancer settings: memory is not 64-byte aligned");
  }
  std::memset(memory.data(), 0, bytes_needed(capacity));
  auto* slots = reinterpret_cast<BalancerSlot*>(memory.data());
  for (std::size_t i = 0; i < capacity; ++i) {
    new (&slots[i]) BalancerSlot{};
  }
  return BalancerSettings(slots, capacity);
}

Expected<BalancerSettings> BalancerSettings::attach(std::span<std::byte> memory) {
  if (reinterpret_cast<std::uintptr_t>(memory.data()) % alignof(BalancerSlot) != 0) {
    return fail("balancer settings: memory is not 64-byte aligned");
  }
  BalancerSettings settings(reinterpret_cast<BalancerSlot*>(memory.data()), memory.size() / sizeof(BalancerSlot));
  while (settings.used_ < settings.capacity_ && settings.slots_[settings.used_].name[0] != '\0') {
    ++settings.used_;
  }
  return settings;
}

Expected<BalancerSlot*> BalancerSettings::add(const config::BalancerConfig& balancer) {
  if (balancer.name.empty() || balancer.name.size() >= kNameSize) {
    return fail("balancer settings: invalid balancer name '" + balancer.name + "'");
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
  return m <= static_cast<std::uint32_t>(config::Method::P2C) ? static_cast<config::Method>(m) : config::Method::Requests;
}

}  // namespace idmb::table
