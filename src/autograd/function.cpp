// Custom ops (autograd::Function): context, wiring, checks.
#include "dimgrad/autograd/function.hpp"
#include "dimgrad/autograd/observer.hpp"

#include <cstdlib>

namespace dg::autograd {

double SavedValue::toDouble() const {
  if (auto* d = std::get_if<double>(&v_)) return *d;
  if (auto* i = std::get_if<int64_t>(&v_)) return static_cast<double>(*i);
  throw Error("saved_data: value is not a number");
}
int64_t SavedValue::toInt() const {
  if (auto* i = std::get_if<int64_t>(&v_)) return *i;
  throw Error("saved_data: value is not an integer");
}
bool SavedValue::toBool() const {
  if (auto* b = std::get_if<bool>(&v_)) return *b;
  throw Error("saved_data: value is not a bool");
}
const Tensor& SavedValue::toTensor() const {
  if (auto* t = std::get_if<Tensor>(&v_)) return *t;
  throw Error("saved_data: value is not a tensor");
}
const std::string& SavedValue::toStringRef() const {
  if (auto* s = std::get_if<std::string>(&v_)) return *s;
  throw Error("saved_data: value is not a string");
}

void AutogradContext::save_for_backward(tensor_list ts) {
  saved_.clear();
  for (const Tensor& t : ts) saved_.push_back(node_->save(t));
}

tensor_list AutogradContext::get_saved_variables() const {
  node_->check_saved();
  return saved_;
}

void AutogradContext::mark_non_differentiable(const tensor_list& outputs) {
  for (const Tensor& t : outputs)
    if (t.defined()) non_differentiable_.push_back(t.impl());
}

bool AutogradContext::needs_input_grad(size_t i) const { return i < needs_.size() && needs_[i]; }

void CustomNodeBase::release_saved() {
  Node::release_saved();
  ctx.saved_.clear();
  ctx.saved_data.clear();
}

tensor_list CustomNodeBase::check_count(tensor_list grads) const {
  if (grads.size() < num_tensor_inputs)
    throw AutogradError("backward of custom op " + name() + " returned " + std::to_string(grads.size()) +
                        " gradients, but forward took " + std::to_string(num_tensor_inputs) +
                        " tensor inputs: return one per tensor input (an undefined Tensor() where none)");
  for (size_t i = num_tensor_inputs; i < grads.size(); ++i)
    if (grads[i].defined())
      throw AutogradError("backward of custom op " + name() + " returned a defined gradient number " +
                          std::to_string(i) + " but forward took only " + std::to_string(num_tensor_inputs) +
                          " tensor inputs");
  grads.resize(num_tensor_inputs);
  for (size_t i = 0; i < grads.size(); ++i)
    if (!ctx.needs_input_grad(i)) grads[i] = Tensor();
  return grads;
}

std::string demangle(const char* mangled) {
  int status = 0;
  char* s = abi::__cxa_demangle(mangled, nullptr, nullptr, &status);
  std::string out = status == 0 && s ? s : mangled;
  std::free(s);
  return out;
}

namespace detail {
void wire_custom(const std::shared_ptr<CustomNodeBase>& node, const std::vector<const Tensor*>& inputs,
                 tensor_list& outputs) {
  // Outputs that alias an input are returned as fresh handles, so the input keeps its own history.
  for (Tensor& out : outputs) {
    for (const Tensor* in : inputs)
      if (out.is_same(*in)) out = out.detach();
    if (out.defined() && out.grad_fn() == nullptr && out.impl()->requires_grad) out = out.detach();
  }
  for (const Tensor* in : inputs) {
    if (in->defined() && in->requires_grad()) {
      node->next_edges.push_back(gradient_edge(*in));
      node->input_meta.push_back({Shape(in->sizes()), in->dtype(), false});
    } else {
      node->next_edges.push_back({});
      node->input_meta.push_back({in->defined() ? Shape(in->sizes()) : Shape(), in->defined() ? in->dtype() : kFloat, false});
    }
  }
  uint32_t nr = 0;
  for (Tensor& out : outputs) {
    bool nondiff = false;
    for (TensorImpl* p : node->ctx.non_differentiable()) nondiff = nondiff || p == out.impl();
    node->output_shapes.push_back(out.defined() ? Shape(out.sizes()) : Shape());
    if (out.defined() && !nondiff && is_floating(out.dtype())) {
      out.impl()->grad_fn = node;
      out.impl()->output_nr = nr;
    }
    ++nr;
  }
  node->set_num_outputs(outputs.size());
  if (const std::string* p = current_module_path()) node->module_path = *p;
  if (has_observers()) {
    std::vector<Tensor*> outs;
    for (Tensor& t : outputs) outs.push_back(&t);
    notify_record(*node, inputs, outs);
  }
}
}  // namespace detail

}  // namespace dg::autograd
