// Cost of one balancing decision with its accounting (choose + start + finish) on the shared
// slots, per method, for 2 and 8 members, from one thread and from two threads hammering the
// same slots (which is what several httpd children do to the shared table).
//
//   idmb_bench_balancer [iterations per thread, default 5000000] [runs, default 3]
//
// Each cell is the best of the runs (other load on the machine only ever adds time).
#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "idmb/balancer.h"
#include "idmb/latency.h"

namespace {

using idmb::balance::Balancer;
using idmb::config::Method;
using idmb::table::MemberSlot;

// One Balancer is shared by the threads of a process, so its Random must be thread-safe: a
// per-thread splitmix64 state does that without a lock.
class BenchRandom : public idmb::balance::Random {
 public:
  std::uint64_t next() override {
    thread_local std::uint64_t state = 0x9e3779b97f4a7c15ull ^ reinterpret_cast<std::uintptr_t>(&state);
    std::uint64_t z = (state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
  }
};

// What the shim would use: wall time in ms (only read for sticky requests).
class BenchClock : public idmb::balance::Clock {
 public:
  std::int64_t now_ms() override {
    using namespace std::chrono;
    return duration_cast<milliseconds>(system_clock::now().time_since_epoch()).count();
  }
};

// What the request path adds per attempt for the response times (latency.h).
enum class Timing {
  None,
  Record,      // latency::record_attempt alone (a fixed wall time)
  WithClocks,  // and the three clock reads around it (two steady, one wall), as request_path.cc
};

struct Scenario {
  const char* name;
  Method method;
  bool sticky;  // every request carries the route of member 1
  Timing timing = Timing::None;
};

void record_times(Balancer& balancer, int member, Timing timing, long i, std::int64_t wall_ms, BenchClock& clock) {
  if (timing == Timing::Record) {
    const std::int64_t us = 200 + (i & 0xffff);  // spread over the first buckets
    idmb::latency::record_attempt(balancer.slot(member).latency, wall_ms, {us, us / 2});
  } else if (timing == Timing::WithClocks) {
    using namespace std::chrono;
    const auto start = steady_clock::now();
    const auto end = steady_clock::now();
    const std::int64_t us = duration_cast<microseconds>(end - start).count();
    idmb::latency::record_attempt(balancer.slot(member).latency, clock.now_ms(), {us, us / 2});
  }
}

// The measured loop: ns per choose+start+finish. `sink` keeps the choices from being optimised out.
double time_requests(Balancer& balancer, std::span<const std::string_view> routes, long iterations, Timing timing,
                     std::atomic<std::uint64_t>& sink) {
  std::uint64_t local = 0;
  BenchClock clock;
  const std::int64_t wall_ms = clock.now_ms();
  const auto begin = std::chrono::steady_clock::now();
  for (long i = 0; i < iterations; ++i) {
    const idmb::balance::Choice c = balancer.choose(routes);
    balancer.start(c.member, c.sticky);
    balancer.finish(c.member, 300, 4000);
    record_times(balancer, c.member, timing, i, wall_ms, clock);
    local += static_cast<std::uint64_t>(c.member);
  }
  const auto end = std::chrono::steady_clock::now();
  sink.fetch_add(local);
  return std::chrono::duration<double, std::nano>(end - begin).count() / static_cast<double>(iterations);
}

// Wall-clock ns per iteration per thread.
double measure(const Scenario& sc, int members, int threads, long iterations) {
  idmb::config::BalancerConfig config;
  config.name = "bench";
  config.method = sc.method;
  auto slots = std::make_unique<MemberSlot[]>(static_cast<std::size_t>(members));
  std::vector<MemberSlot*> pointers;
  for (int i = 0; i < members; ++i) {
    idmb::config::MemberConfig m;
    m.name = m.route = "tomcat" + std::to_string(i);
    m.factor = 1 + static_cast<std::uint32_t>(i % 3);
    config.members.push_back(m);
    std::strncpy(slots[i].route, m.route.c_str(), sizeof slots[i].route - 1);
    slots[i].factor = m.factor;
    pointers.push_back(&slots[i]);
  }
  BenchRandom random;
  BenchClock clock;
  Balancer balancer(config, pointers, random, clock);

  const std::string_view route = config.members[1].route;
  std::atomic<int> ready{0};
  std::atomic<bool> go{false};
  std::atomic<std::uint64_t> sink{0};
  std::vector<double> ns(static_cast<std::size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      std::span<const std::string_view> routes;
      if (sc.sticky) routes = {&route, 1};
      ready.fetch_add(1);
      while (!go.load()) {}
      ns[static_cast<std::size_t>(t)] = time_requests(balancer, routes, iterations, sc.timing, sink);
    });
  }
  while (ready.load() != threads) {}
  go.store(true);
  for (std::thread& th : pool) th.join();

  // Sanity: nothing lost, nothing left in flight.
  std::uint64_t requests = 0;
  for (int i = 0; i < members; ++i) {
    requests += slots[i].requests.load();
    if (slots[i].busy.load() != 0) std::fprintf(stderr, "busy not zero on member %d\n", i);
  }
  if (requests != static_cast<std::uint64_t>(iterations) * static_cast<std::uint64_t>(threads)) {
    std::fprintf(stderr, "lost counts: %llu\n", static_cast<unsigned long long>(requests));
  }
  double worst = 0;
  for (double v : ns) worst = v > worst ? v : worst;
  return worst;
}

}  // namespace

int main(int argc, char** argv) {
  const long iterations = argc > 1 ? std::atol(argv[1]) : 5'000'000;
  const int runs = argc > 2 ? std::atoi(argv[2]) : 3;
  const Scenario scenarios[] = {
      {"requests", Method::Requests, false},
      {"traffic", Method::Traffic, false},
      {"busyness", Method::Busyness, false},
      {"p2c", Method::P2C, false},
      {"sticky (requests)", Method::Requests, true},
      {"requests+latency", Method::Requests, false, Timing::Record},
      {"  +clock reads", Method::Requests, false, Timing::WithClocks},
  };
  std::printf(
      "ns per choose+start+finish; %ld iterations per thread, best of %d runs; with 2 threads\n"
      "the slower thread's time; members with factors 1,2,3,1,2,3,...\n",
      iterations, runs);
  std::printf("%-18s %10s %10s %10s %10s\n", "method", "2m/1t", "8m/1t", "2m/2t", "8m/2t");
  for (const Scenario& sc : scenarios) {
    std::printf("%-18s", sc.name);
    for (int threads : {1, 2}) {
      for (int members : {2, 8}) {
        double best = 0;
        for (int r = 0; r < runs; ++r) {
          const double v = measure(sc, members, threads, iterations);
          best = r == 0 || v < best ? v : best;
        }
        std::printf(" %10.1f", best);
        std::fflush(stdout);
      }
    }
    std::printf("\n");
  }
  return 0;
}
