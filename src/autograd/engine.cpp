// The backward engine: reverse topological walk, sum_to, shape check, accumulation.
#include <algorithm>
#include <queue>
#include <unordered_map>
#include <unordered_set>

#include "dimgrad/autograd.hpp"
#include "dimgrad/autograd/observer.hpp"
#include "dimgrad/ops.hpp"
#include "kernels/kernels.hpp"

namespace dg {

bool is_expandable_to(IntArrayRef from, IntArrayRef to) {
  if (from.size() > to.size()) return false;
  size_t off = to.size() - from.size();
  for (size_t i = 0; i < from.size(); ++i)
    if (from[i] != 1 && from[i] != to[i + off]) return false;
  return true;
}

Tensor sum_to(const Tensor& grad, IntArrayRef shape) {
  if (grad.sizes() == shape) return grad;
  if (!is_expandable_to(shape, grad.sizes()))
    throw ShapeError("sum_to: a gradient of shape " + shape_str(grad.sizes()) + " cannot be summed to shape " +
                     shape_str(shape) + " (that shape does not broadcast to it)");
  // A leading dim the value did not have, or a size-1 dim that was stretched:
  // the value was used once per position there, so its gradient sums over it.
  const int64_t lead = grad.dim() - static_cast<int64_t>(shape.size());
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < lead; ++d) dims.push_back(d);
  for (size_t i = 0; i < shape.size(); ++i)
    if (shape[i] == 1 && grad.size(lead + static_cast<int64_t>(i)) != 1) dims.push_back(lead + static_cast<int64_t>(i));
  NoGradGuard no_grad;
  Tensor s = kernels::sum(grad, dims, /*keepdim=*/true);
  return s.reshape(shape);
}

