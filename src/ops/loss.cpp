// Fused class-index losses: cross_entropy (log_softmax + NLL in one op),
// nll_loss, multi_margin_loss (the binary cross-entropies are in loss_binary.cpp).
//
// Softmax cross-entropy (docs/derivations/softmax_cross_entropy.md). For scores
// S [N×C], P = softmax(S) row-wise, and a target distribution per row written
// as weights Q [N×C] (one-hot scaled by 1/N for the plain mean, with class
// weights, smoothing and ignored rows folded in), the loss is
//   L = −Σ_i Σ_c Q_ic·log P_ic,
// and its gradient, from ∂log P_ic/∂S_ik = [c = k] − P_ik, is
//   dS_ik = P_ik·Σ_c Q_ic − Q_ik            [N×C], the shape of S.
// For one-hot targets and the mean this is the familiar dS = (P − Y)/N.
#include <cmath>
#include <limits>
#include <vector>

#include "dimgrad/nn/loss.hpp"
#include "ops/nn_simd.hpp"
#include "ops/loss_reduction.hpp"
#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

// Logits [N, C, d...] seen as `outer` samples × C classes × S positions: element
// (o, c, s) lives at (o·C + c)·S + s, and a "row" is one (o, s) pair.
struct ClassGeo {
  int64_t outer = 1, C = 0, S = 1;
  Shape target_shape;  // the input's shape without the class dim
  int64_t rows() const { return outer * S; }
  int64_t base(int64_t row) const { return (row / S) * C * S + row % S; }
};

ClassGeo class_geometry(const Tensor& input, const char* op) {
  detail::check_defined(input, op);
  if (!is_floating(input.dtype()))
    throw DTypeError(std::string(op) + ": expected floating-point scores, got " + dtype_name(input.dtype()));
  ClassGeo g;
  if (input.dim() == 0)
    throw ShapeError(std::string(op) + ": expected scores [N, C] (or [C]), got a 0-d tensor");
  if (input.dim() == 1) {
    g.C = input.size(0);
    if (g.C == 0) throw ShapeError(std::string(op) + ": the input has no classes (shape [0])");
    return g;
  }
  g.outer = input.size(0);
  g.C = input.size(1);
  if (g.C == 0) throw ShapeError(std::string(op) + ": the input " + shape_str(input.sizes()) + " has no classes (dim 1 is 0)");
  g.target_shape.push_back(g.outer);
  for (int64_t d = 2; d < input.dim(); ++d) {
    g.S *= input.size(d);
    g.target_shape.push_back(input.size(d));
  }
  return g;
}

std::string index_str(IntArrayRef shape, int64_t flat) {
  std::string s = "[";
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = flat % shape[d];
    flat /= shape[d];
  }
  for (size_t i = 0; i < idx.size(); ++i) s += (i ? ", " : "") + std::to_string(idx[i]);
  return s + "]";
}

// Class-index targets: int64, the input's shape without dim 1, each in [0, C)
// or equal to ignore_index. Returns a contiguous copy (or the tensor itself).
Tensor check_class_target(const Tensor& input, const Tensor& target, const ClassGeo& g, std::optional<int64_t> ignore,
                          const char* op, bool probabilities_allowed) {
  detail::check_defined(target, op);
  if (target.dtype() != kLong)
    throw DTypeError(std::string(op) + ": expected class indices of dtype int64 with shape " +
                     shape_str(g.target_shape) +
                     (probabilities_allowed ? " (or class probabilities of the input's dtype and shape " +
                                                  shape_str(input.sizes()) + ")"
                                            : std::string()) +
                     ", got a " + dtype_name(target.dtype()) + " target of shape " + shape_str(target.sizes()));
  if (target.sizes() != IntArrayRef(g.target_shape))
    throw ShapeError(std::string(op) + ": expected a target of shape " + shape_str(g.target_shape) +
                     " (the input " + shape_str(input.sizes()) + " without its class dim), got " +
                     shape_str(target.sizes()));
  Tensor t = kernels::as_contiguous(target);
  const int64_t* pt = t.data_ptr<int64_t>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    if ((pt[i] >= 0 && pt[i] < g.C) || (ignore && pt[i] == *ignore)) continue;
    throw IndexError(std::string(op) + ": target " + std::to_string(pt[i]) + " at " +
                     (g.target_shape.empty() ? std::string("the only position") : "index " + index_str(g.target_shape, i)) +
                     " is out of range for " + std::to_string(g.C) + " classes (expected 0 ≤ target < " +
                     std::to_string(g.C) + (ignore ? ", or ignore_index " + std::to_string(*ignore) : std::string()) + ")");
  }
  return t;
}

