// dimgrad — normalization layers: BatchNorm1d/2d/3d, LayerNorm, GroupNorm, and
// their functional forms. Each is one fused op (src/ops/batch_norm.cpp, norm.cpp) with the
// compact hand-derived backward (docs/derivations/batch_norm.md, layer_norm.md):
//   dx = γ·rstd/M · (M·dy − Σdy − x̂·Σ(dy·x̂)),   dγ = Σ dy·x̂,   dβ = Σ dy.
// Parameter and buffer names are PyTorch's (weight, bias, running_mean,
// running_var, num_batches_tracked), so state dicts interoperate.
#pragma once

#include <optional>
#include <vector>

#include "dimgrad/nn/module.hpp"
#include "dimgrad/nn/options.hpp"

namespace dg::nn {

struct BatchNormOptions {
  BatchNormOptions(int64_t num_features) : num_features_(num_features) {}  // NOLINT (implicit, as LibTorch)
  DG_ARG(int64_t, num_features);
  DG_ARG(double, eps) = 1e-5;
  // nullopt: running statistics are the cumulative average over all batches.
  DG_ARG(std::optional<double>, momentum) = 0.1;
  DG_ARG(bool, affine) = true;
  DG_ARG(bool, track_running_stats) = true;
};
using BatchNorm1dOptions = BatchNormOptions;
using BatchNorm2dOptions = BatchNormOptions;
using BatchNorm3dOptions = BatchNormOptions;

struct LayerNormOptions {
  LayerNormOptions(std::vector<int64_t> normalized_shape) : normalized_shape_(std::move(normalized_shape)) {}  // NOLINT
  DG_ARG(std::vector<int64_t>, normalized_shape);
  DG_ARG(double, eps) = 1e-5;
  DG_ARG(bool, elementwise_affine) = true;
};

struct GroupNormOptions {
  GroupNormOptions(int64_t num_groups, int64_t num_channels) : num_groups_(num_groups), num_channels_(num_channels) {}
  DG_ARG(int64_t, num_groups);
  DG_ARG(int64_t, num_channels);
  DG_ARG(double, eps) = 1e-5;
  DG_ARG(bool, affine) = true;
};

namespace functional {
struct BatchNormFuncOptions {
  DG_ARG(Tensor, weight) = Tensor();
  DG_ARG(Tensor, bias) = Tensor();
  // true: normalise with the batch's statistics (and update the running ones
  // when given); false: normalise with running_mean / running_var.
  DG_ARG(bool, training) = false;
  DG_ARG(std::optional<double>, momentum) = 0.1;
  DG_ARG(double, eps) = 1e-5;
};
struct LayerNormFuncOptions {
  LayerNormFuncOptions(std::vector<int64_t> normalized_shape) : normalized_shape_(std::move(normalized_shape)) {}  // NOLINT
  DG_ARG(std::vector<int64_t>, normalized_shape);
  DG_ARG(Tensor, weight) = {};
  DG_ARG(Tensor, bias) = {};
  DG_ARG(double, eps) = 1e-5;
};
struct GroupNormFuncOptions {
  GroupNormFuncOptions(int64_t num_groups) : num_groups_(num_groups) {}  // NOLINT
  DG_ARG(int64_t, num_groups);
  DG_ARG(Tensor, weight) = {};
  DG_ARG(Tensor, bias) = {};
  DG_ARG(double, eps) = 1e-5;
};
struct NormalizeFuncOptions {
  DG_ARG(double, p) = 2.0;
  DG_ARG(int64_t, dim) = 1;
  DG_ARG(double, eps) = 1e-12;
};

// input [N, C, *]; running_mean / running_var [C] (may be undefined when training).
// In training mode with running statistics given, they are updated in place:
// r ← (1 − momentum)·r + momentum·batch_stat (the variance unbiased, as PyTorch).
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var,
                  const BatchNormFuncOptions& options = {});
// input [*, normalized_shape]; normalised over the trailing dims.
Tensor layer_norm(const Tensor& input, const LayerNormFuncOptions& options);
// input [N, C, *]; normalised over each group of C / num_groups channels.
Tensor group_norm(const Tensor& input, const GroupNormFuncOptions& options);
// input / max(‖input‖_p, eps), the norm along dim broadcast back: each vector
// along dim scaled to unit p-norm (PyTorch's F.normalize; the clamp is an op, so
// a vector whose norm is below eps passes no gradient through its norm).
Tensor normalize(const Tensor& input, const NormalizeFuncOptions& options = {});

namespace detail {
// LibTorch's form: momentum already resolved to the averaging factor.
Tensor batch_norm(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                  const Tensor& bias, bool training, double momentum, double eps);
// max(batch_norm(...), 0) as one op (one pass, one node "batch_norm_relu"): what
// Sequential runs for a BatchNorm layer followed by a ReLU.
Tensor batch_norm_relu(const Tensor& input, const Tensor& running_mean, const Tensor& running_var, const Tensor& weight,
                       const Tensor& bias, bool training, double momentum, double eps);
}  // namespace detail
}  // namespace functional

