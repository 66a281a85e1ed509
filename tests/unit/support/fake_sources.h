// Deterministic time and randomness for the balancer and health tests.
#pragma once

#include <cstdint>
#include <random>

#include "idmb/balancer.h"

namespace idmb::test {

class SeededRandom : public balance::Random {
 public:
  explicit SeededRandom(std::uint64_t seed) : engine_(seed) {}
  std::uint64_t next() override { return engine_(); }

 private:
  std::mt19937_64 engine_;
};

// A clock that moves only when a test sets `now`, and counts how often it is read.
class ManualClock : public balance::Clock {
 public:
  explicit ManualClock(std::int64_t start) : now(start) {}
  std::int64_t now_ms() override {
    ++reads;
    return now;
  }
  std::int64_t now;
  int reads = 0;
};

}  // namespace idmb::test
