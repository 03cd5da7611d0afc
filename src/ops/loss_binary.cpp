// The binary cross-entropies, fused elementwise: binary_cross_entropy (on
// probabilities) and binary_cross_entropy_with_logits (on scores, stable for
// any logit, with pos_weight). Each is one elementwise op with its own backward
// for both input and target; the class weights and the reduction are applied
// after it with core ops (a broadcast product and mean/sum, whose backward is
// the broadcast sum and the mean's 1/n).
//
// Dimension analysis: the loss is elementwise, ℓ[A] = f(x[A], t[A]), so both
// local Jacobians are diagonal and dx, dt have the input's shape: dx = dℓ ⊙ ∂f/∂x.
//
// Each formula is written once for T = float and double with kernels::fast_*
// (vectorizable in float32, std:: in float64 where gradcheck runs); computing
// float32 through double with glibc's scalar log/exp made these 2-4x slower than
// LibTorch's.
#include <atomic>
#include <cmath>

#include "dimgrad/nn/loss.hpp"
#include "kernels/vec_math.hpp"
#include "ops/loss_reduction.hpp"
#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

using kernels::fast_exp;
using kernels::fast_log;
using kernels::fast_log1p;

// log x and log(1 − x) clamped at −100, as LibTorch does, so that x = 0 or 1 gives
// a finite loss (−100 where the exact value is −inf).
template <class T> T clamped_log(T x) { return std::max(fast_log(x), T(-100)); }
template <class T> T clamped_log1m(T x) { return std::max(fast_log1p(-x), T(-100)); }

// softplus(−x) = log(1 + e^{−x}) = max(−x, 0) + log(1 + e^{−|x|}): no overflow for any x.
template <class T> T softplus_neg(T x) { return std::max(-x, T(0)) + fast_log1p(fast_exp(-std::abs(x))); }

// Whether every element of x lies in [0, 1] (NaN does not): one vectorized pass.
template <class T> bool all_probabilities(const Tensor& x_in) {
  Tensor x = x_in.contiguous();
  const T* p = x.data_ptr<T>();
  std::atomic<bool> ok{true};
  kernels::parallel_range(x.numel(), [&](int64_t lo, int64_t hi) {
    bool chunk_ok = true;
    kernels::simd_run([&] {
      for (int64_t i = lo; i < hi; ++i) chunk_ok &= (p[i] >= T(0)) & (p[i] <= T(1));
    });
    if (!chunk_ok) ok.store(false, std::memory_order_relaxed);
  });
  return ok.load();
}

struct BinaryCrossEntropyBackward : Node {
  BinaryCrossEntropyBackward() : Node(OpKind::BinaryCrossEntropy) {}
  Tensor x, t;
  TensorList apply(TensorList&& grads) override {
    Tensor dx, dt;
    const Tensor& g = grads[0];
    dispatch_floating(x.dtype(), "binary_cross_entropy backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (needs_grad(0)) {
        // ℓ = −(t·log x + (1 − t)·log(1 − x))    dx = dY ⊙ (x − t) / (x·(1 − x))   (denominator ≥ 1e-12)
        dx = make_tensor(x.sizes(), x.dtype());
        kernels::ternary_loop<T, T, T, T>(dx, g, x, t, [](T d, T xv, T tv) {
          return d * (xv - tv) / std::max(xv * (T(1) - xv), T(1e-12));
        });
      }
      if (needs_grad(1)) {
        // dt = dY ⊙ (log(1 − x) − log x)   (each log clamped at −100 as in the forward)
        dt = make_tensor(t.sizes(), t.dtype());
        kernels::binary_loop<T, T, T>(dt, g, x, [](T d, T xv) { return d * (clamped_log1m(xv) - clamped_log(xv)); });
      }
    });
    return {dx, dt};
  }
};

