// Embedding module (the op is in src/ops/embedding.cpp).
#include "dimgrad/nn/embedding.hpp"

#include <ostream>

#include "dimgrad/nn/init.hpp"

namespace dg::nn {

EmbeddingImpl::EmbeddingImpl(const EmbeddingOptions& options_) : Module("Embedding"), options(options_) { reset(); }

void EmbeddingImpl::reset() {
  const int64_t V = options.num_embeddings(), D = options.embedding_dim();
  if (V <= 0 || D < 0)
    throw Error("Embedding: num_embeddings must be positive and embedding_dim non-negative, got " + std::to_string(V) +
                " and " + std::to_string(D));
  if (options.padding_idx()) {
    int64_t p = *options.padding_idx();
    if (p >= V || p < -V)
      throw IndexError("Embedding: padding_idx " + std::to_string(p) + " must be within [-" + std::to_string(V) +
                       ", " + std::to_string(V) + ")");
    if (p < 0) options.padding_idx(p + V);
  }
  if (options._weight().defined()) {
    if (options._weight().sizes() != IntArrayRef({V, D}))
      throw ShapeError("Embedding: _weight must have shape [" + std::to_string(V) + ", " + std::to_string(D) +
                       "], got " + shape_str(options._weight().sizes()));
    weight = register_parameter("weight", options._weight());
  } else {
    weight = register_parameter("weight", empty({V, D}));
    reset_parameters();
  }
}

void EmbeddingImpl::reset_parameters() {
  init::normal_(weight);
  if (options.padding_idx()) {
    NoGradGuard g;
    weight.select(0, *options.padding_idx()).fill_(0);
  }
}

void EmbeddingImpl::pretty_print(std::ostream& os) const {
  os << "Embedding " << options.num_embeddings() << "×" << options.embedding_dim();
}

Tensor EmbeddingImpl::forward(const Tensor& indices) {
  ForwardGuard guard(*this, indices);
  return guard.done(functional::embedding(indices, weight,
                                          functional::EmbeddingFuncOptions()
                                              .padding_idx(options.padding_idx())
                                              .max_norm(options.max_norm())
                                              .norm_type(options.norm_type())
                                              .scale_grad_by_freq(options.scale_grad_by_freq())
                                              .sparse(options.sparse())));
}

Embedding Embedding::from_pretrained(const Tensor& embeddings, const EmbeddingFromPretrainedOptions& options) {
  if (!embeddings.defined() || embeddings.dim() != 2)
    throw ShapeError("Embedding::from_pretrained: expected a 2-d tensor [num, dim], got " +
                     (embeddings.defined() ? shape_str(embeddings.sizes()) : std::string("an undefined tensor")));
  Tensor w = embeddings.detach().clone();
  Embedding e(EmbeddingOptions(w.size(0), w.size(1))
                  ._weight(w)
                  .padding_idx(options.padding_idx())
                  .max_norm(options.max_norm())
                  .norm_type(options.norm_type())
                  .scale_grad_by_freq(options.scale_grad_by_freq())
                  .sparse(options.sparse()));
  e->weight.requires_grad_(!options.freeze());
  return e;
}

}  // namespace dg::nn
