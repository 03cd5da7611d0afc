// Dataset rows, statistics, the seeded train/validation split and the registry
// of named data sets.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "dimgrad/data.hpp"
#include "tensor/internal.hpp"

namespace dg::data {

uint64_t derive_seed(uint64_t seed, uint64_t a, uint64_t b) {
  // SplitMix64 finalizer over a running combination: nearby inputs give unrelated outputs.
  auto mix = [](uint64_t z) {
    z += 0x9e3779b97f4a7c15ULL;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  return mix(mix(mix(seed) ^ a) ^ b);
}

uint64_t uniform_below(Rng& rng, uint64_t n) {
  if (n <= 1) return 0;
  // Reject the top partial range so every value is equally likely.
  const uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t v;
  do v = rng();
  while (v >= limit);
  return v % n;
}

std::vector<int64_t> Dataset::example_shape() const {
  auto s = features.sizes().vec();
  s.erase(s.begin());
  return s;
}

Dataset Dataset::subset(const std::vector<int64_t>& indices) const {
  Dataset out;
  out.num_classes = num_classes;
  out.class_names = class_names;
  out.name = name;
  const int64_t n = static_cast<int64_t>(indices.size()), total = size();
  std::vector<int64_t> shape = features.sizes().vec();
  shape[0] = n;
  Tensor src = features.contiguous(), tgt = targets.contiguous();
  out.features = dg::detail::make_tensor(shape, features.dtype());
  out.targets = dg::detail::make_tensor({n}, kLong);
  const size_t row = static_cast<size_t>(total ? src.numel() / total : 0) * src.element_size();
  auto* dst = static_cast<uint8_t*>(out.features.raw_data());
  const auto* from = static_cast<const uint8_t*>(src.raw_data());
  const int64_t* y = tgt.data_ptr<int64_t>();
  int64_t* oy = out.targets.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t k = indices[static_cast<size_t>(i)];
    if (k < 0 || k >= total)
      throw IndexError("Dataset::subset: index " + std::to_string(k) + " out of range for " + std::to_string(total) +
                       " examples");
    std::memcpy(dst + static_cast<size_t>(i) * row, from + static_cast<size_t>(k) * row, row);
    oy[i] = y[k];
  }
  return out;
}

Dataset Dataset::head(int64_t n) const {
  std::vector<int64_t> idx(static_cast<size_t>(std::clamp<int64_t>(n, 0, size())));
  std::iota(idx.begin(), idx.end(), 0);
  return subset(idx);
}

std::pair<std::vector<double>, std::vector<double>> channel_mean_std(const Dataset& ds) {
  if (!ds.features.defined() || ds.features.dim() < 2 || ds.features.dtype() != kFloat)
    throw Error("channel_mean_std: expected float32 features [N, C, ...]");
  Tensor x = ds.features.contiguous();
  const int64_t n = x.size(0), c = x.size(1), inner = n ? x.numel() / (n * c) : 0;
  std::vector<double> sum(static_cast<size_t>(c)), sq(static_cast<size_t>(c));
  const float* p = x.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i)
    for (int64_t ch = 0; ch < c; ++ch) {
      double s = 0, q = 0;
      const float* row = p + (i * c + ch) * inner;
      for (int64_t k = 0; k < inner; ++k) s += row[k], q += double(row[k]) * row[k];
      sum[ch] += s;
      sq[ch] += q;
    }
  std::vector<double> mean(static_cast<size_t>(c)), sd(static_cast<size_t>(c));
  const double count = static_cast<double>(n * inner);
  for (int64_t ch = 0; ch < c; ++ch) {
    mean[ch] = count ? sum[ch] / count : 0;
    sd[ch] = count ? std::sqrt(std::max(0.0, sq[ch] / count - mean[ch] * mean[ch])) : 0;
  }
  return {mean, sd};
}

