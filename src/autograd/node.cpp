// Nodes, edges, grad mode and the op table.
#include <atomic>

#include "dimgrad/autograd.hpp"
#include "dimgrad/autograd/observer.hpp"
#include "dimgrad/ops.hpp"
#include "kernels/kernels.hpp"

namespace dg {

namespace {
const OpInfo kOpTable[] = {
#define DG_OP_INFO(e, name, arity, fwd, bwd) {OpKind::e, name, arity, fwd, bwd},
    DG_OP_TABLE(DG_OP_INFO)
#undef DG_OP_INFO
};
}  // namespace

const OpInfo* op_table_begin() { return std::begin(kOpTable); }
const OpInfo* op_table_end() { return std::end(kOpTable); }
size_t op_table_size() { return std::size(kOpTable); }
const OpInfo& op_info(OpKind k) {
  static const OpInfo accumulate{OpKind::AccumulateGrad, "accumulate_grad", 1, "A.grad += dA", ""};
  static const OpInfo other{OpKind::Other, "other", -1, "", ""};
  auto i = static_cast<size_t>(k);
  if (i < std::size(kOpTable)) return kOpTable[i];
  return k == OpKind::AccumulateGrad ? accumulate : other;
}

namespace autograd {

namespace {
thread_local bool grad_mode_enabled = true;
thread_local const std::string* module_path_now = nullptr;
}  // namespace

const std::string* current_module_path() { return module_path_now; }
void set_current_module_path(const std::string* path) { module_path_now = path; }

bool GradMode::is_enabled() { return grad_mode_enabled; }
void GradMode::set_enabled(bool enabled) { grad_mode_enabled = enabled; }

uint64_t Node::next_sequence_nr() {
  static std::atomic<uint64_t> counter{0};
  return counter.fetch_add(1, std::memory_order_relaxed);
}

std::string Node::name() const { return op_info(op_).name; }

Tensor Node::save(const Tensor& t) {
  if (!t.defined()) return t;
  saved_.push_back({t.impl()->storage, t.impl()->storage->version()});
  return t.detach();
}

void Node::check_saved() const {
  if (released_)
    throw AutogradError("backward through " + name() +
                        " a second time: its saved tensors were freed after the first backward. "
                        "Pass retain_graph=true to the first backward() to keep them.");
  for (const auto& s : saved_)
    if (s.storage->version() != s.version)
      throw AutogradError("a tensor saved by " + name() + " for backward was modified by an in-place operation "
                          "after it was saved (version " + std::to_string(s.version) + ", now " +
                          std::to_string(s.storage->version()) + "); use an out-of-place op instead");
}

AccumulateGrad::AccumulateGrad(std::shared_ptr<TensorImpl> leaf) : Node(OpKind::AccumulateGrad), leaf_(std::move(leaf)) {
  output_shapes.push_back(leaf_->sizes);
}

TensorList AccumulateGrad::apply(TensorList&& grads) {
  Tensor g = std::move(grads[0]);
  for (auto& hook : leaf_->hooks) {
    Tensor r = hook(g);
    if (r.defined()) g = r;
  }
  if (!leaf_->grad) {
    // Take the buffer when nothing else holds it; otherwise copy, so two leaves
    // never share one gradient buffer (a later += on one would change the other).
    bool exclusive = g.impl_ptr().use_count() == 1 && g.impl()->storage.use_count() == 1 && g.is_contiguous() &&
                     g.dtype() == leaf_->dtype;
    Tensor own = exclusive ? g : g.to(leaf_->dtype).clone();
    leaf_->grad = own.impl_ptr();
  } else {
    Tensor(leaf_->grad).add_(g);  // rule 2: gradients from every backward call add up
  }
  return {};
}

Edge gradient_edge(const Tensor& t) {
  TensorImpl* impl = t.impl();
  if (impl->grad_fn) return {impl->grad_fn, impl->output_nr};
  if (!impl->requires_grad) return {};
  auto acc = impl->grad_accumulator.lock();
  if (!acc) {
    acc = std::make_shared<AccumulateGrad>(t.impl_ptr());
    impl->grad_accumulator = acc;
  }
  return {acc, 0};
}

bool any_requires_grad(std::initializer_list<const Tensor*> ts) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor* t : ts)
    if (t->defined() && t->requires_grad()) return true;
  return false;
}

bool any_requires_grad(const TensorList& ts) {
  if (!GradMode::is_enabled()) return false;
  for (const Tensor& t : ts)
    if (t.defined() && t.requires_grad()) return true;
  return false;
}

namespace {
void add_input(Node& node, const Tensor& in, bool broadcast) {
  if (in.defined() && in.requires_grad()) {
    node.next_edges.push_back(gradient_edge(in));
    node.input_meta.push_back({Shape(in.sizes()), in.dtype(), broadcast});
  } else {
    node.next_edges.push_back({});
    node.input_meta.push_back({in.defined() ? Shape(in.sizes()) : Shape(), in.defined() ? in.dtype() : kFloat, broadcast});
  }
}
void add_output(const std::shared_ptr<Node>& node, Tensor& out, uint32_t nr) {
  out.impl()->grad_fn = node;
  out.impl()->output_nr = nr;
  node->output_shapes.push_back(Shape(out.sizes()));
}
}  // namespace

void set_history(const std::shared_ptr<Node>& node, std::initializer_list<const Tensor*> inputs,
                 std::initializer_list<Tensor*> outputs, std::initializer_list<bool> broadcast) {
  size_t i = 0;
  auto b = broadcast.begin();
  for (const Tensor* in : inputs) {
    bool bc = i < broadcast.size() ? b[i] : false;
    add_input(*node, *in, bc);
    ++i;
  }
  uint32_t nr = 0;
  for (Tensor* out : outputs) add_output(node, *out, nr++);
  node->set_num_outputs(outputs.size());
  if (module_path_now) node->module_path = *module_path_now;
  if (has_observers()) notify_record(*node, std::vector<const Tensor*>(inputs), std::vector<Tensor*>(outputs));
}

void set_history(const std::shared_ptr<Node>& node, const TensorList& inputs, TensorList& outputs) {
  for (const Tensor& in : inputs) add_input(*node, in, false);
  uint32_t nr = 0;
  for (Tensor& out : outputs) add_output(node, out, nr++);
  node->set_num_outputs(outputs.size());
  if (module_path_now) node->module_path = *module_path_now;
  if (has_observers()) {
    std::vector<const Tensor*> in;
    std::vector<Tensor*> out;
    for (const Tensor& t : inputs) in.push_back(&t);
    for (Tensor& t : outputs) out.push_back(&t);
    notify_record(*node, in, out);
  }
}

}  // namespace autograd
}  // namespace dg
