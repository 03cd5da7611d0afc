// dimgrad — inverted dropout: in training each element is kept with
// probability 1 − p and scaled by 1/(1 − p) (so the expected activation is
// unchanged and evaluation needs no rescaling); in evaluation it is the
// identity. Masks come from dg::default_generator() (dg::manual_seed).
// The backward is the same mask: dX = dY ⊙ mask (the core mul's backward).
#pragma once

#include "dimgrad/nn/module.hpp"

namespace dg::nn {

struct DropoutOptions {
  DropoutOptions(double p = 0.5) : p_(p) {}  // NOLINT (implicit, as LibTorch)
  DG_ARG(double, p);
  DG_ARG(bool, inplace) = false;
};
using Dropout2dOptions = DropoutOptions;

namespace functional {
struct DropoutFuncOptions {
  DG_ARG(double, p) = 0.5;
  DG_ARG(bool, training) = true;
  DG_ARG(bool, inplace) = false;
};
using Dropout2dFuncOptions = DropoutFuncOptions;

// `inplace` is accepted and ignored: the result is always a new tensor.
Tensor dropout(const Tensor& input, const DropoutFuncOptions& options = {});
// Drops whole channels: input [N, C, H, W] (or [C, H, W]), one draw per (n, c).
Tensor dropout2d(const Tensor& input, const Dropout2dFuncOptions& options = {});
}  // namespace functional

class DropoutImpl : public Module {
 public:
  explicit DropoutImpl(const DropoutOptions& options_ = {});
  void pretty_print(std::ostream& os) const override;
  Tensor forward(const Tensor& input) override;
  DropoutOptions options;
};
DG_MODULE(Dropout);

class Dropout2dImpl : public Module {
 public:
  explicit Dropout2dImpl(const Dropout2dOptions& options_ = {});
  void pretty_print(std::ostream& os) const override;
  Tensor forward(const Tensor& input) override;
  Dropout2dOptions options;
};
DG_MODULE(Dropout2d);

}  // namespace dg::nn
