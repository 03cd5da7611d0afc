// dimgrad — distances between vectors: cosine_similarity and pairwise_distance,
// their modules CosineSimilarity and PairwiseDistance (LibTorch's names and
// defaults). Both are compositions of core ops (sum, sqrt, dg::norm), so their
// gradients are those ops' gradients chained:
//   cosine_similarity(x1, x2) = Σ_dim (x1 / max(‖x1‖, eps)) ⊙ (x2 / max(‖x2‖, eps))
//   pairwise_distance(x1, x2) = ‖x1 − x2 + eps‖_p over the last dim
// x1 and x2 broadcast against each other; the result has their broadcast shape
// less the reduced dim.
#pragma once

#include "dimgrad/nn/module.hpp"
#include "dimgrad/nn/options.hpp"

namespace dg::nn {

struct CosineSimilarityOptions {
  DG_ARG(int64_t, dim) = 1;
  DG_ARG(double, eps) = 1e-8;
};

struct PairwiseDistanceOptions {
  DG_ARG(double, p) = 2.0;
  DG_ARG(double, eps) = 1e-6;
  DG_ARG(bool, keepdim) = false;
};

namespace functional {
using CosineSimilarityFuncOptions = CosineSimilarityOptions;
using PairwiseDistanceFuncOptions = PairwiseDistanceOptions;

// The cosine of the angle between x1 and x2 along dim. Each squared norm is
// clamped to eps² in value only, as PyTorch 1.13: its gradient stays 2x.
Tensor cosine_similarity(const Tensor& x1, const Tensor& x2, const CosineSimilarityFuncOptions& options = {});
// The p-norm of x1 − x2 + eps along the last dim of the broadcast shape.
Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, const PairwiseDistanceFuncOptions& options = {});
}  // namespace functional

// forward(x1, x2) applies the functional form with the module's options.
#define DG_DISTANCE_MODULE(Name, Opt)                          \
  class Name##Impl : public Module {                           \
   public:                                                     \
    explicit Name##Impl(const Opt& options_ = {});             \
    void pretty_print(std::ostream& os) const override;        \
    using Module::forward;                                     \
    Tensor forward(const Tensor& x1, const Tensor& x2);        \
    Opt options;                                               \
  };                                                           \
  DG_MODULE(Name)

DG_DISTANCE_MODULE(CosineSimilarity, CosineSimilarityOptions);
DG_DISTANCE_MODULE(PairwiseDistance, PairwiseDistanceOptions);
#undef DG_DISTANCE_MODULE

}  // namespace dg::nn
