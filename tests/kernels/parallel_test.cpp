// kernels::parallel_for_if: every index runs exactly once, on all threads when
// asked and otherwise on the calling thread without starting an OpenMP team at
// all (the reason it exists: a `parallel if (false)` still starts and ends a
// one-thread team, a system call each time).
#include <gtest/gtest.h>

#include <omp.h>

#include <atomic>
#include <vector>

#include "dimgrad/tensor.hpp"
#include "kernels/kernels.hpp"

namespace dg::kernels {
namespace {

struct ThreadsScope {
  int saved = get_num_threads();
  ~ThreadsScope() { set_num_threads(saved); }
};

TEST(Parallel, ForIfRunsEveryIndexOnceOnAllThreads) {
  ThreadsScope scope;
  for (int threads : {1, 2, 3}) {
    set_num_threads(threads);
    for (int64_t n : {0, 1, 5, 1000}) {
      std::vector<std::atomic<int>> runs(static_cast<size_t>(n));
      std::vector<int> by(static_cast<size_t>(n), -1);
      std::atomic<int> inside{0};
      parallel_for_if(true, n, [&](int64_t i, int thread) {
        runs[static_cast<size_t>(i)]++;
        by[static_cast<size_t>(i)] = thread;
        if (omp_in_parallel() || threads == 1) inside++;
        EXPECT_EQ(thread, omp_get_thread_num());
      });
      for (int64_t i = 0; i < n; ++i) {
        EXPECT_EQ(runs[static_cast<size_t>(i)].load(), 1) << "index " << i << " on " << threads << " threads";
        EXPECT_GE(by[static_cast<size_t>(i)], 0);
        EXPECT_LT(by[static_cast<size_t>(i)], threads);
      }
      EXPECT_EQ(inside.load(), n) << "with par, the loop runs inside an OpenMP region";
      // OpenMP's static schedule: contiguous chunks in thread order.
      for (int64_t i = 1; i < n; ++i) EXPECT_LE(by[static_cast<size_t>(i - 1)], by[static_cast<size_t>(i)]);
      if (threads > 1 && n >= threads) {
        EXPECT_EQ(by[static_cast<size_t>(n - 1)], threads - 1);
      }
    }
  }
}

TEST(Parallel, ForIfFalseRunsInOrderOnTheCallerWithoutATeam) {
  ThreadsScope scope;
  set_num_threads(2);
  std::vector<int64_t> order;
  parallel_for_if(false, 6, [&](int64_t i) {
    // No OpenMP team was started: not in a parallel region, nesting level 0
    // (`#pragma omp parallel if (false)` would make the level 1).
    EXPECT_FALSE(omp_in_parallel());
    EXPECT_EQ(omp_get_level(), 0);
    order.push_back(i);
  });
  EXPECT_EQ(order, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
  int seen_thread = -1;
  parallel_for_if(false, 1, [&](int64_t, int thread) { seen_thread = thread; });
  EXPECT_EQ(seen_thread, 0);
}

// One pool: the OpenBLAS dimgrad loads is the build on OpenMP. The default
// pthread build would start threads of its own when the library loads, beside
// OpenMP's, and they allocate (a 128 MiB buffer) whenever they first get to run
// — under another test's address-space cap, once (tests/reliability).
TEST(Parallel, OpenBlasRunsOnTheOpenMpThreads) { EXPECT_TRUE(blas_runs_on_openmp()); }

}  // namespace
}  // namespace dg::kernels
