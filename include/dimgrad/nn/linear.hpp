// dimgrad — the affine layer Y = X·Wᵀ + b, Flatten, Identity, and F::linear.
// F::linear is one fused op (src/ops/linear.cpp): one GEMM with the bias added
// in the same pass, and the hand-derived backward
//   dX = dY·W,   dW = dYᵀ·X,   db = Σ_N dY     (docs/derivations/affine.md).
#pragma once

#include "dimgrad/nn/module.hpp"
#include "dimgrad/nn/options.hpp"

namespace dg::nn {

struct LinearOptions {
  LinearOptions(int64_t in_features, int64_t out_features) : in_features_(in_features), out_features_(out_features) {}
  DG_ARG(int64_t, in_features);
  DG_ARG(int64_t, out_features);
  DG_ARG(bool, bias) = true;
};

struct FlattenOptions {
  DG_ARG(int64_t, start_dim) = 1;
  DG_ARG(int64_t, end_dim) = -1;
};

struct UnflattenOptions {
  UnflattenOptions(int64_t dim, std::vector<int64_t> sizes) : dim_(dim), sizes_(std::move(sizes)) {}
  DG_ARG(int64_t, dim);
  DG_ARG(std::vector<int64_t>, sizes);
};

namespace functional {
// Y[*, out] = X[*, in] · Wᵀ[in, out] + b[out]; bias may be undefined.
Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias = {});
namespace detail {
// max(linear(...), 0) as one op (one node "linear_relu"; the GEMM's threads apply
// the ReLU to their own blocks of Y): what Sequential runs for a Linear layer
// followed by a ReLU.
Tensor linear_relu(const Tensor& input, const Tensor& weight, const Tensor& bias = {});
}  // namespace detail
}  // namespace functional

class ReLUImpl;  // dimgrad/nn/activation.hpp

// weight [out_features, in_features], bias [out_features]; initialised as
// LibTorch: kaiming_uniform_(weight, a=√5) and bias ~ U(-1/√in, 1/√in).
class LinearImpl : public Module {
 public:
  LinearImpl(int64_t in_features, int64_t out_features) : LinearImpl(LinearOptions(in_features, out_features)) {}
  explicit LinearImpl(const LinearOptions& options);
  void reset();
  void reset_parameters();
  // "Linear 784→10" (the short form used in error messages).
  void pretty_print(std::ostream& os) const override;
  Tensor forward(const Tensor& input) override;
  // forward(input) then relu's forward, as one op (linear_relu): what Sequential
  // runs for this layer followed by a ReLU. Same values and gradients; the graph
  // has one node for the two layers, named by this layer's path.
  Tensor forward_then_relu(ReLUImpl& relu, const Tensor& input);

  LinearOptions options;
  Tensor weight;
  Tensor bias;

 private:
  // Throws the layer's shape or dtype error for a wrong input.
  void check_input(const Tensor& input, ForwardGuard& guard) const;
};
DG_MODULE(Linear);

class FlattenImpl : public Module {
 public:
  explicit FlattenImpl(const FlattenOptions& options = {});
  void pretty_print(std::ostream& os) const override;
  Tensor forward(const Tensor& input) override;
  FlattenOptions options;
};
DG_MODULE(Flatten);

class UnflattenImpl : public Module {
 public:
  UnflattenImpl(int64_t dim, std::vector<int64_t> sizes) : UnflattenImpl(UnflattenOptions(dim, std::move(sizes))) {}
  explicit UnflattenImpl(const UnflattenOptions& options);
  void pretty_print(std::ostream& os) const override;
  Tensor forward(const Tensor& input) override;
  UnflattenOptions options;
};
DG_MODULE(Unflatten);

class IdentityImpl : public Module {
 public:
  IdentityImpl() : Module("Identity") {}
  void pretty_print(std::ostream& os) const override { os << "Identity"; }
  Tensor forward(const Tensor& input) override;
};
DG_MODULE(Identity);

}  // namespace dg::nn
