// Raw CPU compute on tensor buffers: strided elementwise loops with broadcasting,
// reductions, GEMM. Knows nothing of autograd (see DESIGN.md, layer "kernels").
#pragma once

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>
#include <omp.h>
#include <type_traits>

#include "dimgrad/tensor.hpp"
#include "kernels/simd.hpp"

// OpenMP directives through a macro, so that this header also compiles cleanly
// where OpenMP is off (a test that includes it): its loops then run on one thread.
#ifdef _OPENMP
#define DG_OMP(directive) _Pragma(#directive)
#else
#define DG_OMP(directive)
#endif

namespace dg::kernels {

// Elements below which a loop stays on one thread (thread start-up costs more).
inline constexpr int64_t kParallelGrain = 32768;

// True when a loop of n elements should be split among the OpenMP threads: it is
// long enough to pay for waking them, and we are not already inside a parallel
// region (one pool, never nested: no oversubscription).
inline bool use_threads(int64_t n) { return n >= kParallelGrain && !omp_in_parallel() && omp_get_max_threads() > 1; }

// f(begin, end) over [0, n) in one contiguous chunk per thread, whatever n (the
// caller judged the work worth the threads: e.g. the columns of a column
// reduction, few but each a long sum).
template <class F> void split_among_threads(int64_t n, const F& f) {
  DG_OMP(omp parallel)
  {
    const int64_t nt = omp_get_num_threads(), tid = omp_get_thread_num();
    // Chunks rounded to 16 elements keep each thread's stores on its own cache lines.
    const int64_t chunk = ((n + nt - 1) / nt + 15) / 16 * 16;
    const int64_t begin = std::min(n, tid * chunk), end = std::min(n, begin + chunk);
    if (begin < end) f(begin, end);
  }
}

// f(begin, end) over [0, n), in one contiguous chunk per thread when use_threads(n).
template <class F> void parallel_range(int64_t n, const F& f) {
  if (!use_threads(n)) {
    if (n > 0) f(int64_t(0), n);
    return;
  }
  split_among_threads(n, f);
}

// Loops that run on several threads only when a condition holds.
// Not `#pragma omp parallel ... if (cond)`: with the condition false, libgomp
// still starts a team of one thread and ends it with a futex system call, about
// 0.4 µs on this machine's VM, and a W3 training step met ten of them (small
// ops: a gather of labels, the column sums of a small gradient, each thread's
// transposed block inside a split product; docs/performance.md, round 7).
// These run the plain loop instead.

// body(i) for i in [0, n): split among the threads (OpenMP's static schedule)
// when par, otherwise in order on the calling thread. A body taking (i, thread)
// also gets its thread's number (0 on the calling thread), for per-thread buffers.
template <class F> void parallel_for_if(bool par, int64_t n, const F& body) {
  constexpr bool with_thread = std::is_invocable_v<const F&, int64_t, int>;
  if (!par) {
    for (int64_t i = 0; i < n; ++i) {
      if constexpr (with_thread) body(i, 0);
      else body(i);
    }
    return;
  }
  DG_OMP(omp parallel for schedule(static))
  for (int64_t i = 0; i < n; ++i) {
    if constexpr (with_thread) body(i, omp_get_thread_num());
    else body(i);
  }
}

// ------------------------------------------------------------- loop planning
// N operands over one iteration shape, each with its own strides (in bytes;
// 0 along a broadcast dimension). Size-1 dimensions are dropped and adjacent
// dimensions that are contiguous for every operand are merged, so a contiguous
// case becomes one flat loop.
template <int N> struct LoopPlan {
  int ndim = 0;
  int64_t sizes[kMaxDims] = {};
  int64_t strides[N][kMaxDims] = {};
  int64_t numel = 1;
};

template <int N>
LoopPlan<N> make_plan(IntArrayRef shape, const std::array<const int64_t*, N>& elem_strides,
                      const std::array<int64_t, N>& elem_sizes) {
  LoopPlan<N> p;
  // Nothing to visit: return before any product, since for an empty view of a
  // huge shape (a 0 next to sizes like 3·10¹⁰) the byte strides can overflow
  // int64 (found by fuzz_npy: a Fortran-order array of shape (0, 3, 9662, …)).
  for (int64_t size : shape)
    if (size == 0) {
      p.numel = 0;
      return p;
    }
  for (size_t d = 0; d < shape.size(); ++d) {
    p.numel *= shape[d];
    if (shape[d] == 1) continue;
    p.sizes[p.ndim] = shape[d];
    for (int k = 0; k < N; ++k) p.strides[k][p.ndim] = elem_strides[k][d] * elem_sizes[k];
    ++p.ndim;
  }
  // Merge dimension d into d+1 (the inner one) where every operand is contiguous across them.
  int out = 0;
  for (int d = 0; d < p.ndim; ++d) {
    if (out > 0) {
      bool mergeable = true;
      for (int k = 0; k < N; ++k)
        if (p.strides[k][out - 1] != p.strides[k][d] * p.sizes[d]) mergeable = false;
      if (mergeable) {
        p.sizes[out - 1] *= p.sizes[d];
        for (int k = 0; k < N; ++k) p.strides[k][out - 1] = p.strides[k][d];
        continue;
      }
    }
    p.sizes[out] = p.sizes[d];
    for (int k = 0; k < N; ++k) p.strides[k][out] = p.strides[k][d];
    ++out;
  }
  p.ndim = out;
  return p;
}

// Calls inner(ptrs, inner_strides, n) for each run of the innermost dimension.
template <int N, class F>
void run_plan(const LoopPlan<N>& p, const std::array<char*, N>& base, F&& inner, bool parallel) {
  if (p.numel == 0) return;
  if (p.ndim == 0) {
    std::array<char*, N> ptrs = base;
    int64_t zero[N] = {};
    inner(ptrs.data(), zero, int64_t(1));
    return;
  }
  const int last = p.ndim - 1;
  const int64_t n_inner = p.sizes[last];
  int64_t inner_strides[N];
  for (int k = 0; k < N; ++k) inner_strides[k] = p.strides[k][last];
  int64_t n_outer = p.numel / n_inner;
  const bool par = parallel && use_threads(p.numel);

  if (n_outer == 1) {
    if (!par) {
      std::array<char*, N> ptrs = base;
      inner(ptrs.data(), inner_strides, n_inner);
      return;
    }
  DG_OMP(omp parallel)
    {
      int nt = omp_get_num_threads(), tid = omp_get_thread_num();
      int64_t chunk = (n_inner + nt - 1) / nt;
      int64_t begin = tid * chunk, end = std::min(n_inner, begin + chunk);
      if (begin < end) {
        std::array<char*, N> ptrs;
        for (int k = 0; k < N; ++k) ptrs[k] = base[k] + begin * inner_strides[k];
        inner(ptrs.data(), inner_strides, end - begin);
      }
    }
    return;
  }
  auto offsets_of = [&](int64_t lin, std::array<char*, N>& ptrs) {
    for (int k = 0; k < N; ++k) ptrs[k] = base[k];
    for (int d = last - 1; d >= 0; --d) {
      int64_t i = lin % p.sizes[d];
      lin /= p.sizes[d];
      for (int k = 0; k < N; ++k) ptrs[k] += i * p.strides[k][d];
    }
  };
  if (par) {
  DG_OMP(omp parallel for schedule(static))
    for (int64_t o = 0; o < n_outer; ++o) {
      std::array<char*, N> ptrs;
      offsets_of(o, ptrs);
      inner(ptrs.data(), inner_strides, n_inner);
    }
    return;
  }
  // Sequential: step an index counter instead of dividing per row.
  int64_t idx[kMaxDims] = {};
  std::array<char*, N> ptrs = base;
  for (int64_t o = 0; o < n_outer; ++o) {
    inner(ptrs.data(), inner_strides, n_inner);
    for (int d = last - 1; d >= 0; --d) {
      if (++idx[d] < p.sizes[d]) {
        for (int k = 0; k < N; ++k) ptrs[k] += p.strides[k][d];
        break;
      }
      idx[d] = 0;
      for (int k = 0; k < N; ++k) ptrs[k] -= (p.sizes[d] - 1) * p.strides[k][d];
    }
  }
}

// Strides of `t` when broadcast to `shape` (0 along broadcast dimensions).
Shape broadcast_strides(const Tensor& t, IntArrayRef shape);

// ------------------------------------------------------------ typed loops
// Each loop has a fast path for the common case — every operand contiguous with
// the output's shape — that skips loop planning: one flat loop, split among the
// threads when long. Contiguous runs of loops that touch float32 go through
// simd_for (AVX-512 / AVX2 / baseline copies chosen at run time); other dtypes
// (float64 is for gradcheck) and strided runs use one baseline copy, which keeps
// the library's code size and compile time in check.

// t's first element as T, for a caller that knows t's dtype is T (no dtype check
// or switch: this runs once per operand per op).
template <class T> inline T* data_of(const Tensor& t) {
  return static_cast<T*>(t.impl()->storage->data()) + t.impl()->offset;
}

// Whether t can be read as a flat array in out's element order.
inline bool same_layout(const Tensor& t, const Tensor& out) { return t.sizes() == out.sizes() && t.is_contiguous(); }

template <class... T> inline constexpr bool kAnyFloat32 = (std::is_same_v<T, float> || ...);

// The per-element steps of the loops below: named types, so that the fast path
// and the planned path share one compiled copy of each.
namespace loop_detail {
template <class R, class A, class F> struct Map1 {
  R* o; const A* x; F f;
  void operator()(int64_t i) const { o[i] = f(x[i]); }
};
template <class R, class A, class B, class F> struct Map2 {
  R* o; const A* x; const B* y; F f;
  void operator()(int64_t i) const { o[i] = f(x[i], y[i]); }
};
template <class R, class A, class B, class F> struct Map2ScalarB {
  R* o; const A* x; B y; F f;
  void operator()(int64_t i) const { o[i] = f(x[i], y); }
};
template <class R, class A, class B, class F> struct Map2ScalarA {
  R* o; A x; const B* y; F f;
  void operator()(int64_t i) const { o[i] = f(x, y[i]); }
};
template <class R, class A, class B, class C, class F> struct Map3 {
  R* o; const A* x; const B* y; const C* z; F f;
  void operator()(int64_t i) const { o[i] = f(x[i], y[i], z[i]); }
};
// The first operand one value (a loss's upstream scalar dY broadcast over the batch).
template <class R, class A, class B, class C, class F> struct Map3ScalarA {
  R* o; A x; const B* y; const C* z; F f;
  void operator()(int64_t i) const { o[i] = f(x, y[i], z[i]); }
};
template <class R, class A, class B, class C, class F> struct Map3ScalarAC {
  R* o; A x; const B* y; C z; F f;
  void operator()(int64_t i) const { o[i] = f(x, y[i], z); }
};
// Any byte strides (the run of a broadcast or a transposed operand). Still run
// through vec_for, so that the step is compiled for the active ISA: the vec_math
// functions' fma must not become a libm call per element in baseline code.
template <class R, class A, class F> struct Strided1 {
  char* o; const char* x; int64_t so, sx; F f;
  void operator()(int64_t i) const {
    *reinterpret_cast<R*>(o + i * so) = f(*reinterpret_cast<const A*>(x + i * sx));
  }
};
template <class R, class A, class B, class F> struct Strided2 {
  char* o; const char* x; const char* y; int64_t so, sx, sy; F f;
  void operator()(int64_t i) const {
    *reinterpret_cast<R*>(o + i * so) = f(*reinterpret_cast<const A*>(x + i * sx), *reinterpret_cast<const B*>(y + i * sy));
  }
};
template <class R, class A, class B, class C, class F> struct Strided3 {
  char* o; const char* x; const char* y; const char* z; int64_t so, sx, sy, sz; F f;
  void operator()(int64_t i) const {
    *reinterpret_cast<R*>(o + i * so) = f(*reinterpret_cast<const A*>(x + i * sx), *reinterpret_cast<const B*>(y + i * sy),
                                          *reinterpret_cast<const C*>(z + i * sz));
  }
};
}  // namespace loop_detail

// simd_for for loops that touch float32, the baseline loop otherwise.
template <class... T, class Body> inline void vec_for(int64_t begin, int64_t end, const Body& body) {
  if constexpr (kAnyFloat32<T...>) simd_for(begin, end, body);
  else simd_detail::for_generic(begin, end, body);
}

// out = f(a), same shape; a any strides (broadcast to out's shape).
template <class R, class A, class F> void unary_loop(const Tensor& out, const Tensor& a, F f) {
  using Body = loop_detail::Map1<R, A, F>;
  if (out.is_contiguous() && same_layout(a, out)) {
    const Body body{data_of<R>(out), data_of<const A>(a), f};
    parallel_range(out.numel(), [&](int64_t lo, int64_t hi) { vec_for<R, A>(lo, hi, body); });
    return;
  }
  Shape sa = broadcast_strides(a, out.sizes());
  auto plan = make_plan<2>(out.sizes(), {out.strides().data(), sa.data()}, {int64_t(sizeof(R)), int64_t(sizeof(A))});
  run_plan<2>(plan, {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data())},
              [&](char** p, const int64_t* s, int64_t n) {
                if (s[0] == sizeof(R) && s[1] == sizeof(A)) {
                  vec_for<R, A>(0, n, Body{reinterpret_cast<R*>(p[0]), reinterpret_cast<const A*>(p[1]), f});
                } else {
                  vec_for<R, A>(0, n, loop_detail::Strided1<R, A, F>{p[0], p[1], s[0], s[1], f});
                }
              },
              true);
}

