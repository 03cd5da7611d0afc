#include "kernels/signal_guard.hpp"

#include <omp.h>
#include <pthread.h>

#include <atomic>

namespace dg::kernels {

namespace {

const sigset_t& async_signals() {
  static const sigset_t set = [] {
    sigset_t s;
    sigfillset(&s);
    for (int sync : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGTRAP, SIGSYS, SIGABRT}) sigdelset(&s, sync);
    return s;
  }();
  return set;
}

// The largest OpenMP team whose worker threads already block the signals. libgomp
// keeps its workers between parallel regions, so each is masked once; a larger
// team (set_num_threads raised) masks its new workers on the next oneDNN call.
std::atomic<int> g_masked_team{1};

void mask_openmp_workers() {
  if (omp_in_parallel()) return;
  const int team = omp_get_max_threads();
  if (team <= g_masked_team.load(std::memory_order_acquire)) return;
#pragma omp parallel num_threads(team)
  {
    if (omp_get_thread_num() != 0) pthread_sigmask(SIG_BLOCK, &async_signals(), nullptr);
  }
  int seen = g_masked_team.load(std::memory_order_relaxed);
  while (seen < team && !g_masked_team.compare_exchange_weak(seen, team, std::memory_order_release)) {
  }
}

}  // namespace

AsyncSignalsHeld::AsyncSignalsHeld() {
  mask_openmp_workers();
  restore_ = pthread_sigmask(SIG_BLOCK, &async_signals(), &saved_) == 0;
}

AsyncSignalsHeld::~AsyncSignalsHeld() {
  if (restore_) pthread_sigmask(SIG_SETMASK, &saved_, nullptr);
}

}  // namespace dg::kernels
