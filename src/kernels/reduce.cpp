// Reductions over a contiguous tensor seen as [outer, reduce, inner].
#include <algorithm>
#include <limits>
#include <vector>

#include "kernels/kernels.hpp"
#include "kernels/sum_of.hpp"
#include "kernels/vec_math.hpp"
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

template <class T> using acc_t = sum_acc_t<T>;

// Σ row[0..n), accumulated as sum_of does (lanes; float32 in blocks of 256).
template <class T> acc_t<T> row_sum(const T* row, int64_t n) {
  return lane_sum<T>(0, n, [row](int64_t i) { return row[i]; });
}

// columns(o, i0, i1) over every outer block o and its inner positions [0, I):
// on one thread, one outer block per thread, or, with a single outer block, its
// positions split among the threads (parallel_range would judge by the number of
// positions alone and keep 1024 × 1024 on one thread).
template <class F> void for_column_blocks(bool par, int64_t O, int64_t I, const F& columns) {
  if (!par) {
    for (int64_t o = 0; o < O; ++o) columns(o, int64_t(0), I);
  } else if (O >= 2) {
    DG_OMP(omp parallel for schedule(static))
    for (int64_t o = 0; o < O; ++o) columns(o, int64_t(0), I);
  } else {
    split_among_threads(I, [&](int64_t b, int64_t e) { columns(int64_t(0), b, e); });
  }
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
      // One long row (a full sum): split among the threads by sum_of.
      out[0] = static_cast<R>(sum_of<T>(Rn, Rn, [x](int64_t i) { return x[i]; }));
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
  for_column_blocks(par, O, I, columns);
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

// ------------------------------------------------------------- max and min
// LibTorch's semantics: NaN wins (the first NaN along the dim, as if it compared
// greater than everything for max and smaller for min), and among equal values
// the first index. Each row is read in two vectorized passes: the extreme value
// (32-lane running max/min and NaN flags, lanes merged at the end), then the
// first index that holds it. The value returned is the element at that index,
// so of +0 and −0 (equal) it is the first, whatever the lane or thread split.
namespace {

// Whether c replaces best: strictly better (ties keep the first).
template <class T> inline bool better(T c, T best, bool is_max) { return is_max ? c > best : c < best; }
template <class T> inline bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

// The extreme of row[0..n), n ≥ 1, and whether the row holds a NaN (then the value is meaningless).
template <class T, bool kMax> T extreme_value(const T* row, int64_t n, bool& has_nan) {
  constexpr int L = 32;
  using Flag = std::conditional_t<sizeof(T) == 8, int64_t, int32_t>;  // lane width of T: one mask per lane
  if (n < 2 * L) {
    T best = row[0];
    bool nan = false;
    for (int64_t r = 0; r < n; ++r) {
      nan |= is_nan(row[r]);
      if (better(row[r], best, kMax)) best = row[r];
    }
    has_nan = nan;
    return best;
  }
  T acc[L];
  Flag nan[L];
  for (int j = 0; j < L; ++j) {
    acc[j] = row[j];
    nan[j] = static_cast<Flag>(is_nan(row[j]));
  }
  int64_t r = L;
  for (; r + L <= n; r += L)
    for (int j = 0; j < L; ++j) {
      const T c = row[r + j];
      acc[j] = better(c, acc[j], kMax) ? c : acc[j];
      nan[j] |= static_cast<Flag>(is_nan(c));
    }
  // The lanes combined pairwise, vectorized (a scalar pass over 32 lanes cost as
  // much as a 1024-long row's main loop). The order does not matter: a NaN lane is
  // flagged, and the sign of a zero extreme is settled by the caller's index search.
  for (int w = L / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) {
      acc[j] = better(acc[j + w], acc[j], kMax) ? acc[j + w] : acc[j];
      nan[j] |= nan[j + w];
    }
  T best = acc[0];
  Flag any_nan = nan[0];
  for (; r < n; ++r) {
    any_nan |= static_cast<Flag>(is_nan(row[r]));
    if (better(row[r], best, kMax)) best = row[r];
  }
  has_nan = any_nan != 0;
  return best;
}

// The first r with row[r] == v (kNan: the first NaN), which must exist. Blocks of
// 32 are tested with a vectorized OR of the comparisons (a lane-wide integer flag,
// as in extreme_value), the hit located in its block.
template <class T, bool kNan> int64_t first_index_of(const T* row, int64_t n, T v) {
  constexpr int L = 32;
  using Flag = std::conditional_t<sizeof(T) == 8, int64_t, int32_t>;
  auto hit = [v](T c) { return kNan ? is_nan(c) : c == v; };
  int64_t r = 0;
  for (; r + L <= n; r += L) {
    Flag any = 0;
    for (int j = 0; j < L; ++j) any |= static_cast<Flag>(hit(row[r + j]));
    if (any) break;
  }
  for (; r < n; ++r)
    if (hit(row[r])) return r;
  return 0;  // unreachable for a v taken from the row
}

// The extreme of row[0..n) and its first index (a NaN's if there is one). The
// index is searched only when asked or when the value is ambiguous (a zero, whose
// sign the lanes may have picked from either ±0; a NaN).
template <class T, bool kMax> T row_extreme(const T* row, int64_t n, bool want_index, int64_t& index) {
  bool has_nan = false;
  T v = extreme_value<T, kMax>(row, n, has_nan);
  if (has_nan) v = std::numeric_limits<T>::quiet_NaN();
  if (!want_index && !has_nan && v != T(0)) return v;
  index = has_nan ? first_index_of<T, true>(row, n, v) : first_index_of<T, false>(row, n, v);
  return row[index];
}

template <class T, bool kMax>
void max_min_typed(const T* x, T* v, int64_t* idx, const ReduceGeometry& g, bool want_index) {
  const int64_t O = g.outer, Rn = g.reduce, I = g.inner;
  const bool par = use_threads(O * Rn * I / 2);
  if (I == 1 && O == 1 && par) {
    // One long row (max() of everything, argmax()): each thread takes a slice; the
    // slices are merged in order (NaN first, then strictly better), so the first
    // index wins exactly as on one thread.
    const int nt_max = omp_get_max_threads();
    struct Part {
      T v{};
      int64_t i = -1;  // −1: the thread had no slice
    };
    std::vector<Part> part(static_cast<size_t>(nt_max));
    DG_OMP(omp parallel)
    {
      const int64_t nt = omp_get_num_threads(), tid = omp_get_thread_num();
      const int64_t chunk = ((Rn + nt - 1) / nt + 31) / 32 * 32;
      const int64_t b = std::min(Rn, tid * chunk), e = std::min(Rn, b + chunk);
      if (b < e) {
        int64_t i = 0;
        T val{};
        simd_run([&] { val = row_extreme<T, kMax>(x + b, e - b, want_index, i); });
        part[static_cast<size_t>(tid)] = {val, b + i};
      }
    }
    Part best = part[0];
    for (const Part& p : part) {
      if (p.i < 0 || is_nan(best.v)) continue;
      if (is_nan(p.v) || better(p.v, best.v, kMax)) best = p;
    }
    v[0] = best.v;
    if (idx) idx[0] = best.i;
    return;
  }
  if (I == 1) {
    // Rows: row_extreme on each (short rows, e.g. argmax over 10 classes, take its scalar loop).
    parallel_for_if(par && O > 1, O, [&](int64_t o) {
      int64_t i = 0;
      simd_run([&] { v[o] = row_extreme<T, kMax>(x + o * Rn, Rn, want_index, i); });
      if (idx) idx[o] = i;
    });
    return;
  }
  // Columns: for each r in order, every position i compares x[o, r, i] with the best
  // so far — contiguous in i and vectorized. A NaN replaces a non-NaN best and is
  // never replaced (NaN compares false). `|` and `&`, not `||` and `&&`: no branch.
  auto take = [](T c, T b) { return better(c, b, kMax) | (is_nan(c) & !is_nan(b)); };
  // The running index in a type as wide as T where it fits, and both picks by
  // integer masks (kernels::select): GCC vectorizes that, not a ?: or an int64
  // index beside float lanes.
  using Idx = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
  const bool narrow_index = std::is_floating_point_v<T> && Rn <= std::numeric_limits<Idx>::max();
  auto columns = [&](int64_t o, int64_t i0, int64_t i1) {
    T* vb = v + o * I;
    const T* first = x + o * Rn * I;
    std::copy(first + i0, first + i1, vb + i0);
    if (!idx) {
      for (int64_t r = 1; r < Rn; ++r) {
        const T* src = first + r * I;
        if constexpr (std::is_floating_point_v<T>)
          vec_for<T>(i0, i1, [=](int64_t i) { vb[i] = select(take(src[i], vb[i]), src[i], vb[i]); });
        else
          for (int64_t i = i0; i < i1; ++i) vb[i] = take(src[i], vb[i]) ? src[i] : vb[i];
      }
      return;
    }
    int64_t* ib = idx + o * I;
    if constexpr (std::is_floating_point_v<T>) {
      if (narrow_index) {
        std::vector<Idx> best_r(static_cast<size_t>(i1 - i0), Idx(0));
        Idx* br = best_r.data() - i0;
        for (int64_t r = 1; r < Rn; ++r) {
          const T* src = first + r * I;
          const Idx rr = static_cast<Idx>(r);
          vec_for<T>(i0, i1, [=](int64_t i) {
            const bool t = take(src[i], vb[i]);
            const Idx m = -static_cast<Idx>(t);  // all ones where t
            vb[i] = select(t, src[i], vb[i]);
            br[i] = (rr & m) | (br[i] & ~m);
          });
        }
        std::copy(best_r.begin(), best_r.end(), ib + i0);
        return;
      }
    }
    std::fill(ib + i0, ib + i1, int64_t(0));
    for (int64_t r = 1; r < Rn; ++r) {
      const T* src = first + r * I;
      for (int64_t i = i0; i < i1; ++i)
        if (take(src[i], vb[i])) {
          vb[i] = src[i];
          ib[i] = r;
        }
    }
  };
  for_column_blocks(par, O, I, columns);
}

template <class T> void max_min_any(const T* x, T* v, int64_t* idx, const ReduceGeometry& g, bool is_max) {
  if (is_max) max_min_typed<T, true>(x, v, idx, g, idx != nullptr);
  else max_min_typed<T, false>(x, v, idx, g, idx != nullptr);
}

}  // namespace

void max_min_dim(const Tensor& a_in, int64_t dim, bool is_max, Tensor& values, Tensor& indices) {
  Tensor a = as_contiguous(a_in);
  ReduceGeometry g = reduce_geometry(a.sizes(), dim, dim + 1);
  Shape out_shape(a.sizes());
  out_shape[static_cast<size_t>(dim)] = 1;
  values = detail::make_tensor(out_shape, a.dtype());
  indices = detail::make_tensor(out_shape, kLong);
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    max_min_any<T>(static_cast<const T*>(a.raw_data()), static_cast<T*>(values.raw_data()),
                   indices.data_ptr<int64_t>(), g, is_max);
  });
}