// out = f(a, b) with a and b broadcast to out's shape.
template <class R, class A, class B, class F>
void binary_loop(const Tensor& out, const Tensor& a, const Tensor& b, F f) {
  using Body = loop_detail::Map2<R, A, B, F>;
  if (out.is_contiguous() && same_layout(a, out) && same_layout(b, out)) {
    const Body body{data_of<R>(out), data_of<const A>(a), data_of<const B>(b), f};
    parallel_range(out.numel(), [&](int64_t lo, int64_t hi) { vec_for<R, A, B>(lo, hi, body); });
    return;
  }
  Shape sa = broadcast_strides(a, out.sizes()), sb = broadcast_strides(b, out.sizes());
  auto plan = make_plan<3>(out.sizes(), {out.strides().data(), sa.data(), sb.data()},
                           {int64_t(sizeof(R)), int64_t(sizeof(A)), int64_t(sizeof(B))});
  run_plan<3>(plan,
              {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data()),
               static_cast<char*>(b.raw_data())},
              [&](char** p, const int64_t* s, int64_t n) {
                R* o = reinterpret_cast<R*>(p[0]);
                const A* x = reinterpret_cast<const A*>(p[1]);
                const B* y = reinterpret_cast<const B*>(p[2]);
                if (s[0] == sizeof(R) && s[1] == sizeof(A) && s[2] == sizeof(B)) {
                  vec_for<R, A, B>(0, n, Body{o, x, y, f});
                } else if (s[0] == sizeof(R) && s[1] == sizeof(A) && s[2] == 0) {
                  vec_for<R, A, B>(0, n, loop_detail::Map2ScalarB<R, A, B, F>{o, x, *y, f});
                } else if (s[0] == sizeof(R) && s[1] == 0 && s[2] == sizeof(B)) {
                  vec_for<R, A, B>(0, n, loop_detail::Map2ScalarA<R, A, B, F>{o, *x, y, f});
                } else {
                  vec_for<R, A, B>(0, n, loop_detail::Strided2<R, A, B, F>{p[0], p[1], p[2], s[0], s[1], s[2], f});
                }
              },
              true);
}

