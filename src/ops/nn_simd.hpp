// Row kernels of the fused nn ops (batch_norm.cpp, norm.cpp, loss.cpp); not installed.
//
// Sums over a contiguous row use 16 independent partial sums of the row's own
// type: the compiler maps them onto vector registers without reordering any
// single addition (no -ffast-math needed), so every ISA gives the same bits.
// Every 1024 terms the 16 lanes are combined pairwise and added into a double,
// so long rows keep double-like accuracy at float speed. Callers run these
// inside simd_if_float (AVX-512 / AVX2 copies for float32; float64 is for
// gradcheck and stays on the baseline path).
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <type_traits>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/simd.hpp"
#include "kernels/vec_math.hpp"

namespace dg::ops {

namespace row_detail {
constexpr int L = 16;         // lanes
constexpr int64_t kBlock = 1024;  // terms per lane block (a multiple of L)
template <class T> inline double combine(T* acc) {
  for (int w = L / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  return static_cast<double>(acc[0]);
}
// End of the next block starting at k (whole lanes only).
inline int64_t block_end(int64_t k, int64_t n) { return std::min(k + kBlock, k + (n - k) / L * L); }
}  // namespace row_detail

// Σ x[k]
template <class T> inline double row_sum(const T* __restrict x, int64_t n) {
  using namespace row_detail;
  double total = 0;
  int64_t k = 0;
  while (n - k >= L) {
    T acc[L] = {};
    for (const int64_t e = block_end(k, n); k < e; k += L)
      for (int j = 0; j < L; ++j) acc[j] += x[k + j];
    total += combine(acc);
  }
  for (; k < n; ++k) total += static_cast<double>(x[k]);
  return total;
}

// Σ (x[k] − μ)²
template <class T> inline double row_sum_sq_dev(const T* __restrict x, int64_t n, T mu) {
  using namespace row_detail;
  double total = 0;
  int64_t k = 0;
  while (n - k >= L) {
    T acc[L] = {};
    for (const int64_t e = block_end(k, n); k < e; k += L)
      for (int j = 0; j < L; ++j) {
        const T d = x[k + j] - mu;
        acc[j] += d * d;
      }
    total += combine(acc);
  }
  for (; k < n; ++k) {
    const double d = static_cast<double>(x[k]) - static_cast<double>(mu);
    total += d * d;
  }
  return total;
}

// s1 = Σ a[k]·w[k],  s2 = Σ a[k]·w[k]·(x[k] − μ)   (w == nullptr: w = 1)
template <class T>
inline void row_sum2(const T* __restrict a, const T* __restrict w, const T* __restrict x, int64_t n, T mu,
                     double& s1, double& s2) {
  using namespace row_detail;
  s1 = s2 = 0;
  int64_t k = 0;
  while (n - k >= L) {
    T acc1[L] = {}, acc2[L] = {};
    const int64_t e = block_end(k, n);
    if (w) {
      for (; k < e; k += L)
        for (int j = 0; j < L; ++j) {
          const T g = a[k + j] * w[k + j];
          acc1[j] += g;
          acc2[j] += g * (x[k + j] - mu);
        }
    } else {
      for (; k < e; k += L)
        for (int j = 0; j < L; ++j) {
          acc1[j] += a[k + j];
          acc2[j] += a[k + j] * (x[k + j] - mu);
        }
    }
    s1 += combine(acc1);
    s2 += combine(acc2);
  }
  for (; k < n; ++k) {
    const double g = static_cast<double>(a[k]) * (w ? static_cast<double>(w[k]) : 1.0);
    s1 += g;
    s2 += g * (static_cast<double>(x[k]) - static_cast<double>(mu));
  }
}

// Σ a[k]·b[k]
template <class T> inline double row_dot(const T* __restrict a, const T* __restrict b, int64_t n) {
  using namespace row_detail;
  double total = 0;
  int64_t k = 0;
  while (n - k >= L) {
    T acc[L] = {};
    for (const int64_t e = block_end(k, n); k < e; k += L)
      for (int j = 0; j < L; ++j) acc[j] += a[k + j] * b[k + j];
    total += combine(acc);
  }
  for (; k < n; ++k) total += static_cast<double>(a[k]) * static_cast<double>(b[k]);
  return total;
}

// max_k x[k] (n ≥ 1)
template <class T> inline T row_max(const T* __restrict x, int64_t n) {
  using namespace row_detail;
  T acc[L];
  for (int j = 0; j < L; ++j) acc[j] = x[0];
  int64_t k = 0;
  for (; k + L <= n; k += L)
    for (int j = 0; j < L; ++j) acc[j] = x[k + j] > acc[j] ? x[k + j] : acc[j];
  T m = acc[0];
  for (int j = 1; j < L; ++j) m = acc[j] > m ? acc[j] : m;
  for (; k < n; ++k) m = x[k] > m ? x[k] : m;
  return m;
}

// p[k] = exp(x[k] − m); returns Σ p  (p == nullptr: only the sum)
template <class T> inline double row_exp_sum(const T* __restrict x, T* __restrict p, int64_t n, T m) {
  using namespace row_detail;
  using kernels::fast_exp;  // vectorizes for float32 (≤ 1 ulp); std::exp for float64
  double total = 0;
  int64_t k = 0;
  while (n - k >= L) {
    T acc[L] = {};
    const int64_t e = block_end(k, n);
    if (p) {
      for (; k < e; k += L)
        for (int j = 0; j < L; ++j) {
          const T v = fast_exp(x[k + j] - m);
          p[k + j] = v;
          acc[j] += v;
        }
    } else {
      for (; k < e; k += L)
        for (int j = 0; j < L; ++j) acc[j] += fast_exp(x[k + j] - m);
    }
    total += combine(acc);
  }
  for (; k < n; ++k) {
    const T v = fast_exp(x[k] - m);
    if (p) p[k] = v;
    total += static_cast<double>(v);
  }
  return total;
}

// Softmax pieces of `count` contiguous rows of n < L values each (a
// classifier's 10 classes), where row_exp_sum would take the exponentials one
// at a time: here the shifted scores of all the rows go through one flat loop,
// which vectorizes. q (count·n values) receives exp(x − row max), normalised to
// the softmax when `normalize`; row_max_out[i] the row's maximum (0 for a row
// of −∞) and log_sum[i] = log Σ exp(x − max), so that the log-sum-exp is
// row_max_out[i] + log_sum[i]. The same bits as row_max + row_exp_sum row by
// row: the same exponentials of the same inputs, summed in the same order.
// Cross-entropy over 128 rows of 10: 13.7 → 5.4 µs.
template <class T>
inline void short_rows_lse(const T* __restrict x, T* __restrict q, int64_t count, int64_t n, bool normalize,
                           T* row_max_out, double* log_sum) {
  using kernels::fast_exp;
  for (int64_t i = 0; i < count; ++i) {
    T m = row_max(x + i * n, n);
    if (std::isinf(m) && m < 0) m = 0;  // every score −∞
    row_max_out[i] = m;
    for (int64_t c = 0; c < n; ++c) q[i * n + c] = x[i * n + c] - m;
  }
  for (int64_t k = 0; k < count * n; ++k) q[k] = fast_exp(q[k]);
  for (int64_t i = 0; i < count; ++i) {
    T* qr = q + i * n;
    double s = 0;
    for (int64_t c = 0; c < n; ++c) s += static_cast<double>(qr[c]);
    if (normalize) {
      const T inv = static_cast<T>(1.0 / s);
      for (int64_t c = 0; c < n; ++c) qr[c] *= inv;
    }
    log_sum[i] = std::log(s);
  }
}

// body() compiled for the best ISA when T is float32.
template <class T, class F> inline void simd_if_float(const F& body) {
  if constexpr (std::is_same_v<T, float>) kernels::simd_run(body);
  else body();
}

// f(begin, end) over [0, n): one contiguous chunk per thread when `work` (the
// element count behind the n items) is worth threads, else one call.
template <class F> void parallel_chunks(int64_t n, int64_t work, const F& f) {
  if (!kernels::use_threads(work) || n < 2) {
    if (n > 0) f(int64_t(0), n);
    return;
  }
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), tid = omp_get_thread_num();
    const int64_t chunk = (n + nt - 1) / nt;
    const int64_t b = std::min(n, tid * chunk), e = std::min(n, b + chunk);
    if (b < e) f(b, e);
  }
}

}  // namespace dg::ops
