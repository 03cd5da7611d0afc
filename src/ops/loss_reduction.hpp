// The reduction option of the fused losses (loss.cpp, loss_binary.cpp,
// loss_huber.cpp) as the three cases their kernels branch on; the input checks
// and the reduction of the elementwise ones.
#pragma once

#include <string>
#include <variant>

#include "dimgrad/nn/loss.hpp"
#include "ops/op_util.hpp"

namespace dg::ops {

enum class Red { None, Mean, Sum };

inline Red to_red(const nn::reduction_t& r) {
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

// Input and target of an elementwise loss: one floating dtype, the same shape (a
// broadcast — [64, 1] against [64] — would silently compare 64×64 pairs).
inline void check_same_shape(const Tensor& input, const Tensor& target, const char* op) {
  detail::check_defined(input, op);
  detail::check_defined(target, op);
  if (!is_floating(input.dtype()) || input.dtype() != target.dtype())
    throw DTypeError(std::string(op) + ": expected input and target of one floating dtype, got " +
                     dtype_name(input.dtype()) + " and " + dtype_name(target.dtype()));
  if (input.sizes() != target.sizes()) {
    std::string msg = std::string(op) + ": input " + shape_str(input.sizes()) + " and target " +
                      shape_str(target.sizes()) + " must have the same shape";
    if (input.numel() == target.numel()) msg += " (same number of elements: reshape one, e.g. target.view_as(input))";
    throw ShapeError(msg);
  }
}

}  // namespace dg::ops
