// Embedding lookup Y[*, D] = W[idx] and its backward.
//
// Dimension analysis: W [V×D], idx [*] (int64, n = numel), Y [n×D] (shown as
// [*, D]). Row k of Y is row idx[k] of W, so dW must be [V×D] and row v of dW
// collects Σ_{k: idx[k] = v} dY[k] — an index used twice gets the sum of both
// gradients (rule 2), and a row never looked up gets zero.
#include <cmath>
#include <cstring>
#include <vector>

#include "dimgrad/nn/embedding.hpp"
#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

struct EmbeddingBackward : Node {
  EmbeddingBackward() : Node(OpKind::Embedding) {}
  Tensor idx;  // contiguous int64 [n]
  int64_t V = 0, D = 0;
  int64_t padding = -1;  // -1: none
  bool scale_by_freq = false;
  TensorList apply(TensorList&& g) override {
    Tensor dy = kernels::as_contiguous(g[0]);  // [n, D]
    Tensor dw = zeros({V, D}, dy.dtype());
    const int64_t n = idx.numel();
    const int64_t* pi = idx.data_ptr<int64_t>();
    std::vector<int64_t> count;
    if (scale_by_freq) {
      count.assign(V, 0);
      for (int64_t k = 0; k < n; ++k) ++count[pi[k]];
    }
    dispatch_floating(dy.dtype(), "embedding backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* pdy = dy.data_ptr<T>();
      T* pdw = dw.data_ptr<T>();
      // dW[idx[k], :] += dY[k, :] (/ count[idx[k]] with scale_grad_by_freq); the padding row gets none
      for (int64_t k = 0; k < n; ++k) {
        const int64_t v = pi[k];
        if (v == padding) continue;
        const T s = scale_by_freq ? T(1) / static_cast<T>(count[v]) : T(1);
        T* row = pdw + v * D;
        const T* src = pdy + k * D;
        for (int64_t d = 0; d < D; ++d) row[d] += s * src[d];
      }
    });
    return {dw};
  }
};

}  // namespace
}  // namespace ops

namespace nn::functional {

using namespace ops;

Tensor embedding(const Tensor& input, const Tensor& weight, const EmbeddingFuncOptions& options) {
  detail::check_defined(input, "embedding");
  detail::check_defined(weight, "embedding (weight)");
  if (input.dtype() != kLong)
    throw DTypeError(std::string("embedding: expected int64 indices, got ") + dtype_name(input.dtype()) +
                     " (convert with .to(dg::kInt64))");
  if (weight.dim() != 2 || !weight.is_floating_point())
    throw ShapeError("embedding: expected a floating-point weight [num_embeddings, embedding_dim], got " +
                     shape_str(weight.sizes()) + " " + dtype_name(weight.dtype()));
  const int64_t V = weight.size(0), D = weight.size(1);
  Tensor idx = kernels::as_contiguous(input);
  const int64_t n = idx.numel();
  const int64_t* pi = idx.data_ptr<int64_t>();
  for (int64_t k = 0; k < n; ++k)
    if (pi[k] < 0 || pi[k] >= V)
      throw IndexError("embedding: index " + std::to_string(pi[k]) + " (element " + std::to_string(k) + " of indices " +
                       shape_str(input.sizes()) + ") is out of range for " + std::to_string(V) +
                       " embeddings (expected 0 ≤ index < " + std::to_string(V) + ")");
  int64_t padding = -1;
  if (options.padding_idx()) {
    padding = *options.padding_idx() < 0 ? *options.padding_idx() + V : *options.padding_idx();
    if (padding < 0 || padding >= V)
      throw IndexError("embedding: padding_idx " + std::to_string(*options.padding_idx()) + " is out of range for " +
                       std::to_string(V) + " embeddings");
  }
  Tensor w = kernels::as_contiguous(weight);
  if (options.max_norm()) {
    // Rows looked up with ‖row‖ > max_norm are scaled down to it, in place and
    // outside autograd (as PyTorch's embedding_renorm_).
    NoGradGuard ng;
    const double mx = *options.max_norm(), pn = options.norm_type();
    dispatch_floating(w.dtype(), "embedding", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* pw = w.data_ptr<T>();
      for (int64_t k = 0; k < n; ++k) {
        T* row = pw + pi[k] * D;
        double norm = 0;
        for (int64_t d = 0; d < D; ++d) norm += std::pow(std::abs(static_cast<double>(row[d])), pn);
        norm = std::pow(norm, 1.0 / pn);
        if (norm > mx)
          for (int64_t d = 0; d < D; ++d) row[d] = static_cast<T>(row[d] * (mx / (norm + 1e-7)));
      }
    });
    if (!w.is_same(weight)) Tensor(weight).copy_(w);
    else weight.impl()->storage->bump_version();
  }
  Shape out_shape(input.sizes());
  out_shape.push_back(D);
  Tensor y = make_tensor(out_shape, weight.dtype());
  const size_t row_bytes = static_cast<size_t>(D) * weight.element_size();
  const char* src = static_cast<const char*>(w.raw_data());
  char* dst = static_cast<char*>(y.raw_data());
  // Y[k, :] = W[idx[k], :]
  kernels::parallel_for_if(kernels::use_threads(n * D), n, [&](int64_t k) {
    std::memcpy(dst + k * row_bytes, src + pi[k] * row_bytes, row_bytes);
  });
  record<EmbeddingBackward>(y, {&weight}, {}, [&](EmbeddingBackward& node) {
    node.idx = node.save(idx);
    node.V = V;
    node.D = D;
    node.padding = padding;
    node.scale_by_freq = options.scale_grad_by_freq();
  });
  return y;
}

}  // namespace nn::functional
}  // namespace dg
