// `dimgrad explain` and `dimgrad gradcheck`: the backward pass shown and audited.
#include <algorithm>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <random>
#include <set>

#include "commands.hpp"
#include "dimgrad/explain.hpp"
#include "dimgrad/nn.hpp"
#include "model_args.hpp"

namespace dgcli {
namespace F = dg::nn::functional;

namespace {

std::vector<int64_t> batch_shape(const ModelSpec& spec, int64_t n) {
  std::vector<int64_t> s = {n};
  s.insert(s.end(), spec.input_shape.begin(), spec.input_shape.end());
  return s;
}

// Dropout layers evaluated (no random mask), the rest in training mode: the
// loss is then a deterministic function of the parameters.
void deterministic_train_mode(dg::nn::SequentialImpl& model) {
  model.train();
  for (auto& m : model.modules())
    if (m->name() == "Dropout") m->eval();
}

}  // namespace

int run_explain(const ExplainArgs& a) {
  dg::ExplainOptions opt;
  if (a.format == "markdown") opt.format = dg::ExplainFormat::Markdown;
  else if (a.format == "dot") opt.format = dg::ExplainFormat::Dot;
  if (a.list_ops) {
    for (auto& n : dg::explainable_ops()) std::printf("%s\n", n.c_str());
    return 0;
  }
  if (!a.op.empty()) {
    auto ops = dg::explainable_ops();
    if (std::find(ops.begin(), ops.end(), a.op) == ops.end())
      throw dg::Error("--op: unknown op '" + a.op + "' (see dimgrad explain --list-ops)");
    std::fputs(dg::explain_op(a.op, opt).c_str(), stdout);
    return 0;
  }
  if (a.batch_size < 1) throw UsageError("--batch-size must be at least 1");
  ModelSpec spec = model_from_args(a.m);
  dg::manual_seed(a.seed);
  auto model = build_model(spec);
  deterministic_train_mode(*model);
  // Parameters named after their layer: "1.weight" → W1, "1.bias" → b1.
  for (const auto& item : model->named_parameters()) {
    const std::string& k = item.key();
    const std::string layer = k.substr(0, k.find('.')), what = k.substr(k.find('.') + 1);
    dg::Tensor(item.value()).set_name((what == "weight" ? "W" : what == "bias" ? "b" : what + "_") + layer);
  }
  // One training step's loss on a random batch (the shapes, not the values, are
  // what the explanation is about).
  dg::Tensor x = dg::randn(batch_shape(spec, a.batch_size));
  dg::Tensor y = dg::randint(0, spec.num_classes, {a.batch_size});
  dg::Tensor loss = F::cross_entropy(model->forward(x), y);
  // (emplace: GCC 12 warns falsely, -Wrestrict, on assigning a literal to a map's string)
  opt.dim_names.emplace(a.batch_size, "N");
  opt.dim_names.emplace(spec.num_classes, "C");
  if (opt.format == dg::ExplainFormat::Text)
    std::printf("one training step of %s: loss = cross_entropy(model(X), y), X %s, batch N = %" PRId64 "\n\n",
                spec.name.c_str(), shape_string(x.sizes()).c_str(), a.batch_size);
  std::fputs(dg::explain(loss, opt).c_str(), stdout);
  return 0;
}

// ------------------------------------------------------------------ gradcheck
namespace {

// The decisions a piecewise-linear model takes on an input: the sign of every
// ReLU input and the winner of every max-pool window. A finite difference is only
// meaningful when the ±eps perturbations leave them all unchanged.
struct Decisions {
  std::vector<uint8_t> relu;
  std::vector<int64_t> pool;
  bool operator==(const Decisions& o) const { return relu == o.relu && pool == o.pool; }
};

dg::Tensor forward_recording(dg::nn::SequentialImpl& model, const ModelSpec& spec, dg::Tensor x, Decisions* d) {
  for (size_t i = 0; i < model.size(); ++i) {
    const std::string type = spec.layers[i].at("type");
    if (d && (type == "relu" || type == "leaky_relu")) {
      auto v = to_doubles(x);
      for (double e : v) d->relu.push_back(e > 0);
    } else if (d && type == "maxpool2d") {
      const int64_t k = spec.layers[i]["kernel"], s = spec.layers[i]["stride"], p = spec.layers[i]["padding"];
      const int64_t nc = x.size(0) * x.size(1), h = x.size(2), w = x.size(3);
      const int64_t oh = (h + 2 * p - k) / s + 1, ow = (w + 2 * p - k) / s + 1;
      auto v = to_doubles(x);
      for (int64_t c = 0; c < nc; ++c)
        for (int64_t r = 0; r < oh; ++r)
          for (int64_t q = 0; q < ow; ++q) {
            int64_t best = -1;
            double bv = -INFINITY;
            for (int64_t u = 0; u < k; ++u)
              for (int64_t t = 0; t < k; ++t) {
                int64_t yy = r * s - p + u, xx = q * s - p + t;
                if (yy < 0 || yy >= h || xx < 0 || xx >= w) continue;
                double e = v[size_t((c * h + yy) * w + xx)];
                if (e > bv) bv = e, best = yy * w + xx;
              }
            d->pool.push_back(best);
          }
    }
    x = model[i]->forward(x);
  }
  return x;
}

std::string index_string(int64_t flat, dg::IntArrayRef shape) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) idx[d] = flat % shape[d], flat /= shape[d];
  return shape_string(idx);
}

}  // namespace

