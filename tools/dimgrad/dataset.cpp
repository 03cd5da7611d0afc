#include "dataset.hpp"

#include <algorithm>
#include <cmath>

#include "dimgrad/data.hpp"

namespace dgcli {

json DataInfo::to_json() const {
  return json{{"name", name}, {"example_shape", example_shape}, {"class_names", class_names},
              {"scale", scale}, {"mean", mean}, {"std", std}};
}

DataInfo DataInfo::from_json(const json& j) {
  DataInfo d;
  try {
    d.name = j.at("name");
    d.example_shape = json_integers<int64_t>(j.at("example_shape"), "data description: \"example_shape\"");
    d.class_names = j.at("class_names").get<std::vector<std::string>>();
    d.scale = j.at("scale");
    d.mean = j.at("mean").get<std::vector<double>>();
    d.std = j.at("std").get<std::vector<double>>();
  } catch (const json::exception& e) {
    throw dg::Error(std::string("data description is incomplete or malformed: ") + e.what());
  }
  const size_t groups = d.example_shape.empty() ? 0 : size_t(d.example_shape[0]);
  if (d.class_names.empty() || d.mean.size() != groups || d.std.size() != groups)
    throw dg::Error("data description: need class names and one mean and std per channel/feature");
  return d;
}

std::optional<DataInfo> builtin_data_info(const std::string& name) {
  DataInfo d;
  d.name = name;
  d.scale = 1.0 / 255.0;
  // The usual per-channel statistics of each training set (pixels scaled to [0, 1]),
  // as in the PyTorch tutorials: fixed, so a model file needs nothing else.
  if (name == "fashion-mnist") {
    d.example_shape = {1, 28, 28};
    d.class_names = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};
    d.mean = {0.2860}, d.std = {0.3530};
  } else if (name == "mnist") {
    d.example_shape = {1, 28, 28};
    for (int i = 0; i < 10; ++i) d.class_names.push_back(std::to_string(i));
    d.mean = {0.1307}, d.std = {0.3081};
  } else if (name == "cifar10") {
    d.example_shape = {3, 32, 32};
    d.class_names = {"airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"};
    d.mean = {0.4914, 0.4822, 0.4465}, d.std = {0.2470, 0.2435, 0.2616};
  } else {
    return std::nullopt;
  }
  return d;
}

namespace {

// x = (raw·scale − mean[g]) / std[g] in place on a contiguous float32 tensor
// [N, groups, ...], with g the channel (dim 1) or feature.
void normalize_in_place(const DataInfo& info, dg::Tensor& x, double scale) {
  const int64_t groups = int64_t(info.mean.size());
  if (x.dim() < 2 || x.size(1) != groups)
    throw dg::ShapeError("inputs of shape " + shape_string(x.sizes()) + " do not fit " + info.name + " examples " +
                         shape_string(info.example_shape));
  const int64_t n = x.size(0), inner = x.numel() / std::max<int64_t>(1, n * groups);
  float* p = x.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t g = 0; g < groups; ++g) {
      const float a = float(scale / info.std[size_t(g)]), b = float(info.mean[size_t(g)] / info.std[size_t(g)]);
      float* q = p + (i * groups + g) * inner;
      for (int64_t k = 0; k < inner; ++k) q[k] = q[k] * a - b;
    }
}

class BatchNormalizer : public dg::data::Transform {
 public:
  explicit BatchNormalizer(DataInfo info) : info_(std::move(info)) {}
  void apply(dg::Tensor& x, dg::data::Rng&) const override { normalize_in_place(info_, x, 1.0); }
  std::string name() const override { return "normalize " + info_.name; }

 private:
  DataInfo info_;
};

}  // namespace

dg::Tensor normalize_inputs(const DataInfo& info, const dg::Tensor& raw, bool scaled) {
  dg::Tensor x = raw.to(dg::kFloat32).contiguous();
  if (x.impl()->storage == raw.impl()->storage) x = x.clone();  // never normalise the caller's tensor in place
  normalize_in_place(info, x, scaled ? 1.0 : info.scale);
  return x;
}

