// dimgrad — gradient clipping, as LibTorch's torch::nn::utils (PyTorch 1.13's numbers).
//
//   double total = dg::nn::utils::clip_grad_norm_(model->parameters(), /*max_norm=*/1.0);
//
// clip_grad_norm_: the norm of all gradients taken together, as if concatenated
// into one vector, ‖g‖ₚ = (Σ|gᵢ|ᵖ)^(1/p) (p = inf: max |gᵢ|); when it exceeds
// max_norm every gradient is scaled in place by max_norm / (‖g‖ₚ + 1e-6).
// Returns the norm before clipping. Parameters without a gradient are skipped.
// clip_grad_value_: every gradient element clamped in place to [−clip_value, clip_value].
#pragma once

#include <initializer_list>
#include <vector>

#include "dimgrad/tensor.hpp"

namespace dg::nn::utils {

double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
double clip_grad_norm_(std::initializer_list<Tensor> parameters, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);
double clip_grad_norm_(const Tensor& parameter, double max_norm, double norm_type = 2.0,
                       bool error_if_nonfinite = false);

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value);
void clip_grad_value_(std::initializer_list<Tensor> parameters, double clip_value);
void clip_grad_value_(const Tensor& parameter, double clip_value);

}  // namespace dg::nn::utils
