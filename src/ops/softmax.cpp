// softmax and log_softmax along one dim, numerically stable (the max along the
// dim is subtracted first, which changes neither result).
//
// Softmax's local Jacobian along the dim is diag(Y) - Y·Yᵀ; multiplied by dY it
// collapses to an elementwise form, so no R×R matrix is ever built:
//   softmax:     dA = Y ⊙ (dY - Σ_dim dY ⊙ Y)
//   log_softmax: dA = dY - softmax(A) ⊙ Σ_dim dY
#include <cmath>
#include <limits>
#include <vector>

#include "ops/nn_simd.hpp"
#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

// y[o, :, i] = (log_)softmax of x[o, :, i]; x, y contiguous [O, R, I]. The
// loops run on the CPU's vector width (simd_if_float): along a row when the dim
// is the last one (I = 1), across i otherwise; rows shorter than a vector take
// their exponentials in one flat loop (short_rows_lse). The maximum is
// subtracted first (a row of −∞ keeps 0, so its softmax is NaN, as LibTorch).
template <class T> void softmax_kernel(const T* x, T* y, const kernels::ReduceGeometry& g, bool log) {
  using kernels::fast_exp;
  const int64_t R = g.reduce, I = g.inner;
  if (g.outer * R * I == 0) return;  // nothing to compute (and no row to take a maximum of)
  parallel_chunks(g.outer, g.outer * R * I, [&](int64_t lo, int64_t hi) {
    if (I == 1 && R < row_detail::L) {  // short rows: [lo, hi) is one block of contiguous rows
      std::vector<T> m(static_cast<size_t>(hi - lo));
      std::vector<double> log_sum(static_cast<size_t>(hi - lo));
      simd_if_float<T>([&] {
        short_rows_lse(x + lo * R, y + lo * R, hi - lo, R, !log, m.data(), log_sum.data());
        if (log)
          for (int64_t o = lo; o < hi; ++o) {
            // (x − m) − log Σ: subtracting m first keeps the result exact where it
            // is small; x − (m + log Σ) would round m + log Σ at m's magnitude
            // (x ≈ 1000 in float32 loses 4 digits).
            const T mo = m[static_cast<size_t>(o - lo)], ls = static_cast<T>(log_sum[static_cast<size_t>(o - lo)]);
            for (int64_t r = 0; r < R; ++r) y[o * R + r] = (x[o * R + r] - mo) - ls;
          }
      });
      return;
    }
    if (I == 1) {
      simd_if_float<T>([&] {
        for (int64_t o = lo; o < hi; ++o) {
          const T* xr = x + o * R;
          T* yr = y + o * R;
          T m = row_max(xr, R);
          if (std::isinf(m) && m < 0) m = 0;
          const double s = row_exp_sum(xr, log ? nullptr : yr, R, m);
          if (log) {
            const T ls = static_cast<T>(std::log(s));
            for (int64_t r = 0; r < R; ++r) yr[r] = (xr[r] - m) - ls;
          } else {
            const T inv = static_cast<T>(1.0 / s);
            for (int64_t r = 0; r < R; ++r) yr[r] *= inv;
          }
        }
      });
      return;
    }
    // Softmax along a dim with I > 1 values after it: every step below is a
    // contiguous loop over i, one (o, r) row of I values at a time.
    std::vector<T> m(static_cast<size_t>(I)), scale(static_cast<size_t>(I));
    std::vector<double> s(static_cast<size_t>(I));
    simd_if_float<T>([&] {
      T* __restrict pm = m.data();
      T* __restrict ps = scale.data();
      double* __restrict sum = s.data();
      for (int64_t o = lo; o < hi; ++o) {
        const T* xo = x + o * R * I;
        T* yo = y + o * R * I;
        for (int64_t i = 0; i < I; ++i) pm[i] = -std::numeric_limits<T>::infinity();
        for (int64_t r = 0; r < R; ++r)
          for (int64_t i = 0; i < I; ++i) pm[i] = pm[i] < xo[r * I + i] ? xo[r * I + i] : pm[i];
        for (int64_t i = 0; i < I; ++i) {
          pm[i] = pm[i] == -std::numeric_limits<T>::infinity() ? T(0) : pm[i];
          sum[i] = 0;
        }
        for (int64_t r = 0; r < R; ++r)
          for (int64_t i = 0; i < I; ++i) {
            const T e = fast_exp(xo[r * I + i] - pm[i]);
            if (!log) yo[r * I + i] = e;
            sum[i] += static_cast<double>(e);
          }
        for (int64_t i = 0; i < I; ++i) ps[i] = log ? static_cast<T>(std::log(sum[i])) : static_cast<T>(1.0 / sum[i]);
        for (int64_t r = 0; r < R; ++r)
          for (int64_t i = 0; i < I; ++i)
            yo[r * I + i] = log ? (xo[r * I + i] - pm[i]) - ps[i] : yo[r * I + i] * ps[i];
      }
    });
  });
}

// dA for both forms, from Y and dY (contiguous [O, R, I]):
//   softmax:     dx = y ⊙ (dy − Σ_r dy ⊙ y)      log_softmax: dx = dy − exp(y) ⊙ Σ_r dy
template <class T> void softmax_backward_kernel(const T* y, const T* dy, T* dx, const kernels::ReduceGeometry& g, bool log) {
  using kernels::fast_exp;
  const int64_t R = g.reduce, I = g.inner;
  if (g.outer * R * I == 0) return;
  parallel_chunks(g.outer, g.outer * R * I, [&](int64_t lo, int64_t hi) {
    std::vector<double> s(static_cast<size_t>(I));
    simd_if_float<T>([&] {
      // log_softmax: exp(y) = softmax, first into dx for the whole block (one flat loop)
      if (log)
        for (int64_t k = lo * R * I; k < hi * R * I; ++k) dx[k] = fast_exp(y[k]);
      double* __restrict sum = s.data();
      for (int64_t o = lo; o < hi; ++o) {
        const T* __restrict yo = y + o * R * I;
        const T* __restrict dyo = dy + o * R * I;
        T* __restrict dxo = dx + o * R * I;
        if (I == 1) {  // one contiguous row
          const T so = static_cast<T>(log ? row_sum(dyo, R) : row_dot(dyo, yo, R));
          if (log)
            for (int64_t r = 0; r < R; ++r) dxo[r] = dyo[r] - dxo[r] * so;
          else
            for (int64_t r = 0; r < R; ++r) dxo[r] = yo[r] * (dyo[r] - so);
          continue;
        }
        for (int64_t i = 0; i < I; ++i) sum[i] = 0;
        for (int64_t r = 0; r < R; ++r)
          for (int64_t i = 0; i < I; ++i)
            sum[i] += log ? static_cast<double>(dyo[r * I + i])
                          : static_cast<double>(dyo[r * I + i]) * static_cast<double>(yo[r * I + i]);
        for (int64_t r = 0; r < R; ++r)
          for (int64_t i = 0; i < I; ++i) {
            const T si = static_cast<T>(sum[i]);
            dxo[r * I + i] = log ? dyo[r * I + i] - dxo[r * I + i] * si : yo[r * I + i] * (dyo[r * I + i] - si);
          }
      }
    });
  });
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