class ReLUImpl;  // dimgrad/nn/activation.hpp

// Shared by BatchNorm1d/2d/3d; D is the number of spatial dims the layer expects.
class BatchNormImplBase : public Module {
 public:
  BatchNormImplBase(const BatchNormOptions& options_, int spatial_dims, const char* name);
  void reset();
  void reset_running_stats();
  void reset_parameters();
  // "BatchNorm2d 32"
  void pretty_print(std::ostream& os) const override;
  Tensor forward(const Tensor& input) override;
  // forward(input) then relu's forward, as one op (batch_norm_relu): what
  // Sequential runs for this layer followed by a ReLU. Same values and gradients;
  // the graph has one node for the two layers, named by this layer's path.
  Tensor forward_then_relu(ReLUImpl& relu, const Tensor& input);

  BatchNormOptions options;
  Tensor weight;               // [C] γ (when affine)
  Tensor bias;                 // [C] β (when affine)
  Tensor running_mean;         // [C] (when track_running_stats)
  Tensor running_var;          // [C]
  Tensor num_batches_tracked;  // int64 scalar

 protected:
  // Throws the layer's shape error when the input's rank or channel count is wrong.
  void check_input(const Tensor& input, ForwardGuard& guard) const;
  // The functional call of forward(), with a fused ReLU when `relu`.
  Tensor run(const Tensor& input, bool relu);
  int spatial_dims_;
};

// Input [N, C] or [N, C, L].
class BatchNorm1dImpl : public BatchNormImplBase {
 public:
  explicit BatchNorm1dImpl(const BatchNormOptions& options_) : BatchNormImplBase(options_, 1, "BatchNorm1d") {}
};
DG_MODULE(BatchNorm1d);

// Input [N, C, H, W] (statistics per channel over N, H and W).
class BatchNorm2dImpl : public BatchNormImplBase {
 public:
  explicit BatchNorm2dImpl(const BatchNormOptions& options_) : BatchNormImplBase(options_, 2, "BatchNorm2d") {}
};
DG_MODULE(BatchNorm2d);

// Input [N, C, D, H, W].
class BatchNorm3dImpl : public BatchNormImplBase {
 public:
  explicit BatchNorm3dImpl(const BatchNormOptions& options_) : BatchNormImplBase(options_, 3, "BatchNorm3d") {}
};
DG_MODULE(BatchNorm3d);

class LayerNormImpl : public Module {
 public:
  explicit LayerNormImpl(std::vector<int64_t> normalized_shape)
      : LayerNormImpl(LayerNormOptions(std::move(normalized_shape))) {}
  explicit LayerNormImpl(const LayerNormOptions& options_);
  void reset();
  void reset_parameters();
  void pretty_print(std::ostream& os) const override;
  Tensor forward(const Tensor& input) override;

  LayerNormOptions options;
  Tensor weight;  // normalized_shape (when elementwise_affine)
  Tensor bias;
};
DG_MODULE(LayerNorm);

class GroupNormImpl : public Module {
 public:
  GroupNormImpl(int64_t num_groups, int64_t num_channels)
      : GroupNormImpl(GroupNormOptions(num_groups, num_channels)) {}
  explicit GroupNormImpl(const GroupNormOptions& options_);
  void reset();
  void reset_parameters();
  void pretty_print(std::ostream& os) const override;
  Tensor forward(const Tensor& input) override;

  GroupNormOptions options;
  Tensor weight;  // [C]
  Tensor bias;    // [C]
};
DG_MODULE(GroupNorm);

}  // namespace dg::nn
