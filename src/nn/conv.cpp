// nn::Conv2d and nn::functional::conv2d: options, checks with the module's path,
// LibTorch's initialisation. The op itself (forward and backward) is src/ops/conv.cpp.
#include "dimgrad/nn/conv.hpp"

#include <cmath>
#include <sstream>

#include "dimgrad/nn/activation.hpp"
#include "dimgrad/nn/pooling.hpp"

namespace dg::nn {
namespace {

// Resolved padding: kValid = 0, kSame = what keeps H and W at stride 1. An odd
// total puts the extra row/column at the bottom/right (PyTorch's choice): we pad
// one more on both sides and drop the first output row/column.
struct ResolvedPadding {
  int64_t ph = 0, pw = 0;
  bool trim_h = false, trim_w = false;
};

ResolvedPadding resolve_padding(const detail::conv_padding_t<2>& padding, IntArrayRef kernel, IntArrayRef stride,
                                IntArrayRef dilation) {
  ResolvedPadding r;
  if (auto* p = std::get_if<ExpandingArray<2>>(&padding)) {
    r.ph = (*p)[0];
    r.pw = (*p)[1];
  } else if (std::holds_alternative<enumtype::kSame>(padding)) {
    if (stride[0] != 1 || stride[1] != 1)
      throw Error("conv2d: padding=kSame needs stride 1, got stride " + shape_str(stride));
    const int64_t th = dilation[0] * (kernel[0] - 1), tw = dilation[1] * (kernel[1] - 1);
    r.ph = (th + 1) / 2;
    r.pw = (tw + 1) / 2;
    r.trim_h = th % 2 == 1;
    r.trim_w = tw % 2 == 1;
  }
  return r;
}

Tensor conv2d_padded(const Tensor& x, const Tensor& w, const Tensor& b, IntArrayRef stride,
                     const detail::conv_padding_t<2>& padding, IntArrayRef dilation, int64_t groups) {
  if (w.defined() && w.dim() == 4) {
    Shape k({w.size(2), w.size(3)});
    ResolvedPadding r = resolve_padding(padding, k, stride, dilation);
    Tensor y = dg::conv2d(x, w, b, stride, {r.ph, r.pw}, dilation, groups);
    if (r.trim_h) y = y.narrow(-2, 1, y.size(-2) - 1);
    if (r.trim_w) y = y.narrow(-1, 1, y.size(-1) - 1);
    return y;
  }
  return dg::conv2d(x, w, b, stride, 0, dilation, groups);  // reports the bad weight
}

}  // namespace

namespace functional {
Tensor conv2d(const Tensor& input, const Tensor& weight, const Conv2dFuncOptions& o) {
  return conv2d_padded(input, weight, o.bias(), o.stride(), o.padding(), o.dilation(), o.groups());
}
}  // namespace functional

Conv2dImpl::Conv2dImpl(Conv2dOptions options_) : Module("Conv2d"), options(std::move(options_)) { reset(); }

void Conv2dImpl::reset() {
  const auto& o = options;
  if (o.in_channels() <= 0 || o.out_channels() <= 0)
    throw Error("Conv2d: in_channels and out_channels must be positive, got " + std::to_string(o.in_channels()) +
                " and " + std::to_string(o.out_channels()));
  if (o.groups() <= 0 || o.in_channels() % o.groups() != 0 || o.out_channels() % o.groups() != 0)
    throw Error("Conv2d: in_channels (" + std::to_string(o.in_channels()) + ") and out_channels (" +
                std::to_string(o.out_channels()) + ") must both be divisible by groups (" +
                std::to_string(o.groups()) + ")");
  if (!std::holds_alternative<enumtype::kZeros>(o.padding_mode()))
    throw Error("Conv2d: padding_mode " + enum_name(o.padding_mode()) + " is not supported (only kZeros)");
  if (std::holds_alternative<enumtype::kSame>(o.padding()) && (o.stride()[0] != 1 || o.stride()[1] != 1))
    throw Error("Conv2d: padding=kSame needs stride 1, got stride " + shape_str(o.stride()));
  weight = register_parameter(
      "weight", empty({o.out_channels(), o.in_channels() / o.groups(), o.kernel_size()[0], o.kernel_size()[1]}));
  if (o.bias()) bias = register_parameter("bias", empty({o.out_channels()}));
  else bias = Tensor();
  reset_parameters();
}

void Conv2dImpl::reset_parameters() {
  NoGradGuard g;
  // kaiming_uniform_(a = √5): gain = √(2 / (1 + a²)) = √(1/3), bound = gain·√(3 / fan_in) = 1/√fan_in.
  const double fan_in = static_cast<double>(weight.size(1) * weight.size(2) * weight.size(3));
  const double bound = 1.0 / std::sqrt(fan_in);
  weight.uniform_(-bound, bound);
  if (bias.defined()) bias.uniform_(-bound, bound);
}

void Conv2dImpl::pretty_print(std::ostream& os) const {
  const auto& o = options;
  auto pair = [](const ExpandingArray<2>& a) {
    return a[0] == a[1] ? std::to_string(a[0]) : std::to_string(a[0]) + "×" + std::to_string(a[1]);
  };
  os << "Conv2d " << o.in_channels() << "→" << o.out_channels() << " k" << pair(o.kernel_size());
  if (o.stride() != ExpandingArray<2>(1)) os << " s" << pair(o.stride());
  if (auto* p = std::get_if<ExpandingArray<2>>(&o.padding())) {
    if (*p != ExpandingArray<2>(0)) os << " p" << pair(*p);
  } else {
    os << (std::holds_alternative<enumtype::kSame>(o.padding()) ? " p=same" : " p=valid");
  }
  if (o.dilation() != ExpandingArray<2>(1)) os << " d" << pair(o.dilation());
  if (o.groups() != 1) os << " g" << o.groups();
  if (!o.bias()) os << " no bias";
}

void Conv2dImpl::check_input(ForwardGuard& guard, const Tensor& input) const {
  const int64_t C = options.in_channels();
  const std::string expected = "[N, " + std::to_string(C) + ", H, W]";
  if (!input.defined()) guard.shape_error(expected, "the input tensor is undefined");
  if (input.dim() != 4 && input.dim() != 3)
    guard.shape_error(expected, "Conv2d takes a batch of images [N, C, H, W] (or one image [C, H, W])");
  if (input.size(-3) != C)
    guard.shape_error(expected, "the input has " + std::to_string(input.size(-3)) + " channels, the layer " +
                                    std::to_string(C));
  if (input.dtype() != weight.dtype())
    throw DTypeError(display_name() + " has " + dtype_name(weight.dtype()) + " parameters but got a " +
                     dtype_name(input.dtype()) + " input (convert one with .to(dtype))");
  // The kernel must fit in the padded input.
  ResolvedPadding r = resolve_padding(options.padding(), options.kernel_size(), options.stride(), options.dilation());
  const int64_t eh = options.dilation()[0] * (options.kernel_size()[0] - 1) + 1;
  const int64_t ew = options.dilation()[1] * (options.kernel_size()[1] - 1) + 1;
  if (input.size(-2) + 2 * r.ph < eh || input.size(-1) + 2 * r.pw < ew)
    guard.shape_error("[N, " + std::to_string(C) + ", H, W] with H ≥ " + std::to_string(eh - 2 * r.ph) +
                          " and W ≥ " + std::to_string(ew - 2 * r.pw),
                      "the image is smaller than the kernel; check the layers before this one");
}

Tensor Conv2dImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  check_input(guard, input);
  Tensor y = conv2d_padded(input, weight, bias, options.stride(), options.padding(), options.dilation(),
                           options.groups());
  return guard.done(y);
}

