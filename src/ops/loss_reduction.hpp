// The reduction option of the fused losses (loss.cpp, loss_binary.cpp,
// loss_regression.cpp) as the three cases their kernels branch on; the input
// checks and the reduction of the elementwise ones (kl_div's in nn/loss.cpp too).
#pragma once

#include <string>
#include <variant>

#include "dimgrad/nn/loss.hpp"
#include "ops/op_util.hpp"

namespace dg::ops {

enum class Red { None, Mean, Sum };

// (a template: kl_div's option also holds batchmean, which its caller handles first)
template <class R> Red to_red(const R& r) {
  if (std::holds_alternative<enumtype::kNone>(r)) return Red::None;
  if (std::holds_alternative<enumtype::kSum>(r)) return Red::Sum;
  return Red::Mean;
}

// An elementwise loss's mean, sum or the loss itself.
inline Tensor apply_reduction(const Tensor& loss, Red red) {
  if (red == Red::Mean) return loss.mean();
  if (red == Red::Sum) return loss.sum();
  return loss;
}

// Input and target of an elementwise loss: floating dtypes, the same shape (a
// broadcast — [64, 1] against [64] — would silently compare 64×64 pairs).
// Returns the dtype the loss computes in: float64 when either is (the other is
// promoted, as LibTorch's mse_loss, l1_loss and kl_div do).
inline ScalarType check_loss_operands(const Tensor& input, const Tensor& target, const char* op) {
  detail::check_defined(input, op);
  detail::check_defined(target, op);
  if (!is_floating(input.dtype()) || !is_floating(target.dtype()))
    throw DTypeError(std::string(op) + ": expected floating-point input and target, got " +
                     dtype_name(input.dtype()) + " and " + dtype_name(target.dtype()));
  if (input.sizes() != target.sizes()) {
    std::string msg = std::string(op) + ": input " + shape_str(input.sizes()) + " and target " +
                      shape_str(target.sizes()) + " must have the same shape";
    if (input.numel() == target.numel()) msg += " (same number of elements: reshape one, e.g. target.view_as(input))";
    throw ShapeError(msg);
  }
  return promote_types(input.dtype(), target.dtype());
}

}  // namespace dg::ops
