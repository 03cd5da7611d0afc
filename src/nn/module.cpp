// nn::Module: registration, traversal, modes, state dicts, summary; Sequential;
// the forward guard that gives shape errors their module path and shape trail.
#include "dimgrad/nn/module.hpp"

#include <algorithm>
#include <iomanip>
#include <set>
#include <sstream>
#include <typeinfo>

#include "dimgrad/nn/activation.hpp"
#include "dimgrad/nn/conv.hpp"
#include "dimgrad/nn/linear.hpp"
#include "dimgrad/nn/normalization.hpp"
#include "dimgrad/nn/pooling.hpp"

namespace dg::nn {

Module::Module(std::string name) : name_(std::move(name)) {}

std::string Module::display_name() const {
  std::ostringstream d;
  pretty_print(d);
  std::string desc = d.str();
  if (path_.empty()) return desc;
  return path_ + " (" + desc + ")";
}

void Module::pretty_print(std::ostream& os) const { os << (name_.empty() ? "Module" : name_); }

Tensor Module::forward(const Tensor&) {
  throw Error(display_name() + " has no single-tensor forward(); call its own forward with the arguments it takes");
}

Tensor& Module::register_parameter(const std::string& name, Tensor t, bool requires_grad) {
  if (name.empty() || name.find('.') != std::string::npos)
    throw Error("register_parameter: invalid name '" + name + "' (must be non-empty and contain no '.')");
  if (t.defined() && requires_grad) t.requires_grad_(true);
  if (Tensor* existing = params_.find(name)) return *existing = t;
  return params_.insert(name, t);
}

Tensor& Module::register_buffer(const std::string& name, Tensor t) {
  if (name.empty() || name.find('.') != std::string::npos)
    throw Error("register_buffer: invalid name '" + name + "' (must be non-empty and contain no '.')");
  if (Tensor* existing = buffers_.find(name)) return *existing = t;
  return buffers_.insert(name, t);
}

void Module::add_child(const std::string& name, std::shared_ptr<Module> m) {
  if (!m) throw Error("register_module: module '" + name + "' is empty");
  if (name.empty() || name.find('.') != std::string::npos)
    throw Error("register_module: invalid name '" + name + "' (must be non-empty and contain no '.')");
  children_.insert(name, m);
  m->parent_ = this;
  m->update_paths(path_.empty() ? name : path_ + "." + name);
}

void Module::replace_module(const std::string& name, std::shared_ptr<Module> m) {
  auto* slot = children_.find(name);
  if (!slot) throw Error("replace_module: no submodule named '" + name + "'");
  *slot = m;
  m->parent_ = this;
  m->update_paths(path_.empty() ? name : path_ + "." + name);
}

void Module::update_paths(const std::string& path) {
  path_ = path;
  for (auto& c : children_) c.value()->update_paths(path_ + "." + c.key());
}

OrderedDict<std::string, Tensor> Module::named_parameters(bool recurse) const {
  OrderedDict<std::string, Tensor> out;
  std::set<TensorImpl*> seen;
  std::function<void(const Module&, const std::string&)> walk = [&](const Module& m, const std::string& prefix) {
    for (const auto& p : m.params_)
      if (p.value().defined() && seen.insert(p.value().impl()).second) out.insert(prefix + p.key(), p.value());
    if (recurse)
      for (const auto& c : m.children_) walk(*c.value(), prefix + c.key() + ".");
  };
  walk(*this, "");
  return out;
}

std::vector<Tensor> Module::parameters(bool recurse) const { return named_parameters(recurse).values(); }

OrderedDict<std::string, Tensor> Module::named_buffers(bool recurse) const {
  OrderedDict<std::string, Tensor> out;
  std::function<void(const Module&, const std::string&)> walk = [&](const Module& m, const std::string& prefix) {
    for (const auto& b : m.buffers_)
      if (b.value().defined()) out.insert(prefix + b.key(), b.value());
    if (recurse)
      for (const auto& c : m.children_) walk(*c.value(), prefix + c.key() + ".");
  };
  walk(*this, "");
  return out;
}

std::vector<Tensor> Module::buffers(bool recurse) const { return named_buffers(recurse).values(); }

std::vector<std::shared_ptr<Module>> Module::children() const { return children_.values(); }

OrderedDict<std::string, std::shared_ptr<Module>> Module::named_children() const { return children_; }

OrderedDict<std::string, std::shared_ptr<Module>> Module::named_modules(const std::string& prefix, bool include_self) {
  OrderedDict<std::string, std::shared_ptr<Module>> out;
  std::function<void(Module&, const std::string&)> walk = [&](Module& m, const std::string& p) {
    for (auto& c : m.children_) {
      std::string name = p.empty() ? c.key() : p + "." + c.key();
      out.insert(name, c.value());
      walk(*c.value(), name);
    }
  };
  if (include_self) out.insert(prefix, shared_from_this());
  walk(*this, prefix);
  return out;
}

std::vector<std::shared_ptr<Module>> Module::modules(bool include_self) { return named_modules("", include_self).values(); }

void Module::train(bool on) {
  training_ = on;
  for (auto& c : children_) c.value()->train(on);
}

void Module::zero_grad(bool set_to_none) {
  for (auto& p : named_parameters()) {
    Tensor& t = p.value();
    if (!t.grad().defined()) continue;
    if (set_to_none) t.set_grad(Tensor());
    else {
      NoGradGuard g;
      t.grad().zero_();
    }
  }
}

void Module::to(ScalarType dtype) {
  NoGradGuard g;
  for (auto& p : params_) {
    Tensor& t = p.value();
    if (!t.defined() || !t.is_floating_point() || t.dtype() == dtype) continue;
    bool rg = t.requires_grad();
    // Replace the storage inside the same TensorImpl so that handles held elsewhere
    // (an optimizer's parameter list, a holder's `weight` member) see the change.
    Tensor c = t.to(dtype);
    *t.impl() = *c.impl();
    t.impl()->requires_grad = rg;
  }
  for (auto& b : buffers_) {
    Tensor& t = b.value();
    if (!t.defined() || !t.is_floating_point() || t.dtype() == dtype) continue;
    Tensor c = t.to(dtype);
    *t.impl() = *c.impl();
  }
  for (auto& c : children_) c.value()->to(dtype);
}

OrderedDict<std::string, Tensor> Module::state_dict() const {
  OrderedDict<std::string, Tensor> out;
  std::function<void(const Module&, const std::string&)> walk = [&](const Module& m, const std::string& prefix) {
    for (const auto& p : m.params_)
      if (p.value().defined()) out.insert(prefix + p.key(), p.value());
    for (const auto& b : m.buffers_)
      if (b.value().defined()) out.insert(prefix + b.key(), b.value());
    for (const auto& c : m.children_) walk(*c.value(), prefix + c.key() + ".");
  };
  walk(*this, "");
  return out;
}

void Module::load_state_dict(const OrderedDict<std::string, Tensor>& state, bool strict) {
  std::map<std::string, Tensor> m;
  for (const auto& i : state) m[i.key()] = i.value();
  load_state_dict(m, strict);
}

void Module::load_state_dict(const std::map<std::string, Tensor>& state, bool strict) {
  auto own = state_dict();
  std::vector<std::string> missing, unexpected, misshaped;
  for (const auto& item : own) {
    auto it = state.find(item.key());
    if (it == state.end()) missing.push_back(item.key());
    else if (it->second.sizes() != item.value().sizes())
      misshaped.push_back(item.key() + ": checkpoint " + shape_str(it->second.sizes()) + ", model " +
                          shape_str(item.value().sizes()));
    // Floating-point values into an integer buffer (num_batches_tracked): the cast
    // of 1e300 or NaN is undefined behaviour, and such a file was not written by a
    // model of this architecture (fuzz finding). Other conversions are kept.
    else if (it->second.is_floating_point() && !item.value().is_floating_point())
      misshaped.push_back(item.key() + ": checkpoint " + dtype_name(it->second.dtype()) + ", model " +
                          dtype_name(item.value().dtype()));
  }
  for (const auto& [k, v] : state)
    if (!own.contains(k)) unexpected.push_back(k);
  if (!misshaped.empty() || (strict && (!missing.empty() || !unexpected.empty()))) {
    std::ostringstream e;
    e << "load_state_dict: the state does not match " << (name_.empty() ? "the model" : name_) << ":";
    auto list = [&](const char* what, const std::vector<std::string>& v) {
      if (v.empty()) return;
      e << "\n  " << what << " (" << v.size() << "):";
      for (const auto& s : v) e << "\n    " << s;
    };
    list("missing keys", missing);
    list("unexpected keys", unexpected);
    list("shape or dtype mismatches", misshaped);
    throw Error(e.str());
  }
  NoGradGuard g;
  for (auto& item : own) {
    auto it = state.find(item.key());
    if (it != state.end()) item.value().copy_(it->second);
  }
}

std::ostream& operator<<(std::ostream& os, const Module& m) {
  m.pretty_print(os);
  return os;
}

// -------------------------------------------------------------- forward trail
namespace {

struct TrailEntry {
  std::string label;
  Shape shape;
};
struct Trail {
  Shape input;
  std::vector<TrailEntry> entries;
  std::shared_ptr<Storage> last_output;  // storage of the last recorded output
  int depth = 0;
  bool active = false;
};
thread_local Trail trail;
const std::string kEmpty;

}  // namespace

const std::string& current_module_path() {
  const std::string* p = autograd::current_module_path();
  return p ? *p : kEmpty;
}

ForwardGuard::ForwardGuard(const Module& m, const Tensor& input)
    : module_(m), prev_path_(autograd::current_module_path()) {
  if (input.defined()) input_shape_ = Shape(input.sizes());
  if (trail.depth == 0 && input.defined()) {
    // A new forward pass starts when the top-level layer's input did not come
    // from the previous layer (a fresh batch rather than a chained activation).
    bool chained = trail.active && (input.grad_fn() != nullptr ||
                                    (trail.last_output && input.impl()->storage == trail.last_output));
    if (!chained) {
      trail.entries.clear();
      trail.input = input_shape_;
      trail.active = true;
    }
  }
  ++trail.depth;
  autograd::set_current_module_path(&module_.path());
}

ForwardGuard::~ForwardGuard() {
  --trail.depth;
  autograd::set_current_module_path(prev_path_);
}

const Tensor& ForwardGuard::done(const Tensor& y) {
  // Leaf layers only: a container's output is its last child's output.
  if (module_.children_.size() == 0 && y.defined()) {
    std::string label = module_.path().empty() ? module_.name() : module_.path();
    trail.entries.push_back({label, Shape(y.sizes())});
    if (trail.entries.size() > 64) trail.entries.erase(trail.entries.begin());
    trail.last_output = y.impl()->storage;
  }
  return y;
}

void ForwardGuard::done_shape(IntArrayRef shape) {
  if (module_.children_.size() != 0) return;
  std::string label = module_.path().empty() ? module_.name() : module_.path();
  trail.entries.push_back({label, Shape(shape)});
  if (trail.entries.size() > 64) trail.entries.erase(trail.entries.begin());
}

std::string shape_trail() {
  std::ostringstream s;
  s << "input " << shape_str(trail.input);
  for (const auto& e : trail.entries) s << " → " << e.label << " " << shape_str(e.shape);
  return s.str();
}

void ForwardGuard::shape_error(const std::string& expected, const std::string& hint) const {
  std::ostringstream m;
  std::ostringstream desc;
  module_.pretty_print(desc);
  std::string who = module_.path().empty() ? desc.str() : module_.path() + " (" + desc.str() + ")";
  m << who << " expected input " << expected << ", got " << shape_str(input_shape_);
  if (trail.active) m << "\n  shapes so far: " << shape_trail() << " → " << who << " ✗";
  if (!hint.empty()) m << "\n  hint: " << hint;
  throw ShapeError(m.str());
}

// ----------------------------------------------------------------- summary
std::string Module::summary(IntArrayRef input_shape) {
  std::ostringstream out;
  struct Row {
    std::string path, type, shape;
    int64_t params;
  };
  std::vector<Row> rows;
  // Run the forward layer by layer through Sequential-like traversal is not general;
  // instead record leaf outputs through the trail of one no-grad forward pass.
  NoGradGuard g;
  bool was_training = training_;
  train(false);
  Tensor x = zeros(input_shape);
  trail.active = false;
  trail.entries.clear();
  Tensor y = forward(x);
  train(was_training);
  auto mods = named_modules("", false);
  std::map<std::string, std::shared_ptr<Module>> by_path;
  for (auto& m : mods) by_path[m.value()->path()] = m.value();
  int64_t total = 0;
  for (const auto& e : trail.entries) {
    auto it = by_path.find(e.label);
    int64_t n = 0;
    std::string type = e.label;
    if (it != by_path.end()) {
      for (auto& p : it->second->parameters()) n += p.numel();
      type = it->second->name();
      if (!it->second->children().empty()) continue;  // parents are shown through their children
    }
    total += n;
    rows.push_back({e.label, type, shape_str(e.shape), n});
  }
  int64_t all = 0;
  for (auto& p : parameters()) all += p.numel();
  out << std::left << std::setw(24) << "layer" << std::setw(14) << "type" << std::setw(22) << "output shape"
      << std::right << std::setw(12) << "params" << "\n";
  out << std::string(72, '-') << "\n";
  out << std::left << std::setw(24) << "input" << std::setw(14) << "" << std::setw(22) << shape_str(input_shape)
      << std::right << std::setw(12) << 0 << "\n";
  for (const auto& r : rows)
    out << std::left << std::setw(24) << r.path << std::setw(14) << r.type << std::setw(22) << r.shape << std::right
        << std::setw(12) << r.params << "\n";
  out << std::string(72, '-') << "\n";
  out << "output " << shape_str(y.sizes()) << ", total parameters " << all << "\n";
  (void)total;
  return out.str();
}

// --------------------------------------------------------------- Sequential
void SequentialImpl::append(const std::string& name, std::shared_ptr<Module> m) {
  register_module(name, m);
  layers_.push_back(std::move(m));
}

Tensor SequentialImpl::forward(const Tensor& x) {
  ForwardGuard guard(*this, x);
  Tensor h = x;
  // Exactly these layer types (a subclass may override forward).
  auto exactly = [&](size_t i, const std::type_info& t) {
    if (i >= layers_.size()) return false;
    const Module& layer = *layers_[i];
    return typeid(layer) == t;
  };
  for (size_t i = 0; i < layers_.size(); ++i) {
    Module& layer = *layers_[i];
    // Conv2d → MaxPool2d and Conv2d → ReLU → MaxPool2d: one conv2d_max_pool2d op
    // (then the ReLU) (Conv2dImpl::forward_then_max_pool).
    if (exactly(i, typeid(Conv2dImpl)) && exactly(i + 1, typeid(MaxPool2dImpl))) {
      h = static_cast<Conv2dImpl&>(layer).forward_then_max_pool(static_cast<MaxPool2dImpl&>(*layers_[i + 1]), nullptr, h);
      ++i;
      continue;
    }
    if (exactly(i, typeid(Conv2dImpl)) && exactly(i + 1, typeid(ReLUImpl)) && exactly(i + 2, typeid(MaxPool2dImpl))) {
      h = static_cast<Conv2dImpl&>(layer).forward_then_max_pool(static_cast<MaxPool2dImpl&>(*layers_[i + 2]),
                                                                 &static_cast<ReLUImpl&>(*layers_[i + 1]), h);
      i += 2;
      continue;
    }
    // ReLU → MaxPool2d: the ReLU runs after the pooling (MaxPool2dImpl::forward_after_relu).
    if (exactly(i, typeid(ReLUImpl)) && exactly(i + 1, typeid(MaxPool2dImpl))) {
      h = static_cast<MaxPool2dImpl&>(*layers_[i + 1]).forward_after_relu(static_cast<ReLUImpl&>(layer), h);
      ++i;
      continue;
    }
    // Linear → ReLU: one linear_relu op (LinearImpl::forward_then_relu).
    if (exactly(i, typeid(LinearImpl)) && exactly(i + 1, typeid(ReLUImpl))) {
      h = static_cast<LinearImpl&>(layer).forward_then_relu(static_cast<ReLUImpl&>(*layers_[i + 1]), h);
      ++i;
      continue;
    }
    // BatchNorm → ReLU: one batch_norm_relu op (BatchNormImplBase::forward_then_relu).
    if ((exactly(i, typeid(BatchNorm1dImpl)) || exactly(i, typeid(BatchNorm2dImpl)) ||
         exactly(i, typeid(BatchNorm3dImpl))) &&
        exactly(i + 1, typeid(ReLUImpl))) {
      h = static_cast<BatchNormImplBase&>(layer).forward_then_relu(static_cast<ReLUImpl&>(*layers_[i + 1]), h);
      ++i;
      continue;
    }
    h = layer.forward(h);
  }
  return h;
}

Tensor FunctionalImpl::forward(const Tensor& x) {
  ForwardGuard guard(*this, x);
  return guard.done(f_(x));
}

}  // namespace dg::nn
