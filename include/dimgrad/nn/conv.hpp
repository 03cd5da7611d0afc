// dimgrad — 2-d convolution: dg::conv2d (the differentiable op, as at::conv2d),
// nn::functional::conv2d with Conv2dFuncOptions, and the Conv2d layer with
// Conv2dOptions — LibTorch's names, defaults and initialisation.
//
//   nn::Conv2d conv(nn::Conv2dOptions(1, 32, 3).stride(1).padding(1));
//   auto y = conv->forward(x);                       // x [N, 1, H, W] → y [N, 32, H, W]
//   auto z = F::conv2d(x, w, F::Conv2dFuncOptions().stride(2).padding(1).groups(2));
#pragma once

#include <variant>

#include "dimgrad/nn/module.hpp"
#include "dimgrad/nn/options.hpp"

namespace dg {

// y[n, k, oh, ow] = b[k] + Σ_{c, i, j} w[k, c, i, j] · x[n, g·C/G + c, oh·s − p + i·d, ow·s − p + j·d]
// input [N, C, H, W] (or unbatched [C, H, W]), weight [K, C/groups, KH, KW],
// bias [K] or undefined. stride, padding and dilation take one value (both
// dims) or two (height, width). Forward and backward in src/ops/conv.cpp.
Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias = {}, IntArrayRef stride = 1,
              IntArrayRef padding = 0, IntArrayRef dilation = 1, int64_t groups = 1);

namespace nn {

namespace detail {
template <size_t D> using conv_padding_t = std::variant<ExpandingArray<D>, enumtype::kValid, enumtype::kSame>;
using conv_padding_mode_t = std::variant<enumtype::kZeros, enumtype::kReflect, enumtype::kReplicate, enumtype::kCircular>;
}  // namespace detail

template <size_t D> struct ConvOptions {
  using padding_t = detail::conv_padding_t<D>;
  using padding_mode_t = detail::conv_padding_mode_t;
  ConvOptions(int64_t in_channels, int64_t out_channels, ExpandingArray<D> kernel_size)
      : in_channels_(in_channels), out_channels_(out_channels), kernel_size_(std::move(kernel_size)) {}
  DG_ARG(int64_t, in_channels);
  DG_ARG(int64_t, out_channels);
  DG_ARG(ExpandingArray<D>, kernel_size);
  DG_ARG(ExpandingArray<D>, stride) = 1;
  DG_ARG(padding_t, padding) = ExpandingArray<D>(0);

 public:
  decltype(auto) padding(std::initializer_list<int64_t> il) { return padding(padding_t(ExpandingArray<D>(IntArrayRef{il}))); }
  DG_ARG(ExpandingArray<D>, dilation) = 1;
  DG_ARG(int64_t, groups) = 1;
  DG_ARG(bool, bias) = true;
  // Only zero padding is implemented; the others are refused with a clear error.
  DG_ARG(padding_mode_t, padding_mode) = enumtype::kZeros{};
};
using Conv2dOptions = ConvOptions<2>;

namespace functional {
template <size_t D> struct ConvFuncOptions {
  using padding_t = nn::detail::conv_padding_t<D>;
  DG_ARG(Tensor, bias) = Tensor();
  DG_ARG(ExpandingArray<D>, stride) = 1;
  DG_ARG(padding_t, padding) = ExpandingArray<D>(0);

 public:
  decltype(auto) padding(std::initializer_list<int64_t> il) { return padding(padding_t(ExpandingArray<D>(IntArrayRef{il}))); }
  DG_ARG(ExpandingArray<D>, dilation) = 1;
  DG_ARG(int64_t, groups) = 1;
};
using Conv2dFuncOptions = ConvFuncOptions<2>;

// padding kValid = 0; kSame keeps H and W (stride 1 only; an odd total padding
// puts the extra row/column at the bottom/right, as PyTorch does).
Tensor conv2d(const Tensor& input, const Tensor& weight, const Conv2dFuncOptions& options = {});
namespace detail {
// max_pool2d(conv2d(input, weight, bias, ...), pool_kernel, ...) as one op (one
// node "conv2d_max_pool2d"; the convolution's output is pooled in the layout
// oneDNN wrote it in and is not kept): what Sequential runs for a Conv2d followed
// by a MaxPool2d. Arguments as dg::conv2d's and dg::max_pool2d's (numeric
// padding only); errors name conv2d or conv2d_max_pool2d.
Tensor conv2d_max_pool2d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride,
                         IntArrayRef padding, IntArrayRef dilation, int64_t groups, IntArrayRef pool_kernel,
                         IntArrayRef pool_stride = {}, IntArrayRef pool_padding = 0, IntArrayRef pool_dilation = 1,
                         bool ceil_mode = false);
}  // namespace detail
}  // namespace functional

class MaxPool2dImpl;  // dimgrad/nn/pooling.hpp
class ReLUImpl;       // dimgrad/nn/activation.hpp

// Conv2d: weight [out, in/groups, kh, kw] and bias [out], initialised as
// LibTorch does: kaiming_uniform(a = √5), which is U(±1/√fan_in), for the
// weight and U(±1/√fan_in) for the bias (fan_in = in/groups · kh · kw).
class Conv2dImpl : public Module {
 public:
  explicit Conv2dImpl(Conv2dOptions options);
  Conv2dImpl(int64_t in_channels, int64_t out_channels, ExpandingArray<2> kernel_size)
      : Conv2dImpl(Conv2dOptions(in_channels, out_channels, kernel_size)) {}
  // [N, in, H, W] (or [in, H, W]) → [N, out, OH, OW]
  Tensor forward(const Tensor& input) override;
  // Re-creates and re-initialises the parameters from `options`.
  void reset();
  void reset_parameters();
  // "Conv2d 1→32 k3" (+ " s2 p1 d2 g2" where not the default).
  void pretty_print(std::ostream& os) const override;
  // pool->forward(forward(input)), or with relu between them
  // pool->forward(relu->forward(forward(input))), with the convolution and the
  // pooling as one op, conv2d_max_pool2d (then the ReLU on the pooled tensor, as
  // MaxPool2dImpl::forward_after_relu): what Sequential runs for these layers.
  // The same values and gradients; the layers appear in the shape trail and name
  // their ops as when run one by one (the fused node by this layer's path). Runs
  // them one by one where the op does not apply (padding kSame that trims, or an
  // input either layer refuses, so that the layer's own error is the one thrown).
  Tensor forward_then_max_pool(MaxPool2dImpl& pool, ReLUImpl* relu, const Tensor& input);

  Conv2dOptions options;
  Tensor weight;
  Tensor bias;

 private:
  // Throws the layer's shape or dtype error for an input it cannot take.
  void check_input(ForwardGuard& guard, const Tensor& input) const;
};
DG_MODULE(Conv2d);

}  // namespace nn
}  // namespace dg
