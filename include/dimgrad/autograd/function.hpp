// dimgrad — custom differentiable ops, written the way a course assignment asks:
//
//   struct Affine : dg::autograd::Function<Affine> {
//     static dg::Tensor forward(dg::autograd::AutogradContext* ctx, dg::Tensor x, dg::Tensor w) {
//       ctx->save_for_backward({x, w});
//       return x.mm(w);
//     }
//     static dg::autograd::tensor_list backward(dg::autograd::AutogradContext* ctx, dg::autograd::tensor_list g) {
//       auto s = ctx->get_saved_variables();
//       return {g[0].mm(s[1].t()), s[0].t().mm(g[0])};   // dX = dY·Wᵀ, dW = Xᵀ·dY
//     }
//   };
//   dg::Tensor y = Affine::apply(x, w);
//
// The op joins the graph like a built-in: the engine checks the shape of every
// gradient its backward returns (dL/dX must have X's shape) and sums broadcasts
// nowhere on its behalf. Same API as LibTorch's torch::autograd::Function.
#pragma once

#include <cxxabi.h>

#include <map>
#include <memory>
#include <string>
#include <typeinfo>
#include <variant>

#include "dimgrad/autograd.hpp"

namespace dg::autograd {

using tensor_list = std::vector<Tensor>;
using variable_list = std::vector<Tensor>;

// A value kept in ctx->saved_data (LibTorch's IValue subset).
class SavedValue {
 public:
  SavedValue() = default;
  SavedValue(double v) : v_(v) {}            // NOLINT
  SavedValue(int64_t v) : v_(v) {}           // NOLINT
  SavedValue(int v) : v_(int64_t(v)) {}      // NOLINT
  SavedValue(bool v) : v_(v) {}              // NOLINT
  SavedValue(Tensor v) : v_(std::move(v)) {}  // NOLINT
  SavedValue(std::string v) : v_(std::move(v)) {}  // NOLINT
  double toDouble() const;
  int64_t toInt() const;
  bool toBool() const;
  const Tensor& toTensor() const;
  const std::string& toStringRef() const;

 private:
  std::variant<std::monostate, double, int64_t, bool, Tensor, std::string> v_;
};

class AutogradContext {
 public:
  // Tensors backward needs; kept detached, checked for in-place changes.
  void save_for_backward(tensor_list ts);
  tensor_list get_saved_variables() const;
  // Outputs that have no gradient (e.g. indices).
  void mark_non_differentiable(const tensor_list& outputs);
  // Whether the i-th tensor input of forward needs a gradient.
  bool needs_input_grad(size_t i) const;
  std::map<std::string, SavedValue> saved_data;
  const std::vector<TensorImpl*>& non_differentiable() const { return non_differentiable_; }

 private:
  friend class CustomNodeBase;
  Node* node_ = nullptr;
  tensor_list saved_;
  std::vector<bool> needs_;
  std::vector<TensorImpl*> non_differentiable_;
  template <class T> friend struct Function;
};

class CustomNodeBase : public Node {
 public:
  explicit CustomNodeBase(std::string name) : Node(OpKind::Custom), name_(std::move(name)) { ctx.node_ = this; }
  std::string name() const override { return name_; }
  void release_saved() override;
  AutogradContext ctx;
  size_t num_tensor_inputs = 0;

 protected:
  // Checks the user's backward returned one gradient per tensor input (more are
  // allowed if undefined, as LibTorch), naming the op otherwise.
  tensor_list check_count(tensor_list grads) const;

 private:
  std::string name_;
};

std::string demangle(const char* mangled);

namespace detail {
inline void collect_tensor(std::vector<const Tensor*>& out, const Tensor& t) { out.push_back(&t); }
template <class T> void collect_tensor(std::vector<const Tensor*>&, const T&) {}
// Wires node to inputs and outputs; returns the outputs with history.
void wire_custom(const std::shared_ptr<CustomNodeBase>& node, const std::vector<const Tensor*>& inputs,
                 tensor_list& outputs);
}  // namespace detail

template <class T> struct Function {
  template <class... Args> static auto apply(Args&&... args) {
    std::vector<const Tensor*> inputs;
    (detail::collect_tensor(inputs, args), ...);
    bool needs = false;
    if (GradMode::is_enabled())
      for (const Tensor* t : inputs) needs = needs || (t->defined() && t->requires_grad());

    struct Node_ : CustomNodeBase {
      using CustomNodeBase::CustomNodeBase;
      tensor_list apply(tensor_list&& grads) override { return check_count(T::backward(&ctx, std::move(grads))); }
    };
    auto node = std::make_shared<Node_>(demangle(typeid(T).name()));
    node->num_tensor_inputs = inputs.size();
    for (const Tensor* t : inputs) node->ctx.needs_.push_back(needs && t->defined() && t->requires_grad());

    using Result = decltype(T::forward(&node->ctx, std::forward<Args>(args)...));
    Result result = [&] {
      NoGradGuard no_grad;  // forward's own ops are not recorded: backward is the user's
      return T::forward(&node->ctx, std::forward<Args>(args)...);
    }();
    if (!needs) return result;
    if constexpr (std::is_same_v<Result, Tensor>) {
      tensor_list outs{result};
      detail::wire_custom(node, inputs, outs);
      return outs[0];
    } else {
      tensor_list outs(result.begin(), result.end());
      detail::wire_custom(node, inputs, outs);
      return Result(outs.begin(), outs.end());
    }
  }
};

}  // namespace dg::autograd