dg::data::TransformPtr batch_normalizer(const DataInfo& info) { return std::make_shared<BatchNormalizer>(info); }

Dataset load_dataset(const DataRequest& req) {
  const bool csv = req.name.rfind("csv:", 0) == 0;
  if (!csv && !builtin_data_info(req.name))
    throw dg::Error("unknown data set '" + req.name + "' (fashion-mnist, mnist, cifar10 or csv:PATH[,TEST_PATH])");
  const std::string& dir = req.dir;  // empty: dg::data's default folder for the data set
  Dataset ds;
  dg::data::Dataset train, test;
  if (csv && !dg::data::has_test_split(req.name)) {
    // One file: its last fifth (in file order) is the test set.
    dg::data::Dataset all = dg::data::load_dataset(req.name, true, dir);
    const int64_t n_test = std::max<int64_t>(1, all.size() / 5);
    if (all.size() < 2) throw dg::IOError(req.name + ": need at least 2 rows to hold out a test set");
    std::vector<int64_t> tr(static_cast<size_t>(all.size() - n_test)), te(static_cast<size_t>(n_test));
    for (size_t i = 0; i < tr.size(); ++i) tr[i] = int64_t(i);
    for (size_t i = 0; i < te.size(); ++i) te[i] = int64_t(tr.size() + i);
    train = all.subset(tr), test = all.subset(te);
    ds.test_held_out = true;
  } else {
    // The training images stay bytes (batches are normalised as they are made).
    if (req.need_train || csv) train = dg::data::load_dataset(req.name, true, dir, dg::kUInt8);
    test = dg::data::load_dataset(req.name, false, dir);
  }
  // Description: fixed for the built-in sets; from the file for csv.
  if (csv) {
    ds.info.name = req.name;
    ds.info.example_shape = train.example_shape();
    ds.info.scale = 1.0;
    ds.info.class_names = train.class_names;
    const int64_t classes = std::max(train.num_classes, test.num_classes);
    for (int64_t c = int64_t(ds.info.class_names.size()); c < classes; ++c) ds.info.class_names.push_back(std::to_string(c));
    if (ds.info.example_shape.size() != 1)
      throw dg::IOError(req.name + ": expected rows of numeric features");
  } else {
    ds.info = *builtin_data_info(req.name);
  }
  if (train.size()) train = train.head(req.limit_train > 0 ? req.limit_train : train.size());
  test = test.head(req.limit_test > 0 ? req.limit_test : test.size());
  if (req.mean_std) {
    ds.info.mean = req.mean_std->first, ds.info.std = req.mean_std->second;
  } else if (csv) {
    std::tie(ds.info.mean, ds.info.std) = dg::data::channel_mean_std(train);
    for (auto& s : ds.info.std) s = s > 1e-12 ? s : 1.0;  // a constant feature is left unscaled
  }
  // dg::data has already scaled the test pixels to [0, 1].
  if (train.size()) {
    ds.train_x = csv ? normalize_inputs(ds.info, train.features, true) : train.features.contiguous();
    ds.train_y = train.targets.contiguous();
  }
  ds.test_x = normalize_inputs(ds.info, test.features, true), ds.test_y = test.targets.contiguous();
  return ds;
}

std::vector<uint8_t> display_pixels(const DataInfo& info, const dg::Tensor& example) {
  // Undo the normalisation: raw = (x·std + mean) / scale, for an [C, H, W] example.
  const int64_t c = info.example_shape.at(0), h = info.example_shape.at(1), w = info.example_shape.at(2);
  auto v = to_doubles(example);
  std::vector<uint8_t> px(size_t(h * w * c));
  for (int64_t ch = 0; ch < c; ++ch)
    for (int64_t i = 0; i < h * w; ++i) {
      double raw = (v[size_t(ch * h * w + i)] * info.std[size_t(ch)] + info.mean[size_t(ch)]) / info.scale;
      px[size_t(i * c + ch)] = uint8_t(std::clamp(std::lround(raw), 0L, 255L));
    }
  return px;
}

}  // namespace dgcli