namespace autograd {

namespace {

struct BySequence {
  bool operator()(const Node* a, const Node* b) const { return a->sequence_nr() < b->sequence_nr(); }
};

// Kahn's algorithm from the roots: a node runs once every node that sends it a
// gradient has run; among ready nodes the most recently created runs first.
std::vector<Node*> backward_order(const std::vector<Node*>& roots) {
  std::unordered_map<Node*, int> deps;
  std::unordered_set<Node*> seen(roots.begin(), roots.end());
  // Each node once, even when two roots are outputs of one node (h and c of an
  // LSTM step): walking it twice would count its edges twice, and its inputs
  // would never become ready.
  std::vector<Node*> stack(seen.begin(), seen.end());
  while (!stack.empty()) {
    Node* n = stack.back();
    stack.pop_back();
    for (const Edge& e : n->next_edges) {
      if (!e.node) continue;
      ++deps[e.node.get()];
      if (seen.insert(e.node.get()).second) stack.push_back(e.node.get());
    }
  }
  std::priority_queue<Node*, std::vector<Node*>, BySequence> ready;
  for (Node* r : std::unordered_set<Node*>(roots.begin(), roots.end()))
    if (deps[r] == 0) ready.push(r);
  std::vector<Node*> order;
  order.reserve(seen.size());
  while (!ready.empty()) {
    Node* n = ready.top();
    ready.pop();
    order.push_back(n);
    for (const Edge& e : n->next_edges)
      if (e.node && --deps[e.node.get()] == 0) ready.push(e.node.get());
  }
  return order;
}

void check_gradient(const Node& node, size_t i, Tensor& g) {
  const InputMeta& meta = node.input_meta[i];
  if (g.sizes() != IntArrayRef(meta.shape)) {
    if (meta.broadcast && is_expandable_to(meta.shape, g.sizes())) {
      g = sum_to(g, meta.shape);
    } else {
      throw ShapeError("backward of " + node.name() + (node.module_path.empty() ? "" : " (in " + node.module_path + ")") +
                       " returned a gradient of shape " + shape_str(g.sizes()) + " for input " + std::to_string(i) +
                       ", expected " + shape_str(meta.shape) +
                       " (dL/dX must have the shape of X)");
    }
  }
  if (g.dtype() != meta.dtype) g = g.to(meta.dtype);
}

struct Capture {
  std::unordered_map<const Node*, std::vector<std::pair<uint32_t, size_t>>> targets;  // node → (input_nr, result slot)
  TensorList results;
};

void run_engine(const TensorList& roots, const TensorList& grads, bool retain_graph, Capture* capture) {
  NoGradGuard no_grad;
  std::unordered_map<Node*, TensorList> buffers;
  std::vector<Node*> root_nodes;
  std::vector<std::shared_ptr<Node>> keep_alive;
  for (size_t i = 0; i < roots.size(); ++i) {
    const Tensor& r = roots[i];
    if (!r.defined()) throw AutogradError("backward: a root tensor is undefined");
    if (!r.requires_grad())
      throw AutogradError("backward: the tensor (shape " + shape_str(r.sizes()) +
                          ") does not require grad and has no grad_fn; call requires_grad_() on the inputs "
                          "whose gradients you want before computing it");
    Tensor g = i < grads.size() ? grads[i] : Tensor();
    if (!g.defined()) {
      if (r.numel() != 1)
        throw AutogradError("backward: grad can be created implicitly only for a scalar output, but the output has "
                            "shape " + shape_str(r.sizes()) + "; pass a gradient of that shape, or reduce it first "
                            "(e.g. loss.sum())");
      g = ones_like(r);
    } else if (g.sizes() != r.sizes()) {
      throw ShapeError("backward: the gradient has shape " + shape_str(g.sizes()) + " but the output has shape " +
                       shape_str(r.sizes()));
    }
    Edge e = gradient_edge(r);
    keep_alive.push_back(e.node);
    auto& buf = buffers[e.node.get()];
    buf.resize(std::max<size_t>(e.node->num_outputs(), e.input_nr + 1));
    buf[e.input_nr] = buf[e.input_nr].defined() ? buf[e.input_nr] + g : g;
    root_nodes.push_back(e.node.get());
  }

  for (Node* node : backward_order(root_nodes)) {
    auto it = buffers.find(node);
    TensorList in = it == buffers.end() ? TensorList() : std::move(it->second);
    if (it != buffers.end()) buffers.erase(it);
    in.resize(std::max<size_t>(node->num_outputs(), 1));
    for (auto& [nr, hook] : node->pre_hooks) {
      if (nr < in.size() && in[nr].defined()) {
        Tensor r = hook(in[nr]);
        if (r.defined()) in[nr] = r;
      }
    }
    bool is_accumulate = node->op() == OpKind::AccumulateGrad;
    if (capture) {
      auto t = capture->targets.find(node);
      if (t != capture->targets.end())
        for (auto [nr, slot] : t->second)
          if (nr < in.size()) capture->results[slot] = in[nr];
      if (is_accumulate) continue;  // autograd::grad returns gradients, it never writes .grad
    }
    bool any = false;
    for (const Tensor& g : in) any = any || g.defined();
    if (!any) continue;
    node->check_saved();
    const bool observed = has_observers();
    TensorList grad_out_copy = observed ? in : TensorList();
    TensorList out = node->apply(std::move(in));
    if (!is_accumulate && out.size() != node->next_edges.size())
      throw AutogradError("backward of " + node->name() + " returned " + std::to_string(out.size()) +
                          " gradients for " + std::to_string(node->next_edges.size()) + " inputs");
    for (size_t i = 0; i < out.size(); ++i)
      if (node->next_edges[i].node && out[i].defined()) check_gradient(*node, i, out[i]);
    if (observed) notify_backward(*node, grad_out_copy, out);
    for (size_t i = 0; i < out.size(); ++i) {
      const Edge& e = node->next_edges[i];
      if (!e.node || !out[i].defined()) continue;
      auto& buf = buffers[e.node.get()];
      if (buf.size() <= e.input_nr) buf.resize(std::max<size_t>(e.node->num_outputs(), e.input_nr + 1));
      Tensor& slot = buf[e.input_nr];
      // Rule 2: a value used by several ops receives the sum of their gradients.
      slot = slot.defined() ? slot + out[i] : std::move(out[i]);
    }
    if (!retain_graph) node->release_saved();
  }
}

}  // namespace

void backward(const TensorList& roots, const TensorList& grads, bool retain_graph) {
  run_engine(roots, grads, retain_graph, nullptr);
}

TensorList grad(const TensorList& outputs, const TensorList& inputs, const TensorList& grad_outputs,
                std::optional<bool> retain_graph, bool create_graph, bool allow_unused) {
  if (create_graph)
    throw AutogradError("autograd::grad: create_graph=true (a graph of the backward pass, for higher-order "
                        "gradients) is not supported; backward runs without recording");
  Capture cap;
  cap.results.resize(inputs.size());
  std::vector<std::shared_ptr<Node>> keep;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad())
      throw AutogradError("autograd::grad: input " + std::to_string(i) + " does not require grad");
    Edge e = gradient_edge(inputs[i]);
    keep.push_back(e.node);
    cap.targets[e.node.get()].push_back({e.input_nr, i});
  }
  run_engine(outputs, grad_outputs, retain_graph.value_or(create_graph), &cap);
  for (size_t i = 0; i < inputs.size(); ++i)
    if (!cap.results[i].defined() && !allow_unused)
      throw AutogradError("autograd::grad: input " + std::to_string(i) + " (shape " + shape_str(inputs[i].sizes()) +
                          ") was not used to compute the outputs; pass allow_unused=true to get an undefined "
                          "gradient for it");
  return cap.results;
}

