// dimgrad — Embedding: a lookup table weight [num_embeddings, embedding_dim];
// Y[*, dim] = weight[indices]. Its backward (src/ops/embedding.cpp) adds each
// row of dY into the row of dW it was read from (repeated indices sum, the
// padding_idx row gets nothing).
#pragma once

#include <optional>

#include "dimgrad/nn/module.hpp"

namespace dg::nn {

struct EmbeddingOptions {
  EmbeddingOptions(int64_t num_embeddings, int64_t embedding_dim)
      : num_embeddings_(num_embeddings), embedding_dim_(embedding_dim) {}
  DG_ARG(int64_t, num_embeddings);
  DG_ARG(int64_t, embedding_dim);
  // this row is not trained (its gradient stays zero) and starts at zero
  DG_ARG(std::optional<int64_t>, padding_idx) = std::nullopt;
  // rows looked up with a larger norm are rescaled to max_norm (in place)
  DG_ARG(std::optional<double>, max_norm) = std::nullopt;
  DG_ARG(double, norm_type) = 2.;
  // divide each row's gradient by how often its index occurs in the batch
  DG_ARG(bool, scale_grad_by_freq) = false;
  // accepted for compatibility; gradients are always dense
  DG_ARG(bool, sparse) = false;
  DG_ARG(Tensor, _weight) = Tensor();
};

struct EmbeddingFromPretrainedOptions {
  DG_ARG(bool, freeze) = true;
  DG_ARG(std::optional<int64_t>, padding_idx) = std::nullopt;
  DG_ARG(std::optional<double>, max_norm) = std::nullopt;
  DG_ARG(double, norm_type) = 2.;
  DG_ARG(bool, scale_grad_by_freq) = false;
  DG_ARG(bool, sparse) = false;
};

namespace functional {
struct EmbeddingFuncOptions {
  DG_ARG(std::optional<int64_t>, padding_idx) = std::nullopt;
  DG_ARG(std::optional<double>, max_norm) = std::nullopt;
  DG_ARG(double, norm_type) = 2.;
  DG_ARG(bool, scale_grad_by_freq) = false;
  DG_ARG(bool, sparse) = false;
};
// input: int64 indices of any shape; weight [num, dim]; result [*input, dim].
Tensor embedding(const Tensor& input, const Tensor& weight, const EmbeddingFuncOptions& options = {});
}  // namespace functional

class EmbeddingImpl : public Module {
 public:
  EmbeddingImpl(int64_t num_embeddings, int64_t embedding_dim)
      : EmbeddingImpl(EmbeddingOptions(num_embeddings, embedding_dim)) {}
  explicit EmbeddingImpl(const EmbeddingOptions& options_);
  void reset();
  // weight ~ N(0, 1), the padding row zeroed (LibTorch's default)
  void reset_parameters();
  void pretty_print(std::ostream& os) const override;
  Tensor forward(const Tensor& indices) override;

  EmbeddingOptions options;
  Tensor weight;
};

class Embedding : public ModuleHolder<EmbeddingImpl> {
 public:
  using ModuleHolder<EmbeddingImpl>::ModuleHolder;
  // An Embedding holding `embeddings` [num, dim] (frozen unless freeze(false)).
  static Embedding from_pretrained(const Tensor& embeddings, const EmbeddingFromPretrainedOptions& options = {});
};

}  // namespace dg::nn
