// dimgrad CLI — evaluation (loss, accuracy, per-class accuracy, confusion matrix,
// the misclassified examples) and the saved-model files it reads.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dataset.hpp"
#include "model_spec.hpp"

namespace dgcli {

struct Misclassified {
  int64_t index = 0;  // in the evaluated set
  int64_t truth = 0, predicted = 0;
  double confidence = 0;  // softmax probability of the predicted class
};

struct EvalResult {
  int64_t count = 0;
  double loss = 0;
  double accuracy = 0;
  std::vector<std::vector<int64_t>> confusion;  // [true class][predicted class]
  std::vector<double> per_class_accuracy;       // NaN where a class has no examples
  std::vector<Misclassified> misclassified;     // the first `keep_misclassified`
  json to_json(const std::vector<std::string>& class_names) const;
};

// Runs the model in eval mode, no grad, in batches.
EvalResult evaluate(dg::nn::Module& model, const dg::Tensor& x, const dg::Tensor& y, int64_t num_classes,
                    int64_t batch_size = 1000, int64_t keep_misclassified = 0);
// Softmax probabilities [N, C] for x (eval mode, no grad, batches).
dg::Tensor predict_probabilities(dg::nn::Module& model, const dg::Tensor& x, int64_t batch_size = 1000);

// Confusion matrix and per-class accuracy as aligned text.
std::string format_confusion(const EvalResult& r, const std::vector<std::string>& class_names);

// A model file written by `dimgrad train` (model.safetensors, best.safetensors or
// checkpoint.safetensors): weights plus the model and data description in its
// metadata. `model_override` (a preset or JSON file) builds that architecture
// instead, for weights without metadata (e.g. written from PyTorch); a mismatch
// lists the missing, unexpected and mis-shaped keys.
struct LoadedModel {
  ModelSpec spec;
  DataInfo data;
  std::shared_ptr<dg::nn::SequentialImpl> model;
};
LoadedModel load_trained_model(const std::string& path, const std::string& model_override = "",
                               const std::string& data_override = "");

// Metadata keys in every model file the tool writes.
inline constexpr const char* kMetaModel = "dimgrad.model";  // ModelSpec JSON
inline constexpr const char* kMetaData = "dimgrad.data";    // DataInfo JSON
// Weights of `model` (PyTorch names) with the model and data description.
void save_model_file(const std::string& path, dg::nn::Module& model, const ModelSpec& spec, const DataInfo& data,
                     const std::map<std::string, std::string>& extra_metadata = {});

}  // namespace dgcli
