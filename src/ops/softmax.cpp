// softmax and log_softmax along one dim, numerically stable (the max along the
// dim is subtracted first, which changes neither result).
//
// Softmax's local Jacobian along the dim is diag(Y) - Y·Yᵀ; multiplied by dY it
// collapses to an elementwise form, so no R×R matrix is ever built:
//   softmax:     dA = Y ⊙ (dY - Σ_dim dY ⊙ Y)
//   log_softmax: dA = dY - softmax(A) ⊙ Σ_dim dY
#include <cmath>
#include <limits>

#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

// y[o, :, i] = (log_)softmax of x[o, :, i]; x, y contiguous [O, R, I].
template <class T> void softmax_kernel(const T* x, T* y, const kernels::ReduceGeometry& g, bool log) {
  const bool par = g.outer * g.reduce * g.inner >= kernels::kParallelGrain && omp_get_max_threads() > 1;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t o = 0; o < g.outer; ++o) {
    for (int64_t i = 0; i < g.inner; ++i) {
      const T* xp = x + o * g.reduce * g.inner + i;
      T* yp = y + o * g.reduce * g.inner + i;
      T m = -std::numeric_limits<T>::infinity();
      for (int64_t r = 0; r < g.reduce; ++r) m = std::max(m, xp[r * g.inner]);
      if (m == -std::numeric_limits<T>::infinity()) m = 0;
      double s = 0;
      for (int64_t r = 0; r < g.reduce; ++r) {
        T e = std::exp(xp[r * g.inner] - m);
        if (!log) yp[r * g.inner] = e;
        s += e;
      }
      if (log) {
        // (x - m) - log Σ: subtracting m first keeps the result exact where it is
        // small; x - (m + log Σ) would round m + log Σ at m's magnitude (x ≈ 1000
        // in float32 loses 4 digits).
        const T ls = static_cast<T>(std::log(s));
        for (int64_t r = 0; r < g.reduce; ++r) yp[r * g.inner] = (xp[r * g.inner] - m) - ls;
      } else {
        T inv = static_cast<T>(1.0 / s);
        for (int64_t r = 0; r < g.reduce; ++r) yp[r * g.inner] *= inv;
      }
    }
  }
}

// dA for both forms, from Y and dY (contiguous [O, R, I]).
template <class T> void softmax_backward_kernel(const T* y, const T* dy, T* dx, const kernels::ReduceGeometry& g, bool log) {
  const bool par = g.outer * g.reduce * g.inner >= kernels::kParallelGrain && omp_get_max_threads() > 1;
#pragma omp parallel for schedule(static) if (par)
  for (int64_t o = 0; o < g.outer; ++o) {
    for (int64_t i = 0; i < g.inner; ++i) {
      const int64_t base = o * g.reduce * g.inner + i;
      double s = 0;
      for (int64_t r = 0; r < g.reduce; ++r) {
        const int64_t k = base + r * g.inner;
        s += log ? dy[k] : dy[k] * y[k];
      }
      for (int64_t r = 0; r < g.reduce; ++r) {
        const int64_t k = base + r * g.inner;
        dx[k] = log ? static_cast<T>(dy[k] - std::exp(y[k]) * s) : static_cast<T>(y[k] * (dy[k] - s));
      }
    }
  }
}

Tensor softmax_impl(const Tensor& a_in, int64_t dim, bool log) {
  const char* name = log ? "log_softmax" : "softmax";
  detail::check_defined(a_in, name);
  Tensor a = kernels::as_contiguous(is_floating(a_in.dtype()) ? a_in : a_in.to(kFloat));
  dim = wrap_dim(dim, a.dim(), name);
  Tensor out = make_tensor(a.sizes(), a.dtype());
  auto g = kernels::reduce_geometry(a.sizes(), dim, a.dim() == 0 ? 1 : dim + 1);
  dispatch_floating(a.dtype(), name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    softmax_kernel<T>(a.data_ptr<T>(), out.data_ptr<T>(), g, log);
  });
  return out;
}

struct SoftmaxBackward : Node {
  explicit SoftmaxBackward(bool log) : Node(log ? OpKind::LogSoftmax : OpKind::Softmax), log(log) {}
  bool log;
  Tensor y;
  int64_t dim = 0;
  TensorList apply(TensorList&& g) override {
    // softmax:     dA[A] = Y ⊙ (dY - Σ_dim(dY ⊙ Y))      (Σ keeps dim; broadcast back along it)
    // log_softmax: dA[A] = dY - exp(Y) ⊙ Σ_dim dY
    Tensor dy = g[0].contiguous();
    Tensor dx = make_tensor(y.sizes(), y.dtype());
    auto geo = kernels::reduce_geometry(y.sizes(), dim, y.dim() == 0 ? 1 : dim + 1);
    dispatch_floating(y.dtype(), "softmax backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      softmax_backward_kernel<T>(y.data_ptr<T>(), dy.data_ptr<T>(), dx.data_ptr<T>(), geo, log);
    });
    return {dx};
  }
};

}  // namespace
}  // namespace ops

using namespace ops;

static Tensor softmax_op(const Tensor& a, int64_t dim, bool log) {
  Tensor out = softmax_impl(a, dim, log);
  record<SoftmaxBackward>(
      out, {&a}, {},
      [&](SoftmaxBackward& n) {
        n.y = n.save(out);
        n.dim = wrap_dim(dim, a.dim(), "softmax");
      },
      log);
  return out;
}

Tensor softmax(const Tensor& a, int64_t dim) { return softmax_op(a, dim, false); }
Tensor log_softmax(const Tensor& a, int64_t dim) { return softmax_op(a, dim, true); }

}  // namespace dg