Tensor check_class_weight(const Tensor& w, int64_t C, ScalarType dt, const char* op) {
  if (!w.defined()) return w;
  if (w.dim() != 1 || w.size(0) != C)
    throw ShapeError(std::string(op) + ": expected a class weight of shape [" + std::to_string(C) + "], got " +
                     shape_str(w.sizes()));
  if (w.dtype() != dt)
    throw DTypeError(std::string(op) + ": the class weight is " + dtype_name(w.dtype()) + " but the input is " +
                     dtype_name(dt));
  return kernels::as_contiguous(w);
}

// A scalar (or, for kNone, the per-row values with the target's shape) from row losses.
template <class T> Tensor reduce_rows(const std::vector<double>& v, Red red, const Shape& shape, ScalarType dt,
                                      double denom) {
  if (red == Red::None) {
    Tensor out = make_tensor(shape, dt);
    T* p = out.data_ptr<T>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = static_cast<T>(v[i]);
    return out;
  }
  double s = 0;
  for (double x : v) s += x;
  Tensor out = make_tensor({}, dt);
  out.data_ptr<T>()[0] = static_cast<T>(red == Red::Mean ? s / denom : s);
  return out;
}

// ============================================================ cross entropy
struct CrossEntropyBackward : Node {
  CrossEntropyBackward() : Node(OpKind::CrossEntropy) {}
  ClassGeo g;
  Tensor P;                         // softmax of the scores, the input's shape
  Tensor target, weight;            // int64 indices (or probabilities); weight [C] or undefined
  bool probs = false, per_row = false;
  std::vector<double> alpha, beta;  // indices: Q_ic = α_i·[c = t_i] + β_i·w_c   (per row)
  double prob_scale = 1, smoothing = 0;  // probabilities: Q_ic = w_c·((1 − ε)·y_ic + ε/C)·prob_scale
  void release_saved() override {
    Node::release_saved();
    P.reset();
    target.reset();
    weight.reset();
  }
  // dS for row i (the class entries at b + c·S).
  template <class T> void backward_row(int64_t i, const T* pp, const T* pg, const T* pw, T* pd, double Wsum) const {
    const int64_t C = g.C, S = g.S, b = g.base(i);
    const double gi = static_cast<double>(pg[per_row ? i : 0]);
    if (!probs) {
      // dS[i, :] = gᵢ·(P·Σ_c Q − Q),  Q = α at the target plus β·w everywhere, Σ_c Q = α + β·Σw
      const double a = alpha[i] * gi, bt = beta[i] * gi;
      const T sq = static_cast<T>(a + bt * Wsum), btT = static_cast<T>(bt);
      const int64_t t = target.data_ptr<int64_t>()[i];
      if (S == 1) {
        const T* p = pp + b;
        T* d = pd + b;
        if (pw) for (int64_t c = 0; c < C; ++c) d[c] = p[c] * sq - btT * pw[c];
        else for (int64_t c = 0; c < C; ++c) d[c] = p[c] * sq - btT;
      } else {
        for (int64_t c = 0; c < C; ++c) pd[b + c * S] = pp[b + c * S] * sq - btT * (pw ? pw[c] : T(1));
      }
      if (t >= 0 && t < C) pd[b + t * S] = static_cast<T>(pd[b + t * S] - a);
      return;
    }
    // probabilities: Q_ic = w_c·((1 − ε)·y_ic + ε/C)·scale
    const T* py = target.data_ptr<T>();
    auto q = [&](int64_t c) {
      return (pw ? static_cast<double>(pw[c]) : 1.0) * ((1 - smoothing) * py[b + c * S] + smoothing / C);
    };
    double sq = 0;
    for (int64_t c = 0; c < C; ++c) sq += q(c);
    const double k = gi * prob_scale;
    for (int64_t c = 0; c < C; ++c) pd[b + c * S] = static_cast<T>(k * (static_cast<double>(pp[b + c * S]) * sq - q(c)));
  }
  TensorList apply(TensorList&& grads) override {
    Tensor gy = kernels::as_contiguous(grads[0]);  // [] or, for kNone, [rows]
    Tensor dS = make_tensor(P.sizes(), P.dtype());
    dispatch_floating(P.dtype(), "cross_entropy backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* pp = P.data_ptr<T>();
      const T* pg = gy.data_ptr<T>();
      const T* pw = weight.defined() ? weight.data_ptr<T>() : nullptr;
      T* pd = dS.data_ptr<T>();
      const int64_t C = g.C;
      double Wsum = 0;  // Σ_c w_c
      for (int64_t c = 0; c < C; ++c) Wsum += pw ? static_cast<double>(pw[c]) : 1.0;
      parallel_chunks(g.rows(), g.rows() * C, [&](int64_t lo, int64_t hi) {
        simd_if_float<T>([&] {
          for (int64_t i = lo; i < hi; ++i) backward_row<T>(i, pp, pg, pw, pd, Wsum);
        });
      });
    });
    return {dS};
  }
};

