// Linear, Flatten, Unflatten, Identity modules (F::linear lives in src/ops/linear.cpp).
#include "dimgrad/nn/linear.hpp"

#include <cmath>
#include <ostream>

#include "dimgrad/nn/activation.hpp"
#include "dimgrad/nn/init.hpp"

namespace dg::nn {

LinearImpl::LinearImpl(const LinearOptions& options_) : Module("Linear"), options(options_) { reset(); }

void LinearImpl::reset() {
  if (options.in_features() < 0 || options.out_features() < 0)
    throw Error("Linear: in_features and out_features must be non-negative, got " +
                std::to_string(options.in_features()) + " and " + std::to_string(options.out_features()));
  weight = register_parameter("weight", empty({options.out_features(), options.in_features()}));
  if (options.bias()) bias = register_parameter("bias", empty({options.out_features()}));
  else bias = register_parameter("bias", Tensor(), false);
  reset_parameters();
}

void LinearImpl::reset_parameters() {
  // LibTorch's defaults: W ~ U(-1/√in, 1/√in) written as kaiming_uniform_ with
  // a = √5 (gain √(2/6) → bound √(3)·gain/√in = 1/√in), and the same bound for b.
  if (options.in_features() > 0) init::kaiming_uniform_(weight, std::sqrt(5.0));
  if (bias.defined()) {
    const double bound = options.in_features() > 0 ? 1.0 / std::sqrt(static_cast<double>(options.in_features())) : 0;
    init::uniform_(bias, -bound, bound);
  }
}

void LinearImpl::pretty_print(std::ostream& os) const {
  os << "Linear " << options.in_features() << "→" << options.out_features();
  if (!options.bias()) os << ", no bias";
}

void LinearImpl::check_input(const Tensor& input, ForwardGuard& guard) const {
  const std::string want = "[*, " + std::to_string(options.in_features()) + "]";
  if (input.dim() < 1) guard.shape_error(want, "a Linear layer needs at least one dimension (the features)");
  if (input.size(-1) != options.in_features()) {
    std::string hint = "the last dimension must be the " + std::to_string(options.in_features()) + " input features";
    if (input.dim() > 2) {
      int64_t flat = 1;
      for (int64_t d = 1; d < input.dim(); ++d) flat *= input.size(d);
      if (flat == options.in_features()) hint = "flatten the input first (nn::Flatten or x.flatten(1)): its " +
                                                std::to_string(input.dim() - 1) + " trailing dims hold " +
                                                std::to_string(flat) + " features";
    } else if (input.dim() == 2) {
      hint += "; the previous layer produces " + std::to_string(input.size(-1)) + " (set in_features to " +
              std::to_string(input.size(-1)) + ")";
    }
    guard.shape_error(want, hint);
  }
  if (input.dtype() != weight.dtype())
    throw DTypeError(display_name() + " expected a " + dtype_name(weight.dtype()) + " input (its weight's dtype), got " +
                     dtype_name(input.dtype()));
}

Tensor LinearImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  check_input(input, guard);
  return guard.done(functional::linear(input, weight, bias));
}

Tensor LinearImpl::forward_then_relu(ReLUImpl& relu, const Tensor& input) {
  Tensor y;
  {
    ForwardGuard guard(*this, input);
    check_input(input, guard);
    y = functional::detail::linear_relu(input, weight, bias);
    guard.done(y);  // the trail shows this layer's output shape: the ReLU's
  }
  ForwardGuard relu_guard(relu, y);
  return relu_guard.done(y);
}

// ------------------------------------------------------------------ Flatten
FlattenImpl::FlattenImpl(const FlattenOptions& options_) : Module("Flatten"), options(options_) {}
void FlattenImpl::pretty_print(std::ostream& os) const {
  os << "Flatten";
  if (options.start_dim() != 1 || options.end_dim() != -1)
    os << "(" << options.start_dim() << ", " << options.end_dim() << ")";
}
Tensor FlattenImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  const int64_t n = std::max<int64_t>(input.dim(), 1);
  auto in_range = [n](int64_t d) { return d >= -n && d < n; };
  if (!in_range(options.start_dim()) || !in_range(options.end_dim()))
    guard.shape_error("a tensor with dims " + std::to_string(options.start_dim()) + " and " +
                      std::to_string(options.end_dim()));
  return guard.done(input.flatten(options.start_dim(), options.end_dim()));
}

// ---------------------------------------------------------------- Unflatten
UnflattenImpl::UnflattenImpl(const UnflattenOptions& options_) : Module("Unflatten"), options(options_) {}
void UnflattenImpl::pretty_print(std::ostream& os) const {
  os << "Unflatten(" << options.dim() << ", " << shape_str(options.sizes()) << ")";
}
Tensor UnflattenImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  const int64_t n = input.dim();
  if (options.dim() < -n || options.dim() >= n) guard.shape_error("a tensor with dim " + std::to_string(options.dim()));
  const int64_t d = options.dim() < 0 ? options.dim() + n : options.dim();
  int64_t prod = 1;
  for (int64_t s : options.sizes()) prod *= s;
  if (prod != input.size(d))
    guard.shape_error("size " + std::to_string(prod) + " at dim " + std::to_string(d),
                      "the sizes " + shape_str(options.sizes()) + " must multiply to the size of dim " +
                          std::to_string(d));
  std::vector<int64_t> shape;
  for (int64_t i = 0; i < n; ++i) {
    if (i == d) shape.insert(shape.end(), options.sizes().begin(), options.sizes().end());
    else shape.push_back(input.size(i));
  }
  return guard.done(input.reshape(shape));
}

Tensor IdentityImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  return guard.done(input);
}

}  // namespace dg::nn
