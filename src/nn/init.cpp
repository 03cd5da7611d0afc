// nn::init: LibTorch's initialisers (same formulas, same defaults).
#include "dimgrad/nn/init.hpp"

#include <cmath>

#include "dimgrad/autograd.hpp"

namespace dg::nn::init {

double calculate_gain(NonlinearityType nonlinearity, double param) {
  if (std::holds_alternative<enumtype::kTanh>(nonlinearity)) return 5.0 / 3.0;
  if (std::holds_alternative<enumtype::kReLU>(nonlinearity)) return std::sqrt(2.0);
  if (std::holds_alternative<enumtype::kLeakyReLU>(nonlinearity)) return std::sqrt(2.0 / (1 + param * param));
  return 1.0;  // linear, conv*, sigmoid
}

std::tuple<int64_t, int64_t> _calculate_fan_in_and_fan_out(const Tensor& tensor) {
  if (!tensor.defined()) throw Error("nn::init: the tensor to initialise is undefined");
  if (tensor.dim() < 2)
    throw ShapeError("nn::init: fan in and fan out can not be computed for a tensor with fewer than 2 dimensions (got " +
                     shape_str(tensor.sizes()) + ")");
  int64_t receptive = 1;
  for (int64_t d = 2; d < tensor.dim(); ++d) receptive *= tensor.size(d);
  return {tensor.size(1) * receptive, tensor.size(0) * receptive};
}

namespace {
int64_t fan(const Tensor& t, const FanModeType& mode) {
  auto [in, out] = _calculate_fan_in_and_fan_out(t);
  int64_t f = std::holds_alternative<enumtype::kFanIn>(mode) ? in : out;
  if (f == 0) throw ShapeError("nn::init: cannot initialise a tensor with zero elements " + shape_str(t.sizes()));
  return f;
}
void check(const Tensor& t) {
  if (!t.defined()) throw Error("nn::init: the tensor to initialise is undefined");
}
}  // namespace

Tensor constant_(Tensor tensor, Scalar value) {
  check(tensor);
  NoGradGuard g;
  return tensor.fill_(value);
}
Tensor ones_(Tensor tensor) { return constant_(tensor, 1); }
Tensor zeros_(Tensor tensor) { return constant_(tensor, 0); }

Tensor eye_(Tensor matrix) {
  check(matrix);
  if (matrix.dim() != 2) throw ShapeError("nn::init::eye_: expected a 2-d tensor, got " + shape_str(matrix.sizes()));
  NoGradGuard g;
  return matrix.copy_(eye(matrix.size(0), matrix.size(1), matrix.dtype()));
}

Tensor uniform_(Tensor tensor, double low, double high) {
  check(tensor);
  NoGradGuard g;
  return tensor.uniform_(low, high);
}

Tensor normal_(Tensor tensor, double mean, double std) {
  check(tensor);
  NoGradGuard g;
  return tensor.normal_(mean, std);
}

Tensor xavier_uniform_(Tensor tensor, double gain) {
  auto [in, out] = _calculate_fan_in_and_fan_out(tensor);
  const double std = gain * std::sqrt(2.0 / static_cast<double>(in + out));
  const double bound = std::sqrt(3.0) * std;  // U(-b, b) has variance b²/3
  return uniform_(tensor, -bound, bound);
}

Tensor xavier_normal_(Tensor tensor, double gain) {
  auto [in, out] = _calculate_fan_in_and_fan_out(tensor);
  return normal_(tensor, 0, gain * std::sqrt(2.0 / static_cast<double>(in + out)));
}

Tensor kaiming_uniform_(Tensor tensor, double a, FanModeType mode, NonlinearityType nonlinearity) {
  check(tensor);
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan(tensor, mode)));
  const double bound = std::sqrt(3.0) * std;
  return uniform_(tensor, -bound, bound);
}

Tensor kaiming_normal_(Tensor tensor, double a, FanModeType mode, NonlinearityType nonlinearity) {
  check(tensor);
  const double std = calculate_gain(nonlinearity, a) / std::sqrt(static_cast<double>(fan(tensor, mode)));
  return normal_(tensor, 0, std);
}

}  // namespace dg::nn::init
