// dimgrad — losses: functional forms (F::cross_entropy, ...) and loss modules
// (CrossEntropyLoss, ...), with LibTorch's option names. cross_entropy,
// nll_loss, multi_margin_loss, binary_cross_entropy(_with_logits) are fused ops
// with hand-derived backward (src/ops/loss.cpp; the softmax-cross-entropy
// derivation is docs/derivations/softmax_cross_entropy.md); mse, l1, smooth_l1,
// huber and kl_div are composed from core ops.
//
// Reductions: dg::kMean (default), dg::kSum, dg::kNone; kl_div also takes
// dg::kBatchMean (sum / batch size, the true KL divergence per sample).
#pragma once

#include <variant>

#include "dimgrad/nn/module.hpp"
#include "dimgrad/nn/options.hpp"

// Options constructible from each reduction tag, as LibTorch's (MSELossOptions(dg::kSum)).
#define DG_REDUCTION_CTORS(Options)                                           \
  Options() {}                                                                \
  Options(::dg::enumtype::kNone r) : reduction_(r) {}  /* NOLINT */          \
  Options(::dg::enumtype::kMean r) : reduction_(r) {}  /* NOLINT */          \
  Options(::dg::enumtype::kSum r) : reduction_(r) {}   /* NOLINT */

namespace dg::nn {

struct CrossEntropyLossOptions {
  using reduction_t = nn::reduction_t;
  // class weights [C]
  DG_ARG(Tensor, weight) = {};
  // targets equal to this contribute nothing (and are not counted by the mean)
  DG_ARG(int64_t, ignore_index) = -100;
  DG_ARG(reduction_t, reduction) = kMean;
  // ε: the target distribution becomes (1 − ε)·one_hot + ε/C
  DG_ARG(double, label_smoothing) = 0.0;
};

struct NLLLossOptions {
  using reduction_t = nn::reduction_t;
  DG_ARG(Tensor, weight) = {};
  DG_ARG(int64_t, ignore_index) = -100;
  DG_ARG(reduction_t, reduction) = kMean;
};

// The multiclass SVM (hinge) loss of CS231n:
//   loss_i = Σ_{j≠y_i} w_{y_i}·max(0, margin − x[y_i] + x[j])^p / C
struct MultiMarginLossOptions {
  using reduction_t = nn::reduction_t;
  DG_ARG(int64_t, p) = 1;
  DG_ARG(double, margin) = 1.0;
  DG_ARG(Tensor, weight) = Tensor();
  DG_ARG(reduction_t, reduction) = kMean;
};

struct MSELossOptions {
  using reduction_t = nn::reduction_t;
  DG_REDUCTION_CTORS(MSELossOptions)
  DG_ARG(reduction_t, reduction) = kMean;
};

struct L1LossOptions {
  using reduction_t = nn::reduction_t;
  DG_REDUCTION_CTORS(L1LossOptions)
  DG_ARG(reduction_t, reduction) = kMean;
};

struct SmoothL1LossOptions {
  using reduction_t = nn::reduction_t;
  DG_REDUCTION_CTORS(SmoothL1LossOptions)
  DG_ARG(reduction_t, reduction) = kMean;
  // below |x − y| < beta the loss is quadratic (0.5·d²/beta), above it linear
  DG_ARG(double, beta) = 1.0;
};

struct HuberLossOptions {
  using reduction_t = nn::reduction_t;
  DG_REDUCTION_CTORS(HuberLossOptions)
  DG_ARG(reduction_t, reduction) = kMean;
  DG_ARG(double, delta) = 1.0;
};

struct BCELossOptions {
  using reduction_t = nn::reduction_t;
  // rescales each element's loss (broadcast to the input)
  DG_ARG(Tensor, weight) = {};
  DG_ARG(reduction_t, reduction) = kMean;
};

struct BCEWithLogitsLossOptions {
  using reduction_t = nn::reduction_t;
  DG_ARG(Tensor, weight) = {};
  DG_ARG(reduction_t, reduction) = kMean;
  // weight of the positive examples, per class (broadcast along the last dim)
  DG_ARG(Tensor, pos_weight) = {};
};

struct KLDivLossOptions {
  using reduction_t = std::variant<enumtype::kNone, enumtype::kBatchMean, enumtype::kSum, enumtype::kMean>;
  KLDivLossOptions() {}
  KLDivLossOptions(enumtype::kNone r) : reduction_(r) {}       // NOLINT
  KLDivLossOptions(enumtype::kBatchMean r) : reduction_(r) {}  // NOLINT
  KLDivLossOptions(enumtype::kSum r) : reduction_(r) {}        // NOLINT
  KLDivLossOptions(enumtype::kMean r) : reduction_(r) {}       // NOLINT
  DG_ARG(reduction_t, reduction) = kMean;
  // the target is given as log-probabilities too
  DG_ARG(bool, log_target) = false;
};

namespace functional {
using CrossEntropyFuncOptions = CrossEntropyLossOptions;
using NLLLossFuncOptions = NLLLossOptions;
using MultiMarginLossFuncOptions = MultiMarginLossOptions;
using MSELossFuncOptions = MSELossOptions;
using L1LossFuncOptions = L1LossOptions;
using SmoothL1LossFuncOptions = SmoothL1LossOptions;
using HuberLossFuncOptions = HuberLossOptions;
using BinaryCrossEntropyFuncOptions = BCELossOptions;
using BinaryCrossEntropyWithLogitsFuncOptions = BCEWithLogitsLossOptions;
using KLDivFuncOptions = KLDivLossOptions;

// input: logits [N, C] (or [C], or [N, C, d1, ...]); target: int64 class
// indices [N] (or [], or [N, d1, ...]) — or float class probabilities of the
// input's shape. Fused log_softmax + NLL: dS = (P − Y)/N in the plain case.
Tensor cross_entropy(const Tensor& input, const Tensor& target, const CrossEntropyFuncOptions& options = {});
// input: log-probabilities [N, C, *]; target: int64 class indices [N, *].
Tensor nll_loss(const Tensor& input, const Tensor& target, const NLLLossFuncOptions& options = {});
// input: scores [N, C] or [C]; target: int64 [N] or [].
Tensor multi_margin_loss(const Tensor& input, const Tensor& target, const MultiMarginLossFuncOptions& options = {});
Tensor mse_loss(const Tensor& input, const Tensor& target, const MSELossFuncOptions& options = {});
Tensor l1_loss(const Tensor& input, const Tensor& target, const L1LossFuncOptions& options = {});
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossFuncOptions& options = {});
Tensor smooth_l1_loss(const Tensor& input, const Tensor& target, const SmoothL1LossFuncOptions& options, double beta);
Tensor huber_loss(const Tensor& input, const Tensor& target, const HuberLossFuncOptions& options = {});
// input: probabilities in [0, 1]; target: same shape. log is clamped at −100 as PyTorch.
Tensor binary_cross_entropy(const Tensor& input, const Tensor& target,
                            const BinaryCrossEntropyFuncOptions& options = {});
// input: logits; target: same shape, in [0, 1]. Stable for any logit.
Tensor binary_cross_entropy_with_logits(const Tensor& input, const Tensor& target,
                                        const BinaryCrossEntropyWithLogitsFuncOptions& options = {});
// input: log-probabilities; target: probabilities (or log-probabilities with log_target).
Tensor kl_div(const Tensor& input, const Tensor& target, const KLDivFuncOptions& options = {});
}  // namespace functional

