// batch_norm and batch_norm_relu, fused. The forward is a statistics pass and
// one affine pass y = x·scale + shift (then max(y, 0) for batch_norm_relu); the
// backward is one reduction pass and one elementwise pass, from the compact
// formula
//   dx = γ·rstd/M · (M·dy − Σdy − x̂·Σ(dy·x̂)),   dγ = Σ dy·x̂,   dβ = Σ dy
// (derivation with the shape of every intermediate: docs/derivations/batch_norm.md).
// Sums accumulate in double.
//
// Shapes: x [N, C, S] (S = the spatial dims flattened, 1 for [N, C]), statistics
// per channel over the M = N·S values of that channel; γ, β, μ, rstd [C].
#include <cmath>
#include <vector>

#include "dimgrad/nn/normalization.hpp"
#include "ops/nn_simd.hpp"
#include "ops/norm_util.hpp"

namespace dg {
namespace ops {
namespace {

// Per-channel sums over x [N, C, S] with S > 1 (both into a1[c], a2[c]): each
// (n, c) pair is a contiguous run of S values; run(c, offset, s1, s2) adds the
// run's sums (row kernels). ([N, C] inputs take the column kernels below.)
template <class T, class Run>
void channel_reduce(int64_t N, int64_t C, int64_t S, double* a1, double* a2, const Run& run) {
  parallel_chunks(C, N * C * S, [&](int64_t c0, int64_t c1) {
    simd_if_float<T>([&] {
      for (int64_t c = c0; c < c1; ++c) {
        double s1 = 0, s2 = 0;
        for (int64_t n = 0; n < N; ++n) run(c, (n * C + c) * S, s1, s2);
        a1[c] = s1;
        a2[c] = s2;
      }
    });
  });
}

// relu(v) as dg::relu: !(v <= 0) keeps NaN.
template <class T> inline T relu_if(bool relu, T v) { return relu && v <= T(0) ? T(0) : v; }

// out = relu?(A_c·u + B_c·(v − M_c) + D_c) for every element of channel c of
// [N, C, S] with S > 1 (v may be null: the B term is dropped).
template <class T>
void channel_affine(int64_t N, int64_t C, int64_t S, T* __restrict out, const T* __restrict u, const T* A,
                    const T* __restrict v, const T* B, const T* M, const T* D, bool relu) {
  parallel_chunks(N * C, N * C * S, [&](int64_t i0, int64_t i1) {
    simd_if_float<T>([&] {
      for (int64_t nc = i0; nc < i1; ++nc) {
        const int64_t c = nc % C;
        const T a = A[c], d = D[c];
        T* o = out + nc * S;
        const T* ur = u + nc * S;
        if (v) {
          const T b = B[c], m = M[c];
          const T* vr = v + nc * S;
          for (int64_t s = 0; s < S; ++s) o[s] = relu_if(relu, a * ur[s] + b * (vr[s] - m) + d);
        } else {
          for (int64_t s = 0; s < S; ++s) o[s] = relu_if(relu, a * ur[s] + d);
        }
      }
    });
  });
}

// ---- [N, C] (S = 1): one parallel region per pass of the op, split by channel.
// Each thread owns a block of whole 16-column groups (a float cache line per
// row), computes that block's statistics and writes that block's output, so
// the forward and the backward need no barrier and no two threads write one
// cache line.
template <class F> void column_blocks(int64_t N, int64_t C, const F& f) {
  constexpr int64_t G = 16;
  parallel_chunks((C + G - 1) / G, N * C, [&](int64_t g0, int64_t g1) { f(g0 * G, std::min(C, g1 * G)); });
}

// Per column c in [c0, c1) of an [N, C] matrix: s1[c] = Σ_n, s2[c] = Σ_n of the
// two terms term(n, c, t1, t2) adds, in double, in row order (each column's
// additions are those of a plain loop over n, so every ISA and every split
// gives the same bits). 32 columns at a time keep their 64 partial sums in
// registers across the rows instead of reloading them per row.
template <class Term>
inline void column_sums(int64_t N, int64_t c0, int64_t c1, double* s1, double* s2, const Term& term) {
  constexpr int64_t W = 32;
  int64_t c = c0;
  for (; c + W <= c1; c += W) {
    double a[W] = {}, b[W] = {};
    for (int64_t n = 0; n < N; ++n)
      for (int64_t j = 0; j < W; ++j) term(n, c + j, a[j], b[j]);
    for (int64_t j = 0; j < W; ++j) {
      s1[c + j] = a[j];
      s2[c + j] = b[j];
    }
  }
  for (; c < c1; ++c) {
    double a = 0, b = 0;
    for (int64_t n = 0; n < N; ++n) term(n, c, a, b);
    s1[c] = a;
    s2[c] = b;
  }
}

// ================================================================ batch norm
// batch_norm_relu (Sequential's BatchNorm → ReLU) is the same node with the
// ReLU's mask applied to dY first: G = dY ⊙ [Y > 0], then batch norm's backward
// of G. Y is the fused op's output, saved for that mask.
// Saved: x contiguous [N, C, S], weight [C]; mean, rstd [C]: the batch's
// (training) or the running statistics (eval).
struct BatchNormBackward : NormBackward {
  explicit BatchNormBackward(bool relu_)
      : NormBackward(relu_ ? OpKind::BatchNormRelu : OpKind::BatchNorm), relu(relu_) {}
  Tensor y;  // relu only: the output, for the mask
  int64_t N = 0, C = 0, S = 0;
  bool training = true;
  const bool relu;
  void release_saved() override {
    NormBackward::release_saved();
    y.reset();
  }
  TensorList apply(TensorList&& g) override {
    Tensor dy = kernels::as_contiguous(g[0]);
    // [N, C, S] inputs: the ReLU's mask as its own pass, G[N, C, S] = dY ⊙ [Y > 0]
    // ([N, C] inputs apply it inside the column kernels).
    if (relu && S != 1)
      dy = zip_floating(dy, y, "batch_norm_relu backward", [](auto d, auto v) { return v > 0 ? d : decltype(d)(0); });
    Tensor dx, dw, db;
    const double M_count = static_cast<double>(N * S);
    const bool need_sums = training || needs_grad(1) || needs_grad(2);
    dispatch_floating(dy.dtype(), "batch_norm backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data_ptr<T>();
      const T* pdy = dy.data_ptr<T>();
      const T* pw = data_or_null<T>(weight);
      const T* py = relu && S == 1 ? y.data_ptr<T>() : nullptr;
      const double* mu = mean.data();
      T* pdx = needs_grad(0) ? (dx = make_tensor(x.sizes(), dy.dtype())).template data_ptr<T>() : nullptr;
      // Per channel, over its M values (both [C]):
      //   sum_dy[c]  = Σ dy                     — β was broadcast over (N, S): dβ = this sum
      //   sum_dyx[c] = Σ dy·(x − μ)             — so Σ dy·x̂ = rstd·sum_dyx, and dγ = Σ dy·x̂
      std::vector<double> sum_dy(C, 0.0), sum_dyx(C, 0.0);
      // dx[N,C,S] = γ·rstd·(dy − Σdy/M − x̂·Σ(dy·x̂)/M)     (training: μ and σ² depend on x)
      //           = k1·(dy − k2 − (x − μ)·k3) with per-channel k1 = γ·rstd, k2 = Σdy/M,
      //             k3 = rstd²·sum_dyx/M   (x̂·Σ(dy·x̂) = (x − μ)·rstd · rstd·sum_dyx)
      // eval: dx = γ·rstd·dy                                (μ, σ² are constants)
      // as out = A·dy + B·(x − μ) + D with A = k1, B = −k1·k3, D = −k1·k2
      std::vector<T> A(C), B(C), M(C), D(C);
      auto coefficients = [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          const double k1 = (pw ? static_cast<double>(pw[c]) : 1.0) * rstd[c];
          const double k2 = training ? sum_dy[c] / M_count : 0.0;
          const double k3 = training ? rstd[c] * rstd[c] * sum_dyx[c] / M_count : 0.0;
          A[c] = static_cast<T>(k1);
          B[c] = static_cast<T>(-k1 * k3);
          M[c] = static_cast<T>(mean[c]);
          D[c] = static_cast<T>(-k1 * k2);
        }
      };
      if (S == 1) {
        // [N, C]: each thread its channels, sums then dx, in one region.
        // After a fused ReLU, G = dy ⊙ [y > 0] is written first (into dx, which the
        // last pass then overwrites element by element, or into a scratch buffer).
        std::vector<T> scratch(py && !pdx ? N * C : 0);
        T* pg_out = pdx ? pdx : scratch.data();
        const T* pg = py ? pg_out : pdy;
        column_blocks(N, C, [&](int64_t c0, int64_t c1) {
          simd_if_float<T>([&] {
            if (py) {
              // (local restrict copies: a store through a captured pointer could
              // otherwise change the captured pointers, and nothing would vectorize)
              T* __restrict out = pg_out;
              const T* __restrict yv = py;
              const T* __restrict dyv = pdy;
              for (int64_t n = 0; n < N; ++n)
                for (int64_t c = c0; c < c1; ++c) out[n * C + c] = yv[n * C + c] > T(0) ? dyv[n * C + c] : T(0);
            }
            if (need_sums)
              column_sums(N, c0, c1, sum_dy.data(), sum_dyx.data(), [&](int64_t n, int64_t c, double& s1, double& s2) {
                const double d = pg[n * C + c];
                s1 += d;
                s2 += d * (static_cast<double>(px[n * C + c]) - mu[c]);
              });
            if (!pdx) return;
            coefficients(c0, c1);
            T* out = pdx;  // may be pg itself: each element is read, then written
            const T* g = pg;
            const T* __restrict xv = px;
            const T *__restrict a = A.data(), *__restrict b = B.data(), *__restrict m = M.data(), *__restrict d = D.data();
            for (int64_t n = 0; n < N; ++n)
              if (training)
                for (int64_t c = c0; c < c1; ++c) out[n * C + c] = a[c] * g[n * C + c] + b[c] * (xv[n * C + c] - m[c]) + d[c];
              else
                for (int64_t c = c0; c < c1; ++c) out[n * C + c] = a[c] * g[n * C + c] + d[c];
          });
        });
      } else {
        if (need_sums)
          channel_reduce<T>(N, C, S, sum_dy.data(), sum_dyx.data(), [&](int64_t c, int64_t off, double& s1, double& s2) {
            double a, b;
            row_sum2<T>(pdy + off, nullptr, px + off, S, static_cast<T>(mu[c]), a, b);
            s1 += a;
            s2 += b;
          });
        if (pdx) {
          coefficients(0, C);
          channel_affine<T>(N, C, S, pdx, pdy, A.data(), training ? px : nullptr, B.data(), M.data(), D.data(), false);
        }
      }
      if (needs_grad(1)) {
        // dγ[C] = Σ_(N,S) dy·x̂ = rstd·sum_dyx   (γ was broadcast over N and S)
        dw = make_tensor({C}, dy.dtype());
        T* p = dw.data_ptr<T>();
        for (int64_t c = 0; c < C; ++c) p[c] = static_cast<T>(rstd[c] * sum_dyx[c]);
      }
      if (needs_grad(2)) {
        // dβ[C] = Σ_(N,S) dy
        db = make_tensor({C}, dy.dtype());
        T* p = db.data_ptr<T>();
        for (int64_t c = 0; c < C; ++c) p[c] = static_cast<T>(sum_dy[c]);
      }
    });
    return {dx, dw, db};
  }
};

}  // namespace
}  // namespace ops

