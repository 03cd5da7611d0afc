// Swap-in check: a user's backward compared with the library's, per layer and step.
#include "dimgrad/swap_in.hpp"

#include <cmath>
#include <iomanip>
#include <sstream>

#include "dimgrad/ops.hpp"

namespace dg {

BackwardSwapIn::BackwardSwapIn() { autograd::add_observer(this); }
BackwardSwapIn::~BackwardSwapIn() { autograd::remove_observer(this); }

void BackwardSwapIn::add(const std::string& op_name, UserBackward backward) { user_[op_name] = std::move(backward); }

void BackwardSwapIn::on_record(autograd::Node& node, const std::vector<const Tensor*>& inputs,
                               const std::vector<Tensor*>& outputs) {
  if (!user_.count(node.name())) return;
  // Forget forwards whose graph died without a backward (e.g. evaluation).
  for (auto it = pending_.begin(); it != pending_.end();)
    it = it->second.node.expired() ? pending_.erase(it) : std::next(it);
  Pending p;
  p.node = node.shared_from_this();
  for (const Tensor* t : inputs) p.inputs.push_back(t->defined() ? t->detach() : Tensor());
  for (Tensor* t : outputs) p.outputs.push_back(t->defined() ? t->detach() : Tensor());
  pending_[&node] = std::move(p);
}

void BackwardSwapIn::on_backward(autograd::Node& node, const TensorList& grad_outputs, const TensorList& grad_inputs) {
  auto it = pending_.find(&node);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  NoGradGuard no_grad;
  TensorList mine;
  std::string problem;
  try {
    SwapInContext ctx{p.inputs, p.outputs, grad_outputs, node.module_path};
    mine = user_.at(node.name())(ctx);
  } catch (const std::exception& e) {
    problem = std::string("your backward threw: ") + e.what();
  }
  for (size_t i = 0; i < grad_inputs.size(); ++i) {
    const Tensor& lib = grad_inputs[i];
    if (!lib.defined()) continue;
    Record r{step_, node.module_path, node.name(), i, INFINITY, problem};
    if (problem.empty()) {
      if (i >= mine.size() || !mine[i].defined()) {
        r.problem = "your backward returned no gradient for input " + std::to_string(i);
      } else if (mine[i].sizes() != lib.sizes()) {
        r.problem = "shape " + shape_str(mine[i].sizes()) + ", expected " + shape_str(lib.sizes()) +
                    " (the shape of input " + std::to_string(i) + ")";
      } else {
        Tensor a = mine[i].to(kDouble), b = lib.to(kDouble);
        double diff = (a - b).abs().max().item<double>();
        double scale = b.abs().max().item<double>();
        r.max_rel_error = diff / std::max(scale, 1e-30);
      }
    }
    records_.push_back(std::move(r));
  }
}

double BackwardSwapIn::worst_error() const {
  double w = 0;
  for (const auto& r : records_) w = std::max(w, r.max_rel_error);
  return w;
}

std::string BackwardSwapIn::report() const {
  std::ostringstream s;
  s << std::left << std::setw(6) << "step" << std::setw(20) << "layer" << std::setw(14) << "op" << std::setw(7)
    << "input" << "max rel. error\n";
  for (const auto& r : records_) {
    s << std::left << std::setw(6) << r.step << std::setw(20) << (r.module_path.empty() ? "-" : r.module_path)
      << std::setw(14) << r.op << std::setw(7) << r.input;
    if (!r.problem.empty()) s << r.problem;
    else s << std::scientific << std::setprecision(2) << r.max_rel_error;
    s << "\n";
  }
  return s.str();
}

}  // namespace dg
