// dimgrad CLI — models as data: a list of layers in JSON, the presets, building
// the nn::Sequential, and the per-layer shapes, parameter counts and FLOPs.
//
// A model file is {"layers": [{"type": "conv2d", "out": 32, "kernel": 3, "padding": 1},
// {"type": "relu"}, ..., {"type": "linear", "out": "classes"}]} (or the bare list).
// Sizes that follow from the input ("in" of linear/conv2d, "features" of batch norm)
// may be left out and are filled in; "out": "classes" is the data set's class count.
// The layers become an nn::Sequential, so parameter names are PyTorch's for the
// same nn.Sequential: "0.weight", "0.bias", "3.weight", ...
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common.hpp"
#include "dimgrad/nn.hpp"

namespace dgcli {

struct LayerInfo {
  std::string name;            // index in the Sequential: "0", "1", ...
  std::string type;            // "conv2d"
  std::string description;     // "Conv2d(1, 32, kernel_size=3, padding=1)" (PyTorch's repr)
  std::vector<int64_t> output_shape;  // per example
  int64_t parameters = 0;
  int64_t flops = 0;           // per example, forward
};

struct ModelSpec {
  std::string name;                 // preset name or the file it came from
  std::vector<int64_t> input_shape;  // per example, e.g. {1, 28, 28}
  int64_t num_classes = 0;
  json layers = json::array();      // resolved: every size written out

  json to_json() const;
  // Reads what to_json() wrote (a config.json or checkpoint's model entry) and checks it.
  static ModelSpec from_json(const json& j, const std::string& source);
};

// Preset names: "mlp", "cnn", "two-layer".
std::vector<std::string> preset_names();
bool is_preset(const std::string& name);
// A preset name or a path to a JSON model file, resolved for the data's input
// shape and class count. Throws dg::Error with a clear message (unknown preset,
// unreadable file, malformed JSON with line and column, unknown layer type or key,
// sizes that do not fit).
ModelSpec load_model_spec(const std::string& model, const std::vector<int64_t>& input_shape, int64_t num_classes);
// The text of a model file ({"layers": [...]} or the bare list), parsed and resolved;
// load_model_spec reads the file and calls this. Throws dg::Error (malformed JSON,
// a bad layer, sizes over the limits: 2^30 parameters, 2^30 values in one layer's
// output per example, 2^30 for any single size).
ModelSpec parse_model_file(const std::string& text, const std::string& source, const std::vector<int64_t>& input_shape,
                           int64_t num_classes);
// Checks and fills in a list of layers for the input shape; `source` names it in errors.
ModelSpec resolve_model_spec(const json& layers, const std::string& source, const std::vector<int64_t>& input_shape,
                             int64_t num_classes);

// Shapes, parameters and FLOPs of each layer (spec must be resolved).
std::vector<LayerInfo> describe_layers(const ModelSpec& spec);
// The model; weights initialised from dg's default generator (seed it first).
std::shared_ptr<dg::nn::SequentialImpl> build_model(const ModelSpec& spec);
// The same model as PyTorch code (for docs and `dimgrad summary --pytorch`).
std::string pytorch_definition(const ModelSpec& spec);

}  // namespace dgcli