// Row-wise log-sum-exp of the scores (class stride S); writes P = softmax when
// p != nullptr. The max is subtracted first, which changes neither result.
template <class T> double row_lse(const T* x, int64_t b, int64_t C, int64_t S, T* p) {
  if (S == 1) {  // a contiguous row: the vectorized row kernels
    const T* xr = x + b;
    T* pr = p ? p + b : nullptr;
    T m = row_max(xr, C);
    if (std::isinf(m) && m < 0) m = 0;  // every score −∞
    const double s = row_exp_sum(xr, pr, C, m);
    if (pr) {
      const T inv = static_cast<T>(1.0 / s);
      for (int64_t c = 0; c < C; ++c) pr[c] *= inv;
    }
    return static_cast<double>(m) + std::log(s);
  }
  double m = -std::numeric_limits<double>::infinity();
  for (int64_t c = 0; c < C; ++c) m = std::max(m, static_cast<double>(x[b + c * S]));
  if (std::isinf(m) && m < 0) m = 0;
  double s = 0;
  for (int64_t c = 0; c < C; ++c) {
    const double e = std::exp(static_cast<double>(x[b + c * S]) - m);
    if (p) p[b + c * S] = static_cast<T>(e);
    s += e;
  }
  if (p)
    for (int64_t c = 0; c < C; ++c) p[b + c * S] = static_cast<T>(p[b + c * S] / s);
  return m + std::log(s);
}

// ================================================================ nll loss
struct NllLossBackward : Node {
  NllLossBackward() : Node(OpKind::NllLoss) {}
  ClassGeo g;
  Shape input_shape;
  Tensor target;              // int64 [rows]
  std::vector<double> coef;   // per row: w_t / D (0 for ignored rows)
  bool per_row = false;
  TensorList apply(TensorList&& grads) override {
    // L = −Σ_i coefᵢ·A[i, tᵢ]    dA[i, c] = −gᵢ·coefᵢ·[c = tᵢ]   (the input's shape; zero off the targets)
    Tensor gy = kernels::as_contiguous(grads[0]);
    Tensor dA = zeros(input_shape, gy.dtype());
    dispatch_floating(gy.dtype(), "nll_loss backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* pg = gy.data_ptr<T>();
      T* pd = dA.data_ptr<T>();
      const int64_t* pt = target.data_ptr<int64_t>();
      for (int64_t i = 0; i < g.rows(); ++i)
        if (coef[i] != 0) pd[g.base(i) + pt[i] * g.S] = static_cast<T>(-static_cast<double>(pg[per_row ? i : 0]) * coef[i]);
    });
    return {dA};
  }
};

