// dimgrad — activations: modules (ReLU LeakyReLU ELU GELU Softplus SiLU Sigmoid
// Tanh Softmax LogSoftmax) and their functional forms. relu, sigmoid, tanh,
// softmax and log_softmax are the core ops; leaky_relu, elu, gelu, softplus and
// silu are elementwise ops with their own backward in src/ops/activation.cpp.
#pragma once

#include <optional>
#include <string>

#include "dimgrad/nn/module.hpp"
#include "dimgrad/nn/options.hpp"

namespace dg::nn {

struct ReLUOptions {
  ReLUOptions(bool inplace = false) : inplace_(inplace) {}  // NOLINT (implicit, as LibTorch)
  DG_ARG(bool, inplace);
};
struct LeakyReLUOptions {
  DG_ARG(double, negative_slope) = 1e-2;
  DG_ARG(bool, inplace) = false;
};
struct ELUOptions {
  DG_ARG(double, alpha) = 1.0;
  DG_ARG(bool, inplace) = false;
};
struct GELUOptions {
  // "none" (exact, x·Φ(x)) or "tanh" (the tanh approximation)
  DG_ARG(std::string, approximate) = "none";
};
struct SoftplusOptions {
  DG_ARG(double, beta) = 1.0;
  // above beta·x > threshold the function is taken as linear
  DG_ARG(double, threshold) = 20.0;
};
struct SoftmaxOptions {
  SoftmaxOptions(int64_t dim) : dim_(dim) {}  // NOLINT
  DG_ARG(int64_t, dim);
};
struct LogSoftmaxOptions {
  LogSoftmaxOptions(int64_t dim) : dim_(dim) {}  // NOLINT
  DG_ARG(int64_t, dim);
};

namespace functional {
using ReLUFuncOptions = ReLUOptions;
using LeakyReLUFuncOptions = LeakyReLUOptions;
using ELUFuncOptions = ELUOptions;
using GELUFuncOptions = GELUOptions;
using SoftplusFuncOptions = SoftplusOptions;
struct SoftmaxFuncOptions {
  SoftmaxFuncOptions(int64_t dim) : dim_(dim) {}  // NOLINT
  DG_ARG(int64_t, dim);
  // compute in this dtype (the input is converted first)
  DG_ARG(std::optional<ScalarType>, dtype) = std::nullopt;
};
struct LogSoftmaxFuncOptions {
  LogSoftmaxFuncOptions(int64_t dim) : dim_(dim) {}  // NOLINT
  DG_ARG(int64_t, dim);
  DG_ARG(std::optional<ScalarType>, dtype) = std::nullopt;
};

// `inplace` is accepted for LibTorch compatibility; the result is always a new
// tensor (an in-place activation would overwrite what backward needs).
Tensor relu(const Tensor& input, const ReLUFuncOptions& options = {});
Tensor leaky_relu(const Tensor& input, const LeakyReLUFuncOptions& options = {});
Tensor elu(const Tensor& input, const ELUFuncOptions& options = {});
Tensor gelu(const Tensor& input, const GELUFuncOptions& options = {});
Tensor softplus(const Tensor& input, const SoftplusFuncOptions& options = {});
// SiLU (swish): x·σ(x).
Tensor silu(const Tensor& input);
Tensor sigmoid(const Tensor& input);
Tensor tanh(const Tensor& input);
Tensor softmax(const Tensor& input, const SoftmaxFuncOptions& options);
Tensor log_softmax(const Tensor& input, const LogSoftmaxFuncOptions& options);
}  // namespace functional

// Each activation module: pretty_print gives the short form ("ReLU",
// "LeakyReLU(0.1)") and forward runs the functional form inside a ForwardGuard.
#define DG_ACTIVATION_MODULE(Name, Opt)                                  \
  class Name##Impl : public Module {                                     \
   public:                                                               \
    explicit Name##Impl(const Opt& options_ = {});                       \
    void pretty_print(std::ostream& os) const override;                  \
    Tensor forward(const Tensor& input) override;                        \
    Opt options;                                                         \
  };                                                                     \
  DG_MODULE(Name)

DG_ACTIVATION_MODULE(ReLU, ReLUOptions);
DG_ACTIVATION_MODULE(LeakyReLU, LeakyReLUOptions);
DG_ACTIVATION_MODULE(ELU, ELUOptions);
DG_ACTIVATION_MODULE(GELU, GELUOptions);
DG_ACTIVATION_MODULE(Softplus, SoftplusOptions);
#undef DG_ACTIVATION_MODULE

class SiLUImpl : public Module {
 public:
  SiLUImpl() : Module("SiLU") {}
  void pretty_print(std::ostream& os) const override { os << "SiLU()"; }
  Tensor forward(const Tensor& input) override;
};
DG_MODULE(SiLU);

class SigmoidImpl : public Module {
 public:
  SigmoidImpl() : Module("Sigmoid") {}
  void pretty_print(std::ostream& os) const override { os << "Sigmoid"; }
  Tensor forward(const Tensor& input) override;
};
DG_MODULE(Sigmoid);

class TanhImpl : public Module {
 public:
  TanhImpl() : Module("Tanh") {}
  void pretty_print(std::ostream& os) const override { os << "Tanh"; }
  Tensor forward(const Tensor& input) override;
};
DG_MODULE(Tanh);

class SoftmaxImpl : public Module {
 public:
  explicit SoftmaxImpl(int64_t dim) : SoftmaxImpl(SoftmaxOptions(dim)) {}
  explicit SoftmaxImpl(const SoftmaxOptions& options_);
  void pretty_print(std::ostream& os) const override;
  Tensor forward(const Tensor& input) override;
  SoftmaxOptions options;
};
DG_MODULE(Softmax);

class LogSoftmaxImpl : public Module {
 public:
  explicit LogSoftmaxImpl(int64_t dim) : LogSoftmaxImpl(LogSoftmaxOptions(dim)) {}
  explicit LogSoftmaxImpl(const LogSoftmaxOptions& options_);
  void pretty_print(std::ostream& os) const override;
  Tensor forward(const Tensor& input) override;
  LogSoftmaxOptions options;
};
DG_MODULE(LogSoftmax);

}  // namespace dg::nn