void visit_graph(const Tensor& root, const std::function<void(Node&)>& fn) {
  if (!root.defined() || !root.grad_fn()) return;
  for (Node* n : backward_order({root.grad_fn().get()})) fn(*n);
}

}  // namespace autograd

// ------------------------------------------------------- Tensor's autograd API
bool Tensor::requires_grad() const { return impl_->requires_grad || impl_->grad_fn != nullptr; }

Tensor& Tensor::requires_grad_(bool r) {
  if (!is_leaf())
    throw AutogradError("requires_grad_() can only change leaf tensors; this tensor was computed by " +
                        impl_->grad_fn->name() + ". Use detach() to get a leaf.");
  if (r && !is_floating_point())
    throw DTypeError(std::string("only floating-point tensors can require gradients, got ") + dtype_name(dtype()));
  impl_->requires_grad = r;
  return *this;
}

Tensor Tensor::grad() const { return impl_->grad ? Tensor(impl_->grad) : Tensor(); }

void Tensor::set_grad(const Tensor& g) {
  if (g.defined() && g.sizes() != sizes())
    throw ShapeError("set_grad: gradient of shape " + shape_str(g.sizes()) + " for a tensor of shape " +
                     shape_str(sizes()));
  impl_->grad = g.defined() ? g.impl_ptr() : nullptr;
}

void Tensor::backward(const Tensor& gradient, bool retain_graph) const {
  autograd::backward({*this}, {gradient}, retain_graph);
}

Tensor Tensor::detach() const {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = impl_->storage;
  impl->sizes = impl_->sizes;
  impl->strides = impl_->strides;
  impl->offset = impl_->offset;
  impl->dtype = impl_->dtype;
  return Tensor(std::move(impl));
}

Tensor& Tensor::detach_() {
  impl_->grad_fn.reset();
  impl_->requires_grad = false;
  return *this;
}

void Tensor::retain_grad() const {
  if (is_leaf()) return;  // leaves keep their gradient anyway
  if (impl_->retains_grad) return;
  impl_->retains_grad = true;
  std::weak_ptr<TensorImpl> weak = impl_;
  impl_->grad_fn->pre_hooks.push_back({impl_->output_nr, [weak](const Tensor& g) {
                                         if (auto self = weak.lock()) {
                                           Tensor acc = self->grad ? Tensor(self->grad) + g : g.clone();
                                           self->grad = acc.impl_ptr();
                                         }
                                         return Tensor();
                                       }});
}

void Tensor::add_hook(GradHook h) const {
  if (!requires_grad()) throw AutogradError("register_hook: the tensor does not require grad");
  if (is_leaf()) impl_->hooks.push_back(std::move(h));
  else impl_->grad_fn->pre_hooks.push_back({impl_->output_nr, std::move(h)});
}

}  // namespace dg
