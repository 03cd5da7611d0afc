// dimgrad — reverse-mode automatic differentiation.
//
// Each differentiable op that runs with grad mode on and an input that requires
// grad records a Node: the op's backward, holding what it needs (saved tensors),
// and one Edge per input pointing at the Node that produced that input (or at the
// AccumulateGrad node of a leaf). backward() walks the Nodes in reverse
// topological order; for every gradient a Node returns the engine
//   1. sums it down to the input's shape where the op broadcast (sum_to),
//   2. checks that it has exactly the input's shape (rule 1: dL/dX has X's shape),
//   3. adds it (+=) to what other paths already sent to that input (rule 2).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "dimgrad/op_table.hpp"
#include "dimgrad/tensor.hpp"

namespace dg {

namespace autograd {

class Node;

// Where a gradient goes: input `input_nr` of `node` (the output_nr of the tensor
// that node produced). An edge with no node means "no gradient needed".
struct Edge {
  std::shared_ptr<Node> node;
  uint32_t input_nr = 0;
  bool valid() const { return node != nullptr; }
};

// What the engine checks each returned gradient against.
struct InputMeta {
  Shape shape;
  ScalarType dtype = kFloat;
  bool broadcast = false;  // the op broadcast this input: its gradient is sum_to'd first
};

class Node : public std::enable_shared_from_this<Node> {
 public:
  explicit Node(OpKind op) : op_(op), seq_nr_(next_sequence_nr()) {}
  virtual ~Node() = default;
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Turn the gradients of this op's outputs into gradients of its inputs (one
  // per next_edge, undefined where no gradient flows).
  virtual TensorList apply(TensorList&& grad_outputs) = 0;
  // Drop saved tensors once backward has run (unless retain_graph).
  virtual void release_saved() { saved_.clear(); released_ = true; }

  OpKind op() const { return op_; }
  // Whether input i needs a gradient (its edge leads somewhere): a backward skips
  // the work for inputs that do not.
  bool needs_grad(size_t i) const { return i < next_edges.size() && next_edges[i].node != nullptr; }
  virtual std::string name() const;
  uint64_t sequence_nr() const { return seq_nr_; }
  size_t num_outputs() const { return num_outputs_; }

  std::vector<Edge> next_edges;
  std::vector<InputMeta> input_meta;  // one per next_edge
  // Shapes of this node's outputs: what the engine checks incoming grads against.
  std::vector<Shape> output_shapes;
  // Hooks on the gradients of this node's outputs (non-leaf tensor hooks, retain_grad).
  std::vector<std::pair<uint32_t, GradHook>> pre_hooks;
  // Free-form attributes recorded at forward time for explain (e.g. "dim=1").
  std::string attrs;
  // Module path active when the op ran (set by nn::Module), for error messages.
  std::string module_path;

  // Save a tensor for backward: kept detached (no grad_fn, so no reference cycle)
  // with its storage version, checked when unpacked.
  Tensor save(const Tensor& t);
  // Throws if the graph was freed or a saved tensor was modified in place.
  void check_saved() const;
  bool released() const { return released_; }
  void set_num_outputs(size_t n) { num_outputs_ = n; }

  static uint64_t next_sequence_nr();

 protected:
  struct Saved {
    std::shared_ptr<Storage> storage;
    uint64_t version;
  };
  std::vector<Saved> saved_;
  bool released_ = false;

 private:
  OpKind op_;
  uint64_t seq_nr_;
  size_t num_outputs_ = 1;
};

// Leaf sink: adds the incoming gradient into leaf.grad() (after the leaf's hooks).
class AccumulateGrad : public Node {
 public:
  explicit AccumulateGrad(std::shared_ptr<TensorImpl> leaf);
  TensorList apply(TensorList&& grads) override;
  void release_saved() override {}
  std::string name() const override { return "AccumulateGrad"; }
  const std::shared_ptr<TensorImpl>& leaf() const { return leaf_; }

 private:
  std::shared_ptr<TensorImpl> leaf_;
};

// Grad mode (thread-local). NoGradGuard turns recording off for a scope.
struct GradMode {
  static bool is_enabled();
  static void set_enabled(bool enabled);
};

// The edge a gradient for `t` must be sent along (creating a leaf's AccumulateGrad).
Edge gradient_edge(const Tensor& t);
// True when grad mode is on and any of the tensors requires grad.
bool any_requires_grad(std::initializer_list<const Tensor*> ts);
bool any_requires_grad(const TensorList& ts);
// Connect `node` to `inputs` (one edge and InputMeta each) and make it the grad_fn
// of `outputs`. `broadcast` marks inputs whose gradients the engine sum_to's.
void set_history(const std::shared_ptr<Node>& node, std::initializer_list<const Tensor*> inputs,
                 std::initializer_list<Tensor*> outputs, std::initializer_list<bool> broadcast = {});
void set_history(const std::shared_ptr<Node>& node, const TensorList& inputs, TensorList& outputs);

// Run backward from `roots` with `grads` (undefined = ones for a scalar root).
void backward(const TensorList& roots, const TensorList& grads = {}, bool retain_graph = false);
// Gradients of `outputs` with respect to `inputs`, returned instead of accumulated
// into .grad(). LibTorch's signature: retain_graph defaults to create_graph;
// create_graph (higher-order gradients) is not supported and throws;
// `allow_unused` returns undefined tensors for unreachable inputs.
TensorList grad(const TensorList& outputs, const TensorList& inputs, const TensorList& grad_outputs = {},
                std::optional<bool> retain_graph = std::nullopt, bool create_graph = false,
                bool allow_unused = false);

// The module path active while ops run (set by nn::ForwardGuard, null outside a
// layer); set_history copies it into each new Node for error messages.
const std::string* current_module_path();
void set_current_module_path(const std::string* path);

// Node visited in backward order, for explain and tools.
void visit_graph(const Tensor& root, const std::function<void(Node&)>& fn);

}  // namespace autograd

// RAII: no graph is recorded in its scope (optimizer steps, evaluation).
class NoGradGuard {
 public:
  NoGradGuard() : prev_(autograd::GradMode::is_enabled()) { autograd::GradMode::set_enabled(false); }
  ~NoGradGuard() { autograd::GradMode::set_enabled(prev_); }
  NoGradGuard(const NoGradGuard&) = delete;
  NoGradGuard& operator=(const NoGradGuard&) = delete;

 private:
  bool prev_;
};
// RAII: grad mode forced on (or to `enabled`) for a scope.
class AutoGradMode {
 public:
  explicit AutoGradMode(bool enabled) : prev_(autograd::GradMode::is_enabled()) {
    autograd::GradMode::set_enabled(enabled);
  }
  ~AutoGradMode() { autograd::GradMode::set_enabled(prev_); }
  AutoGradMode(const AutoGradMode&) = delete;
  AutoGradMode& operator=(const AutoGradMode&) = delete;

 private:
  bool prev_;
};

// sum_to(grad, shape): the one place where broadcasting's backward happens.
// A value broadcast along a dimension was used once per position there, so its
// gradient is the sum over that dimension (leading dims summed away, size-1 dims
// summed with keepdim).
Tensor sum_to(const Tensor& grad, IntArrayRef shape);
// True if `from` broadcasts to `to`.
bool is_expandable_to(IntArrayRef from, IntArrayRef to);

}  // namespace dg