// out = f(a, b, c) with a, b, c broadcast to out's shape.
template <class R, class A, class B, class C, class F>
void ternary_loop(const Tensor& out, const Tensor& a, const Tensor& b, const Tensor& c, F f) {
  using Body = loop_detail::Map3<R, A, B, C, F>;
  if (out.is_contiguous() && same_layout(a, out) && same_layout(b, out) && same_layout(c, out)) {
    const Body body{data_of<R>(out), data_of<const A>(a), data_of<const B>(b), data_of<const C>(c), f};
    parallel_range(out.numel(), [&](int64_t lo, int64_t hi) { vec_for<R, A, B, C>(lo, hi, body); });
    return;
  }
  Shape sa = broadcast_strides(a, out.sizes()), sb = broadcast_strides(b, out.sizes()),
        sc = broadcast_strides(c, out.sizes());
  auto plan = make_plan<4>(out.sizes(), {out.strides().data(), sa.data(), sb.data(), sc.data()},
                           {int64_t(sizeof(R)), int64_t(sizeof(A)), int64_t(sizeof(B)), int64_t(sizeof(C))});
  run_plan<4>(plan,
              {static_cast<char*>(out.raw_data()), static_cast<char*>(a.raw_data()),
               static_cast<char*>(b.raw_data()), static_cast<char*>(c.raw_data())},
              [&](char** p, const int64_t* s, int64_t n) {
                R* o = reinterpret_cast<R*>(p[0]);
                const A* x = reinterpret_cast<const A*>(p[1]);
                const B* y = reinterpret_cast<const B*>(p[2]);
                const C* z = reinterpret_cast<const C*>(p[3]);
                if (s[0] == sizeof(R) && s[1] == sizeof(A) && s[2] == sizeof(B) && s[3] == sizeof(C)) {
                  vec_for<R, A, B, C>(0, n, Body{o, x, y, z, f});
                } else if (s[0] == sizeof(R) && s[1] == 0 && s[2] == sizeof(B) && s[3] == sizeof(C)) {
                  vec_for<R, A, B, C>(0, n, loop_detail::Map3ScalarA<R, A, B, C, F>{o, *x, y, z, f});
                } else if (s[0] == sizeof(R) && s[1] == 0 && s[2] == sizeof(B) && s[3] == 0) {
                  // a per-row gradient and statistic around one contiguous operand (logsumexp's backward)
                  vec_for<R, A, B, C>(0, n, loop_detail::Map3ScalarAC<R, A, B, C, F>{o, *x, y, *z, f});
                } else {
                  vec_for<R, A, B, C>(
                      0, n, loop_detail::Strided3<R, A, B, C, F>{p[0], p[1], p[2], p[3], s[0], s[1], s[2], s[3], f});
                }
              },
              true);
}

