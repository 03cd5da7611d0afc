// How far apart the machine's first two CPUs are, as the time for one cache
// line to go from one to the other and back. Two threads, pinned to the first
// two CPUs this process may use, take turns writing one atomic counter.
//
//   dg_pingpong [round_trips]      prints {"round_trip_ns": 54.2, "cpus": [0, 1]}
//
// Why: on this VM every 2-thread result is bimodal, and the mode follows this
// number. The host places the two vCPUs either close together (a round trip of
// 50-60 ns) or far apart (320-360 ns, where every line one thread wrote and the
// other reads costs 6× more). bench/run_workloads.py records it after each run,
// so results can be told apart by placement (docs/performance.md).
#include <pthread.h>
#include <sched.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

namespace {

bool pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  return pthread_setaffinity_np(pthread_self(), sizeof set, &set) == 0;
}

}  // namespace

int main(int argc, char** argv) {
  const long round_trips = argc > 1 ? std::atol(argv[1]) : 200000;
  if (round_trips < 1) {
    std::fprintf(stderr, "usage: %s [round_trips ≥ 1]\n", argv[0]);
    return 2;
  }
  cpu_set_t allowed;
  CPU_ZERO(&allowed);
  if (sched_getaffinity(0, sizeof allowed, &allowed) != 0) {
    std::perror("sched_getaffinity");
    return 1;
  }
  std::vector<int> cpus;
  for (int c = 0; c < CPU_SETSIZE && cpus.size() < 2; ++c)
    if (CPU_ISSET(c, &allowed)) cpus.push_back(c);
  if (cpus.size() < 2) {
    std::printf("{\"round_trip_ns\": null, \"cpus\": [%d]}\n", cpus.empty() ? -1 : cpus[0]);
    return 0;
  }

  // The line both threads write: odd values are the pings, even values the pongs.
  alignas(64) static std::atomic<long> turn{0};
  std::thread other([&] {
    pin(cpus[1]);
    for (long i = 0; i < round_trips; ++i) {
      while (turn.load(std::memory_order_acquire) != 2 * i + 1) {
      }
      turn.store(2 * i + 2, std::memory_order_release);
    }
  });
  pin(cpus[0]);
  const auto t0 = std::chrono::steady_clock::now();
  for (long i = 0; i < round_trips; ++i) {
    turn.store(2 * i + 1, std::memory_order_release);
    while (turn.load(std::memory_order_acquire) != 2 * i + 2) {
    }
  }
  const auto t1 = std::chrono::steady_clock::now();
  other.join();
  const double ns = std::chrono::duration<double, std::nano>(t1 - t0).count() / static_cast<double>(round_trips);
  std::printf("{\"round_trip_ns\": %.1f, \"cpus\": [%d, %d]}\n", ns, cpus[0], cpus[1]);
  return 0;
}