// ======================================================== multi margin loss
struct MultiMarginBackward : Node {
  MultiMarginBackward() : Node(OpKind::MultiMargin) {}
  Tensor x, target, weight;  // x contiguous [N, C], target int64 [N], weight [C] or undefined
  int64_t N = 0, C = 0, p = 1;
  double margin = 1, denom = 1;
  bool per_row = false;
  void release_saved() override {
    Node::release_saved();
    x.reset();
  }
  TensorList apply(TensorList&& grads) override {
    Tensor gy = kernels::as_contiguous(grads[0]);
    Tensor dA = make_tensor(x.sizes(), x.dtype());
    dispatch_floating(x.dtype(), "multi_margin_loss backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* px = x.data_ptr<T>();
      const T* pg = gy.data_ptr<T>();
      const T* pw = weight.defined() ? weight.data_ptr<T>() : nullptr;
      const int64_t* pt = target.data_ptr<int64_t>();
      T* pd = dA.data_ptr<T>();
      for (int64_t i = 0; i < N; ++i) {
        // hinge h_j = m − x_y + x_j (j ≠ y): dA_j = k·p·h_j^(p−1) where h_j > 0,
        // dA_y = −Σ_j dA_j (x_y appears with a minus sign in every hinge);
        // k = gᵢ·w_y/(C·D), D the mean's divisor
        const int64_t y = pt[i];
        const T* xr = px + i * C;
        T* dr = pd + i * C;
        const double k = static_cast<double>(pg[per_row ? i : 0]) * (pw ? static_cast<double>(pw[y]) : 1.0) /
                         (static_cast<double>(C) * denom);
        double acc = 0;
        for (int64_t j = 0; j < C; ++j) {
          if (j == y) continue;
          const double h = margin - static_cast<double>(xr[y]) + static_cast<double>(xr[j]);
          const double d = h > 0 ? k * (p == 1 ? 1.0 : 2.0 * h) : 0.0;
          dr[j] = static_cast<T>(d);
          acc += d;
        }
        dr[y] = static_cast<T>(-acc);
      }
    });
    return {dA};
  }
};

}  // namespace
}  // namespace ops