// dst = src (shapes equal or src broadcastable to dst; dtypes converted).
void copy(const Tensor& dst, const Tensor& src);
// A contiguous copy of t (same dtype).
Tensor contiguous_copy(const Tensor& t);
// t if contiguous, else a contiguous copy.
Tensor as_contiguous(const Tensor& t);
// Fill every element of t with v.
void fill(const Tensor& t, Scalar v);

// ---------------------------------------------------------------- reductions
// A contiguous tensor seen as [outer, reduce, inner]: the reduced dims [d0, d1)
// are adjacent in memory. Results have shape [outer, inner].
struct ReduceGeometry {
  int64_t outer = 1, reduce = 1, inner = 1;
};
ReduceGeometry reduce_geometry(IntArrayRef sizes, int64_t d0, int64_t d1);

// Sum over the (sorted, unique) dims; keepdim keeps them as size 1. Float sums
// accumulate in float64 over rows; int and bool sum to int64.
Tensor sum(const Tensor& a, IntArrayRef dims, bool keepdim);
// Values and int64 indices of the max (or min) over one dim: the first index on
// ties, the first NaN if there is one (LibTorch's semantics).
void max_min_dim(const Tensor& a, int64_t dim, bool is_max, Tensor& values, Tensor& indices);
// The max (or min) of all of a's elements (non-empty), as a 0-d tensor; NaN if any is NaN.
Tensor max_min_all(const Tensor& a, bool is_max);
// The max (or min) over the adjacent dims [d0, d1) (non-empty), kept as one size-1
// dim: values only, no index search.
Tensor max_min_values(const Tensor& a, int64_t d0, int64_t d1, bool is_max);
// The product over one dim, kept as size 1: in float64 for floating types (stored
// back in a's dtype), int64 for integers and bool (wrapping on overflow).
Tensor prod_dim(const Tensor& a, int64_t dim);

