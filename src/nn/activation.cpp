// Activation modules and the functional forms that wrap core ops.
#include "dimgrad/nn/activation.hpp"

#include <ostream>

namespace dg::nn {

namespace functional {
Tensor relu(const Tensor& input, const ReLUFuncOptions&) { return dg::relu(input); }
Tensor sigmoid(const Tensor& input) { return dg::sigmoid(input); }
Tensor tanh(const Tensor& input) { return dg::tanh(input); }
Tensor softmax(const Tensor& input, const SoftmaxFuncOptions& options) {
  Tensor x = options.dtype() ? input.to(*options.dtype()) : input;
  return dg::softmax(x, options.dim());
}
Tensor log_softmax(const Tensor& input, const LogSoftmaxFuncOptions& options) {
  Tensor x = options.dtype() ? input.to(*options.dtype()) : input;
  return dg::log_softmax(x, options.dim());
}
}  // namespace functional

namespace F = functional;

ReLUImpl::ReLUImpl(const ReLUOptions& options_) : Module("ReLU"), options(options_) {}
void ReLUImpl::pretty_print(std::ostream& os) const { os << "ReLU"; }
Tensor ReLUImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  return guard.done(dg::relu(input));
}

LeakyReLUImpl::LeakyReLUImpl(const LeakyReLUOptions& options_) : Module("LeakyReLU"), options(options_) {}
void LeakyReLUImpl::pretty_print(std::ostream& os) const { os << "LeakyReLU(" << options.negative_slope() << ")"; }
Tensor LeakyReLUImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  return guard.done(F::leaky_relu(input, options));
}

ELUImpl::ELUImpl(const ELUOptions& options_) : Module("ELU"), options(options_) {}
void ELUImpl::pretty_print(std::ostream& os) const { os << "ELU(" << options.alpha() << ")"; }
Tensor ELUImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  return guard.done(F::elu(input, options));
}

GELUImpl::GELUImpl(const GELUOptions& options_) : Module("GELU"), options(options_) {}
void GELUImpl::pretty_print(std::ostream& os) const {
  os << "GELU";
  if (options.approximate() != "none") os << "(" << options.approximate() << ")";
}
Tensor GELUImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  return guard.done(F::gelu(input, options));
}

SoftplusImpl::SoftplusImpl(const SoftplusOptions& options_) : Module("Softplus"), options(options_) {}
void SoftplusImpl::pretty_print(std::ostream& os) const { os << "Softplus(β=" << options.beta() << ")"; }
Tensor SoftplusImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  return guard.done(F::softplus(input, options));
}

Tensor SiLUImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  return guard.done(F::silu(input));
}

Tensor SigmoidImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  return guard.done(dg::sigmoid(input));
}

Tensor TanhImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  return guard.done(dg::tanh(input));
}

SoftmaxImpl::SoftmaxImpl(const SoftmaxOptions& options_) : Module("Softmax"), options(options_) {}
void SoftmaxImpl::pretty_print(std::ostream& os) const { os << "Softmax(dim=" << options.dim() << ")"; }
Tensor SoftmaxImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  if (input.dim() > 0 && (options.dim() >= input.dim() || options.dim() < -input.dim()))
    guard.shape_error("at least " + std::to_string(options.dim() < 0 ? -options.dim() : options.dim() + 1) + " dims",
                      "softmax over dim " + std::to_string(options.dim()));
  return guard.done(dg::softmax(input, options.dim()));
}

LogSoftmaxImpl::LogSoftmaxImpl(const LogSoftmaxOptions& options_) : Module("LogSoftmax"), options(options_) {}
void LogSoftmaxImpl::pretty_print(std::ostream& os) const { os << "LogSoftmax(dim=" << options.dim() << ")"; }
Tensor LogSoftmaxImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  if (input.dim() > 0 && (options.dim() >= input.dim() || options.dim() < -input.dim()))
    guard.shape_error("at least " + std::to_string(options.dim() < 0 ? -options.dim() : options.dim() + 1) + " dims",
                      "log_softmax over dim " + std::to_string(options.dim()));
  return guard.done(dg::log_softmax(input, options.dim()));
}

}  // namespace dg::nn