struct BCEWithLogitsBackward : Node {
  BCEWithLogitsBackward() : Node(OpKind::BCEWithLogits) {}
  Tensor x, t, pw;  // pw: pos_weight expanded to x's shape, or undefined (p = 1)
  TensorList apply(TensorList&& grads) override {
    Tensor dx, dt;
    const Tensor& g = grads[0];
    dispatch_floating(x.dtype(), "binary_cross_entropy_with_logits backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (needs_grad(0)) {
        // ℓ = (1 − t)·x + (1 + (p − 1)·t)·softplus(−x)
        // dx = dY ⊙ (σ(x)·(1 + (p − 1)·t) − p·t)          (= dY ⊙ (σ(x) − t) when p = 1)
        dx = make_tensor(x.sizes(), x.dtype());
        if (!pw.defined()) {
          kernels::ternary_loop<T, T, T, T>(dx, g, x, t,
                                            [](T d, T xv, T tv) { return d * (kernels::fast_sigmoid(xv) - tv); });
        } else {
          Tensor gx = g * (pw * t + 1 - t);  // dY·(1 + (p − 1)·t)
          Tensor gpt = g * pw * t;
          kernels::ternary_loop<T, T, T, T>(dx, x, gx, gpt,
                                            [](T xv, T a, T b) { return a * kernels::fast_sigmoid(xv) - b; });
        }
      }
      if (needs_grad(1)) {
        // dt = dY ⊙ ((p − 1)·softplus(−x) − x)         (= −dY ⊙ x when p = 1)
        dt = make_tensor(t.sizes(), t.dtype());
        if (!pw.defined())
          kernels::binary_loop<T, T, T>(dt, g, x, [](T d, T xv) { return -d * xv; });
        else
          kernels::ternary_loop<T, T, T, T>(dt, g, x, pw, [](T d, T xv, T pv) {
            return d * ((pv - T(1)) * softplus_neg(xv) - xv);
          });
      }
    });
    return {dx, dt};
  }
};

}  // namespace
}  // namespace ops

namespace nn::functional {

using namespace ops;

Tensor binary_cross_entropy(const Tensor& input_in, const Tensor& target_in,
                            const BinaryCrossEntropyFuncOptions& options) {
  const char* op = "binary_cross_entropy";
  const ScalarType dtype = check_loss_operands(input_in, target_in, op);
  const Tensor input = cast_to(input_in, dtype), target = cast_to(target_in, dtype);
  Tensor out = make_tensor(input.sizes(), input.dtype());
  dispatch_floating(input.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (!all_probabilities<T>(input))
      throw Error("binary_cross_entropy: all elements of the input must be probabilities in [0, 1]; for scores "
                  "(logits) use binary_cross_entropy_with_logits");
    // ℓ = −(t·max(log x, −100) + (1 − t)·max(log(1 − x), −100))
    kernels::binary_loop<T, T, T>(out, input, target, [](T xv, T tv) {
      return -(tv * clamped_log(xv) + (T(1) - tv) * clamped_log1m(xv));
    });
  });
  record<BinaryCrossEntropyBackward>(out, {&input, &target}, {}, [&](BinaryCrossEntropyBackward& n) {
    n.x = n.save(input);
    n.t = n.save(target);
  });
  Tensor l = options.weight().defined() ? out * options.weight() : out;
  return apply_reduction(l, to_red(options.reduction()));
}

Tensor binary_cross_entropy_with_logits(const Tensor& input_in, const Tensor& target_in,
                                        const BinaryCrossEntropyWithLogitsFuncOptions& options) {
  const char* op = "binary_cross_entropy_with_logits";
  const ScalarType dtype = check_loss_operands(input_in, target_in, op);
  const Tensor input = cast_to(input_in, dtype), target = cast_to(target_in, dtype);
  Tensor pw;
  if (options.pos_weight().defined()) {
    const Tensor& p = options.pos_weight();
    if (!is_expandable_to(p.sizes(), input.sizes()))
      throw ShapeError("binary_cross_entropy_with_logits: pos_weight " + shape_str(p.sizes()) +
                       " does not broadcast to the input " + shape_str(input.sizes()) +
                       " (give one weight per class, along the last dim)");
    pw = p.to(input.dtype()).expand(input.sizes()).contiguous();
  }
  Tensor out = make_tensor(input.sizes(), input.dtype());
  dispatch_floating(input.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    // ℓ = (1 − t)·x + (1 + (p − 1)·t)·softplus(−x)
    if (pw.defined())
      kernels::ternary_loop<T, T, T, T>(out, input, target, pw, [](T xv, T tv, T pv) {
        return (T(1) - tv) * xv + (T(1) + (pv - T(1)) * tv) * softplus_neg(xv);
      });
    else
      kernels::binary_loop<T, T, T>(out, input, target,
                                    [](T xv, T tv) { return (T(1) - tv) * xv + softplus_neg(xv); });
  });
  record<BCEWithLogitsBackward>(out, {&input, &target}, {}, [&](BCEWithLogitsBackward& n) {
    n.x = n.save(input);
    n.t = n.save(target);
    n.pw = pw;
  });
  Tensor l = options.weight().defined() ? out * options.weight() : out;
  return apply_reduction(l, to_red(options.reduction()));
}

}  // namespace nn::functional
}  // namespace dg
