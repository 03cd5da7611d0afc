// Inverted dropout: y = x ⊙ mask, mask = Bernoulli(1 − p) / (1 − p), drawn from
// dg::default_generator(). The product is the core mul, whose backward
// dX = dY ⊙ mask is exactly dropout's.
#include "dimgrad/nn/dropout.hpp"

#include <algorithm>
#include <ostream>

#include "kernels/simd.hpp"
#include "kernels/vec_math.hpp"

namespace dg::nn {

namespace functional {
namespace {

void check_p(double p, const char* op) {
  if (!(p >= 0 && p <= 1))
    throw Error(std::string(op) + ": dropout probability has to be between 0 and 1, but got " + std::to_string(p));
}

// A mask of `shape` with values 0 (probability p) or 1/(1 − p).
Tensor make_mask(IntArrayRef shape, ScalarType dt, double p) {
  Tensor mask = empty(shape, dt);
  const double keep = 1.0 - p, scale = 1.0 / keep;
  auto& gen = default_generator();
  dispatch_floating(dt, "dropout", [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* m = mask.data_ptr<T>();
    const T s = static_cast<T>(scale);
    // Uniforms in blocks, then 0 or s picked by an integer mask, vectorized for
    // the active ISA. No branch: with p = 0.5 a branch is mispredicted on every
    // other element, and baseline code compiled `s * (u < keep)` into one (half
    // of dropout's time, perf).
    constexpr int64_t kBlock = 1024;
    double u[kBlock];
    for (int64_t b = 0; b < mask.numel(); b += kBlock) {
      const int64_t k = std::min(kBlock, mask.numel() - b);
      gen.next_uniforms(u, k);
      T* mb = m + b;
      kernels::simd_run([&] {
        for (int64_t i = 0; i < k; ++i) mb[i] = kernels::select(u[i] < keep, s, T(0));
      });
    }
  });
  return mask;
}

}  // namespace

Tensor dropout(const Tensor& input, const DropoutFuncOptions& options) {
  check_p(options.p(), "dropout");
  if (!input.is_floating_point())
    throw DTypeError(std::string("dropout: expected a floating-point input, got ") + dtype_name(input.dtype()));
  if (!options.training() || options.p() == 0) return input;
  if (options.p() == 1) return input * 0.0;
  return input * make_mask(input.sizes(), input.dtype(), options.p());
}

Tensor dropout2d(const Tensor& input, const Dropout2dFuncOptions& options) {
  check_p(options.p(), "dropout2d");
  if (input.dim() != 3 && input.dim() != 4)
    throw ShapeError("dropout2d: expected an input [N, C, H, W] or [C, H, W], got " + shape_str(input.sizes()));
  if (!options.training() || options.p() == 0) return input;
  if (options.p() == 1) return input * 0.0;
  // One draw per channel map; the mask [N, C, 1, 1] broadcasts over H and W.
  Shape ms(input.sizes());
  ms[ms.size() - 1] = ms[ms.size() - 2] = 1;
  return input * make_mask(ms, input.dtype(), options.p());
}

}  // namespace functional

DropoutImpl::DropoutImpl(const DropoutOptions& options_) : Module("Dropout"), options(options_) {
  if (!(options.p() >= 0 && options.p() <= 1))
    throw Error("Dropout: probability has to be between 0 and 1, but got " + std::to_string(options.p()));
}
void DropoutImpl::pretty_print(std::ostream& os) const { os << "Dropout(p=" << options.p() << ")"; }
Tensor DropoutImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  return guard.done(functional::dropout(input, functional::DropoutFuncOptions().p(options.p()).training(is_training())));
}

Dropout2dImpl::Dropout2dImpl(const Dropout2dOptions& options_) : Module("Dropout2d"), options(options_) {
  if (!(options.p() >= 0 && options.p() <= 1))
    throw Error("Dropout2d: probability has to be between 0 and 1, but got " + std::to_string(options.p()));
}
void Dropout2dImpl::pretty_print(std::ostream& os) const { os << "Dropout2d(p=" << options.p() << ")"; }
Tensor Dropout2dImpl::forward(const Tensor& input) {
  ForwardGuard guard(*this, input);
  if (input.dim() != 3 && input.dim() != 4) guard.shape_error("[N, C, H, W] or [C, H, W]");
  return guard.done(
      functional::dropout2d(input, functional::Dropout2dFuncOptions().p(options.p()).training(is_training())));
}

}  // namespace dg::nn