Tensor max_min_all(const Tensor& a_in, bool is_max) {
  Tensor a = as_contiguous(a_in);
  ReduceGeometry g;
  g.reduce = a.numel();
  Tensor value = detail::make_tensor({}, a.dtype());
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    max_min_any<T>(static_cast<const T*>(a.raw_data()), static_cast<T*>(value.raw_data()), nullptr, g, is_max);
  });
  return value;
}

Tensor max_min_values(const Tensor& a_in, int64_t d0, int64_t d1, bool is_max) {
  Tensor a = as_contiguous(a_in);
  ReduceGeometry g = reduce_geometry(a.sizes(), d0, d1);
  Shape out_shape;
  for (int64_t d = 0; d < a.dim(); ++d)
    if (d < d0 || d >= d1) out_shape.push_back(a.size(d));
    else if (d == d0) out_shape.push_back(1);
  Tensor values = detail::make_tensor(out_shape, a.dtype());
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    max_min_any<T>(static_cast<const T*>(a.raw_data()), static_cast<T*>(values.raw_data()), nullptr, g, is_max);
  });
  return values;
}

// ------------------------------------------------------------- product
namespace {

// Floating products in double; integers as uint64, whose wrap-around is the
// two's-complement int64 result without signed-overflow undefined behaviour.
template <class T> using prod_acc_t = std::conditional_t<std::is_floating_point_v<T>, double, uint64_t>;

// Π row[0..n) in 16 independent lanes (vector registers), combined pairwise.
template <class T> prod_acc_t<T> row_product(const T* row, int64_t n) {
  using Acc = prod_acc_t<T>;
  constexpr int L = 16;
  Acc acc[L];
  for (int j = 0; j < L; ++j) acc[j] = 1;
  int64_t r = 0;
  for (; r + L <= n; r += L)
    for (int j = 0; j < L; ++j) acc[j] *= static_cast<Acc>(row[r + j]);
  Acc tail = 1;
  for (; r < n; ++r) tail *= static_cast<Acc>(row[r]);
  for (int w = L / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) acc[j] *= acc[j + w];
  return acc[0] * tail;
}

// out[o, i] = Π_r x[o, r, i], split among the threads as sum_orb splits a sum.
template <class T, class R> void prod_orb(const T* x, R* out, const ReduceGeometry& g) {
  using Acc = prod_acc_t<T>;
  const int64_t O = g.outer, Rn = g.reduce, I = g.inner;
  const bool par = use_threads(O * Rn * I / 3);
  if (I == 1) {
    parallel_for_if(par && O > 1, O, [&](int64_t o) {
      Acc p = 1;
      simd_run([&] { p = row_product(x + o * Rn, Rn); });
      out[o] = static_cast<R>(p);
    });
    return;
  }
  // Columns: a running product per position, each row read contiguously.
  auto columns = [&](int64_t o, int64_t i0, int64_t i1) {
    std::vector<Acc> acc(static_cast<size_t>(i1 - i0), Acc(1));
    Acc* a = acc.data() - i0;
    for (int64_t r = 0; r < Rn; ++r) {
      const T* src = x + (o * Rn + r) * I;
      vec_for<T>(i0, i1, [=](int64_t i) { a[i] *= static_cast<Acc>(src[i]); });
    }
    for (int64_t i = i0; i < i1; ++i) out[o * I + i] = static_cast<R>(a[i]);
  };
  for_column_blocks(par, O, I, columns);
}

}  // namespace

Tensor prod_dim(const Tensor& a_in, int64_t dim) {
  Tensor a = as_contiguous(a_in);
  ReduceGeometry g = reduce_geometry(a.sizes(), dim, dim + 1);
  Shape out_shape(a.sizes());
  out_shape[static_cast<size_t>(dim)] = 1;
  const ScalarType out_t = is_floating(a.dtype()) ? a.dtype() : kLong;
  Tensor out = detail::make_tensor(out_shape, out_t);
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* x = static_cast<const T*>(a.raw_data());
    if constexpr (std::is_floating_point_v<T>) prod_orb<T, T>(x, out.data_ptr<T>(), g);
    else prod_orb<T, int64_t>(x, out.data_ptr<int64_t>(), g);
  });
  return out;
}

}  // namespace dg::kernels
