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

// Σ row[0..n) accumulated in acc_t (double for float32). Independent partial
// sums (lanes) that the compiler turns into vector accumulators — 2 AVX-512,
// 4 AVX2 or 8 SSE2 registers — without reordering any addition, so every ISA
// gives the same bits; the lanes are combined pairwise at the end.
template <class T> acc_t<T> row_sum(const T* row, int64_t n) {
  constexpr int L = 16;
  acc_t<T> acc[L] = {};
  int64_t r = 0;
  for (; r + L <= n; r += L)
    for (int j = 0; j < L; ++j) acc[j] += static_cast<acc_t<T>>(row[r + j]);
  acc_t<T> tail = 0;
  for (; r < n; ++r) tail += static_cast<acc_t<T>>(row[r]);
  for (int w = L / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  return acc[0] + tail;
}

// float32: converting every element to double halves the throughput, so each
// of 32 lanes first adds 8 elements in float (a block of 256), and only the
// block sums go into the double accumulators: 2× faster (1M elements: 86 →
// 42 µs on one core), with an error still far below float32's own rounding of
// the result (each float partial sum covers 8 values).
template <> double row_sum<float>(const float* row, int64_t n) {
  constexpr int L = 32, kSteps = 8;
  double acc[L] = {};
  int64_t r = 0;
  for (; r + L * kSteps <= n; r += L * kSteps) {
    float block[L] = {};
    for (int s = 0; s < kSteps; ++s)
      for (int j = 0; j < L; ++j) block[j] += row[r + s * L + j];
    for (int j = 0; j < L; ++j) acc[j] += static_cast<double>(block[j]);
  }
  for (; r + L <= n; r += L)
    for (int j = 0; j < L; ++j) acc[j] += static_cast<double>(row[r + j]);
  double tail = 0;
  for (; r < n; ++r) tail += static_cast<double>(row[r]);
  for (int w = L / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] += acc[j + w];
  return acc[0] + tail;
}

// out[o] = Σ_r x[o, r] for rows [o0, o1).
template <class T, class R> void row_sums(const T* x, R* out, int64_t o0, int64_t o1, int64_t Rn) {
  simd_run([&] {
    for (int64_t o = o0; o < o1; ++o) out[o] = static_cast<R>(row_sum(x + o * Rn, Rn));
  });
}

// out[o, i] = Σ_r x[o, r, i]
template <class T, class R> void sum_orb(const T* x, R* out, const ReduceGeometry& g) {
  const int64_t O = g.outer, Rn = g.reduce, I = g.inner;
  // A sum reads each element once and does one add: below ~100K elements it is
  // done before a second thread would have started (measured: 128×512 takes
  // 3.5 µs on one thread, 4.3 µs on two).
  const bool par = use_threads(O * Rn * I / 3);
  if (I == 1) {
    if (O == 1 && par) {
      // One long row (a full sum): each thread sums a slice, the partial sums are
      // added in thread order (the same result for the same thread count).
      std::vector<acc_t<T>> part(static_cast<size_t>(omp_get_max_threads()), acc_t<T>(0));
#pragma omp parallel
      {
        const int64_t nt = omp_get_num_threads(), tid = omp_get_thread_num();
        const int64_t chunk = ((Rn + nt - 1) / nt + 15) / 16 * 16;
        const int64_t b = std::min(Rn, tid * chunk), e = std::min(Rn, b + chunk);
        acc_t<T> s = 0;
        simd_run([&] { s = row_sum(x + b, e - b); });
        part[static_cast<size_t>(tid)] = s;
      }
      acc_t<T> total = 0;
      for (acc_t<T> p : part) total += p;
      out[0] = static_cast<R>(total);
      return;
    }
    if (!par || O == 1) {
      row_sums(x, out, 0, O, Rn);
      return;
    }
#pragma omp parallel
    {
      const int64_t nt = omp_get_num_threads(), tid = omp_get_thread_num();
      const int64_t chunk = (O + nt - 1) / nt;
      const int64_t b = std::min(O, tid * chunk), e = std::min(O, b + chunk);
      row_sums(x, out, b, e, Rn);
    }
    return;
  }
  // Column sums: out[o, i] += x[o, r, i] for r in order — contiguous and
  // vectorized over i, accumulated in R.
  auto columns = [&](int64_t o, int64_t i0, int64_t i1) {
    R* dst = out + o * I;
    std::fill(dst + i0, dst + i1, R(0));
    for (int64_t r = 0; r < Rn; ++r) {
      const T* src = x + (o * Rn + r) * I;
      vec_for<T, R>(i0, i1, [=](int64_t i) { dst[i] += static_cast<R>(src[i]); });
    }
  };
  if (!par) {
    for (int64_t o = 0; o < O; ++o) columns(o, 0, I);
  } else if (O >= 2) {
#pragma omp parallel for schedule(static)
    for (int64_t o = 0; o < O; ++o) columns(o, 0, I);
  } else {
    // One outer block: split the columns among threads.
    parallel_range(I, [&](int64_t b, int64_t e) { columns(0, b, e); });
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
  // A run of adjacent dims was reduced to a single size-1 dim: with keepdim each
  // reduced dim must stay as its own size-1 dim.
  Shape out_shape;
  for (int64_t d = 0; d < nd; ++d)
    if (!std::binary_search(dims.begin(), dims.end(), d)) out_shape.push_back(a_in.sizes()[d]);
    else if (keepdim) out_shape.push_back(1);
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
    parallel_for_if(use_threads(a.numel()), g.outer, [&](int64_t o) {
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
    });
  });
}

}  // namespace dg::kernels
