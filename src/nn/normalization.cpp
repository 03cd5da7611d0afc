// BatchNorm1d/2d/3d, LayerNorm, GroupNorm modules (the ops are in src/ops/batch_norm.cpp and norm.cpp).
#include "dimgrad/nn/normalization.hpp"

#include <ostream>

#include "dimgrad/nn/activation.hpp"
#include "dimgrad/nn/init.hpp"

namespace dg::nn {

namespace F = functional;

// ---------------------------------------------------------------- BatchNorm
BatchNormImplBase::BatchNormImplBase(const BatchNormOptions& options_, int spatial_dims, const char* name)
    : Module(name), options(options_), spatial_dims_(spatial_dims) {
  reset();
}

void BatchNormImplBase::reset() {
  const int64_t C = options.num_features();
  if (C <= 0) throw Error(name_ + ": num_features must be positive, got " + std::to_string(C));
  if (options.affine()) {
    weight = register_parameter("weight", empty({C}));
    bias = register_parameter("bias", empty({C}));
  } else {
    weight = register_parameter("weight", Tensor(), false);
    bias = register_parameter("bias", Tensor(), false);
  }
  if (options.track_running_stats()) {
    running_mean = register_buffer("running_mean", zeros({C}));
    running_var = register_buffer("running_var", ones({C}));
    num_batches_tracked = register_buffer("num_batches_tracked", zeros({}, kLong));
  } else {
    running_mean = register_buffer("running_mean", Tensor());
    running_var = register_buffer("running_var", Tensor());
    num_batches_tracked = register_buffer("num_batches_tracked", Tensor());
  }
  reset_parameters();
}

void BatchNormImplBase::reset_running_stats() {
  if (!options.track_running_stats()) return;
  NoGradGuard g;
  running_mean.zero_();
  running_var.fill_(1);
  num_batches_tracked.zero_();
}

void BatchNormImplBase::reset_parameters() {
  reset_running_stats();
  if (options.affine()) {
    init::ones_(weight);
    init::zeros_(bias);
  }
}

void BatchNormImplBase::pretty_print(std::ostream& os) const { os << name_ << " " << options.num_features(); }

void BatchNormImplBase::check_input(const Tensor& input, ForwardGuard& guard) const {
  const std::string C = std::to_string(options.num_features());
  std::string want;
  bool rank_ok;
  if (spatial_dims_ == 1) {
    want = "[N, " + C + "] or [N, " + C + ", L]";
    rank_ok = input.dim() == 2 || input.dim() == 3;
  } else if (spatial_dims_ == 2) {
    want = "[N, " + C + ", H, W]";
    rank_ok = input.dim() == 4;
  } else {
    want = "[N, " + C + ", D, H, W]";
    rank_ok = input.dim() == 5;
  }
  if (!rank_ok)
    guard.shape_error(want, name_ + " normalises each of the " + C + " channels (dim 1); got a " +
                                std::to_string(input.dim()) + "-d input");
  if (input.size(1) != options.num_features())
    guard.shape_error(want, "dim 1 must hold the " + C + " channels; the previous layer produces " +
                                std::to_string(input.size(1)));
}

Tensor BatchNormImplBase::run(const Tensor& input, bool relu) {
  double factor = options.momentum().value_or(0.0);
  if (is_training() && options.track_running_stats() && num_batches_tracked.defined()) {
    NoGradGuard g;
    num_batches_tracked.add_(1);
    // momentum nullopt: running stats are the cumulative average, factor 1/batches
    if (!options.momentum()) factor = 1.0 / static_cast<double>(num_batches_tracked.item<int64_t>());
  }
  const bool batch_stats = is_training() || !options.track_running_stats();
  return relu ? F::detail::batch_norm_relu(input, running_mean, running_var, weight, bias, batch_stats, factor,
                                           options.eps())
              : F::detail::batch_norm(input, running_mean, running_var, weight, bias, batch_stats, factor, options.eps());
}

Tensor BatchNormImplBase::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  check_input(input, guard);
  return guard.done(run(input, false));
}

