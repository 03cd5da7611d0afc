// Normalization ops, fused: layer_norm, group_norm (batch_norm is in
// batch_norm.cpp). Each forward is a statistics pass and one affine pass
// y = x·scale + shift; each backward is one reduction pass and one elementwise
// pass, from the compact formula
//   dx = rstd/K · (K·G − ΣG − x̂·Σ(G·x̂)),   G = dy·γ,   dγ = Σ dy·x̂,   dβ = Σ dy
// (derivation with the shape of every intermediate: docs/derivations/layer_norm.md).
// Sums accumulate in double.
//
// Shapes. layer norm: x [R, K] (K = the normalized trailing dims), statistics
// per row; γ, β [K]. group norm: x [N, C, S], statistics per (sample, group)
// over the K = (C/G)·S values of the group's channels; γ, β [C].
#include <cmath>
#include <vector>

#include "dimgrad/nn/normalization.hpp"
#include "ops/nn_simd.hpp"
#include "ops/norm_util.hpp"

namespace dg {
namespace ops {
namespace {

// ================================================================ layer norm
// Row statistics of x [R, K]: mean and rstd per row (two passes over the row,
// which is in cache after the first).
template <class T> void row_stats(const T* x, int64_t K, double eps, double& mean, double& rstd) {
  mean = row_sum(x, K) / static_cast<double>(K);
  rstd = 1.0 / std::sqrt(row_sum_sq_dev(x, K, static_cast<T>(mean)) / static_cast<double>(K) + eps);
}

// Saved: x contiguous [R, K], weight [K]; mean, rstd [R].
struct LayerNormBackward : NormBackward {
  LayerNormBackward() : NormBackward(OpKind::LayerNorm) {}
  int64_t R = 0, K = 0;
  TensorList apply(TensorList&& g) override {
    Tensor dy = kernels::as_contiguous(g[0]);
    Tensor dx, dw, db;
    dispatch_floating(dy.dtype(), "layer_norm backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data_ptr<T>();
      const T* pdy = dy.data_ptr<T>();
      const T* pw = data_or_null<T>(weight);
      T* pdx = needs_grad(0) ? (dx = make_tensor(x.sizes(), dy.dtype())).template data_ptr<T>() : nullptr;
      const bool need_params = needs_grad(1) || needs_grad(2);
      const double invK = 1.0 / static_cast<double>(K);
      // dγ and dβ sum over the rows (γ, β were broadcast over them): each thread
      // sums its rows into its own [K] buffers (in T, flushed into double every
      // kFlush rows), added up at the end in thread order.
      constexpr int64_t kFlush = 32;
      const int nt = kernels::use_threads(R * K) ? omp_get_max_threads() : 1;
      std::vector<std::vector<double>> part_dw(need_params ? nt : 0), part_db(need_params ? nt : 0);
      parallel_chunks(R, R * K, [&](int64_t r0, int64_t r1) {
        const int tid = omp_in_parallel() ? omp_get_thread_num() : 0;
        std::vector<T> acc_w(need_params ? K : 0), acc_b(need_params ? K : 0);
        if (need_params) {
          part_dw[tid].assign(K, 0.0);
          part_db[tid].assign(K, 0.0);
        }
        auto flush = [&] {
          for (int64_t k = 0; k < K; ++k) {
            part_dw[tid][k] += static_cast<double>(acc_w[k]);
            part_db[tid][k] += static_cast<double>(acc_b[k]);
            acc_w[k] = acc_b[k] = T(0);
          }
        };
        simd_if_float<T>([&] {
          T* __restrict aw = acc_w.data();
          T* __restrict ab = acc_b.data();
          constexpr int L = 16;
          for (int64_t r = r0; r < r1; ++r) {
            const T* __restrict xr = px + r * K;
            const T* __restrict dyr = pdy + r * K;
            const T mu = static_cast<T>(mean[r]), rs = static_cast<T>(rstd[r]);
            // One pass over the row: dγ, dβ partials and the two row sums
            // a = Σ_K G, b = Σ_K G ⊙ (x − μ) with G = dy ⊙ γ (16 lanes each).
            T la[L] = {}, lb[L] = {};
            int64_t k0 = 0;
            for (; k0 + L <= K; k0 += L)
              for (int j = 0; j < L; ++j) {
                const int64_t k = k0 + j;
                const T d = dyr[k], xm = xr[k] - mu;
                if (need_params) {
                  aw[k] += d * (xm * rs);  // dy·x̂
                  ab[k] += d;
                }
                const T gk = pw ? d * pw[k] : d;
                la[j] += gk;
                lb[j] += gk * xm;
              }
            double a = 0, b = 0;
            for (; k0 < K; ++k0) {
              const T d = dyr[k0], xm = xr[k0] - mu;
              if (need_params) {
                aw[k0] += d * (xm * rs);
                ab[k0] += d;
              }
              const double gk = pw ? static_cast<double>(d) * pw[k0] : static_cast<double>(d);
              a += gk;
              b += gk * static_cast<double>(xm);
            }
            for (int j = 0; j < L; ++j) {
              a += static_cast<double>(la[j]);
              b += static_cast<double>(lb[j]);
            }
            if (need_params && (r - r0) % kFlush == kFlush - 1) flush();
            if (!pdx) continue;
            // dx[K] = rstd·(G − a/K − x̂·(rstd·b)/K)   (μ and σ² of the row depend on every x of the row)
            const T c1 = static_cast<T>(a * invK), c2 = static_cast<T>(rstd[r] * rstd[r] * b * invK);
            T* __restrict dxr = pdx + r * K;
            if (pw)
              for (int64_t k = 0; k < K; ++k) dxr[k] = rs * (dyr[k] * pw[k] - c1 - (xr[k] - mu) * c2);
            else
              for (int64_t k = 0; k < K; ++k) dxr[k] = rs * (dyr[k] - c1 - (xr[k] - mu) * c2);
          }
        });
        if (need_params) flush();
      });
      std::vector<double> dw_acc(need_params ? K : 0, 0.0), db_acc(need_params ? K : 0, 0.0);
      for (size_t t = 0; t < part_dw.size(); ++t) {
        if (part_dw[t].empty()) continue;
        for (int64_t k = 0; k < K; ++k) {
          dw_acc[k] += part_dw[t][k];
          db_acc[k] += part_db[t][k];
        }
      }
      // dγ[K] = Σ_rows dy ⊙ x̂;  dβ[K] = Σ_rows dy    (shaped like γ: the normalized shape)
      if (needs_grad(1)) {
        dw = make_tensor(weight.sizes(), dy.dtype());
        for (int64_t k = 0; k < K; ++k) dw.data_ptr<T>()[k] = static_cast<T>(dw_acc[k]);
      }
      if (needs_grad(2)) {
        db = make_tensor(input_meta[2].shape, dy.dtype());
        for (int64_t k = 0; k < K; ++k) db.data_ptr<T>()[k] = static_cast<T>(db_acc[k]);
      }
    });
    return {dx, dw, db};
  }
};

// ================================================================ group norm
// Saved: x contiguous [N, C, S], weight [C]; mean, rstd [N·G].
struct GroupNormBackward : NormBackward {
  GroupNormBackward() : NormBackward(OpKind::GroupNorm) {}
  int64_t N = 0, C = 0, S = 0, G = 1;
  TensorList apply(TensorList&& g) override {
    Tensor dy = kernels::as_contiguous(g[0]);
    Tensor dx, dw, db;
    const int64_t Cg = C / G, K = Cg * S;
    dispatch_floating(dy.dtype(), "group_norm backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data_ptr<T>();
      const T* pdy = dy.data_ptr<T>();
      const T* pw = data_or_null<T>(weight);
      T* pdx = needs_grad(0) ? (dx = make_tensor(x.sizes(), dy.dtype())).template data_ptr<T>() : nullptr;
      // Per (sample, channel) partial sums over S, both [N, C]:
      //   sdy[n,c] = Σ_S dy,   sdyx[n,c] = Σ_S dy·(x − μ_ng)
      std::vector<double> sdy(N * C), sdyx(N * C);
      const double invK = 1.0 / static_cast<double>(K);
      parallel_chunks(N * G, N * C * S, [&](int64_t i0, int64_t i1) {
        simd_if_float<T>([&] {
          for (int64_t ng = i0; ng < i1; ++ng) {
            const int64_t n = ng / G, grp = ng % G;
            const T mu = static_cast<T>(mean[ng]), rs = static_cast<T>(rstd[ng]);
            double a = 0, b = 0;  // a = Σ_group G, b = Σ_group G·(x − μ), G = dy·γ_c
            for (int64_t j = 0; j < Cg; ++j) {
              const int64_t c = grp * Cg + j, base = (n * C + c) * S;
              double s1, s2;
              row_sum2<T>(pdy + base, nullptr, px + base, S, mu, s1, s2);
              sdy[n * C + c] = s1;
              sdyx[n * C + c] = s2;
              const double gamma = pw ? static_cast<double>(pw[c]) : 1.0;
              a += gamma * s1;
              b += gamma * s2;
            }
            if (!pdx) continue;
            // dx = rstd·(G − a/K − x̂·(rstd·b)/K),  x̂ = (x − μ)·rstd
            const T c1 = static_cast<T>(a * invK), c2 = static_cast<T>(rstd[ng] * rstd[ng] * b * invK);
            for (int64_t j = 0; j < Cg; ++j) {
              const int64_t c = grp * Cg + j, base = (n * C + c) * S;
              const T gamma = pw ? pw[c] : T(1);
              const T* __restrict xr = px + base;
              const T* __restrict dyr = pdy + base;
              T* __restrict dxr = pdx + base;
              for (int64_t s = 0; s < S; ++s) dxr[s] = rs * (gamma * dyr[s] - c1 - (xr[s] - mu) * c2);
            }
          }
        });
      });
      // dγ[C] = Σ_(N,S) dy·x̂ = Σ_N rstd_ng·sdyx;   dβ[C] = Σ_(N,S) dy = Σ_N sdy
      if (needs_grad(1)) {
        dw = make_tensor({C}, dy.dtype());
        T* p = dw.data_ptr<T>();
        for (int64_t c = 0; c < C; ++c) {
          double acc = 0;
          for (int64_t n = 0; n < N; ++n) acc += rstd[n * G + c / Cg] * sdyx[n * C + c];
          p[c] = static_cast<T>(acc);
        }
      }
      if (needs_grad(2)) {
        db = make_tensor({C}, dy.dtype());
        T* p = db.data_ptr<T>();
        for (int64_t c = 0; c < C; ++c) {
          double acc = 0;
          for (int64_t n = 0; n < N; ++n) acc += sdy[n * C + c];
          p[c] = static_cast<T>(acc);
        }
      }
    });
    return {dx, dw, db};
  }
};

}  // namespace
}  // namespace ops
}  // namespace dg

