// Graph observers, and anomaly mode built on them.
#include "dimgrad/autograd/observer.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "dimgrad/ops.hpp"

namespace dg::autograd {
namespace {
thread_local std::vector<GraphObserver*> observers;
AnomalyDumpWriter dump_writer = nullptr;
}  // namespace

void add_observer(GraphObserver* o) { observers.push_back(o); }
void remove_observer(GraphObserver* o) { observers.erase(std::remove(observers.begin(), observers.end(), o), observers.end()); }
bool has_observers() { return !observers.empty(); }

void notify_record(Node& node, const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) {
  for (GraphObserver* o : std::vector<GraphObserver*>(observers)) o->on_record(node, inputs, outputs);
}
void notify_backward(Node& node, const TensorList& grad_outputs, const TensorList& grad_inputs) {
  for (GraphObserver* o : std::vector<GraphObserver*>(observers)) o->on_backward(node, grad_outputs, grad_inputs);
}

void set_anomaly_dump_writer(AnomalyDumpWriter w) { dump_writer = w; }

std::string tensor_stats(const Tensor& t) {
  if (!t.defined()) return "undefined";
  std::ostringstream s;
  if (!t.is_floating_point() || t.numel() == 0) {
    s << dtype_name(t.dtype()) << " " << shape_str(t.sizes());
    return s.str();
  }
  NoGradGuard g;
  Tensor d = t.to(kDouble).contiguous();
  const double* p = d.data_ptr<double>();
  double mn = std::numeric_limits<double>::infinity(), mx = -mn, sum = 0;
  int64_t bad = 0, good = 0;
  for (int64_t i = 0; i < d.numel(); ++i) {
    if (!std::isfinite(p[i])) {
      ++bad;
      continue;
    }
    ++good;
    mn = std::min(mn, p[i]);
    mx = std::max(mx, p[i]);
    sum += p[i];
  }
  s << shape_str(t.sizes()) << " min " << (good ? mn : NAN) << " max " << (good ? mx : NAN) << " mean "
    << (good ? sum / double(good) : NAN) << " non-finite " << bad << "/" << d.numel();
  return s.str();
}

namespace {
bool has_nonfinite(const Tensor& t) {
  if (!t.defined() || !t.is_floating_point() || t.numel() == 0) return false;
  NoGradGuard g;
  return !isfinite(t).all().item<bool>();
}
}  // namespace

DetectAnomalyGuard::DetectAnomalyGuard(AnomalyOptions options) : options_(std::move(options)) { add_observer(this); }
DetectAnomalyGuard::~DetectAnomalyGuard() { remove_observer(this); }

void DetectAnomalyGuard::on_record(Node& node, const std::vector<const Tensor*>& inputs,
                                   const std::vector<Tensor*>& outputs) {
  for (size_t k = 0; k < outputs.size(); ++k) {
    if (!has_nonfinite(*outputs[k])) continue;
    // Inputs that were already non-finite point further up: only report the op that made it.
    bool inputs_bad = false;
    for (const Tensor* in : inputs) inputs_bad = inputs_bad || has_nonfinite(*in);
    if (inputs_bad) continue;
    std::vector<std::pair<std::string, Tensor>> named;
    for (size_t i = 0; i < inputs.size(); ++i)
      if (inputs[i]->defined()) named.push_back({"input" + std::to_string(i), inputs[i]->detach()});
    report(node, "forward", "output " + std::to_string(k) + " has non-finite values (" + tensor_stats(*outputs[k]) + ")",
           named);
  }
}

void DetectAnomalyGuard::on_backward(Node& node, const TensorList& grad_outputs, const TensorList& grad_inputs) {
  for (const Tensor& g : grad_outputs)
    if (has_nonfinite(g)) return;  // reported where it first appeared
  for (size_t i = 0; i < grad_inputs.size(); ++i) {
    if (!has_nonfinite(grad_inputs[i])) continue;
    std::vector<std::pair<std::string, Tensor>> named;
    for (size_t k = 0; k < grad_outputs.size(); ++k)
      if (grad_outputs[k].defined()) named.push_back({"grad_output" + std::to_string(k), grad_outputs[k]});
    report(node, "backward",
           "the gradient for input " + std::to_string(i) + " has non-finite values (" + tensor_stats(grad_inputs[i]) + ")",
           named);
  }
}

void DetectAnomalyGuard::report(Node& node, const char* phase, const std::string& what,
                                const std::vector<std::pair<std::string, Tensor>>& inputs) {
  std::ostringstream m;
  m << "anomaly in " << phase << " of op '" << node.name() << "'";
  if (!node.module_path.empty()) m << " in module " << node.module_path;
  if (step_ >= 0) m << " at step " << step_;
  m << ": " << what;
  for (const auto& [name, t] : inputs) m << "\n  " << name << ": " << tensor_stats(t);
  if (!options_.dump_path.empty() && dump_writer) {
    auto all = inputs;
    for (const auto& e : options_.extra) all.push_back({"param." + e.first, e.second.detach()});
    try {
      dump_writer(options_.dump_path, all, m.str());
      m << "\n  the op's inputs" << (options_.extra.empty() ? "" : " and the parameters") << " were written to "
        << options_.dump_path;
    } catch (const std::exception& e) {
      m << "\n  (writing " << options_.dump_path << " failed: " << e.what() << ")";
    }
  }
  throw AnomalyError(m.str());
}

}  // namespace dg::autograd