Tensor Conv2dImpl::forward_then_max_pool(MaxPool2dImpl& pool, ReLUImpl* relu, const Tensor& input) {
  const auto& o = options;
  const ResolvedPadding r = resolve_padding(o.padding(), o.kernel_size(), o.stride(), o.dilation());
  // The convolution's output size, when the input is one this layer takes.
  Shape z;
  if (input.defined() && (input.dim() == 4 || input.dim() == 3) && !r.trim_h && !r.trim_w) {
    const int64_t H = input.size(-2) + 2 * r.ph - o.dilation()[0] * (o.kernel_size()[0] - 1) - 1,
                  W = input.size(-1) + 2 * r.pw - o.dilation()[1] * (o.kernel_size()[1] - 1) - 1;
    if (H >= 0 && W >= 0) {
      z = Shape(input.sizes());
      z[z.size() - 3] = o.out_channels();
      z[z.size() - 2] = H / o.stride()[0] + 1;
      z[z.size() - 1] = W / o.stride()[1] + 1;
    }
  }
  if (z.size() == 0 || !pool.accepts(z[z.size() - 2], z[z.size() - 1])) {
    Tensor h = forward(input);  // one by one: the layers' own results and errors
    return relu ? pool.forward_after_relu(*relu, h) : pool.forward(h);
  }
  Tensor y;
  {
    ForwardGuard guard(*this, input);
    check_input(guard, input);
    const auto& p = pool.options;
    y = functional::detail::conv2d_max_pool2d(input, weight, bias, o.stride(), {r.ph, r.pw}, o.dilation(), o.groups(),
                                              p.kernel_size(), p.stride(), p.padding(), p.dilation(), p.ceil_mode());
    guard.done_shape(z);  // the trail shows this layer's output shape: the convolution's
  }
  if (relu) {
    ForwardGuard relu_guard(*relu, y);
    relu_guard.done_shape(z);
  }
  ForwardGuard pool_guard(pool, y);
  if (relu) {
    ForwardGuard relu_path(*relu, y);  // the relu op is named by the ReLU layer's path
    y = dg::relu(y);
  }
  return pool_guard.done(y);
}

}  // namespace dg::nn