namespace dg::nn::functional {

using namespace ops;

Tensor layer_norm(const Tensor& input, const LayerNormFuncOptions& options) {
  check_floating_input(input, "layer_norm");
  const auto& ns = options.normalized_shape();
  const int64_t nd = static_cast<int64_t>(ns.size());
  bool ok = nd >= 1 && input.dim() >= nd;
  for (int64_t i = 0; ok && i < nd; ++i) ok = input.size(input.dim() - nd + i) == ns[static_cast<size_t>(i)];
  if (!ok) {
    std::string want = "[*";
    for (int64_t s : ns) want += ", " + std::to_string(s);
    throw ShapeError("layer_norm: expected an input of shape " + want + "] (ending in the normalized shape " +
                     shape_str(ns) + "), got " + shape_str(input.sizes()));
  }
  const Tensor& weight = options.weight();
  const Tensor& bias = options.bias();
  for (const Tensor* p : {&weight, &bias}) {
    if (!p->defined()) continue;
    if (p->sizes() != IntArrayRef(ns))
      throw ShapeError("layer_norm: expected " + std::string(p == &weight ? "weight" : "bias") + " of shape " +
                       shape_str(ns) + " (the normalized shape), got " + shape_str(p->sizes()));
    if (p->dtype() != input.dtype())
      throw DTypeError(std::string("layer_norm: ") + (p == &weight ? "weight" : "bias") + " is " +
                       dtype_name(p->dtype()) + " but the input is " + dtype_name(input.dtype()));
  }
  int64_t K = 1;
  for (int64_t s : ns) K *= s;
  const int64_t R = K == 0 ? 0 : input.numel() / K;
  const double eps = options.eps();
  Tensor x = kernels::as_contiguous(input);
  Tensor y = make_tensor(input.sizes(), input.dtype());
  std::vector<double> mean(R), rstd(R);
  dispatch_floating(input.dtype(), "layer_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data_ptr<T>();
    const T* pw = data_or_null<T>(weight);
    const T* pb = data_or_null<T>(bias);
    T* py = y.data_ptr<T>();
    parallel_chunks(R, R * K, [&](int64_t r0, int64_t r1) {
      simd_if_float<T>([&] {
        for (int64_t r = r0; r < r1; ++r) {
          // μ, rstd of row r; y[K] = (x − μ)·rstd ⊙ γ + β
          row_stats(px + r * K, K, eps, mean[r], rstd[r]);
          const T mu = static_cast<T>(mean[r]), rs = static_cast<T>(rstd[r]);
          const T* __restrict xr = px + r * K;
          T* __restrict yr = py + r * K;
          if (pw && pb)
            for (int64_t k = 0; k < K; ++k) yr[k] = (xr[k] - mu) * rs * pw[k] + pb[k];
          else
            for (int64_t k = 0; k < K; ++k) yr[k] = (xr[k] - mu) * rs * (pw ? pw[k] : T(1)) + (pb ? pb[k] : T(0));
        }
      });
    });
  });
  record<LayerNormBackward>(y, {&input, &weight, &bias}, {}, [&](LayerNormBackward& n) {
    n.save_inputs(x, weight, std::move(mean), std::move(rstd));
    n.R = R;
    n.K = K;
  });
  return y;
}

