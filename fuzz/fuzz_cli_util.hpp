// Shared by the targets of the dimgrad CLI's loaders (model files, training
// checkpoints): the fuzzing budget for building and running a model.
//
// The loaders refuse what no machine could hold (2^30 parameters, 2^30 values in
// one layer's output); a model below those limits can still be far larger than
// the fuzzer's 2 GiB RSS limit and 10 s timeout allow. Such a model is valid, so
// the targets skip building it (a harness budget, not a finding) and exercise
// build and forward only on models that fit comfortably.
#pragma once

#include <cstdint>
#include <vector>

#include "fuzz_util.hpp"
#include "model_spec.hpp"

namespace dgfuzz {

// Batch of a forward pass: 2 examples, so batch-norm statistics are defined.
constexpr int64_t kBatch = 2;

inline bool fits_fuzz_budget(const dgcli::ModelSpec& spec) {
  int64_t params = 0, activations = 0, flops = 0;
  for (const auto& info : dgcli::describe_layers(spec)) {
    int64_t n = 1;
    for (int64_t d : info.output_shape) n *= d;  // below 2^30: resolve checked it
    params += info.parameters, activations += n, flops += info.flops;
  }
  return params <= (int64_t(1) << 22) && activations <= (int64_t(1) << 22) && flops <= (int64_t(1) << 27);
}

// One forward pass of a batch of zeros in training mode (dropout, batch-norm
// statistics) and one in eval mode; the output must have one row per example.
inline void forward_zeros(const std::shared_ptr<dg::nn::SequentialImpl>& model, const dgcli::ModelSpec& spec) {
  std::vector<int64_t> shape = {kBatch};
  shape.insert(shape.end(), spec.input_shape.begin(), spec.input_shape.end());
  dg::Tensor x = dg::zeros(shape);
  for (bool train : {true, false}) {
    model->train(train);
    dg::Tensor y = model->forward(x);
    if (y.dim() < 1 || y.size(0) != kBatch) finding("the model's output has lost the batch dimension");
  }
}

}  // namespace dgfuzz
