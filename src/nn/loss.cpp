// kl_div, composed from core ops (its gradient comes from the autograd of the
// composition), and the loss modules; the fused losses are in src/ops/loss.cpp,
// loss_binary.cpp and loss_regression.cpp.
#include "dimgrad/nn/loss.hpp"

#include <ostream>

#include "ops/loss_reduction.hpp"

namespace dg::nn {

namespace functional {

Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivFuncOptions& options) {
  ops::check_loss_operands(input, target, "kl_div");
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
  return ops::apply_reduction(loss, ops::to_red(r));
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
