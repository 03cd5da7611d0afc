// dimgrad CLI — the data sets the tool trains on: loaded whole into memory by
// dg::data's readers, limited, normalised (the test set once, the training
// images batch by batch), and described (shape, class names, normalisation) so
// that a saved model carries what it needs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common.hpp"
#include "dimgrad/data.hpp"
#include "dimgrad/tensor.hpp"

namespace dgcli {

struct DataInfo {
  std::string name;                     // "fashion-mnist", "csv:path"
  std::vector<int64_t> example_shape;   // [C, H, W] for images, [F] for tables
  std::vector<std::string> class_names;
  // Normalisation applied to inputs: x = (raw·scale − mean[c]) / std[c], per channel
  // (images, scale 1/255) or per feature (tables, scale 1).
  double scale = 1.0 / 255.0;
  std::vector<double> mean, std;

  bool is_image() const { return example_shape.size() == 3; }
  int64_t num_classes() const { return int64_t(class_names.size()); }
  json to_json() const;
  static DataInfo from_json(const json& j);
};

struct Dataset {
  DataInfo info;
  // train_x: for the image sets the pixels as loaded, uint8 [N, C, H, W] (a
  // quarter of the memory: 47 MB for Fashion-MNIST instead of 188), each batch
  // normalised when it is made (batch_normalizer); for csv data float32
  // [N, F] normalised. train_y int64 [N].
  dg::Tensor train_x, train_y;
  dg::Tensor test_x, test_y;  // float32 [N, ...example_shape] normalised, int64 [N]
  // csv data without a test file: the test set was held out of the training file.
  bool test_held_out = false;
};

struct DataRequest {
  std::string name = "fashion-mnist";
  std::string dir;        // "" = default folder of the data set
  int64_t limit_train = 0;
  int64_t limit_test = 0;
  // Normalisation to use instead of computing it from the training images
  // (evaluation of a trained model uses the statistics it was trained with).
  std::optional<std::pair<std::vector<double>, std::vector<double>>> mean_std;
  bool need_train = true;
};

// Shape and class names known without reading files (presets); nullopt for csv.
std::optional<DataInfo> builtin_data_info(const std::string& name);
// Loads, checks, limits and normalises. Throws dg::Error / dg::IOError naming the file.
Dataset load_dataset(const DataRequest& req);
// Normalises inputs with info's statistics: raw values (pixels 0..255, features),
// or values already multiplied by info.scale (pixels in [0, 1]) when `scaled`.
dg::Tensor normalize_inputs(const DataInfo& info, const dg::Tensor& raw, bool scaled = false);
// normalize_inputs for training batches: a DataLoader transform (to run first)
// that normalises float pixels in [0, 1] in place, with the same arithmetic,
// so a batch of uint8 train_x comes out bit for bit as the rows of
// normalize_inputs(info, to_unit_float(train_x), true).
dg::data::TransformPtr batch_normalizer(const DataInfo& info);

// Display pixels (uint8, H×W×C with C 1 or 3) of one normalised example.
std::vector<uint8_t> display_pixels(const DataInfo& info, const dg::Tensor& example);

}  // namespace dgcli
