// nn::MaxPool2d, AvgPool2d, AdaptiveAvgPool2d and their functional forms: options
// and input checks. The ops (forward and backward) are in src/ops/pool.cpp.
#include "dimgrad/nn/pooling.hpp"

#include <sstream>

#include "dimgrad/nn/activation.hpp"

namespace dg::nn {
namespace {

std::string pair_str(const ExpandingArray<2>& a) {
  return a[0] == a[1] ? std::to_string(a[0]) : std::to_string(a[0]) + "×" + std::to_string(a[1]);
}

// Rank check shared by the layers: [N, C, H, W] or one image [C, H, W].
void check_rank(ForwardGuard& guard, const Tensor& input) {
  if (!input.defined()) guard.shape_error("[N, C, H, W]", "the input tensor is undefined");
  if (input.dim() != 4 && input.dim() != 3)
    guard.shape_error("[N, C, H, W]", "2-d pooling takes a batch of images [N, C, H, W] (or one image [C, H, W])");
}

// The smallest H (or W) that gives one output window.
int64_t min_extent(int64_t k, int64_t p, int64_t d) { return std::max<int64_t>(d * (k - 1) + 1 - 2 * p, 1); }

}  // namespace

namespace functional {
Tensor max_pool2d(const Tensor& input, const MaxPool2dFuncOptions& o) {
  return dg::max_pool2d(input, o.kernel_size(), o.stride(), o.padding(), o.dilation(), o.ceil_mode());
}
std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, const MaxPool2dFuncOptions& o) {
  return dg::max_pool2d_with_indices(input, o.kernel_size(), o.stride(), o.padding(), o.dilation(), o.ceil_mode());
}
Tensor avg_pool2d(const Tensor& input, const AvgPool2dFuncOptions& o) {
  return dg::avg_pool2d(input, o.kernel_size(), o.stride(), o.padding(), o.ceil_mode(), o.count_include_pad(),
                        o.divisor_override());
}
Tensor adaptive_avg_pool2d(const Tensor& input, const AdaptiveAvgPool2dFuncOptions& o) {
  if (!input.defined() || input.dim() < 2) return dg::adaptive_avg_pool2d(input, {1, 1});  // reports the input
  // A missing (nullopt) size keeps that dimension of the input.
  const auto& size = o.output_size();
  int64_t oh = size[0].value_or(input.size(-2)), ow = size[1].value_or(input.size(-1));
  return dg::adaptive_avg_pool2d(input, {oh, ow});
}
}  // namespace functional

// ------------------------------------------------------------------ MaxPool2d
MaxPool2dImpl::MaxPool2dImpl(MaxPool2dOptions options_) : Module("MaxPool2d"), options(std::move(options_)) {}

void MaxPool2dImpl::pretty_print(std::ostream& os) const {
  os << "MaxPool2d k" << pair_str(options.kernel_size()) << " s" << pair_str(options.stride());
  if (options.padding() != ExpandingArray<2>(0)) os << " p" << pair_str(options.padding());
  if (options.dilation() != ExpandingArray<2>(1)) os << " d" << pair_str(options.dilation());
  if (options.ceil_mode()) os << " ceil";
}

void MaxPool2dImpl::check_input(ForwardGuard& guard, const Tensor& input) const {
  check_rank(guard, input);
  const auto &k = options.kernel_size(), &p = options.padding(), &d = options.dilation();
  const int64_t mh = min_extent(k[0], p[0], d[0]), mw = min_extent(k[1], p[1], d[1]);
  if (input.size(-2) < mh || input.size(-1) < mw)
    guard.shape_error("[N, C, H, W] with H ≥ " + std::to_string(mh) + " and W ≥ " + std::to_string(mw),
                      "the image is smaller than the pooling window; check the layers before this one");
}

bool MaxPool2dImpl::accepts(int64_t H, int64_t W) const {
  const auto &k = options.kernel_size(), &s = options.stride(), &p = options.padding(), &d = options.dilation();
  for (size_t i = 0; i < 2; ++i)
    if (k[i] < 1 || s[i] < 1 || d[i] < 1 || p[i] < 0 || 2 * p[i] > k[i]) return false;
  return H >= min_extent(k[0], p[0], d[0]) && W >= min_extent(k[1], p[1], d[1]);
}

Tensor MaxPool2dImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  check_input(guard, input);
  return guard.done(functional::max_pool2d(input, options));
}

Tensor MaxPool2dImpl::forward_after_relu(ReLUImpl& relu, const Tensor& input) {
  {
    ForwardGuard relu_guard(relu, input);
    if (!input.defined()) return relu.forward(input);  // the ReLU reports it, as when run alone
    relu_guard.done(input);  // the trail shows the ReLU's output shape: the input's
  }
  ForwardGuard guard(*this, input);
  check_input(guard, input);
  Tensor pooled = functional::max_pool2d(input, options);
  Tensor y;
  {
    ForwardGuard relu_path(relu, pooled);  // the relu op is named by the ReLU layer's path
    y = dg::relu(pooled);
  }
  return guard.done(y);
}

std::tuple<Tensor, Tensor> MaxPool2dImpl::forward_with_indices(const Tensor& input) {
  ForwardGuard guard(*this, input);
  check_input(guard, input);
  auto r = functional::max_pool2d_with_indices(input, options);
  guard.done(std::get<0>(r));
  return r;
}

// ------------------------------------------------------------------ AvgPool2d
AvgPool2dImpl::AvgPool2dImpl(AvgPool2dOptions options_) : Module("AvgPool2d"), options(std::move(options_)) {}

void AvgPool2dImpl::pretty_print(std::ostream& os) const {
  os << "AvgPool2d k" << pair_str(options.kernel_size()) << " s" << pair_str(options.stride());
  if (options.padding() != ExpandingArray<2>(0)) os << " p" << pair_str(options.padding());
  if (options.ceil_mode()) os << " ceil";
  if (!options.count_include_pad()) os << " exclude pad";
  if (options.divisor_override()) os << " divisor " << *options.divisor_override();
}

Tensor AvgPool2dImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  check_rank(guard, input);
  const auto &k = options.kernel_size(), &p = options.padding();
  const int64_t mh = min_extent(k[0], p[0], 1), mw = min_extent(k[1], p[1], 1);
  if (input.size(-2) < mh || input.size(-1) < mw)
    guard.shape_error("[N, C, H, W] with H ≥ " + std::to_string(mh) + " and W ≥ " + std::to_string(mw),
                      "the image is smaller than the pooling window; check the layers before this one");
  return guard.done(functional::avg_pool2d(input, options));
}

// ---------------------------------------------------------- AdaptiveAvgPool2d
AdaptiveAvgPool2dImpl::AdaptiveAvgPool2dImpl(AdaptiveAvgPool2dOptions options_)
    : Module("AdaptiveAvgPool2d"), options(std::move(options_)) {}

void AdaptiveAvgPool2dImpl::pretty_print(std::ostream& os) const {
  auto dim = [](const std::optional<int64_t>& v) { return v ? std::to_string(*v) : std::string("same"); };
  os << "AdaptiveAvgPool2d → " << dim(options.output_size()[0]) << "×" << dim(options.output_size()[1]);
}

Tensor AdaptiveAvgPool2dImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  check_rank(guard, input);
  if (input.size(-2) < 1 || input.size(-1) < 1) guard.shape_error("[N, C, H, W] with H, W ≥ 1");
  return guard.done(functional::adaptive_avg_pool2d(input, options));
}

}  // namespace dg::nn
