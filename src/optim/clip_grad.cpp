// Gradient clipping: dg::nn::utils::clip_grad_norm_ and clip_grad_value_, with
// PyTorch 1.13's numbers (torch/nn/utils/clip_grad.py).
#include "dimgrad/nn/utils.hpp"

#include <cmath>

#include "dimgrad/autograd.hpp"
#include "dimgrad/ops.hpp"
#include "optim/optim_util.hpp"

namespace dg::nn::utils {

namespace {

// The gradients to clip, each as a contiguous buffer (a copy, written back by
// finish(), when the gradient is a strided view).
struct GradBuffer {
  Tensor grad, work;
  void finish() {
    if (!work.is_same(grad)) kernels::copy(grad, work);
    grad.impl()->storage->bump_version();  // changed in place
  }
};

std::vector<GradBuffer> grads_of(const std::vector<Tensor>& parameters, const char* fn) {
  std::vector<GradBuffer> out;
  for (size_t i = 0; i < parameters.size(); ++i) {
    const Tensor& p = parameters[i];
    if (!p.defined()) throw Error(std::string(fn) + ": parameter " + std::to_string(i) + " is an undefined tensor");
    Tensor g = p.grad();
    if (!g.defined()) continue;  // no gradient: nothing to measure or clip
    if (!g.is_floating_point())
      throw DTypeError(std::string(fn) + ": the gradient of parameter " + std::to_string(i) + " has dtype " +
                       dtype_name(g.dtype()) + "; expected float32 or float64");
    out.push_back({g, kernels::as_contiguous(g)});
  }
  return out;
}

}  // namespace

double clip_grad_norm_(const std::vector<Tensor>& parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  const char* fn = "clip_grad_norm_";
  if (std::isnan(norm_type) || norm_type < 0)
    throw Error(std::string(fn) + ": norm_type must be >= 0 or inf, got " + optim::detail::num(norm_type));
  std::vector<GradBuffer> grads = grads_of(parameters, fn);
  if (grads.empty()) return 0.0;

  // The norm of all gradients together: ‖(‖g₁‖ₚ, ‖g₂‖ₚ, …)‖ₚ, as PyTorch (each
  // gradient's norm by dg::norm in its dtype, then the norm of those in double).
  // p = 0: the outer norm counts the gradients with a non-zero; p = ∞: the largest.
  double total = 0;
  bool all_float32 = true;
  NoGradGuard no_grad;
  for (auto& b : grads) {
    all_float32 &= b.work.dtype() == kFloat32;
    const double part = dg::norm(b.work, norm_type).item<double>();
    if (std::isinf(norm_type)) total = (std::isnan(part) || std::isnan(total)) ? part + total : std::max(total, part);
    else if (norm_type == 0) total += part != 0 ? 1 : 0;
    else if (norm_type == 1) total += part;
    else total += std::pow(part, norm_type);
  }
  if (norm_type != 0 && norm_type != 1 && !std::isinf(norm_type))
    total = norm_type == 2 ? std::sqrt(total) : std::pow(total, 1.0 / norm_type);
  // PyTorch computes the norm in the gradients' dtype: float32 gradients give a float32 norm.
  if (all_float32) total = static_cast<float>(total);

  if (error_if_nonfinite && !std::isfinite(total))
    throw Error(std::string(fn) + ": the total norm of order " + optim::detail::num(norm_type) +
                " for gradients from `parameters` is non-finite (" + optim::detail::num(total) +
                "), so it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                "norm anyway, set error_if_nonfinite=false");

  // coef = max_norm / (total + 1e-6), at most 1, in each gradient's dtype (PyTorch:
  // (total_norm + 1e-6).reciprocal() * max_norm, clamped, then grad.mul_(coef)).
  for (auto& b : grads) {
    dispatch_floating(b.work.dtype(), fn, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T coef = (T(1) / (static_cast<T>(total) + static_cast<T>(1e-6))) * static_cast<T>(max_norm);
      if (coef >= T(1)) return;  // × 1 changes nothing (a NaN coefficient still goes through)
      T* g = static_cast<T*>(b.work.raw_data());
      optim::detail::parallel_range(b.work.numel(), [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) g[i] = g[i] * coef;
      });
      b.finish();
    });
  }
  return total;
}

double clip_grad_norm_(std::initializer_list<Tensor> parameters, double max_norm, double norm_type,
                       bool error_if_nonfinite) {
  return clip_grad_norm_(std::vector<Tensor>(parameters), max_norm, norm_type, error_if_nonfinite);
}

double clip_grad_norm_(const Tensor& parameter, double max_norm, double norm_type, bool error_if_nonfinite) {
  return clip_grad_norm_(std::vector<Tensor>{parameter}, max_norm, norm_type, error_if_nonfinite);
}

void clip_grad_value_(const std::vector<Tensor>& parameters, double clip_value) {
  const char* fn = "clip_grad_value_";
  if (std::isnan(clip_value)) throw Error(std::string(fn) + ": clip_value is NaN");
  for (auto& b : grads_of(parameters, fn)) {
    dispatch_floating(b.work.dtype(), fn, [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T hi = static_cast<T>(clip_value), lo = static_cast<T>(-clip_value);
      T* g = static_cast<T*>(b.work.raw_data());
      // min(max(x, lo), hi), keeping NaN, as torch.clamp does.
      optim::detail::parallel_range(b.work.numel(), [&](int64_t s, int64_t e) {
        for (int64_t i = s; i < e; ++i) {
          T v = g[i] < lo ? lo : g[i];
          g[i] = v > hi ? hi : v;
        }
      });
    });
    b.finish();
  }
}

void clip_grad_value_(std::initializer_list<Tensor> parameters, double clip_value) {
  clip_grad_value_(std::vector<Tensor>(parameters), clip_value);
}

void clip_grad_value_(const Tensor& parameter, double clip_value) {
  clip_grad_value_(std::vector<Tensor>{parameter}, clip_value);
}

}  // namespace dg::nn::utils
