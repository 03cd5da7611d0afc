// Internals of src/optim: flat state-dict fields, and the loop helpers every
// optimizer step uses (contiguous buffers, one parallel pass over memory).
#pragma once

#include <omp.h>
#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

#include "dimgrad/optim/optimizer.hpp"
#include "kernels/kernels.hpp"

namespace dg::optim::detail {

// ---------------------------------------------------------------- fields
// Writes each field under prefix + name (tensors copied; undefined ones skipped).
void write_fields(const std::string& prefix, const StateFields& fields, StateDict& out);
// Reads each field from prefix + name into its pointer, recording the keys it
// used. Throws dg::Error on a missing required key or a value of the wrong
// kind/shape ("<what>: key 'x' ..."). Tensors are copied.
void read_fields(const std::string& prefix, const StateFields& fields, const StateDict& in,
                 std::set<std::string>& used, const std::string& what);
// Throws dg::Error listing the keys of `in` not in `used`.
void check_unexpected(const StateDict& in, const std::set<std::string>& used, const std::string& what);
// Whether `in` holds a key starting with prefix.
bool has_prefix(const StateDict& in, const std::string& prefix);
// "0.1" with enough digits to tell values apart.
std::string num(double v);

// ----------------------------------------------------------------- loops
// body(begin, end) over [0, n), split across the threads when n is large enough
// to pay for them (chunks aligned to 16 elements for SIMD).
using kernels::parallel_range;

// update(i, begin, end) for items i = 0 … count−1 of size(i) elements each, in
// ONE parallel region for the whole optimizer step (not one per long parameter,
// each ending in a barrier, with the short ones left to the calling thread). An
// item long enough for parallel_range is split as parallel_range splits it, so
// each thread updates the same part of the parameter as every other loop over
// it does (the part already in its cache); shorter items go whole to the
// threads in turn. Items must not overlap (the optimizer rejects a parameter
// given twice); update must not throw.
template <class Size, class Update> void parallel_items(size_t count, const Size& size, const Update& update) {
  int64_t total = 0;
  for (size_t i = 0; i < count; ++i) total += size(i);
  if (!kernels::use_threads(total)) {
    for (size_t i = 0; i < count; ++i)
      if (size(i) > 0) update(i, int64_t{0}, size(i));
    return;
  }
#pragma omp parallel
  {
    const int64_t nt = omp_get_num_threads(), tid = omp_get_thread_num();
    int64_t small = 0;  // short items seen so far: item k of them goes to thread k mod nt
    for (size_t i = 0; i < count; ++i) {
      const int64_t n = size(i);
      if (n >= kernels::kParallelGrain) {
        const int64_t chunk = ((n + nt - 1) / nt + 15) / 16 * 16;
        const int64_t b = std::min(n, tid * chunk), e = std::min(n, b + chunk);
        if (b < e) update(i, b, e);
      } else if (n > 0 && small++ % nt == tid) {
        update(i, int64_t{0}, n);
      }
    }
  }
}

// A parameter's data and gradient as contiguous buffers of its dtype T. The
// gradient is converted when needed (a copy); a non-contiguous parameter is
// updated in a contiguous copy that finish() writes back. finish() also bumps
// the parameter's version: the step is an in-place write, and a graph that
// saved the old values must not use them silently.
struct ParamBuffers {
  ParamBuffers(const Tensor& param, const Tensor& grad);
  void finish();
  Tensor param, grad, work;  // work: param itself or its contiguous copy
  int64_t n = 0;
  template <class T> T* p() const { return static_cast<T*>(work.raw_data()); }
  template <class T> const T* g() const { return static_cast<const T*>(grad.raw_data()); }
};

// A fresh state buffer for param: its shape and dtype, contiguous, filled with v.
Tensor state_buffer(const Tensor& param, double v = 0.0);
// The buffer's data as T* (state buffers are always contiguous).
template <class T> T* buf(const Tensor& t) { return static_cast<T*>(t.raw_data()); }

// x[i] = √x[i] with SIMD. std::sqrt in a loop does not vectorize while it may
// set errno (GCC's default), which made Adam's step 3-5× slower. sqrtps/sqrtpd
// round exactly as std::sqrt does (IEEE-754 correctly rounded).
inline void sqrt_inplace(float* x, int64_t n) {
  int64_t i = 0;
#if defined(__SSE2__)
  for (; i + 4 <= n; i += 4) _mm_storeu_ps(x + i, _mm_sqrt_ps(_mm_loadu_ps(x + i)));
#endif
  for (; i < n; ++i) x[i] = std::sqrt(x[i]);
}
inline void sqrt_inplace(double* x, int64_t n) {
  int64_t i = 0;
#if defined(__SSE2__)
  for (; i + 2 <= n; i += 2) _mm_storeu_pd(x + i, _mm_sqrt_pd(_mm_loadu_pd(x + i)));
#endif
  for (; i < n; ++i) x[i] = std::sqrt(x[i]);
}

// An update that needs square roots, as one pass over memory: for each block of
// kSqrtBlock elements (small enough to stay in L1), pre(i0, m, r) computes the
// m values to take roots of into r, sqrt_inplace(r), then post(i0, m, r) uses them.
// The pass is compiled for the CPU's vector width (kernels::simd_run: the library
// itself is built for baseline x86-64, 4 floats a vector).
inline constexpr int64_t kSqrtBlock = 256;
template <class T, class Pre, class Post>
void blocked_sqrt_pass(int64_t n, Pre&& pre, Post&& post) {
  parallel_range(n, [&](int64_t begin, int64_t end) {
    kernels::simd_run([&] {
      alignas(64) T r[kSqrtBlock];
      for (int64_t i0 = begin; i0 < end; i0 += kSqrtBlock) {
        const int64_t m = std::min(kSqrtBlock, end - i0);
        pre(i0, m, r);
        sqrt_inplace(r, m);
        post(i0, m, r);
      }
    });
  });
}

}  // namespace dg::optim::detail