// ---------------------------------------------------------------------- GEMM
// Row-major C[M×N] = alpha · op(A)[M×K] · op(B)[K×N] + beta · C; then an
// epilogue for a linear layer: with bias_after, C ← C + bias_after (bias_after[j]
// added to every row's column j: a bias [N] broadcast over the M rows), and with
// relu_after, C ← max(C, 0) (NaN kept, as dg::relu) for linear_relu. In a
// product split by rows of a weight each thread finishes its own block while it
// is in that core's cache; otherwise the epilogue runs after the product (on
// all threads when C is large).
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
          const float* B, int64_t ldb, float beta, float* C, int64_t ldc, bool relu_after = false,
          const float* bias_after = nullptr);
void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha, const double* A, int64_t lda,
          const double* B, int64_t ldb, double beta, double* C, int64_t ldc, bool relu_after = false,
          const double* bias_after = nullptr);

// C[M×N] = op(A)[M×K] · op(B)[K×N] (float32, row-major, leading dimensions
// lda, ldb, ldc, op a transpose where asked) by oneDNN's matmul primitive
// (src/kernels/matmul_dnnl.cpp), on the calling thread alone inside a parallel
// region, else on all threads. Returns false, having done nothing, where
// oneDNN has no brgemm kernel for the shape, and for a leading dimension
// larger than a row (brgemm takes dense matrices only).
bool dnnl_matmul(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, const float* A, int64_t lda,
                 const float* B, int64_t ldb, float* C, int64_t ldc);
