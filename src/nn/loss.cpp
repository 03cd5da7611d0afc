// Losses composed from core ops (mse, l1, kl_div) and the loss modules. Their
// gradients come from the autograd of the composition; the fused losses are in
// src/ops/loss.cpp, loss_binary.cpp and loss_huber.cpp.
#include "dimgrad/nn/loss.hpp"

#include <ostream>

namespace dg::nn {

namespace functional {
namespace {

template <class R> Tensor reduce(const Tensor& loss, const R& reduction) {
  if (std::holds_alternative<enumtype::kMean>(reduction)) return loss.mean();
  if (std::holds_alternative<enumtype::kSum>(reduction)) return loss.sum();
  return loss;
}

// Elementwise losses compare input and target position by position; a shape
// mismatch would silently broadcast ([64, 1] against [64] gives 64×64 pairs),
// so it is an error here.
void check_pair(const Tensor& input, const Tensor& target, const char* op) {
  if (!input.defined() || !target.defined()) throw Error(std::string(op) + ": got an undefined tensor");
  if (!input.is_floating_point() || !target.is_floating_point())
    throw DTypeError(std::string(op) + ": expected floating-point input and target, got " + dtype_name(input.dtype()) +
                     " and " + dtype_name(target.dtype()));
  if (input.sizes() != target.sizes()) {
    std::string msg = std::string(op) + ": input " + shape_str(input.sizes()) + " and target " +
                      shape_str(target.sizes()) + " must have the same shape";
    if (input.numel() == target.numel())
      msg += " (same number of elements: reshape one, e.g. target.view_as(input))";
    throw ShapeError(msg);
  }
}

}  // namespace

Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossFuncOptions& options) {
  check_pair(input, target, "mse_loss");
  return reduce((input - target).square(), options.reduction());
}

Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossFuncOptions& options) {
  check_pair(input, target, "l1_loss");
  return reduce((input - target).abs(), options.reduction());
}

Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivFuncOptions& options) {
  check_pair(input, target, "kl_div");
  Tensor loss;
  if (options.log_target()) {
    // exp(t)·(t − x)
    loss = target.exp() * (target - input);
  } else {
    // t·(log t − x), taken as 0 where t = 0 (log is evaluated on t only where t > 0,
    // so no 0·(−∞) appears and the gradient stays finite)
    Tensor safe_t = where(target > 0, target, 1.0);
    loss = target * (safe_t.log() - input);
  }
  const auto& r = options.reduction();
  if (std::holds_alternative<enumtype::kBatchMean>(r))
    return input.dim() == 0 ? loss.sum() : loss.sum() / static_cast<double>(input.size(0));
  if (std::holds_alternative<enumtype::kMean>(r)) return loss.mean();
  if (std::holds_alternative<enumtype::kSum>(r)) return loss.sum();
  return loss;
}

}  // namespace functional

namespace F = functional;

namespace {
// Class weights (and BCEWithLogits' pos_weight) are buffers, as in PyTorch, so
// they travel with the state dict; the options keep a handle on the same tensor.
template <class O> void register_weights(Module& m, const O& o) {
  if constexpr (requires { o.weight(); })
    if (o.weight().defined()) m.register_buffer("weight", o.weight());
  if constexpr (requires { o.pos_weight(); })
    if (o.pos_weight().defined()) m.register_buffer("pos_weight", o.pos_weight());
}
void print_reduction(std::ostream& os, const std::string& r) {
  if (r != "kMean") os << "(reduction=" << r.substr(1) << ")";
}
}  // namespace

#define DG_LOSS_IMPL(Name, fn)                                                                \
  Name##Impl::Name##Impl(const Name##Options& options_) : Module(#Name), options(options_) { \
    register_weights(*this, options);                                                         \
  }                                                                                           \
  void Name##Impl::pretty_print(std::ostream& os) const {                                     \
    os << #Name;                                                                              \
    print_reduction(os, enum_name(options.reduction()));                                      \
  }                                                                                           \
  Tensor Name##Impl::forward(const Tensor& input, const Tensor& target) { return F::fn(input, target, options); }

DG_LOSS_IMPL(CrossEntropyLoss, cross_entropy)
DG_LOSS_IMPL(NLLLoss, nll_loss)
DG_LOSS_IMPL(MultiMarginLoss, multi_margin_loss)
DG_LOSS_IMPL(MSELoss, mse_loss)
DG_LOSS_IMPL(L1Loss, l1_loss)
DG_LOSS_IMPL(SmoothL1Loss, smooth_l1_loss)
DG_LOSS_IMPL(HuberLoss, huber_loss)
DG_LOSS_IMPL(BCELoss, binary_cross_entropy)
DG_LOSS_IMPL(BCEWithLogitsLoss, binary_cross_entropy_with_logits)
DG_LOSS_IMPL(KLDivLoss, kl_div)
#undef DG_LOSS_IMPL

}  // namespace dg::nn
