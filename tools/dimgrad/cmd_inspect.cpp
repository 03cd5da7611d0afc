// `dimgrad eval`, `dimgrad predict`, `dimgrad summary`.
#include <algorithm>
#include <cinttypes>
#include <cstdio>
#include <numeric>

#include "commands.hpp"
#include "dataset.hpp"
#include "dimgrad/io.hpp"
#include "evaluate.hpp"
#include "model_spec.hpp"
#include "model_args.hpp"

namespace dgcli {

namespace {

std::string human(double v) {
  const char* units[] = {"", " K", " M", " G", " T"};
  int u = 0;
  while (std::abs(v) >= 1000 && u < 4) v /= 1000, ++u;
  return u == 0 ? fmt(v, 0) : fmt(v, 2) + units[u];
}

Dataset load_eval_data(const LoadedModel& m, const std::string& data, const std::string& dir, int64_t limit_test) {
  DataRequest req;
  req.name = data.empty() ? m.data.name : data;
  req.dir = dir;
  req.limit_test = limit_test;
  req.need_train = false;
  req.mean_std = std::make_pair(m.data.mean, m.data.std);
  Dataset ds = load_dataset(req);
  if (ds.info.example_shape != m.data.example_shape)
    throw dg::Error("the model takes inputs of shape " + shape_string(m.data.example_shape) + " but " + req.name +
                    " examples are " + shape_string(ds.info.example_shape));
  if (ds.info.num_classes() > m.data.num_classes())
    throw dg::Error("the model predicts " + std::to_string(m.data.num_classes()) + " classes but " + req.name + " has " +
                    std::to_string(ds.info.num_classes()));
  ds.info.class_names = m.data.class_names;
  return ds;
}

}  // namespace

int run_eval(const EvalArgs& a) {
  if (a.threads > 0) dg::set_num_threads(a.threads);
  if (a.batch_size < 1) throw UsageError("--batch-size must be at least 1");
  LoadedModel m = load_trained_model(a.weights, a.model, a.data);
  Dataset ds = load_eval_data(m, a.data, a.data_dir, a.limit_test);
  EvalResult r = evaluate(*m.model, ds.test_x, ds.test_y, m.data.num_classes(), a.batch_size);
  if (a.json_output) {
    json j = r.to_json(m.data.class_names);
    j["model"] = m.spec.name;
    j["data"] = ds.info.name;
    std::printf("%s\n", j.dump(2).c_str());
    return 0;
  }
  std::printf("model %s on %s test set: %" PRId64 " examples\naccuracy %.2f%%  loss %.4f\n\n%s", m.spec.name.c_str(),
              ds.info.name.c_str(), r.count, r.accuracy * 100, r.loss,
              format_confusion(r, m.data.class_names).c_str());
  return 0;
}

int run_predict(const PredictArgs& a) {
  if (a.threads > 0) dg::set_num_threads(a.threads);
  if (a.top < 1) throw UsageError("--top must be at least 1");
  LoadedModel m = load_trained_model(a.weights, a.model, a.data);
  dg::Tensor x;
  std::vector<int64_t> ids, truth;
  if (!a.npy.empty()) {
    dg::Tensor raw = dg::io::load_npy(a.npy);
    auto want = m.data.example_shape;
    // Accept [N, ...shape], [N, H, W] for one-channel images, or one example.
    std::vector<int64_t> s = raw.sizes().vec();
    int64_t per = std::accumulate(want.begin(), want.end(), int64_t(1), std::multiplies<>());
    if (raw.numel() == 0 || raw.numel() % per != 0 || (s.size() > 1 && s.size() < want.size() &&
                                                       !(m.data.is_image() && s.size() == 3 && want[0] == 1)))
      throw dg::ShapeError("'" + a.npy + "' holds an array of shape " + shape_string(s) + "; expected [N, " +
                           shape_string(want).substr(1) + " (or [N, H, W] for one-channel images)");
    std::vector<int64_t> full = {raw.numel() / per};
    full.insert(full.end(), want.begin(), want.end());
    // Integer arrays are raw pixel values; float arrays in [0, 1] are taken as already scaled.
    dg::Tensor r = raw.to(dg::kFloat32).reshape(full);
    x = normalize_inputs(m.data, r, raw.is_floating_point() && m.data.is_image() && r.max().item<double>() <= 1.0);
    for (int64_t i = 0; i < x.size(0); ++i) ids.push_back(i);
  } else {
    ids = parse_int_list(a.indices, "--index");
    Dataset ds = load_eval_data(m, a.data, "", 0);
    for (auto i : ids)
      if (i < 0 || i >= ds.test_x.size(0))
        throw dg::IndexError("--index " + std::to_string(i) + " is out of range: the test set has " +
                             std::to_string(ds.test_x.size(0)) + " examples (0.." + std::to_string(ds.test_x.size(0) - 1) + ")");
    dg::Tensor idx = dg::tensor(ids);
    x = ds.test_x.index_select(0, idx);
    truth = to_longs(ds.test_y.index_select(0, idx));
  }
  dg::Tensor probs = predict_probabilities(*m.model, x);
  const int64_t c = probs.size(1);
  auto p = to_doubles(probs);
  json out = json::array();
  for (size_t i = 0; i < ids.size(); ++i) {
    std::vector<int64_t> order(static_cast<size_t>(c));
    std::iota(order.begin(), order.end(), 0);
    std::stable_sort(order.begin(), order.end(),
                     [&](int64_t u, int64_t v) { return p[i * size_t(c) + size_t(u)] > p[i * size_t(c) + size_t(v)]; });
    json e{{"index", ids[i]}, {"class", order[0]}, {"label", m.data.class_names[size_t(order[0])]}};
    std::vector<double> row(p.begin() + long(i * size_t(c)), p.begin() + long((i + 1) * size_t(c)));
    e["probabilities"] = row;
    if (!truth.empty()) e["true_class"] = truth[i], e["true_label"] = m.data.class_names[size_t(truth[i])];
    out.push_back(e);
    if (!a.json_output) {
      std::printf("%s %" PRId64 ": %s (%.1f%%)", a.npy.empty() ? "test example" : "image", ids[i],
                  m.data.class_names[size_t(order[0])].c_str(), p[i * size_t(c) + size_t(order[0])] * 100);
      if (!truth.empty())
        std::printf("  true: %s%s", m.data.class_names[size_t(truth[i])].c_str(), truth[i] == order[0] ? "" : "  (wrong)");
      std::printf("\n");
      for (int64_t k = 0; k < std::min(a.top, c); ++k)
        std::printf("    %-14s %6.2f%%\n", m.data.class_names[size_t(order[size_t(k)])].c_str(),
                    p[i * size_t(c) + size_t(order[size_t(k)])] * 100);
    }
  }
  if (a.json_output) std::printf("%s\n", out.dump(2).c_str());
  return 0;
}

int run_summary(const SummaryArgs& a) {
  ModelSpec spec = model_from_args(a.m);
  auto layers = describe_layers(spec);
  // Build the model and run one example through it: the table's shapes and counts
  // are computed from the spec, and checked here against the real thing.
  auto model = build_model(spec);
  std::vector<int64_t> in = {2};
  in.insert(in.end(), spec.input_shape.begin(), spec.input_shape.end());
  dg::Tensor y;
  {
    dg::NoGradGuard ng;
    model->eval();
    y = model->forward(dg::zeros(in));
  }
  int64_t params = 0, flops = 0;
  for (auto& l : layers) params += l.parameters, flops += l.flops;
  int64_t real_params = 0;
  for (auto& p : model->parameters()) real_params += p.numel();
  if (real_params != params || y.size(1) != spec.num_classes)
    throw dg::Error("internal: summary disagrees with the built model (" + std::to_string(real_params) + " parameters, output " +
                    shape_string(y.sizes()) + ")");

  std::printf("model %s: input %s per example, %" PRId64 " classes\n\n", spec.name.c_str(),
              shape_string(spec.input_shape).c_str(), spec.num_classes);
  size_t w = 5;
  for (auto& l : layers) w = std::max(w, l.description.size());
  std::printf("  #  %-*s  %-16s %12s %14s\n", int(w), "layer", "output shape", "parameters", "FLOPs");
  for (auto& l : layers)
    std::printf("%3s  %-*s  %-16s %12" PRId64 " %14" PRId64 "\n", l.name.c_str(), int(w), l.description.c_str(),
                shape_string(l.output_shape).c_str(), l.parameters, l.flops);
  std::printf("\ntotal: %" PRId64 " parameters (%sB as float32), %s FLOPs per example (forward; a multiply-add counts 2)\n", params,
              human(double(params) * 4).c_str(), human(double(flops)).c_str());
  std::printf("weights: %s\n", [&] {
    std::string s;
    for (const auto& item : model->named_parameters())
      s += (s.empty() ? "" : ", ") + item.key() + " " + shape_string(item.value().sizes());
    return s;
  }().c_str());
  if (a.pytorch) std::printf("\nPyTorch equivalent (same parameter names):\n\n%s", pytorch_definition(spec).c_str());
  return 0;
}

}  // namespace dgcli