namespace nn::functional {

using namespace ops;

Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyFuncOptions& options) {
  const char* op = "cross_entropy";
  ClassGeo g = class_geometry(input, op);
  const double eps = options.label_smoothing();
  if (eps < 0 || eps > 1) throw Error("cross_entropy: label_smoothing must be in [0, 1], got " + std::to_string(eps));
  Tensor w = check_class_weight(options.weight(), g.C, input.dtype(), op);
  const Red red = to_red(options.reduction());
  const bool probs = target.defined() && is_floating(target.dtype()) && target.sizes() == input.sizes();
  if (probs && target.dtype() != input.dtype())
    throw DTypeError(std::string("cross_entropy: probability targets must have the input's dtype ") +
                     dtype_name(input.dtype()) + ", got " + dtype_name(target.dtype()));
  if (probs && target.requires_grad() && autograd::GradMode::is_enabled())
    throw AutogradError("cross_entropy: gradients with respect to probability targets are not supported; pass "
                        "target.detach()");
  Tensor t = probs ? kernels::as_contiguous(target)
                   : check_class_target(input, target, g, options.ignore_index(), op, /*probabilities_allowed=*/true);
  const int64_t ignore = options.ignore_index();
  Tensor x = kernels::as_contiguous(input);
  const bool need_grad = autograd::any_requires_grad({&input});
  Tensor P = need_grad ? make_tensor(x.sizes(), x.dtype()) : Tensor();
  const int64_t rows = g.rows(), C = g.C, S = g.S;
  std::vector<double> row_loss(rows), row_w(rows), alpha, beta;
  double denom = static_cast<double>(rows), prob_scale = 1;
  Tensor out;
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data_ptr<T>();
    const T* pw = w.defined() ? w.data_ptr<T>() : nullptr;
    T* pP = need_grad ? P.data_ptr<T>() : nullptr;
    std::vector<double> row_smooth(probs ? 0 : rows);
    double wsum_all = 0;  // Σ_c w_c
    if (pw)
      for (int64_t c = 0; c < C; ++c) wsum_all += static_cast<double>(pw[c]);
    auto row = [&](int64_t i, double lse) {  // lse: log Σ_c exp(x_ic), so −log P_ic = lse − x_ic
      const int64_t b = g.base(i);
      auto wc = [&](int64_t c) { return pw ? static_cast<double>(pw[c]) : 1.0; };
      if (probs) {
        // loss_i = Σ_c w_c·y'_ic·(lse − x_ic),  y' = (1 − ε)·y + ε/C
        const T* py = t.data_ptr<T>();
        double l = 0;
        for (int64_t c = 0; c < C; ++c)
          l += wc(c) * ((1 - eps) * py[b + c * S] + eps / C) * (lse - static_cast<double>(px[b + c * S]));
        row_loss[i] = l;
        return;
      }
      const int64_t ti = t.data_ptr<int64_t>()[i];
      if (ti == ignore) {
        row_loss[i] = row_w[i] = row_smooth[i] = 0;
        return;
      }
      row_w[i] = wc(ti);
      row_loss[i] = row_w[i] * (lse - static_cast<double>(px[b + ti * S]));  // w_t·(−log P_it)
      if (eps > 0) {  // Σ_c w_c·(−log P_ic) = lse·Σw − Σ_c w_c·x_ic
        if (S == 1) {
          row_smooth[i] = pw ? lse * wsum_all - row_dot(pw, px + b, C) : lse * static_cast<double>(C) - row_sum(px + b, C);
        } else {
          double sm = 0;
          for (int64_t c = 0; c < C; ++c) sm += wc(c) * (lse - static_cast<double>(px[b + c * S]));
          row_smooth[i] = sm;
        }
      }
    };
    const bool short_rows = S == 1 && C < row_detail::L;
    parallel_chunks(rows, rows * C, [&](int64_t lo, int64_t hi) {
      std::vector<T> maxima(short_rows ? static_cast<size_t>(hi - lo) : 0);
      std::vector<double> log_sum(maxima.size());
      std::vector<T> scratch(short_rows && !pP ? static_cast<size_t>((hi - lo) * C) : 0);
      simd_if_float<T>([&] {
        if (short_rows) {
          short_rows_lse(px + lo * C, pP ? pP + lo * C : scratch.data(), hi - lo, C, pP != nullptr, maxima.data(),
                         log_sum.data());
          for (int64_t i = lo; i < hi; ++i) {
            const auto k = static_cast<size_t>(i - lo);
            row(i, static_cast<double>(maxima[k]) + log_sum[k]);
          }
        } else {
          for (int64_t i = lo; i < hi; ++i) row(i, row_lse(px, g.base(i), C, S, pP));
        }
      });
    });
    if (probs) {
      // PyTorch divides the summed loss by the number of rows (not by the weights).
      prob_scale = red == Red::Mean ? 1.0 / static_cast<double>(rows) : 1.0;
      out = reduce_rows<T>(row_loss, red, g.target_shape, x.dtype(), static_cast<double>(rows));
      return;
    }
    // loss = (1 − ε)·NLL + (ε/C)·smooth; the mean divides both by Σ w_t over the
    // rows that count (the number of non-ignored rows without class weights).
    double wsum = 0;
    for (int64_t i = 0; i < rows; ++i) wsum += row_w[i];
    const double dn = red == Red::Mean ? wsum : 1.0;
    const double ds = dn;
    alpha.resize(rows);
    beta.resize(rows);
    std::vector<double> combined(rows);
    for (int64_t i = 0; i < rows; ++i) {
      const bool ignored = t.data_ptr<int64_t>()[i] == ignore;
      alpha[i] = ignored ? 0.0 : (1 - eps) * row_w[i] / dn;
      beta[i] = ignored || eps == 0 ? 0.0 : eps / static_cast<double>(C) / ds;
      combined[i] = (1 - eps) * row_loss[i] / dn + (eps > 0 ? eps / static_cast<double>(C) * row_smooth[i] / ds : 0.0);
    }
    out = reduce_rows<T>(combined, red == Red::None ? Red::None : Red::Sum, g.target_shape, x.dtype(), 1.0);
    denom = 1;
  });
  (void)denom;
  record<CrossEntropyBackward>(out, {&input}, {}, [&](CrossEntropyBackward& n) {
    n.g = g;
    n.P = P;
    n.target = n.save(t);
    if (w.defined()) n.weight = n.save(w);
    n.probs = probs;
    n.per_row = red == Red::None;
    n.alpha = std::move(alpha);
    n.beta = std::move(beta);
    n.prob_scale = prob_scale;
    n.smoothing = eps;
  });
  return out;
}

Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossFuncOptions& options) {
  const char* op = "nll_loss";
  ClassGeo g = class_geometry(input, op);
  Tensor w = check_class_weight(options.weight(), g.C, input.dtype(), op);
  Tensor t = check_class_target(input, target, g, options.ignore_index(), op, false);
  const Red red = to_red(options.reduction());
  const int64_t rows = g.rows(), ignore = options.ignore_index();
  Tensor x = kernels::as_contiguous(input);
  std::vector<double> row_loss(rows), coef(rows);
  Tensor out;
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data_ptr<T>();
    const T* pw = w.defined() ? w.data_ptr<T>() : nullptr;
    const int64_t* pt = t.data_ptr<int64_t>();
    double wsum = 0;
    for (int64_t i = 0; i < rows; ++i) {
      if (pt[i] == ignore) continue;
      coef[i] = pw ? static_cast<double>(pw[pt[i]]) : 1.0;  // w_t
      wsum += coef[i];
      row_loss[i] = -coef[i] * static_cast<double>(px[g.base(i) + pt[i] * g.S]);
    }
    // mean: Σ_i −w_tᵢ·A[i, tᵢ] / Σ_i w_tᵢ  (ignored rows count in neither)
    const double D = red == Red::Mean ? wsum : 1.0;
    for (double& c : coef) c /= D;
    out = reduce_rows<T>(row_loss, red, g.target_shape, x.dtype(), wsum);
  });
  record<NllLossBackward>(out, {&input}, {}, [&](NllLossBackward& n) {
    n.g = g;
    n.input_shape = Shape(input.sizes());
    n.target = n.save(t);
    n.coef = std::move(coef);
    n.per_row = red == Red::None;
  });
  return out;
}

