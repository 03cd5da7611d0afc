#include "report.hpp"

#include <cmath>
#include <map>
#include <sstream>

#include "png.hpp"
#include "svg.hpp"

namespace dgcli {

namespace {

const char* kStyle = R"(
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1180px;color:#222;background:#fafafa;padding:0 16px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px;border-bottom:1px solid #ddd;padding-bottom:4px}
.sub{color:#666;margin-bottom:16px}.cards{display:flex;gap:12px;flex-wrap:wrap}
.card{background:#fff;border:1px solid #e2e2e2;border-radius:6px;padding:10px 16px;min-width:130px}
.card b{display:block;font-size:20px}.card span{color:#666;font-size:12px}
.charts{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}.chart{background:#fff;border:1px solid #e2e2e2;border-radius:6px}
.plot{fill:#fff;stroke:#bbb}.grid{stroke:#eee}.ref{stroke:#888;stroke-dasharray:2,3}
.tick{font-size:11px;fill:#555}.axis{font-size:12px;fill:#333}.ct{font-size:13px;font-weight:600;fill:#222}
.legend{font-size:11px;fill:#333}.empty{fill:#999}.count{font-size:11px}.cell{stroke:#fff}
table{border-collapse:collapse;background:#fff}td,th{border:1px solid #e2e2e2;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.miss{display:flex;flex-wrap:wrap;gap:8px}.miss figure{margin:0;background:#fff;border:1px solid #e2e2e2;border-radius:4px;padding:4px;width:92px;text-align:center}
.miss img{width:84px;height:84px;image-rendering:pixelated}.miss figcaption{font-size:11px;line-height:1.3}
.bad{color:#c0392b}.good{color:#1e7d34}pre{background:#fff;border:1px solid #e2e2e2;padding:10px;overflow:auto;font-size:12px}
.note{color:#666;font-size:12px;max-width:900px}
)";

std::string pct(double v) { return std::isnan(v) ? "n/a" : fmt(v * 100, 2) + "%"; }

// Moving average over a window, so that per-step curves are readable.
std::vector<double> smooth(const std::vector<double>& v, size_t window) {
  if (window <= 1) return v;
  std::vector<double> r(v.size());
  double sum = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    sum += v[i];
    if (i >= window) sum -= v[i - window];
    r[i] = sum / double(std::min(i + 1, window));
  }
  return r;
}

std::string card(const std::string& value, const std::string& label) {
  return "<div class=\"card\"><b>" + html_escape(value) + "</b><span>" + html_escape(label) + "</span></div>";
}

}  // namespace

std::string render_report(const json& config, const std::vector<json>& records, const EvalResult& test,
                          const Dataset& data) {
  const DataInfo& info = data.info;
  const json& tc = config.at("train");
  // ---- gather the series
  std::vector<double> step_x, step_loss, step_acc, step_lr;
  std::vector<double> ep_x, ep_train_loss, ep_val_loss, ep_train_acc, ep_val_acc;
  double total_time = 0, best_val = NAN;
  std::map<std::string, Series> grad_series, ratio_series;
  std::vector<std::string> param_order;
  int64_t steps_per_epoch = 0;
  for (const json& r : records) {
    const std::string kind = r.value("kind", "");
    if (kind == "epoch" && r.value("epoch", int64_t(0)) == 1) steps_per_epoch = r.value("step", int64_t(0));
  }
  if (steps_per_epoch <= 0) steps_per_epoch = 1;
  const double spe = double(steps_per_epoch);
  for (const json& r : records) {
    const std::string kind = r.value("kind", "");
    if (kind == "step") {
      step_x.push_back(double(r.value("step", int64_t(0))) / spe);
      step_loss.push_back(r.value("loss", NAN));
      step_acc.push_back(r.value("acc", NAN));
      step_lr.push_back(r.value("lr", NAN));
    } else if (kind == "epoch") {
      ep_x.push_back(double(r.value("epoch", int64_t(0))));
      ep_train_loss.push_back(r.value("train_loss", NAN));
      ep_val_loss.push_back(r.value("val_loss", NAN));
      ep_train_acc.push_back(r.value("train_acc", NAN));
      ep_val_acc.push_back(r.value("val_acc", NAN));
      total_time += r.value("time_s", 0.0);
      double v = r.value("val_acc", NAN);
      if (std::isnan(best_val) || v > best_val) best_val = v;
    } else if (kind == "layers") {
      const double x = double(r.value("step", int64_t(0))) / spe;
      // (bound to locals: items() of a temporary would dangle in the range-for)
      const json grads = r.value("grad_norm", json::object()), ratios = r.value("update_ratio", json::object());
      for (auto& [name, v] : grads.items()) {
        if (!grad_series.count(name)) {
          param_order.push_back(name);
          grad_series[name] = Series{name, palette(param_order.size() - 1), {}, {}};
          ratio_series[name] = Series{name, palette(param_order.size() - 1), {}, {}};
        }
        grad_series[name].x.push_back(x);
        grad_series[name].y.push_back(v.get<double>());
      }
      for (auto& [name, v] : ratios.items())
        if (ratio_series.count(name)) ratio_series[name].x.push_back(x), ratio_series[name].y.push_back(v.get<double>());
    }
  }
  const size_t window = std::max<size_t>(1, size_t(steps_per_epoch / 10));
  const std::string val_name = config.value("split", json::object()).value("validation", int64_t(0)) > 0
                                   ? "validation" : "test (no validation split)";

  std::ostringstream h;
  h << "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>dimgrad training report</title>"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\"><style>" << kStyle
    << "</style></head><body>\n";
  h << "<h1>dimgrad training report</h1><div class=\"sub\">model <b>" << html_escape(tc.value("model", "?"))
    << "</b> on <b>" << html_escape(info.name) << "</b> · " << html_escape(tc.value("optimizer", "?")) << " lr "
    << tc.value("lr", 0.0) << " · schedule " << html_escape(tc.value("schedule", "?")) << " · batch "
    << tc.value("batch_size", int64_t(0)) << " · seed " << tc.value("seed", uint64_t(0)) << " · run folder "
    << html_escape(tc.value("out", "")) << "</div>\n";
  h << "<div class=\"cards\" id=\"summary\">" << card(pct(test.accuracy), "test accuracy")
    << card(fmt(test.loss, 4), "test loss") << card(pct(best_val), "best " + val_name + " accuracy")
    << card(std::to_string(ep_x.size()), "epochs") << card(format_duration(total_time), "training time")
    << card(std::to_string(config.value("parameters", int64_t(0))), "parameters") << "</div>\n";

  // ---- curves
  h << "<h2>Learning curves</h2><div class=\"charts\">";
  {
    ChartOptions o;
    o.id = "chart-loss", o.title = "Loss (cross-entropy)", o.xlabel = "epoch", o.ylabel = "loss";
    h << line_chart({{"train (per step, smoothed)", "#9ecae1", step_x, smooth(step_loss, window)},
                     {"train", palette(0), ep_x, ep_train_loss, true},
                     {val_name, palette(1), ep_x, ep_val_loss, true}},
                    o);
    o.id = "chart-accuracy", o.title = "Accuracy", o.ylabel = "accuracy";
    h << line_chart({{"train (per step, smoothed)", "#9ecae1", step_x, smooth(step_acc, window)},
                     {"train", palette(0), ep_x, ep_train_acc, true},
                     {val_name, palette(1), ep_x, ep_val_acc, true}},
                    o);
    o.id = "chart-lr", o.title = "Learning rate", o.ylabel = "lr", o.xlabel = "epoch (per step)";
    h << line_chart({{"lr", palette(2), step_x, step_lr}}, o);
  }
  h << "</div>\n";

  // ---- per-layer statistics
  h << "<h2>Per-layer gradients and updates</h2><p class=\"note\">Every " << tc.value("stats_every", int64_t(0))
    << " steps: the norm of each parameter's gradient, and the size of the optimizer's update relative to the "
       "weights, ‖Δw‖/‖w‖. Updates around 10<sup>-3</sup> per step are the usual healthy range; much smaller means "
       "the layer barely learns, much larger that the learning rate is too high for it.</p><div class=\"charts\">";
  {
    std::vector<Series> gs, rs;
    for (auto& n : param_order) gs.push_back(grad_series[n]), rs.push_back(ratio_series[n]);
    ChartOptions o;
    o.id = "chart-grad-norms", o.title = "Gradient norm ‖∂L/∂w‖ per parameter", o.xlabel = "epoch";
    o.ylabel = "gradient norm (log)", o.log_y = true, o.height = 330;
    h << line_chart(gs, o);
    o.id = "chart-update-ratios", o.title = "Update / weight ratio ‖Δw‖/‖w‖", o.ylabel = "ratio (log)";
    o.reference_y = 1e-3, o.reference_label = "10⁻³";
    h << line_chart(rs, o);
  }
  h << "</div>\n";

  // ---- confusion matrix and per-class accuracy
  h << "<h2>Test set: confusion matrix</h2><div class=\"charts\">"
    << heat_map(test.confusion, info.class_names, "chart-confusion", "true class", "predicted class")
    << "<table id=\"per-class\"><tr><th>class</th><th>accuracy</th><th>examples</th></tr>";
  for (size_t c = 0; c < test.per_class_accuracy.size(); ++c) {
    int64_t total = 0;
    for (auto v : test.confusion[c]) total += v;
    h << "<tr><td>" << c << " " << html_escape(info.class_names[c]) << "</td><td>" << pct(test.per_class_accuracy[c])
      << "</td><td>" << total << "</td></tr>";
  }
  h << "</table></div>\n";

  // ---- misclassified images
  h << "<h2>Misclassified test images</h2><p class=\"note\">The first " << test.misclassified.size()
    << " test images the final model gets wrong: true label, then the prediction and its probability.</p>"
    << "<div class=\"miss\" id=\"misclassified\">";
  for (const auto& m : test.misclassified) {
    h << "<figure>";
    if (info.is_image()) {
      auto px = display_pixels(info, data.test_x[m.index]);
      h << "<img alt=\"test image " << m.index << "\" src=\""
        << png_data_uri(px, int(info.example_shape[2]), int(info.example_shape[1]), info.example_shape[0] == 3 ? 3 : 1)
        << "\">";
    }
    h << "<figcaption>#" << m.index << "<br><span class=\"good\">" << html_escape(info.class_names[size_t(m.truth)])
      << "</span><br><span class=\"bad\">" << html_escape(info.class_names[size_t(m.predicted)]) << " "
      << fmt(m.confidence * 100, 0) << "%</span></figcaption></figure>";
  }
  if (test.misclassified.empty()) h << "<p>none</p>";
  h << "</div>\n";

  h << "<h2>Configuration</h2><pre>" << html_escape(config.dump(2)) << "</pre>\n"
    << "<p class=\"note\">Written by dimgrad. Rerun with the values above, or continue with "
       "<code>dimgrad train --resume " << html_escape(path_join(tc.value("out", "."), "checkpoint.safetensors"))
    << "</code>.</p></body></html>\n";
  return h.str();
}

void write_report(const std::string& path, const json& config, const std::vector<json>& records,
                  const EvalResult& test, const Dataset& data) {
  write_text_file(path, render_report(config, records, test, data));
}

}  // namespace dgcli
