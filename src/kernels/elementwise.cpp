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

void copy(const Tensor& dst, const Tensor& src) {
  dispatch_dtype(dst.dtype(), [&](auto dtag) {
    using D = typename decltype(dtag)::type;
    dispatch_dtype(src.dtype(), [&](auto stag) {
      using S = typename decltype(stag)::type;
      if constexpr (std::is_same_v<D, S>) {
        if (dst.is_contiguous() && src.is_contiguous() && dst.sizes() == src.sizes()) {
          std::memcpy(dst.raw_data(), src.raw_data(), dst.nbytes());
          return;
        }
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
