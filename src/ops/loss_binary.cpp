// The binary cross-entropies, fused elementwise: binary_cross_entropy (on
// probabilities) and binary_cross_entropy_with_logits (on scores, stable for
// any logit, with pos_weight). Each is one elementwise op with its own backward
// for both input and target; the class weights and the reduction are applied
// after it with core ops (a broadcast product and mean/sum, whose backward is
// the broadcast sum and the mean's 1/n).
//
// Dimension analysis: the loss is elementwise, ℓ[A] = f(x[A], t[A]), so both
// local Jacobians are diagonal and dx, dt have the input's shape: dx = dℓ ⊙ ∂f/∂x.
#include <atomic>
#include <cmath>

#include "dimgrad/nn/loss.hpp"
#include "ops/loss_reduction.hpp"
#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

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
          const double den = std::max(static_cast<double>(xv) * (1.0 - xv), 1e-12);
          return static_cast<T>(d * (xv - tv) / den);
        });
      }
      if (needs_grad(1)) {
        // dt = dY ⊙ (log(1 − x) − log x)   (each log clamped at −100 as in the forward)
        dt = make_tensor(t.sizes(), t.dtype());
        kernels::binary_loop<T, T, T>(dt, g, x, [](T d, T xv) {
          return static_cast<T>(d * (std::max(std::log1p(-static_cast<double>(xv)), -100.0) -
                                     std::max(std::log(static_cast<double>(xv)), -100.0)));
        });
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
    Tensor p = pw.defined() ? pw : ones({}, x.dtype());
    dispatch_floating(x.dtype(), "binary_cross_entropy_with_logits backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      if (needs_grad(0)) {
        // ℓ = (1 − t)·x + (1 + (p − 1)·t)·softplus(−x)
        // dx = dY ⊙ (σ(x)·(1 + (p − 1)·t) − p·t)          (= dY ⊙ (σ(x) − t) when p = 1)
        Tensor gx = g * (p * t + 1 - t);  // dY·(1 + (p − 1)·t)
        Tensor gpt = g * p * t;
        dx = make_tensor(x.sizes(), x.dtype());
        kernels::ternary_loop<T, T, T, T>(dx, x, gx, gpt, [](T xv, T a, T b) {
          return static_cast<T>(a / (1.0 + std::exp(-static_cast<double>(xv))) - b);
        });
      }
      if (needs_grad(1)) {
        // dt = dY ⊙ ((p − 1)·softplus(−x) − x)
        dt = make_tensor(t.sizes(), t.dtype());
        kernels::ternary_loop<T, T, T, T>(dt, g, x, p, [](T d, T xv, T pv) {
          const double xd = xv;
          const double sp = std::max(-xd, 0.0) + std::log1p(std::exp(-std::abs(xd)));  // softplus(−x)
          return static_cast<T>(d * ((pv - 1.0) * sp - xd));
        });
      }
    });
    return {dx, dt};
  }
};

Tensor apply_reduction(const Tensor& loss, Red red) {
  if (red == Red::Mean) return loss.mean();
  if (red == Red::Sum) return loss.sum();
  return loss;
}

void check_same_shape(const Tensor& input, const Tensor& target, const char* op) {
  detail::check_defined(input, op);
  detail::check_defined(target, op);
  if (!is_floating(input.dtype()) || input.dtype() != target.dtype())
    throw DTypeError(std::string(op) + ": expected input and target of one floating dtype, got " +
                     dtype_name(input.dtype()) + " and " + dtype_name(target.dtype()));
  if (input.sizes() != target.sizes())
    throw ShapeError(std::string(op) + ": input " + shape_str(input.sizes()) + " and target " +
                     shape_str(target.sizes()) + " must have the same shape");
}

}  // namespace
}  // namespace ops

namespace nn::functional {

using namespace ops;

Tensor binary_cross_entropy(const Tensor& input, const Tensor& target, const BinaryCrossEntropyFuncOptions& options) {
  const char* op = "binary_cross_entropy";
  check_same_shape(input, target, op);
  Tensor out = make_tensor(input.sizes(), input.dtype());
  dispatch_floating(input.dtype(), op, [&](auto tag) {
    using T = typename decltype(tag)::type;
    std::atomic<bool> bad{false};
    // ℓ = −(t·max(log x, −100) + (1 − t)·max(log(1 − x), −100))
    kernels::binary_loop<T, T, T>(out, input, target, [&bad](T xv, T tv) {
      if (!(xv >= 0 && xv <= 1)) bad.store(true, std::memory_order_relaxed);
      const double lx = std::max(std::log(static_cast<double>(xv)), -100.0);
      const double l1x = std::max(std::log1p(-static_cast<double>(xv)), -100.0);
      return static_cast<T>(-(tv * lx + (1.0 - tv) * l1x));
    });
    if (bad)
      throw Error("binary_cross_entropy: all elements of the input must be probabilities in [0, 1]; for scores "
                  "(logits) use binary_cross_entropy_with_logits");
  });
  record<BinaryCrossEntropyBackward>(out, {&input, &target}, {}, [&](BinaryCrossEntropyBackward& n) {
    n.x = n.save(input);
    n.t = n.save(target);
  });
  Tensor l = options.weight().defined() ? out * options.weight() : out;
  return apply_reduction(l, to_red(options.reduction()));
}

Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BinaryCrossEntropyWithLogitsFuncOptions& options) {
  const char* op = "binary_cross_entropy_with_logits";
  check_same_shape(input, target, op);
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
    // ℓ = (1 − t)·x + (1 + (p − 1)·t)·softplus(−x), softplus(−x) = max(−x, 0) + log(1 + exp(−|x|))
    auto f = [](T xv, T tv, T pv) {
      const double xd = xv;
      const double sp = std::max(-xd, 0.0) + std::log1p(std::exp(-std::abs(xd)));
      return static_cast<T>((1.0 - tv) * xd + (1.0 + (pv - 1.0) * tv) * sp);
    };
    if (pw.defined()) kernels::ternary_loop<T, T, T, T>(out, input, target, pw, f);
    else kernels::binary_loop<T, T, T>(out, input, target, [&f](T xv, T tv) { return f(xv, tv, T(1)); });
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