namespace nn::functional {

using namespace ops;

namespace {

// batch_norm, and batch_norm_relu when `relu` (Y = max(batch_norm(X), 0) in one
// pass, one node).
Tensor batch_norm_impl(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                       const Tensor& bias, bool training, double momentum, double eps, bool relu) {
  check_floating_input(input, "batch_norm");
  if (input.dim() < 2)
    throw ShapeError("batch_norm: expected an input [N, C, *] with at least 2 dims, got " + shape_str(input.sizes()));
  const int64_t N = input.size(0), C = input.size(1);
  const int64_t S = C == 0 || N == 0 ? 0 : input.numel() / (N * C);
  const ScalarType dt = input.dtype();
  check_channel_vector(weight, C, dt, "weight", "batch_norm");
  check_channel_vector(bias, C, dt, "bias", "batch_norm");
  check_channel_vector(running_mean, C, dt, "running_mean", "batch_norm");
  check_channel_vector(running_var, C, dt, "running_var", "batch_norm");
  if (!training && (!running_mean.defined() || !running_var.defined()))
    throw Error("batch_norm: evaluation mode (training=false) needs running_mean and running_var");
  if (training && N * S <= 1)
    throw ShapeError("batch_norm: expected more than 1 value per channel when training, got input size " +
                     shape_str(input.sizes()));
  const double M = static_cast<double>(N * S);
  Tensor x = kernels::as_contiguous(input);
  Tensor y = make_tensor(input.sizes(), dt);
  std::vector<double> mean(C), rstd(C);
  dispatch_floating(dt, "batch_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data_ptr<T>();
    const T* pw = data_or_null<T>(weight);
    const T* pb = data_or_null<T>(bias);
    T* py = y.data_ptr<T>();
    std::vector<double> var(C), unused(C);
    if (!training) {
      Tensor rm = kernels::as_contiguous(running_mean), rv = kernels::as_contiguous(running_var);
      for (int64_t c = 0; c < C; ++c) {
        mean[c] = static_cast<double>(rm.data_ptr<T>()[c]);
        var[c] = static_cast<double>(rv.data_ptr<T>()[c]);
      }
    }
    // y = x̂·γ + β = x·scale + shift, scale[C] = γ·rstd, shift[C] = β − μ·scale
    std::vector<T> scale(C), shift(C);
    auto coefficients = [&](int64_t c0, int64_t c1) {
      for (int64_t c = c0; c < c1; ++c) {
        rstd[c] = 1.0 / std::sqrt(var[c] + eps);
        const double sc = (pw ? static_cast<double>(pw[c]) : 1.0) * rstd[c];
        scale[c] = static_cast<T>(sc);
        shift[c] = static_cast<T>((pb ? static_cast<double>(pb[c]) : 0.0) - mean[c] * sc);
      }
    };
    // μ[C] = Σ_(N,S) x / M;  σ²[C] = Σ_(N,S) (x − μ)² / M   (biased: what the normalisation uses)
    if (S == 1) {
      // [N, C]: each thread its channels — statistics, coefficients, output — in one region.
      column_blocks(N, C, [&](int64_t c0, int64_t c1) {
        simd_if_float<T>([&] {
          if (training) {
            column_sums(N, c0, c1, mean.data(), unused.data(), [&](int64_t n, int64_t c, double& s1, double&) {
              s1 += static_cast<double>(px[n * C + c]);
            });
            for (int64_t c = c0; c < c1; ++c) mean[c] /= M;
            column_sums(N, c0, c1, var.data(), unused.data(), [&](int64_t n, int64_t c, double& s1, double&) {
              const double d = static_cast<double>(px[n * C + c]) - mean[c];
              s1 += d * d;
            });
            for (int64_t c = c0; c < c1; ++c) var[c] /= M;
          }
          coefficients(c0, c1);
          for (int64_t n = 0; n < N; ++n)
            for (int64_t c = c0; c < c1; ++c) py[n * C + c] = relu_if(relu, scale[c] * px[n * C + c] + shift[c]);
        });
      });
    } else {
      if (training) {
        channel_reduce<T>(N, C, S, mean.data(), unused.data(),
                          [&](int64_t, int64_t off, double& s1, double&) { s1 += row_sum<T>(px + off, S); });
        for (int64_t c = 0; c < C; ++c) mean[c] /= M;
        channel_reduce<T>(N, C, S, var.data(), unused.data(), [&](int64_t c, int64_t off, double& s1, double&) {
          s1 += row_sum_sq_dev<T>(px + off, S, static_cast<T>(mean[c]));
        });
        for (int64_t c = 0; c < C; ++c) var[c] /= M;
      }
      coefficients(0, C);
      channel_affine<T>(N, C, S, py, px, scale.data(), nullptr, nullptr, nullptr, shift.data(), relu);
    }
    if (training && running_mean.defined() && running_var.defined()) {
      // r ← (1 − m)·r + m·stat, with the unbiased variance σ²·M/(M − 1), as PyTorch.
      NoGradGuard ng;
      Tensor rm = kernels::as_contiguous(running_mean), rv = kernels::as_contiguous(running_var);
      T* prm = rm.data_ptr<T>();
      T* prv = rv.data_ptr<T>();
      for (int64_t c = 0; c < C; ++c) {
        prm[c] = static_cast<T>((1 - momentum) * prm[c] + momentum * mean[c]);
        prv[c] = static_cast<T>((1 - momentum) * prv[c] + momentum * var[c] * M / (M - 1));
      }
      if (!rm.is_same(running_mean)) Tensor(running_mean).copy_(rm);
      else running_mean.impl()->storage->bump_version();
      if (!rv.is_same(running_var)) Tensor(running_var).copy_(rv);
      else running_var.impl()->storage->bump_version();
    }
  });
  record<BatchNormBackward>(
      y, {&input, &weight, &bias}, {},
      [&](BatchNormBackward& n) {
        n.save_inputs(x, weight, std::move(mean), std::move(rstd));
        if (relu) n.y = n.save(y);
        n.N = N;
        n.C = C;
        n.S = S;
        n.training = training;
      },
      relu);
  return y;
}

}  // namespace

Tensor detail::batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                          const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps) {
  return batch_norm_impl(input, running_mean, running_var, weight, bias, training, momentum, eps, false);
}

Tensor detail::batch_norm_relu(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                               const Tensor& weight, const Tensor& bias, bool training, double momentum, double eps) {
  return batch_norm_impl(input, running_mean, running_var, weight, bias, training, momentum, eps, true);
}

Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const BatchNormFuncOptions& options) {
  if (options.training() && running_mean.defined() && !options.momentum())
    throw Error("batch_norm: momentum is nullopt; the functional form needs a number (the module form keeps the "
                "cumulative average itself)");
  return detail::batch_norm(input, running_mean, running_var, options.weight(), options.bias(), options.training(),
                            options.momentum().value_or(0.0), options.eps());
}

}  // namespace nn::functional
}  // namespace dg
