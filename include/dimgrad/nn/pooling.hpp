// dimgrad — 2-d pooling: the differentiable ops (dg::max_pool2d, avg_pool2d,
// adaptive_avg_pool2d, as in ATen), their functional forms with LibTorch's
// *FuncOptions, and the layers MaxPool2d, AvgPool2d, AdaptiveAvgPool2d.
//
//   nn::MaxPool2d pool(nn::MaxPool2dOptions(2));            // stride defaults to the kernel size
//   auto y = F::avg_pool2d(x, F::AvgPool2dFuncOptions(3).stride(2).padding(1).count_include_pad(false));
#pragma once

#include <optional>
#include <tuple>

#include "dimgrad/nn/module.hpp"
#include "dimgrad/nn/options.hpp"

namespace dg {

// Inputs are [N, C, H, W] or unbatched [C, H, W]; every plane is pooled on its own.
// kernel_size, stride, padding, dilation: one value (both dims) or two; an empty
// stride means stride = kernel_size. Padding is at most half the kernel. Forward
// and backward in src/ops/pool.cpp.
//
// Max: y = the largest input in each window (the padding never wins). indices
// (int64, same shape as y) hold each maximum's flat position h·W + w in its plane.
std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, IntArrayRef kernel_size,
                                                   IntArrayRef stride = {}, IntArrayRef padding = 0,
                                                   IntArrayRef dilation = 1, bool ceil_mode = false);
Tensor max_pool2d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride = {}, IntArrayRef padding = 0,
                  IntArrayRef dilation = 1, bool ceil_mode = false);
// Average: y = Σ window / divisor, where the divisor is divisor_override if given,
// else the window size counting the padding (count_include_pad) or not.
Tensor avg_pool2d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride = {}, IntArrayRef padding = 0,
                  bool ceil_mode = false, bool count_include_pad = true,
                  std::optional<int64_t> divisor_override = std::nullopt);
// Adaptive average: output [.., OH, OW]; window oh covers rows
// [⌊oh·H/OH⌋, ⌈(oh+1)·H/OH⌉) (likewise columns), so windows may overlap.
Tensor adaptive_avg_pool2d(const Tensor& input, IntArrayRef output_size);

namespace nn {

template <size_t D> struct MaxPoolOptions {
  MaxPoolOptions(ExpandingArray<D> kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
  DG_ARG(ExpandingArray<D>, kernel_size);
  DG_ARG(ExpandingArray<D>, stride);
  DG_ARG(ExpandingArray<D>, padding) = 0;
  DG_ARG(ExpandingArray<D>, dilation) = 1;
  DG_ARG(bool, ceil_mode) = false;
};
using MaxPool2dOptions = MaxPoolOptions<2>;

template <size_t D> struct AvgPoolOptions {
  AvgPoolOptions(ExpandingArray<D> kernel_size) : kernel_size_(kernel_size), stride_(kernel_size) {}  // NOLINT
  DG_ARG(ExpandingArray<D>, kernel_size);
  DG_ARG(ExpandingArray<D>, stride);
  DG_ARG(ExpandingArray<D>, padding) = 0;
  DG_ARG(bool, ceil_mode) = false;
  DG_ARG(bool, count_include_pad) = true;
  DG_ARG(std::optional<int64_t>, divisor_override) = std::nullopt;
};
using AvgPool2dOptions = AvgPoolOptions<2>;

// output_size: one value, two, or two with std::nullopt for "keep this dim".
template <class output_size_t> struct AdaptiveAvgPoolOptions {
  AdaptiveAvgPoolOptions(output_size_t output_size) : output_size_(output_size) {}  // NOLINT
  DG_ARG(output_size_t, output_size);
};
using AdaptiveAvgPool2dOptions = AdaptiveAvgPoolOptions<ExpandingArrayWithOptionalElem<2>>;

namespace functional {
using MaxPool2dFuncOptions = MaxPool2dOptions;
using AvgPool2dFuncOptions = AvgPool2dOptions;
using AdaptiveAvgPool2dFuncOptions = AdaptiveAvgPool2dOptions;
Tensor max_pool2d(const Tensor& input, const MaxPool2dFuncOptions& options);
std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, const MaxPool2dFuncOptions& options);
Tensor avg_pool2d(const Tensor& input, const AvgPool2dFuncOptions& options);
Tensor adaptive_avg_pool2d(const Tensor& input, const AdaptiveAvgPool2dFuncOptions& options);
}  // namespace functional

class ReLUImpl;  // dimgrad/nn/activation.hpp

class MaxPool2dImpl : public Module {
 public:
  explicit MaxPool2dImpl(MaxPool2dOptions options);
  explicit MaxPool2dImpl(ExpandingArray<2> kernel_size) : MaxPool2dImpl(MaxPool2dOptions(kernel_size)) {}
  // [N, C, H, W] (or [C, H, W]) → [N, C, OH, OW]
  Tensor forward(const Tensor& input) override;
  // The output and the int64 argmax positions (as F::max_pool2d_with_indices).
  std::tuple<Tensor, Tensor> forward_with_indices(const Tensor& input);
  // forward(relu->forward(input)), computed as relu(max_pool2d(input)): the
  // same values and the same gradients (max is monotone, and a window whose
  // maximum is ≤ 0 passes no gradient either way), but the ReLU and its
  // backward run on the pooled tensor, a quarter of the size for 2×2 windows.
  // Sequential uses it for a ReLU followed by a MaxPool2d. Both layers appear
  // in the shape trail and name their ops (module paths) as when run one by one.
  Tensor forward_after_relu(ReLUImpl& relu, const Tensor& input);
  // Whether forward takes an image of H × W without an error (valid options, the
  // window fits): Conv2dImpl::forward_then_max_pool fuses only then.
  bool accepts(int64_t H, int64_t W) const;
  void reset() {}
  void pretty_print(std::ostream& os) const override;  // "MaxPool2d k2 s2"
  MaxPool2dOptions options;

 private:
  void check_input(ForwardGuard& guard, const Tensor& input) const;
};
DG_MODULE(MaxPool2d);

class AvgPool2dImpl : public Module {
 public:
  explicit AvgPool2dImpl(AvgPool2dOptions options);
  explicit AvgPool2dImpl(ExpandingArray<2> kernel_size) : AvgPool2dImpl(AvgPool2dOptions(kernel_size)) {}
  Tensor forward(const Tensor& input) override;
  void reset() {}
  void pretty_print(std::ostream& os) const override;  // "AvgPool2d k2 s2"
  AvgPool2dOptions options;
};
DG_MODULE(AvgPool2d);

class AdaptiveAvgPool2dImpl : public Module {
 public:
  explicit AdaptiveAvgPool2dImpl(AdaptiveAvgPool2dOptions options);
  explicit AdaptiveAvgPool2dImpl(ExpandingArrayWithOptionalElem<2> output_size)
      : AdaptiveAvgPool2dImpl(AdaptiveAvgPool2dOptions(output_size)) {}
  Tensor forward(const Tensor& input) override;
  void reset() {}
  void pretty_print(std::ostream& os) const override;  // "AdaptiveAvgPool2d → 1×1"
  AdaptiveAvgPool2dOptions options;
};
DG_MODULE(AdaptiveAvgPool2d);

}  // namespace nn
}  // namespace dg