// Which route float32 products take: Auto is gemm's choice by shape; the
// others force one where it applies (alpha 1, beta 0), for tests and
// benchmarks. DG_GEMM=sgemm|matmul sets the starting value.
enum class GemmRoute { Auto, Sgemm, Matmul };
void set_gemm_route(GemmRoute r);
GemmRoute gemm_route();
// The shapes each thread keeps matmul primitives for: a training loop uses a
// few (one per layer, and those of a last, shorter batch); more distinct shapes
// evict the least recently used. A primitive holds some tens of kB of JIT code.
constexpr int64_t kMatmulShapes = 16;
// For tests: matmul primitives made and shapes declined (no brgemm kernel) so
// far, on all threads, and the shapes the calling thread keeps.
struct DnnlMatmulCounts {
  int64_t made, declined, kept_on_this_thread;
};
DnnlMatmulCounts dnnl_matmul_counts();

// Whether the OpenBLAS that dimgrad loaded is its OpenMP build (cmake/openblas.cmake):
// then its products run on dimgrad's OpenMP threads, and loading it starts no
// pool of its own.
bool blas_runs_on_openmp();

// The same product by three plain loops (row i of C accumulates op(A)[i,k] · row k
// of op(B)): the readable definition, and float64's path inside a parallel region.
template <class T>
void gemm_reference(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t lda,
                    const T* B, int64_t ldb, T beta, T* C, int64_t ldc);
// out[M×N] = a[M×K] · b[K×N] (+ beta·out) for 2-d tensors of one floating dtype;
// a transposed view is passed to GEMM as a transpose flag, not copied.
void mm_into(const Tensor& out, const Tensor& a, const Tensor& b, double beta = 0.0);

}  // namespace dg::kernels