std::pair<Dataset, Dataset> train_val_split(const Dataset& ds, double val_fraction, uint64_t seed, bool stratified) {
  if (!(val_fraction >= 0 && val_fraction < 1))
    throw Error("train_val_split: val_fraction must be in [0, 1), got " + std::to_string(val_fraction));
  const int64_t n = ds.size();
  // Groups of example indices: one per class when stratified, else one.
  std::vector<std::vector<int64_t>> groups(stratified ? static_cast<size_t>(std::max<int64_t>(ds.num_classes, 1)) : 1);
  Tensor y = ds.targets.contiguous();
  const int64_t* labels = y.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    size_t g = 0;
    if (stratified) {
      if (labels[i] < 0) throw Error("train_val_split: negative label " + std::to_string(labels[i]));
      g = static_cast<size_t>(labels[i]);
      if (g >= groups.size()) groups.resize(g + 1);
    }
    groups[g].push_back(i);
  }
  std::vector<int64_t> train, val;
  Rng rng(derive_seed(seed, 0x5e117));
  for (auto& g : groups) {
    // Fisher–Yates, then the first round(fraction × size) go to validation.
    for (size_t i = g.size(); i > 1; --i) std::swap(g[i - 1], g[uniform_below(rng, i)]);
    const size_t nv = static_cast<size_t>(std::llround(val_fraction * static_cast<double>(g.size())));
    val.insert(val.end(), g.begin(), g.begin() + static_cast<int64_t>(nv));
    train.insert(train.end(), g.begin() + static_cast<int64_t>(nv), g.end());
  }
  std::sort(train.begin(), train.end());
  std::sort(val.begin(), val.end());
  Dataset a = ds.subset(train), b = ds.subset(val);
  a.name = ds.name + " (train part)";
  b.name = ds.name + " (validation part)";
  return {std::move(a), std::move(b)};
}

// ------------------------------------------------------------------ registry
namespace {

std::pair<std::string, std::string> csv_paths(const std::string& spec) {
  std::string rest = spec.substr(4);
  auto comma = rest.find(',');
  if (comma == std::string::npos) return {rest, ""};
  return {rest.substr(0, comma), rest.substr(comma + 1)};
}

}  // namespace

std::vector<std::string> dataset_names() { return {"fashion-mnist", "mnist", "cifar10", "csv:PATH[,TEST_PATH]"}; }

bool has_test_split(const std::string& spec) {
  if (spec.rfind("csv:", 0) == 0) return !csv_paths(spec).second.empty();
  return true;
}

Dataset load_dataset(const std::string& spec, bool train, const std::string& data_dir, ScalarType pixels) {
  if (spec == "fashion-mnist") return load_fashion_mnist(data_dir.empty() ? kFashionMnistDir : data_dir, train, pixels);
  if (spec == "mnist") return load_mnist(data_dir.empty() ? kMnistDir : data_dir, train, pixels);
  if (spec == "cifar10" || spec == "cifar-10")
    return load_cifar10(data_dir.empty() ? "data/cifar-10-batches-bin" : data_dir, train, pixels);
  if (spec.rfind("csv:", 0) == 0) {
    auto [train_path, test_path] = csv_paths(spec);
    if (train_path.empty()) throw IOError("data set '" + spec + "': give a file after csv:, e.g. csv:iris.csv");
    if (!train && test_path.empty())
      throw IOError("data set '" + spec + "' has no test file: give csv:TRAIN,TEST or use a validation split");
    auto resolve = [&](const std::string& p) { return data_dir.empty() || p[0] == '/' ? p : data_dir + "/" + p; };
    Dataset tr = load_csv(resolve(train_path));
    if (train) return tr;
    // The test file numbers its classes as the training file does.
    CsvOptions opts;
    opts.class_names = tr.class_names;
    Dataset te = load_csv(resolve(test_path), opts);
    te.num_classes = std::max(te.num_classes, tr.num_classes);
    return te;
  }
  std::string list;
  for (const auto& n : dataset_names()) list += (list.empty() ? "" : ", ") + n;
  throw IOError("unknown data set '" + spec + "' (known: " + list + ")");
}

}  // namespace dg::data
