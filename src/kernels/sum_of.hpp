// Σ f(i) over [0, n) for a per-index value f: the full sum of reductions (sum()
// of everything) and of fused map-reduce kernels (a loss's mean without its
// elementwise tensor, a norm without its squares), one accumulation scheme for
// all of them.
#pragma once

#include <type_traits>
#include <vector>

#include "kernels/kernels.hpp"

namespace dg::kernels {

// Floating values accumulate in double, integers in int64.
template <class T> using sum_acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// Σ f(i) for i in [begin, end), f returning T. Independent partial sums (lanes)
// that the compiler turns into vector accumulators — 2 AVX-512, 4 AVX2 or 8 SSE2
// registers — without reordering any addition, so every ISA gives the same bits;
// the lanes are combined pairwise at the end.
//
// float32: converting every element to double halves the throughput, so each of
// 32 lanes first adds 8 values in float (a block of 256), and only the block sums
// go into the double accumulators: 2× faster (1M elements: 86 → 42 µs on one
// core), with an error still far below float32's own rounding of the result (each
// float partial sum covers 8 values).
template <class T, class F> sum_acc_t<T> lane_sum(int64_t begin, int64_t end, const F& f) {
  using Acc = sum_acc_t<T>;
  constexpr bool kFloatBlocks = std::is_same_v<T, float>;
  constexpr int L = kFloatBlocks ? 32 : 16;
  Acc acc[L] = {};
  int64_t r = begin;
  if constexpr (kFloatBlocks) {
    constexpr int kSteps = 8;
    for (; r + L * kSteps <= end; r += L * kSteps) {
      float block[L] = {};
      for (int s = 0; s < kSteps; ++s)
        for (int j = 0; j < L; ++j) block[j] += f(r + s * L + j);
      for (int j = 0; j < L; ++j) acc[j] += static_cast<double>(block[j]);
    }
  }
  for (; r + L <= end; r += L)
    for (int j = 0; j < L; ++j) acc[j] += static_cast<Acc>(f(r + j));
  Acc tail = 0;
  for (; r < end; ++r) tail += static_cast<Acc>(f(r));
  for (int w = L / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  return acc[0] + tail;
}

// Σ f(i) for i in [0, n), compiled for the active ISA; long sums split among the
// threads, each a contiguous slice, the partial sums added in thread order (the
// same result for the same thread count). `work` is n times the cost of one f in
// loads (a loss reading input and target: 2n), judged against use_threads: below
// ~100K loads a sum is done before a second thread would have started (128×512
// takes 3.5 µs on one thread, 4.3 µs on two).
template <class T, class F> sum_acc_t<T> sum_of(int64_t n, int64_t work, const F& f) {
  using Acc = sum_acc_t<T>;
  if (!use_threads(work / 3)) {
    Acc s = 0;
    simd_run([&] { s = lane_sum<T>(0, n, f); });
    return s;
  }
  std::vector<Acc> part(static_cast<size_t>(omp_get_max_threads()), Acc(0));
  DG_OMP(omp parallel)
  {
    const int64_t nt = omp_get_num_threads(), tid = omp_get_thread_num();
    const int64_t chunk = ((n + nt - 1) / nt + 15) / 16 * 16;
    const int64_t b = std::min(n, tid * chunk), e = std::min(n, b + chunk);
    Acc s = 0;
    simd_run([&] { s = lane_sum<T>(b, e, f); });
    part[static_cast<size_t>(tid)] = s;
  }
  Acc total = 0;
  for (Acc p : part) total += p;
  return total;
}

}  // namespace dg::kernels
