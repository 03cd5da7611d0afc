// Helpers shared by the normalization ops (batch_norm.cpp, norm.cpp); not installed.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "ops/op_util.hpp"

namespace dg::ops {

template <class T> inline const T* data_or_null(const Tensor& t) { return t.defined() ? t.data_ptr<T>() : nullptr; }

// What every normalization node saves: its contiguous input x, γ when given, and
// the statistics it normalised with (per channel, row or group: the op says).
struct NormBackward : Node {
  using Node::Node;
  Tensor x, weight;                // weight undefined: γ = 1
  std::vector<double> mean, rstd;
  void save_inputs(const Tensor& x_, const Tensor& weight_, std::vector<double>&& mean_, std::vector<double>&& rstd_) {
    x = save(x_);
    if (weight_.defined()) weight = save(weight_);
    mean = std::move(mean_);
    rstd = std::move(rstd_);
  }
  void release_saved() override {
    Node::release_saved();
    x.reset();
    weight.reset();
  }
};

// Throws for a per-channel vector (weight, bias, running statistic) that is
// not [C] or not of the input's dtype; an undefined one is allowed.
inline void check_channel_vector(const Tensor& t, int64_t C, ScalarType dt, const char* what, const char* op) {
  if (!t.defined()) return;
  if (t.dim() != 1 || t.size(0) != C)
    throw ShapeError(std::string(op) + ": expected " + what + " of shape [" + std::to_string(C) + "] (one per channel), got " +
                     shape_str(t.sizes()));
  if (t.dtype() != dt)
    throw DTypeError(std::string(op) + ": " + what + " is " + dtype_name(t.dtype()) + " but the input is " +
                     dtype_name(dt));
}

inline void check_floating_input(const Tensor& x, const char* op) {
  detail::check_defined(x, op);
  if (!is_floating(x.dtype()))
    throw DTypeError(std::string(op) + ": expected a floating-point input, got " + dtype_name(x.dtype()));
}

}  // namespace dg::ops
