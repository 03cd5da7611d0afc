// cosine_similarity, pairwise_distance and their modules: compositions of core
// ops around dg::norm (src/ops/reduce.cpp), so each gradient is the chain of
// those ops' gradients. Both follow PyTorch 1.13's formulas step for step.
#include "dimgrad/nn/distance.hpp"

#include <ostream>
#include <string>

#include "dimgrad/ops.hpp"

namespace dg::nn {

namespace functional {

Tensor cosine_similarity(const Tensor& x1_in, const Tensor& x2_in, const CosineSimilarityFuncOptions& options) {
  const char* op = "cosine_similarity";
  if (!x1_in.defined() || !x2_in.defined()) throw Error(std::string(op) + ": an input is an undefined tensor");
  const ScalarType dt = promote_types(x1_in.dtype(), x2_in.dtype());
  if (!is_floating(dt))
    throw DTypeError(std::string(op) + ": expected a floating-point common dtype, got " + dtype_name(x1_in.dtype()) +
                     " and " + dtype_name(x2_in.dtype()));
  const Shape shape = broadcast_shapes(x1_in.sizes(), x2_in.sizes(), op);
  const int64_t dim = wrap_dim(options.dim(), static_cast<int64_t>(shape.size()), op);
  const Tensor x1 = x1_in.to(dt).expand(shape), x2 = x2_in.to(dt).expand(shape);
  // Each vector divided by its norm first (then |cos| ≤ 1 and ⟨x1, x2⟩ never
  // overflows). The squared norm w = Σ x² is raised to eps² in value only —
  // PyTorch 1.13 clamps it in place under no_grad — so its gradient stays 2x:
  // w + max(eps² − w, 0), the bracket a constant (0 where w is ∞ or NaN).
  const double eps2 = options.eps() * options.eps();
  auto unit = [&](const Tensor& x) {
    Tensor w = sum(x * x, {dim}, true);
    Tensor lift = clamp_min(eps2 - w.detach(), 0.0);
    return x / sqrt(w + lift);
  };
  return sum(unit(x1) * unit(x2), {dim});
}

Tensor pairwise_distance(const Tensor& x1, const Tensor& x2, const PairwiseDistanceFuncOptions& options) {
  const char* op = "pairwise_distance";
  if (!x1.defined() || !x2.defined()) throw Error(std::string(op) + ": an input is an undefined tensor");
  const Shape shape = broadcast_shapes(x1.sizes(), x2.sizes(), op);
  const int64_t last = static_cast<int64_t>(shape.size()) - 1;  // 0-d inputs: -1, their only "dim"
  return norm(x1 - x2 + options.eps(), options.p(), {last}, options.keepdim());
}

}  // namespace functional

namespace F = functional;

CosineSimilarityImpl::CosineSimilarityImpl(const CosineSimilarityOptions& options_)
    : Module("CosineSimilarity"), options(options_) {}
void CosineSimilarityImpl::pretty_print(std::ostream& os) const {
  os << "CosineSimilarity(dim=" << options.dim() << ", eps=" << options.eps() << ")";
}
Tensor CosineSimilarityImpl::forward(const Tensor& x1, const Tensor& x2) { return F::cosine_similarity(x1, x2, options); }

PairwiseDistanceImpl::PairwiseDistanceImpl(const PairwiseDistanceOptions& options_)
    : Module("PairwiseDistance"), options(options_) {}
void PairwiseDistanceImpl::pretty_print(std::ostream& os) const {
  os << "PairwiseDistance(p=" << options.p() << ", eps=" << options.eps()
     << ", keepdim=" << (options.keepdim() ? "true" : "false") << ")";
}
Tensor PairwiseDistanceImpl::forward(const Tensor& x1, const Tensor& x2) { return F::pairwise_distance(x1, x2, options); }

}  // namespace dg::nn