Tensor BatchNormImplBase::forward_then_relu(ReLUImpl& relu, const Tensor& input) {
  Tensor y;
  {
    ForwardGuard guard(*this, input);
    check_input(input, guard);
    y = run(input, true);
    guard.done(y);  // the trail shows this layer's output shape: the ReLU's
  }
  ForwardGuard relu_guard(relu, y);
  return relu_guard.done(y);
}

// ---------------------------------------------------------------- LayerNorm
LayerNormImpl::LayerNormImpl(const LayerNormOptions& options_) : Module("LayerNorm"), options(options_) { reset(); }

void LayerNormImpl::reset() {
  if (options.normalized_shape().empty()) throw Error("LayerNorm: normalized_shape must not be empty");
  if (options.elementwise_affine()) {
    weight = register_parameter("weight", dg::empty(options.normalized_shape()));
    bias = register_parameter("bias", dg::empty(options.normalized_shape()));
  } else {
    weight = register_parameter("weight", Tensor(), false);
    bias = register_parameter("bias", Tensor(), false);
  }
  reset_parameters();
}

void LayerNormImpl::reset_parameters() {
  if (!options.elementwise_affine()) return;
  init::ones_(weight);
  init::zeros_(bias);
}

void LayerNormImpl::pretty_print(std::ostream& os) const { os << "LayerNorm " << shape_str(options.normalized_shape()); }

Tensor LayerNormImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  const auto& ns = options.normalized_shape();
  const int64_t nd = static_cast<int64_t>(ns.size());
  bool ok = input.dim() >= nd;
  for (int64_t i = 0; ok && i < nd; ++i) ok = input.size(input.dim() - nd + i) == ns[static_cast<size_t>(i)];
  if (!ok) {
    std::string want = "[*";
    for (int64_t s : ns) want += ", " + std::to_string(s);
    guard.shape_error(want + "]", "the trailing dims must equal normalized_shape " + shape_str(ns));
  }
  return guard.done(
      F::layer_norm(input, F::LayerNormFuncOptions(ns).weight(weight).bias(bias).eps(options.eps())));
}

// ---------------------------------------------------------------- GroupNorm
GroupNormImpl::GroupNormImpl(const GroupNormOptions& options_) : Module("GroupNorm"), options(options_) { reset(); }

void GroupNormImpl::reset() {
  const int64_t G = options.num_groups(), C = options.num_channels();
  if (G <= 0 || C % G != 0)
    throw Error("GroupNorm: num_channels (" + std::to_string(C) + ") must be divisible by num_groups (" +
                std::to_string(G) + ")");
  if (options.affine()) {
    weight = register_parameter("weight", empty({C}));
    bias = register_parameter("bias", empty({C}));
  } else {
    weight = register_parameter("weight", Tensor(), false);
    bias = register_parameter("bias", Tensor(), false);
  }
  reset_parameters();
}

void GroupNormImpl::reset_parameters() {
  if (!options.affine()) return;
  init::ones_(weight);
  init::zeros_(bias);
}

void GroupNormImpl::pretty_print(std::ostream& os) const {
  os << "GroupNorm " << options.num_groups() << "×" << options.num_channels() / options.num_groups();
}

Tensor GroupNormImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  const std::string C = std::to_string(options.num_channels());
  if (input.dim() < 2) guard.shape_error("[N, " + C + ", *]");
  if (input.size(1) != options.num_channels())
    guard.shape_error("[N, " + C + ", *]", "dim 1 must hold the " + C + " channels");
  return guard.done(F::group_norm(
      input, F::GroupNormFuncOptions(options.num_groups()).weight(weight).bias(bias).eps(options.eps())));
}

}  // namespace dg::nn

// ---------------------------------------------------------------- normalize
namespace dg::nn::functional {

Tensor normalize(const Tensor& input, const NormalizeFuncOptions& options) {
  if (!input.defined()) throw Error("normalize: the input is an undefined tensor");
  if (!input.is_floating_point())
    throw DTypeError(std::string("normalize: expected a floating-point tensor, got ") + dtype_name(input.dtype()));
  const int64_t dim = wrap_dim(options.dim(), input.dim(), "normalize");
  // ‖input‖_p along dim, kept as size 1 and broadcast back by the division.
  return input / clamp_min(norm(input, options.p(), {dim}, true), options.eps());
}

}  // namespace dg::nn::functional
