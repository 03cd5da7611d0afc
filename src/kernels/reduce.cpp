// Reductions over a contiguous tensor seen as [outer, reduce, inner].
#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/kernels.hpp"
#include "tensor/internal.hpp"

namespace dg::kernels {

ReduceGeometry reduce_geometry(IntArrayRef sizes, int64_t d0, int64_t d1) {
  ReduceGeometry g;
  for (int64_t d = 0; d < static_cast<int64_t>(sizes.size()); ++d) {
    if (d < d0) g.outer *= sizes[d];
    else if (d < d1) g.reduce *= sizes[d];
    else g.inner *= sizes[d];
  }
  return g;
}

namespace {

template <class T> using acc_t = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;

// out[o, i] = Σ_r x[o, r, i]
template <class T, class R> void sum_orb(const T* x, R* out, const ReduceGeometry& g) {
  const int64_t O = g.outer, Rn = g.reduce, I = g.inner;
  const bool par = O * Rn * I >= kParallelGrain && omp_get_max_threads() > 1 && !omp_in_parallel();
  if (I == 1) {
    // Row sums: accumulate each row in double (float32) or int64, in 4 lanes.
#pragma omp parallel for schedule(static) if (par && O > 1)
    for (int64_t o = 0; o < O; ++o) {
      const T* row = x + o * Rn;
      acc_t<T> a0 = 0, a1 = 0, a2 = 0, a3 = 0;
      int64_t r = 0;
      for (; r + 4 <= Rn; r += 4) {
        a0 += row[r];
        a1 += row[r + 1];
        a2 += row[r + 2];
        a3 += row[r + 3];
      }
      for (; r < Rn; ++r) a0 += row[r];
      out[o] = static_cast<R>((a0 + a1) + (a2 + a3));
    }
    return;
  }
  // Column sums: out[o, :] += x[o, r, :] — contiguous, vectorized over i.
  if (O >= 2 || !par) {
#pragma omp parallel for schedule(static) if (par && O > 1)
    for (int64_t o = 0; o < O; ++o) {
      R* dst = out + o * I;
      std::fill(dst, dst + I, R(0));
      for (int64_t r = 0; r < Rn; ++r) {
        const T* src = x + (o * Rn + r) * I;
        for (int64_t i = 0; i < I; ++i) dst[i] += static_cast<R>(src[i]);
      }
    }
    return;
  }
  // One outer block: split the inner columns among threads.
#pragma omp parallel
  {
    int nt = omp_get_num_threads(), tid = omp_get_thread_num();
    int64_t chunk = (I + nt - 1) / nt;
    int64_t b = tid * chunk, e = std::min(I, b + chunk);
    if (b < e) {
      std::fill(out + b, out + e, R(0));
      for (int64_t r = 0; r < Rn; ++r) {
        const T* src = x + r * I;
        for (int64_t i = b; i < e; ++i) out[i] += static_cast<R>(src[i]);
      }
    }
  }
}

}  // namespace

Tensor sum(const Tensor& a_in, IntArrayRef dims_in, bool keepdim) {
  const int64_t nd = a_in.dim();
  std::vector<int64_t> dims(dims_in.begin(), dims_in.end());
  std::sort(dims.begin(), dims.end());
  ScalarType out_t = is_floating(a_in.dtype()) ? a_in.dtype() : kLong;
  Tensor cur = as_contiguous(a_in);
  Shape cur_shape(cur.sizes());
  // Reduce each run of adjacent dims, last run first, so earlier dim numbers stay valid.
  size_t hi = dims.size();
  while (hi > 0) {
    size_t lo = hi - 1;
    while (lo > 0 && dims[lo - 1] == dims[lo] - 1) --lo;
    int64_t d0 = dims[lo], d1 = dims[hi - 1] + 1;
    ReduceGeometry g = reduce_geometry(cur_shape, d0, d1);
    Shape next_shape;
    for (int64_t d = 0; d < static_cast<int64_t>(cur_shape.size()); ++d)
      if (d < d0 || d >= d1) next_shape.push_back(cur_shape[d]);
      else if (d == d0) next_shape.push_back(1);
    Tensor next = detail::make_tensor(next_shape, out_t);
    dispatch_dtype(cur.dtype(), [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (out_t == kLong) sum_orb<T, int64_t>(static_cast<const T*>(cur.raw_data()), next.data_ptr<int64_t>(), g);
      else if constexpr (std::is_floating_point_v<T>) sum_orb<T, T>(static_cast<const T*>(cur.raw_data()), next.data_ptr<T>(), g);
    });
    cur = next;
    cur_shape = next_shape;
    hi = lo;
  }
  if (dims.empty() && cur.is_same(a_in)) cur = contiguous_copy(cur);
  if (dims.empty() && cur.dtype() != out_t) {
    Tensor c = detail::make_tensor(cur.sizes(), out_t);
    copy(c, cur);
    cur = c;
  }
  if (keepdim) return cur;
  Shape out_shape;
  for (int64_t d = 0; d < nd; ++d)
    if (!std::binary_search(dims.begin(), dims.end(), d)) out_shape.push_back(a_in.sizes()[d]);
  return detail::make_view(cur, out_shape, contiguous_strides(out_shape), cur.storage_offset());
}

void max_min_dim(const Tensor& a_in, int64_t dim, bool is_max, Tensor& values, Tensor& indices) {
  Tensor a = as_contiguous(a_in);
  ReduceGeometry g = reduce_geometry(a.sizes(), dim, dim + 1);
  Shape out_shape(a.sizes());
  out_shape[static_cast<size_t>(dim)] = 1;
  values = detail::make_tensor(out_shape, a.dtype());
  indices = detail::make_tensor(out_shape, kLong);
  int64_t* idx = indices.data_ptr<int64_t>();
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = static_cast<const T*>(a.raw_data());
    T* v = static_cast<T*>(values.raw_data());
    const bool par = a.numel() >= kParallelGrain && omp_get_max_threads() > 1 && !omp_in_parallel();
#pragma omp parallel for schedule(static) if (par)
    for (int64_t o = 0; o < g.outer; ++o) {
      for (int64_t i = 0; i < g.inner; ++i) {
        const T* p = x + o * g.reduce * g.inner + i;
        T best = p[0];
        int64_t bi = 0;
        bool best_nan = false;
        if constexpr (std::is_floating_point_v<T>) best_nan = best != best;
        for (int64_t r = 1; r < g.reduce && !best_nan; ++r) {
          T c = p[r * g.inner];
          if constexpr (std::is_floating_point_v<T>) {
            if (c != c) {  // NaN propagates, as in LibTorch
              best = c;
              bi = r;
              best_nan = true;
              break;
            }
          }
          if (is_max ? (c > best) : (c < best)) {
            best = c;
            bi = r;
          }
        }
        v[o * g.inner + i] = best;
        idx[o * g.inner + i] = bi;
      }
    }
  });
}

}  // namespace dg::kernels
