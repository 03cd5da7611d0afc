// dimgrad CLI — the training configuration: what the options say, with every
// default resolved, written to config.json so a run can be repeated exactly.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "dimgrad/data.hpp"

namespace dgcli {

struct TrainConfig {
  std::string model = "mlp";            // preset or JSON file
  std::string data = "fashion-mnist";   // fashion-mnist | mnist | cifar10 | csv:PATH
  std::string data_dir;                 // "" = the data set's default folder
  int64_t epochs = 0;                   // 0 = the preset's default
  int64_t batch_size = 0;               // 0 = the preset's default (64 for cnn, else 128)
  std::string optimizer;                // "" = the preset's default
  double lr = 0;                        // 0 = the optimizer's default for the preset
  double momentum = -1;                 // -1 = default (0.9 for sgd, 0 for rmsprop)
  double weight_decay = -1;             // -1 = default (0.01 for adamw, else 0)
  std::string schedule;                 // "" = the preset's default
  std::string augment;                  // "" = the preset's default; "none" or a list: "flip,crop:2"
  double warmup = 0.05;                 // fraction of all steps (warmup-cosine)
  uint64_t seed = 0;
  int threads = 0;                      // 0 = all cores
  double val_split = 0.1;
  std::string out;                      // "" = runs/<timestamp>
  std::string resume;
  int64_t limit_train = 0;              // 0 = all
  int64_t limit_test = 0;
  bool deterministic = false;
  bool detect_anomaly = false;
  int64_t stats_every = 50;             // steps between per-layer gradient statistics
  int64_t report_images = 36;           // misclassified test images in the report
  bool progress = true;                 // bar on a terminal
  // Testing aid (not saved): behave as if Ctrl-C came after this many steps of this session.
  int64_t interrupt_after_steps = 0;

  // Fills every default that depends on the model preset and the optimizer.
  void resolve_defaults();
  json to_json() const;
  static TrainConfig from_json(const json& j);
  // Throws UsageError for values out of range or names that do not exist.
  void validate() const;
};

const std::vector<std::string>& optimizer_names();
const std::vector<std::string>& schedule_names();

// The training-batch augmentation a --augment value names ("none", or a comma list
// of "flip" and "crop:PADDING"); throws UsageError naming the bad item.
std::vector<dg::data::TransformPtr> augmentation_transforms(const std::string& augment);

}  // namespace dgcli