// Loss modules: forward(input, target) applies the functional form with the
// module's options. Class weights are registered as a buffer named "weight"
// (as PyTorch), so they travel with the state dict.
#define DG_LOSS_MODULE(Name, Opt)                                   \
  class Name##Impl : public Module {                                \
   public:                                                          \
    explicit Name##Impl(const Opt& options_ = {});                  \
    void pretty_print(std::ostream& os) const override;             \
    using Module::forward;                                          \
    Tensor forward(const Tensor& input, const Tensor& target);      \
    Opt options;                                                    \
  };                                                                \
  DG_MODULE(Name)

DG_LOSS_MODULE(CrossEntropyLoss, CrossEntropyLossOptions);
DG_LOSS_MODULE(NLLLoss, NLLLossOptions);
DG_LOSS_MODULE(MultiMarginLoss, MultiMarginLossOptions);
DG_LOSS_MODULE(MSELoss, MSELossOptions);
DG_LOSS_MODULE(L1Loss, L1LossOptions);
DG_LOSS_MODULE(SmoothL1Loss, SmoothL1LossOptions);
DG_LOSS_MODULE(HuberLoss, HuberLossOptions);
DG_LOSS_MODULE(BCELoss, BCELossOptions);
DG_LOSS_MODULE(BCEWithLogitsLoss, BCEWithLogitsLossOptions);
DG_LOSS_MODULE(KLDivLoss, KLDivLossOptions);
#undef DG_LOSS_MODULE

}  // namespace dg::nn
