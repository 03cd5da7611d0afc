// Copies, fills and broadcast strides.
#include <cmath>
#include <limits>

#include "kernels/kernels.hpp"
#include "tensor/internal.hpp"

namespace dg::kernels {

Shape broadcast_strides(const Tensor& t, IntArrayRef shape) {
  Shape s;
  s.resize(shape.size());
  size_t off = shape.size() - static_cast<size_t>(t.dim());
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i < off) continue;  // a missing leading dim: stride 0
    int64_t sz = t.sizes()[i - off];
    s[i] = (sz == 1 && shape[i] != 1) ? 0 : t.strides()[i - off];
  }
  return s;
}

namespace {

// A copy whose source runs contiguously along the destination's second-to-last
// dim but not along its last (a transpose: m.t().contiguous(), a permute that
// moves the innermost dim). Element by element, either the reads or the writes
// stride by a whole row and every one touches a new cache line (1024×1024
// floats: 4.2 ms against LibTorch's 0.9). Tiles of one cache line by one (16×16
// floats) go through a local buffer: each source line is read whole into it, then
// each destination line written whole from it, so no line has to stay cached
// between two uses (rows 4 KB apart share an L1 set, and a tile touched in place
// evicts its own lines). Returns false, copying nothing, for any other layout.
template <class T> bool transpose_copy(const Tensor& dst, const Tensor& src) {
  constexpr int64_t B = 64 / sizeof(T) < 8 ? 8 : 64 / sizeof(T);
  if (!dst.is_contiguous() || dst.sizes() != src.sizes()) return false;
  Shape ss = broadcast_strides(src, dst.sizes());
  auto plan = make_plan<2>(dst.sizes(), {dst.strides().data(), ss.data()}, {int64_t(sizeof(T)), int64_t(sizeof(T))});
  if (plan.ndim < 2) return false;
  const int last = plan.ndim - 1;
  const int64_t R = plan.sizes[last - 1], C = plan.sizes[last];
  if (plan.strides[1][last - 1] != int64_t(sizeof(T)) || plan.strides[1][last] == int64_t(sizeof(T)) || R < B ||
      C < B)
    return false;
  // dst is contiguous, so its innermost stride is one element and dr a whole row.
  const int64_t dr = plan.strides[0][last - 1], sc = plan.strides[1][last];
  const int64_t n_outer = plan.numel / (R * C), row_tiles = (R + B - 1) / B;
  char* const dst_base = static_cast<char*>(dst.raw_data());
  const char* const src_base = static_cast<const char*>(src.raw_data());
  parallel_for_if(use_threads(plan.numel), n_outer * row_tiles, [&](int64_t job) {
    int64_t o = job / row_tiles;
    const int64_t r0 = (job % row_tiles) * B, r1 = std::min(R, r0 + B);
    char* d = dst_base;
    const char* s = src_base;
    for (int k = last - 2; k >= 0; --k) {  // the outer dims' offsets
      const int64_t i = o % plan.sizes[k];
      o /= plan.sizes[k];
      d += i * plan.strides[0][k];
      s += i * plan.strides[1][k];
    }
    T tile[B][B];  // tile[c - c0][r - r0]
    for (int64_t c0 = 0; c0 < C; c0 += B) {
      const int64_t c1 = std::min(C, c0 + B);
      for (int64_t c = c0; c < c1; ++c) {  // source: contiguous in r
        const T* line = reinterpret_cast<const T*>(s + c * sc);
        for (int64_t r = r0; r < r1; ++r) tile[c - c0][r - r0] = line[r];
      }
      for (int64_t r = r0; r < r1; ++r) {  // destination: contiguous in c
        T* line = reinterpret_cast<T*>(d + r * dr);
        for (int64_t c = c0; c < c1; ++c) line[c] = tile[c - c0][r - r0];
      }
    }
  });
  return true;
}

}  // namespace

void copy(const Tensor& dst, const Tensor& src) {
  dispatch_dtype(dst.dtype(), [&](auto dtag) {
    using D = typename decltype(dtag)::type;
    dispatch_dtype(src.dtype(), [&](auto stag) {
      using S = typename decltype(stag)::type;
      if constexpr (std::is_same_v<D, S>) {
        if (dst.is_contiguous() && src.is_contiguous() && dst.sizes() == src.sizes()) {
          // A long copy on all threads: one core's memcpy moves about half of what
          // two do here (a 2 MB block: 300 µs on one thread, cat along dim 0).
          char* d = static_cast<char*>(dst.raw_data());
          const char* s = static_cast<const char*>(src.raw_data());
          const int64_t bytes = static_cast<int64_t>(dst.nbytes());
          parallel_range(bytes / 16, [&](int64_t b, int64_t e) {
            const int64_t end = e == bytes / 16 ? bytes : e * 16;  // the last chunk takes the tail
            std::memcpy(d + b * 16, s + b * 16, static_cast<size_t>(end - b * 16));
          });
          if (bytes > 0 && bytes < 16) std::memcpy(d, s, static_cast<size_t>(bytes));
          return;
        }
        if (transpose_copy<D>(dst, src)) return;
      }
      if constexpr (std::is_integral_v<D> && !std::is_same_v<D, bool> && std::is_floating_point_v<S>) {
        // A float outside the integer's range has no defined conversion in C++
        // (UBSan stops there). Go through int64 as PyTorch does on x86: NaN,
        // infinities and |x| ≥ 2⁶³ give x86's "integer indefinite" INT64_MIN,
        // and uint8 wraps modulo 256 (-1.0 → 255).
        unary_loop<D, S>(dst, src, [](S x) {
          const int64_t i = std::isfinite(x) && std::fabs(x) < S(9.2e18) ? static_cast<int64_t>(x)
                                                                          : std::numeric_limits<int64_t>::min();
          return static_cast<D>(i);
        });
      } else {
        unary_loop<D, S>(dst, src, [](S x) { return static_cast<D>(x); });
      }
    });
  });
}

Tensor contiguous_copy(const Tensor& t) {
  Tensor out = detail::make_tensor(t.sizes(), t.dtype());
  copy(out, t);
  return out;
}

Tensor as_contiguous(const Tensor& t) { return t.is_contiguous() ? t : contiguous_copy(t); }

void fill(const Tensor& t, Scalar v) {
  dispatch_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T value = v.to<T>();
    if (t.is_contiguous()) {
      // On all threads when long: each thread writes the chunk it also reads and
      // writes in the elementwise loops (the same split), so the lines stay in
      // its cache instead of moving to the calling thread's.
      T* p = static_cast<T*>(t.raw_data());
      parallel_range(t.numel(), [&](int64_t b, int64_t e) { std::fill(p + b, p + e, value); });
    } else {
      unary_loop<T, T>(t, t, [value](T) { return value; });
    }
  });
}

}  // namespace dg::kernels
