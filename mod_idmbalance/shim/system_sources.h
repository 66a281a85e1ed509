// The real clock and random source handed to the core (tests hand it fakes).
#pragma once

#include <chrono>
#include <random>

#include "idmb/balancer.h"

namespace idmb::shim {

// Wall-clock milliseconds: the table's times are shown to operators and shared by processes.
class SystemClock final : public balance::Clock {
 public:
  std::int64_t now_ms() override {
    return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
  }
};

// One generator per thread, so the request path shares no state between threads.
class ThreadRandom final : public balance::Random {
 public:
  std::uint64_t next() override {
    thread_local std::mt19937_64 engine{std::random_device{}()};
    return engine();
  }
};

}  // namespace idmb::shim
