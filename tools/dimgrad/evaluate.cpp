#include "evaluate.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>

#include "dimgrad/io.hpp"
#include "dimgrad/nn.hpp"

namespace dgcli {
namespace F = dg::nn::functional;

json EvalResult::to_json(const std::vector<std::string>& class_names) const {
  json per_class = json::object();
  for (size_t c = 0; c < per_class_accuracy.size(); ++c) {
    const std::string name = c < class_names.size() ? class_names[c] : std::to_string(c);
    per_class[name] = std::isnan(per_class_accuracy[c]) ? json(nullptr) : json(per_class_accuracy[c]);
  }
  return json{{"count", count}, {"loss", loss}, {"accuracy", accuracy}, {"per_class_accuracy", per_class},
              {"confusion_matrix", confusion}};
}

dg::Tensor predict_probabilities(dg::nn::Module& model, const dg::Tensor& x, int64_t batch_size) {
  dg::NoGradGuard ng;
  model.eval();
  std::vector<dg::Tensor> parts;
  const int64_t n = x.size(0);
  for (int64_t i = 0; i < n; i += batch_size) {
    int64_t b = std::min(batch_size, n - i);
    parts.push_back(dg::softmax(model.forward(x.narrow(0, i, b)), 1));
  }
  if (parts.empty()) return dg::zeros({0, 0});
  return parts.size() == 1 ? parts[0] : dg::cat(parts, 0);
}

EvalResult evaluate(dg::nn::Module& model, const dg::Tensor& x, const dg::Tensor& y, int64_t num_classes,
                    int64_t batch_size, int64_t keep_misclassified) {
  dg::NoGradGuard ng;
  model.eval();
  EvalResult r;
  r.count = x.size(0);
  r.confusion.assign(size_t(num_classes), std::vector<int64_t>(size_t(num_classes), 0));
  double loss_sum = 0;
  int64_t correct = 0;
  for (int64_t i = 0; i < r.count; i += batch_size) {
    const int64_t b = std::min(batch_size, r.count - i);
    dg::Tensor logits = model.forward(x.narrow(0, i, b));
    dg::Tensor yb = y.narrow(0, i, b);
    loss_sum += F::cross_entropy(logits, yb).item<double>() * double(b);
    dg::Tensor probs = dg::softmax(logits, 1).contiguous();
    auto pred = to_longs(logits.argmax(1));
    auto truth = to_longs(yb);
    const float* p = probs.data_ptr<float>();
    for (int64_t k = 0; k < b; ++k) {
      r.confusion[size_t(truth[size_t(k)])][size_t(pred[size_t(k)])]++;
      if (pred[size_t(k)] == truth[size_t(k)]) {
        ++correct;
      } else if (int64_t(r.misclassified.size()) < keep_misclassified) {
        r.misclassified.push_back({i + k, truth[size_t(k)], pred[size_t(k)], double(p[k * num_classes + pred[size_t(k)]])});
      }
    }
  }
  r.loss = r.count ? loss_sum / double(r.count) : 0;
  r.accuracy = r.count ? double(correct) / double(r.count) : 0;
  for (int64_t c = 0; c < num_classes; ++c) {
    int64_t total = 0;
    for (auto v : r.confusion[size_t(c)]) total += v;
    r.per_class_accuracy.push_back(total ? double(r.confusion[size_t(c)][size_t(c)]) / double(total) : NAN);
  }
  return r;
}

std::string format_confusion(const EvalResult& r, const std::vector<std::string>& names) {
  std::ostringstream os;
  size_t w = 5;
  for (auto& n : names) w = std::max(w, n.size());
  char buf[64];
  os << "per-class accuracy:\n";
  for (size_t c = 0; c < r.per_class_accuracy.size(); ++c) {
    std::snprintf(buf, sizeof buf, "%6.2f%%", r.per_class_accuracy[c] * 100);
    os << "  " << std::to_string(c) << " " << names[c] << std::string(w - names[c].size() + 1, ' ')
       << (std::isnan(r.per_class_accuracy[c]) ? "   n/a" : buf) << "\n";
  }
  os << "confusion matrix (rows: true class, columns: predicted class):\n" << std::string(w + 4, ' ');
  for (size_t c = 0; c < r.confusion.size(); ++c) {
    std::snprintf(buf, sizeof buf, "%6zu", c);
    os << buf;
  }
  os << "\n";
  for (size_t t = 0; t < r.confusion.size(); ++t) {
    os << "  " << t << " " << names[t] << std::string(w - names[t].size(), ' ');
    for (auto v : r.confusion[t]) {
      std::snprintf(buf, sizeof buf, "%6lld", static_cast<long long>(v));
      os << buf;
    }
    os << "\n";
  }
  return os.str();
}

void save_model_file(const std::string& path, dg::nn::Module& model, const ModelSpec& spec, const DataInfo& data,
                     const std::map<std::string, std::string>& extra) {
  std::map<std::string, dg::Tensor> tensors;
  for (const auto& item : model.state_dict()) tensors[item.key()] = item.value();
  auto meta = extra;
  meta[kMetaModel] = spec.to_json().dump();
  meta[kMetaData] = data.to_json().dump();
  dg::io::save_safetensors(path, tensors, meta);
}

LoadedModel load_trained_model(const std::string& path_in, const std::string& model_override,
                               const std::string& data_override) {
  std::string path = path_in;
  if (is_directory(path)) path = path_join(path, "model.safetensors");
  if (!file_exists(path)) throw dg::IOError("model file '" + path + "' not found");
  dg::io::SafetensorsFile f = dg::io::load_safetensors(path);
  LoadedModel m;
  // Data description (shape, classes, normalisation): from the file, else the
  // named data set's (weights written elsewhere, e.g. from PyTorch).
  if (f.metadata.count(kMetaData)) {
    try {
      m.data = DataInfo::from_json(json::parse(f.metadata.at(kMetaData)));
    } catch (const json::exception& e) {
      throw dg::IOError("'" + path + "': malformed data description in its metadata (" + e.what() + ")");
    }
  } else {
    std::string name = data_override.empty() ? "fashion-mnist" : data_override;
    auto info = builtin_data_info(name);
    if (!info)
      throw dg::Error("'" + path + "' has no data description, and the input shape of --data " + name +
                      " is not known without its files");
    m.data = *info;
  }
  if (!model_override.empty()) {
    m.spec = load_model_spec(model_override, m.data.example_shape, m.data.num_classes());
  } else if (f.metadata.count(kMetaModel)) {
    try {
      m.spec = ModelSpec::from_json(json::parse(f.metadata.at(kMetaModel)), "'" + path + "'");
    } catch (const json::exception& e) {
      throw dg::IOError("'" + path + "': malformed model description in its metadata (" + e.what() + ")");
    }
  } else {
    throw dg::Error("'" + path + "' does not say which model it holds (no " + std::string(kMetaModel) +
                    " metadata): name the architecture with --model");
  }
  m.model = build_model(m.spec);
  // A training checkpoint keeps the weights under "model."; a model file at the top.
  std::map<std::string, dg::Tensor> weights;
  bool checkpoint = f.metadata.count("dimgrad.kind") && f.metadata["dimgrad.kind"] == "checkpoint";
  for (auto& [k, v] : f.tensors) {
    if (!checkpoint) weights[k] = v;
    else if (k.rfind("model.", 0) == 0) weights[k.substr(6)] = v;
  }
  for (auto& [k, v] : weights)
    if (v.dtype() != dg::kFloat32 && v.is_floating_point()) v = v.to(dg::kFloat32);
  try {
    m.model->load_state_dict(weights, true);
  } catch (const dg::Error& e) {
    throw dg::Error("'" + path + "' does not fit the model '" + m.spec.name + "': " + e.what());
  }
  return m;
}

}  // namespace dgcli