Tensor group_norm(const Tensor& input, const GroupNormFuncOptions& options) {
  check_floating_input(input, "group_norm");
  const int64_t G = options.num_groups();
  if (input.dim() < 2)
    throw ShapeError("group_norm: expected an input [N, C, *] with at least 2 dims, got " + shape_str(input.sizes()));
  const int64_t N = input.size(0), C = input.size(1);
  if (G <= 0 || C % G != 0)
    throw ShapeError("group_norm: the " + std::to_string(C) + " channels of input " + shape_str(input.sizes()) +
                     " cannot be split into " + std::to_string(G) + " groups (C must be a multiple of num_groups)");
  check_channel_vector(options.weight(), C, input.dtype(), "weight", "group_norm");
  check_channel_vector(options.bias(), C, input.dtype(), "bias", "group_norm");
  const int64_t S = N * C == 0 ? 0 : input.numel() / (N * C), Cg = C / G, K = Cg * S;
  const double eps = options.eps();
  const Tensor& weight = options.weight();
  const Tensor& bias = options.bias();
  Tensor x = kernels::as_contiguous(input);
  Tensor y = make_tensor(input.sizes(), input.dtype());
  std::vector<double> mean(N * G), rstd(N * G);
  dispatch_floating(input.dtype(), "group_norm", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data_ptr<T>();
    const T* pw = data_or_null<T>(weight);
    const T* pb = data_or_null<T>(bias);
    T* py = y.data_ptr<T>();
    parallel_chunks(N * G, N * C * S, [&](int64_t i0, int64_t i1) {
      simd_if_float<T>([&] {
        for (int64_t ng = i0; ng < i1; ++ng) {
          // The group's channels are adjacent: one row of K = (C/G)·S values.
          const int64_t off = ng * K;
          row_stats(px + off, K, eps, mean[ng], rstd[ng]);
          const int64_t c0 = (ng % G) * Cg;
          for (int64_t j = 0; j < Cg; ++j) {
            // y = x·scale + shift with scale = γ_c·rstd, shift = β_c − μ·scale
            const double sc = (pw ? static_cast<double>(pw[c0 + j]) : 1.0) * rstd[ng];
            const T scale = static_cast<T>(sc);
            const T shift = static_cast<T>((pb ? static_cast<double>(pb[c0 + j]) : 0.0) - mean[ng] * sc);
            const T* __restrict xr = px + off + j * S;
            T* __restrict yr = py + off + j * S;
            for (int64_t s = 0; s < S; ++s) yr[s] = xr[s] * scale + shift;
          }
        }
      });
    });
  });
  record<GroupNormBackward>(y, {&input, &weight, &bias}, {}, [&](GroupNormBackward& n) {
    n.save_inputs(x, weight, std::move(mean), std::move(rstd));
    n.N = N;
    n.C = C;
    n.S = S;
    n.G = G;
  });
  return y;
}

}  // namespace dg::nn::functional