Tensor multi_margin_loss(const Tensor& input, const Tensor& target, const MultiMarginLossFuncOptions& options) {
  const char* op = "multi_margin_loss";
  ClassGeo g = class_geometry(input, op);
  if (input.dim() > 2)
    throw ShapeError("multi_margin_loss: expected scores [N, C] or [C], got " + shape_str(input.sizes()));
  if (options.p() != 1 && options.p() != 2)
    throw Error("multi_margin_loss: only p = 1 and p = 2 are supported, got p = " + std::to_string(options.p()));
  Tensor w = check_class_weight(options.weight(), g.C, input.dtype(), op);
  Tensor t = check_class_target(input, target, g, std::nullopt, op, false);
  const Red red = to_red(options.reduction());
  const int64_t N = g.outer, C = g.C, p = options.p();
  const double margin = options.margin();
  Tensor x = kernels::as_contiguous(input);
  std::vector<double> row_loss(N);
  Tensor out;
  dispatch_floating(x.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* px = x.data_ptr<T>();
    const T* pw = w.defined() ? w.data_ptr<T>() : nullptr;
    const int64_t* pt = t.data_ptr<int64_t>();
    for (int64_t i = 0; i < N; ++i) {
      // loss_i = w_y·Σ_{j≠y} max(0, m − x_y + x_j)^p / C
      const int64_t y = pt[i];
      const T* xr = px + i * C;
      double s = 0;
      for (int64_t j = 0; j < C; ++j) {
        if (j == y) continue;
        const double h = margin - static_cast<double>(xr[y]) + static_cast<double>(xr[j]);
        if (h > 0) s += p == 1 ? h : h * h;
      }
      row_loss[i] = (pw ? static_cast<double>(pw[y]) : 1.0) * s / static_cast<double>(C);
    }
    out = reduce_rows<T>(row_loss, red, g.target_shape, x.dtype(), static_cast<double>(N));
  });
  record<MultiMarginBackward>(out, {&input}, {}, [&](MultiMarginBackward& n) {
    n.x = n.save(x);
    n.target = n.save(t);
    if (w.defined()) n.weight = n.save(w);
    n.N = N;
    n.C = C;
    n.p = p;
    n.margin = margin;
    n.denom = red == Red::Mean ? static_cast<double>(N) : 1.0;
    n.per_row = red == Red::None;
  });
  return out;
}

}  // namespace nn::functional
}  // namespace dg