int run_gradcheck(const GradcheckArgs& a) {
  if (a.threads > 0) dg::set_num_threads(a.threads);
  if (a.batch_size < 1 || a.elements < 1) throw UsageError("--batch-size and --elements must be at least 1");
  if (!(a.eps > 0) || !(a.atol >= 0) || !(a.rtol >= 0)) throw UsageError("--eps must be positive, --atol/--rtol not negative");
  ModelSpec spec = model_from_args(a.m);
  dg::manual_seed(a.seed);
  auto model = build_model(spec);
  model->to(dg::kFloat64);
  deterministic_train_mode(*model);
  dg::Tensor x = dg::randn(batch_shape(spec, a.batch_size), dg::kFloat64);
  dg::Tensor y = dg::randint(0, spec.num_classes, {a.batch_size});

  auto loss_at = [&](Decisions* d) {
    dg::NoGradGuard ng;
    return F::cross_entropy(forward_recording(*model, spec, x, d), y).item<double>();
  };
  // Analytic gradients from one backward pass.
  Decisions base;
  dg::Tensor loss = F::cross_entropy(forward_recording(*model, spec, x, &base), y);
  model->zero_grad();
  loss.backward();

  std::printf("gradcheck of %s: float64, batch %" PRId64 ", central differences eps %g, pass if |analytic − numeric| ≤ "
              "%g + %g·max(|analytic|, |numeric|)\n\n",
              spec.name.c_str(), a.batch_size, a.eps, a.atol, a.rtol);
  std::printf("%-20s %-10s %-16s %15s %-18s %14s %14s %10s  %s\n", "layer", "parameter", "shape", "checked",
              "worst element", "analytic", "numeric", "rel. error", "");
  std::mt19937_64 pick(a.seed ^ 0xC0FFEEULL);
  auto layers = describe_layers(spec);
  bool all_ok = true;
  int64_t skipped_total = 0;
  for (const auto& item : model->named_parameters()) {
    const std::string name = item.key();
    dg::Tensor p = item.value();
    const std::string layer_idx = name.substr(0, name.find('.'));
    std::string layer = layer_idx;
    for (auto& l : layers)
      if (l.name == layer_idx) layer = l.name + " " + l.description.substr(0, l.description.find('('));
    const int64_t n = p.numel();
    dg::Tensor g = p.grad().contiguous();
    const double* gp = g.data_ptr<double>();
    // Elements: all for small tensors; else the largest |gradient| plus a random sample.
    std::vector<int64_t> cand(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) cand[size_t(i)] = i;
    if (n > a.elements) {
      std::shuffle(cand.begin(), cand.end(), pick);
      auto top = std::max_element(cand.begin(), cand.end(), [&](int64_t u, int64_t v) { return std::abs(gp[u]) < std::abs(gp[v]); });
      std::iter_swap(cand.begin(), top);
    }
    double worst_ratio = -1, worst_a = 0, worst_n = 0, worst_rel = 0;
    int64_t worst_i = -1, checked = 0, skipped = 0;
    double* pp = p.data_ptr<double>();
    for (size_t c = 0; c < cand.size() && checked < std::min(a.elements, n); ++c) {
      const int64_t i = cand[c];
      const double orig = pp[i];
      Decisions dp, dm;
      double lp, lm;
      {
        dg::NoGradGuard ng;
        pp[i] = orig + a.eps;
        lp = loss_at(&dp);
        pp[i] = orig - a.eps;
        lm = loss_at(&dm);
        pp[i] = orig;
      }
      if (!(dp == base) || !(dm == base)) {
        ++skipped;  // the step crossed a ReLU or max-pool kink: try another element
        continue;
      }
      ++checked;
      const double an = gp[i], nu = (lp - lm) / (2 * a.eps);
      const double diff = std::abs(an - nu), scale = std::max(std::abs(an), std::abs(nu));
      const double ratio = diff / (a.atol + a.rtol * scale);
      if (ratio > worst_ratio) {
        worst_ratio = ratio, worst_i = i, worst_a = an, worst_n = nu;
        worst_rel = diff / std::max({scale, a.atol, 1e-300});  // gradients ≈ 0: relative to atol
      }
    }
    skipped_total += skipped;
    const bool ok = checked > 0 && worst_ratio <= 1;
    all_ok = all_ok && ok;
    const std::string count = std::to_string(checked) + "/" + std::to_string(n);
    std::printf("%-20s %-10s %-16s %15s %-18s %14.6e %14.6e %10.2e  %s\n", layer.substr(0, 20).c_str(),
                name.c_str(), shape_string(p.sizes()).c_str(), count.c_str(),
                worst_i < 0 ? "-" : index_string(worst_i, p.sizes()).c_str(), worst_a, worst_n, worst_rel,
                checked == 0 ? "NOT CHECKED" : ok ? "ok" : "FAIL");
  }
  if (skipped_total)
    std::printf("\n%" PRId64 " element(s) skipped: their ±eps step crossed a ReLU or max-pool kink (other elements were "
                "checked instead)\n", skipped_total);
  std::printf("\n%s\n", all_ok ? "all gradients agree with finite differences"
                               : "GRADIENT MISMATCH: the analytic gradient disagrees with finite differences");
  return all_ok ? 0 : 1;
}

}  // namespace dgcli
