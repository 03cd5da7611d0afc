// dimgrad — nn::Module, module holders, Options arguments, Sequential.
//
// As in LibTorch: a layer is a `FooImpl : Module` registered with DG_MODULE(Foo)
// (TORCH_MODULE also works), used through its holder with `->`:
//   nn::Linear fc(784, 10);  auto y = fc->forward(x);
// Parameters, buffers and submodules are registered by name, so named_parameters()
// yields dotted paths like "features.0.weight" (the same names PyTorch uses).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <ostream>
#include <string>
#include <utility>
#include <vector>

#include "dimgrad/autograd.hpp"
#include "dimgrad/ops.hpp"
#include "dimgrad/tensor.hpp"

// Builder-style option: `Conv2dOptions(1, 32, 3).stride(2).padding(1)`.
#define DG_ARG(T, name)                                                     \
 public:                                                                    \
  inline auto name(const T& new_##name)->decltype(*this) {                  \
    this->name##_ = new_##name;                                             \
    return *this;                                                           \
  }                                                                         \
  inline const T& name() const noexcept { return this->name##_; }           \
  inline T& name() noexcept { return this->name##_; }                       \
                                                                            \
 private:                                                                   \
  T name##_

#ifndef TORCH_ARG
#define TORCH_ARG(T, name) DG_ARG(T, name)
#endif

namespace dg::nn {

// An insertion-ordered name → value list, as LibTorch's OrderedDict: items have
// key() and value(); lookup by name with [] or find().
template <class K, class V> class OrderedDict {
 public:
  class Item {
   public:
    Item(K k, V v) : key_(std::move(k)), value_(std::move(v)) {}
    const K& key() const { return key_; }
    V& value() { return value_; }
    const V& value() const { return value_; }
    V* operator->() { return &value_; }
    const V* operator->() const { return &value_; }
    std::pair<K, V> pair() const { return {key_, value_}; }

   private:
    K key_;
    V value_;
  };
  OrderedDict() = default;
  V& insert(const K& k, V v) {
    if (index_.count(k)) throw Error("OrderedDict: key '" + k + "' already exists");
    index_[k] = items_.size();
    items_.emplace_back(k, std::move(v));
    return items_.back().value();
  }
  V& operator[](const K& k) {
    auto it = index_.find(k);
    if (it == index_.end()) throw Error("key '" + k + "' not found");
    return items_[it->second].value();
  }
  const V& operator[](const K& k) const {
    auto it = index_.find(k);
    if (it == index_.end()) throw Error("key '" + k + "' not found");
    return items_[it->second].value();
  }
  V* find(const K& k) {
    auto it = index_.find(k);
    return it == index_.end() ? nullptr : &items_[it->second].value();
  }
  const V* find(const K& k) const {
    auto it = index_.find(k);
    return it == index_.end() ? nullptr : &items_[it->second].value();
  }
  bool contains(const K& k) const { return index_.count(k) > 0; }
  size_t size() const { return items_.size(); }
  bool is_empty() const { return items_.empty(); }
  auto begin() { return items_.begin(); }
  auto end() { return items_.end(); }
  auto begin() const { return items_.begin(); }
  auto end() const { return items_.end(); }
  std::vector<K> keys() const {
    std::vector<K> r;
    for (auto& i : items_) r.push_back(i.key());
    return r;
  }
  std::vector<V> values() const {
    std::vector<V> r;
    for (auto& i : items_) r.push_back(i.value());
    return r;
  }

 private:
  std::vector<Item> items_;
  std::map<K, size_t> index_;
};

class Module : public std::enable_shared_from_this<Module> {
 public:
  explicit Module(std::string name = "");
  virtual ~Module() = default;
  Module(const Module&) = delete;
  Module& operator=(const Module&) = delete;

  // The class name ("Linear"); set by each layer.
  const std::string& name() const { return name_; }
  // Dotted path from the root module ("features.0"); empty for the root.
  const std::string& path() const { return path_; }
  // "fc1 (Linear 3136→128)": path (or class name at the root) with the layer's description.
  std::string display_name() const;
  // One-line description of the configuration, e.g. "Linear(in_features=784, out_features=10, bias=true)".
  virtual void pretty_print(std::ostream& os) const;

  // A single-tensor forward, so Sequential and tools can run any layer. Layers
  // override it; modules with other signatures (LSTM) throw a clear error here.
  virtual Tensor forward(const Tensor& x);

  Tensor& register_parameter(const std::string& name, Tensor t, bool requires_grad = true);
  Tensor& register_buffer(const std::string& name, Tensor t);
  template <class M> std::shared_ptr<M> register_module(const std::string& name, std::shared_ptr<M> m) {
    add_child(name, m);
    return m;
  }
  template <class Holder, class = typename Holder::ContainedType>
  Holder register_module(const std::string& name, Holder h) {
    add_child(name, h.ptr());
    return h;
  }
  // Replace a registered child (used to swap layers).
  void replace_module(const std::string& name, std::shared_ptr<Module> m);

  std::vector<Tensor> parameters(bool recurse = true) const;
  OrderedDict<std::string, Tensor> named_parameters(bool recurse = true) const;
  std::vector<Tensor> buffers(bool recurse = true) const;
  OrderedDict<std::string, Tensor> named_buffers(bool recurse = true) const;
  std::vector<std::shared_ptr<Module>> children() const;
  OrderedDict<std::string, std::shared_ptr<Module>> named_children() const;
  // This module and every descendant, depth first ("" is this module).
  std::vector<std::shared_ptr<Module>> modules(bool include_self = true);
  OrderedDict<std::string, std::shared_ptr<Module>> named_modules(const std::string& prefix = "", bool include_self = true);

  virtual void train(bool on = true);
  void eval() { train(false); }
  bool is_training() const { return training_; }
  void zero_grad(bool set_to_none = true);
  // Converts parameters and buffers of floating dtype (in place of the handles).
  virtual void to(ScalarType dtype);

  // Parameters and buffers by dotted name (what checkpoints store).
  OrderedDict<std::string, Tensor> state_dict() const;
  // Copies values in (no grad). strict: every key must match, with the same shape;
  // errors list the missing, unexpected and mis-shaped keys.
  void load_state_dict(const std::map<std::string, Tensor>& state, bool strict = true);
  void load_state_dict(const OrderedDict<std::string, Tensor>& state, bool strict = true);

  // Runs forward on zeros of input_shape and prints each leaf layer's path, output
  // shape and parameter count; returns the text.
  std::string summary(IntArrayRef input_shape);

 protected:
  Module* parent_ = nullptr;
  std::string name_;
  bool training_ = true;

 private:
  void add_child(const std::string& name, std::shared_ptr<Module> m);
  void update_paths(const std::string& path);
  OrderedDict<std::string, Tensor> params_;
  OrderedDict<std::string, Tensor> buffers_;
  OrderedDict<std::string, std::shared_ptr<Module>> children_;
  std::string path_;
  friend class ForwardGuard;
};

std::ostream& operator<<(std::ostream& os, const Module& m);

// ------------------------------------------------------------------- holders
template <class Impl> class ModuleHolder {
 public:
  using ContainedType = Impl;
  // Default: constructs Impl with no arguments where it can.
  ModuleHolder() : impl_(make_default()) {}
  ModuleHolder(std::nullptr_t) {}  // NOLINT: empty holder, like LibTorch
  ModuleHolder(std::shared_ptr<Impl> p) : impl_(std::move(p)) {}  // NOLINT
  template <class Head, class... Tail,
            class = std::enable_if_t<!std::is_same_v<std::decay_t<Head>, std::nullptr_t> &&
                                     !std::is_same_v<std::decay_t<Head>, std::shared_ptr<Impl>> &&
                                     !std::is_base_of_v<ModuleHolder, std::decay_t<Head>>>>
  explicit ModuleHolder(Head&& head, Tail&&... tail)
      : impl_(std::make_shared<Impl>(std::forward<Head>(head), std::forward<Tail>(tail)...)) {}

  Impl* operator->() const { return check(); }
  Impl& operator*() const { return *check(); }
  Impl* get() const { return check(); }
  const std::shared_ptr<Impl>& ptr() const { return impl_; }
  bool is_empty() const { return impl_ == nullptr; }
  explicit operator bool() const { return impl_ != nullptr; }
  template <class... Args> auto operator()(Args&&... args) const { return check()->forward(std::forward<Args>(args)...); }

 private:
  static std::shared_ptr<Impl> make_default() {
    if constexpr (std::is_default_constructible_v<Impl>) return std::make_shared<Impl>();
    else return nullptr;
  }
  Impl* check() const {
    if (!impl_) throw Error("accessing an empty module holder (constructed with nullptr)");
    return impl_.get();
  }
  std::shared_ptr<Impl> impl_;
};

#define DG_MODULE(Name)                                   \
  class Name : public ::dg::nn::ModuleHolder<Name##Impl> { \
   public:                                                \
    using ::dg::nn::ModuleHolder<Name##Impl>::ModuleHolder; \
  }
#ifndef TORCH_MODULE
#define TORCH_MODULE(Name) DG_MODULE(Name)
#endif

// ------------------------------------------------------------ forward guard
// Every built-in layer's forward starts with a ForwardGuard: it makes the
// layer's path the "current module" (recorded in each autograd Node, shown in
// errors) and keeps a trail of recent layers' output shapes, so a shape error can
// show how the input got its shape: input [64,1,28,28] → conv1 [64,32,28,28] → ...
class ForwardGuard {
 public:
  ForwardGuard(const Module& m, const Tensor& input);
  ~ForwardGuard();
  ForwardGuard(const ForwardGuard&) = delete;
  ForwardGuard& operator=(const ForwardGuard&) = delete;
  // Throws ShapeError: "<path> (<Layer desc>) expected <expected>, got <shape>" + trail + hint.
  [[noreturn]] void shape_error(const std::string& expected, const std::string& hint = "") const;
  // Records the layer's output shape in the trail; returns y.
  const Tensor& done(const Tensor& y);
  // The same for a layer whose output is never made as a tensor of its own (the
  // convolution inside a fused conv2d_max_pool2d).
  void done_shape(IntArrayRef shape);

 private:
  const Module& module_;
  Shape input_shape_;
  const std::string* prev_path_;
};
// The path of the innermost running layer (empty outside any layer).
const std::string& current_module_path();
// "input [64,1,28,28] → conv1 [64,32,28,28] → ..." for the current forward pass.
std::string shape_trail();

// --------------------------------------------------------------- Sequential
// Runs its layers in order, each on the previous one's output. Three exceptions,
// invisible in values and gradients (each for exactly these layer types, not
// subclasses):
// - a ReLU followed by a MaxPool2d runs as the pooling then the ReLU
//   (MaxPool2dImpl::forward_after_relu), so the ReLU and its backward touch a
//   quarter of the data; the graph (and `explain`) shows the max_pool2d node
//   before the relu node;
// - a Linear or a BatchNorm1d/2d/3d followed by a ReLU runs as one op,
//   linear_relu or batch_norm_relu (LinearImpl / BatchNormImplBase::
//   forward_then_relu): the layer's output pass writes max(·, 0) and its
//   backward masks dY, with no relu node of its own;
// - a Conv2d followed by a MaxPool2d, or by a ReLU and a MaxPool2d, runs as one
//   op conv2d_max_pool2d (then the ReLU, after the pooling as above;
//   Conv2dImpl::forward_then_max_pool): the convolution's output is pooled in
//   the layout the convolution wrote it in and is not kept.
class SequentialImpl : public Module {
 public:
  SequentialImpl() : Module("Sequential") {}
  template <class... Ms> explicit SequentialImpl(Ms&&... ms) : Module("Sequential") { (push_back(std::forward<Ms>(ms)), ...); }
  template <class M> void push_back(M&& m) { push_back(std::to_string(size()), std::forward<M>(m)); }
  template <class M> void push_back(const std::string& name, M&& m) {
    if constexpr (requires { m.ptr(); }) append(name, m.ptr());
    else append(name, std::shared_ptr<Module>(std::forward<M>(m)));
  }
  Tensor forward(const Tensor& x) override;
  size_t size() const { return layers_.size(); }
  std::shared_ptr<Module> operator[](size_t i) const { return layers_.at(i); }
  template <class M> std::shared_ptr<M> at(size_t i) const { return std::dynamic_pointer_cast<M>(layers_.at(i)); }
  std::shared_ptr<Module> ptr(size_t i) const { return layers_.at(i); }
  auto begin() const { return layers_.begin(); }
  auto end() const { return layers_.end(); }
  void pretty_print(std::ostream& os) const override { os << "Sequential"; }

 private:
  void append(const std::string& name, std::shared_ptr<Module> m);
  std::vector<std::shared_ptr<Module>> layers_;
};
DG_MODULE(Sequential);

// A module made from a function (e.g. a lambda applying F::relu), for Sequential.
class FunctionalImpl : public Module {
 public:
  explicit FunctionalImpl(std::function<Tensor(const Tensor&)> f, std::string name = "Functional")
      : Module(std::move(name)), f_(std::move(f)) {}
  Tensor forward(const Tensor& x) override;

 private:
  std::function<Tensor(const Tensor&)> f_;
};
DG_MODULE(Functional);

}  // namespace dg::nn
