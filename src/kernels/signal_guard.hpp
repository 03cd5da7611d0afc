// Asynchronous signals are held while oneDNN runs.
//
// Why: oneDNN's JIT sgemm kernels move the stack pointer into a buffer they
// allocated on the heap. A signal handler that runs then (a Ctrl-C handler that
// sets a flag, a profiler's timer, a user's SIGUSR1) has its frame — several KiB
// with the AVX-512 register state — pushed below that pointer, over the malloc
// chunk before the buffer: glibc later aborts with "corrupted size vs. prev_size".
// A barrage of SIGUSR1 during the two-layer net's products reproduces it every run
// (tests/kernels/signals_test.cpp).
//
// So while oneDNN runs, every signal that can arrive asynchronously is blocked on
// the calling thread (it stays pending and is handled right after the call), and
// OpenMP's worker threads, which run oneDNN's parallel sections, block them for
// good: a signal sent to the process is then taken by a thread outside dimgrad's
// kernels. Faults raised by the code itself (SIGSEGV, SIGBUS, SIGFPE, SIGILL,
// SIGTRAP, SIGSYS, SIGABRT) are never blocked. Cost: two rt_sigprocmask calls per
// oneDNN call, well under a microsecond, against products of ≥ 65,536 multiply-adds.
#pragma once

#include <signal.h>

namespace dg::kernels {

class AsyncSignalsHeld {
 public:
  AsyncSignalsHeld();
  ~AsyncSignalsHeld();
  AsyncSignalsHeld(const AsyncSignalsHeld&) = delete;
  AsyncSignalsHeld& operator=(const AsyncSignalsHeld&) = delete;

 private:
  sigset_t saved_;
  bool restore_ = false;
};

}  // namespace dg::kernels
