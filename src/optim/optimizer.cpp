// The Optimizer base: parameter groups, zero_grad, the flat state dict; and the
// field and loop helpers of optim_util.hpp.
#include "dimgrad/optim/optimizer.hpp"

#include <cmath>
#include <cstdio>
#include <sstream>
#include <typeinfo>

#include "dimgrad/autograd.hpp"
#include "optim/optim_util.hpp"
#include "tensor/internal.hpp"

namespace dg::optim {

// ============================================================== param group
OptimizerParamGroup::OptimizerParamGroup(const OptimizerParamGroup& other)
    : params_(other.params_),
      options_(other.has_options() ? other.options().clone() : nullptr),
      initial_lr_(other.initial_lr_) {}

OptimizerParamGroup& OptimizerParamGroup::operator=(const OptimizerParamGroup& other) {
  if (this != &other) {
    params_ = other.params_;
    options_ = other.has_options() ? other.options().clone() : nullptr;
    initial_lr_ = other.initial_lr_;
  }
  return *this;
}

OptimizerParamGroup::OptimizerParamGroup(std::vector<Tensor> params) : params_(std::move(params)) {}
OptimizerParamGroup::OptimizerParamGroup(std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> options)
    : params_(std::move(params)), options_(std::move(options)) {}
OptimizerParamGroup::OptimizerParamGroup(std::vector<Tensor> params, const OptimizerOptions& options)
    : params_(std::move(params)), options_(options.clone()) {}

OptimizerOptions& OptimizerParamGroup::options() {
  if (!options_) throw Error("OptimizerParamGroup::options(): this group has no options (it gets the optimizer's "
                             "defaults once added to an optimizer)");
  return *options_;
}
const OptimizerOptions& OptimizerParamGroup::options() const {
  return const_cast<OptimizerParamGroup*>(this)->options();
}

// ================================================================ optimizer
Optimizer::Optimizer(std::vector<OptimizerParamGroup> param_groups, std::unique_ptr<OptimizerOptions> defaults)
    : defaults_(std::move(defaults)) {
  if (!defaults_) throw Error("Optimizer: the default options are null");
  size_t total = 0;
  for (const auto& g : param_groups) {
    add_param_group(g);
    total += g.params().size();
  }
  if (total == 0) throw Error("optimizer got an empty parameter list");
}

Optimizer::Optimizer(std::vector<Tensor> parameters, std::unique_ptr<OptimizerOptions> defaults)
    : Optimizer(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(parameters))}, std::move(defaults)) {}

void Optimizer::add_param_group(const OptimizerParamGroup& param_group) {
  const std::string where = std::string(name_or_base()) + " param group " + std::to_string(param_groups_.size());
  for (size_t i = 0; i < param_group.params().size(); ++i) {
    const Tensor& p = param_group.params()[i];
    if (!p.defined()) throw Error(where + ": parameter " + std::to_string(i) + " is an undefined tensor");
    if (!p.is_floating_point())
      throw DTypeError(where + ": parameter " + std::to_string(i) + " has dtype " + dtype_name(p.dtype()) +
                       "; an optimizer updates float32 or float64 tensors");
    if (!p.is_leaf())
      throw Error(where + ": can't optimize a non-leaf tensor (parameter " + std::to_string(i) +
                  " was computed by " + p.grad_fn()->name() + "); pass a leaf, e.g. t.detach().requires_grad_()");
    for (size_t j = 0; j < i; ++j)
      if (param_group.params()[j].is_same(p))
        throw Error(where + ": parameter " + std::to_string(i) + " appears twice in the group");
    for (size_t g = 0; g < param_groups_.size(); ++g)
      for (const auto& q : param_groups_[g].params())
        if (q.is_same(p))
          throw Error(where + ": parameter " + std::to_string(i) + " is already in param group " +
                      std::to_string(g) + " (some parameters appear in more than one parameter group)");
  }
  OptimizerParamGroup group(param_group.params());
  group.initial_lr() = param_group.initial_lr();
  if (param_group.has_options()) {
    const OptimizerOptions& o = param_group.options();
    const OptimizerOptions& defaults = *defaults_;
    if (typeid(o) != typeid(defaults))
      throw Error(where + ": the group's options are " + o.type_name() + " but this optimizer takes " +
                  defaults_->type_name());
    group.set_options(o.clone());
  } else {
    group.set_options(defaults_->clone());
  }
  if (constructed_) check_options(group.options(), where);
  param_groups_.push_back(std::move(group));
}

const char* Optimizer::name_or_base() const { return constructed_ ? name() : "optimizer"; }

void Optimizer::add_parameters(const std::vector<Tensor>& parameters) {
  // Checked as a group of their own (leaves, dtypes, duplicates), then moved into the first group.
  add_param_group(OptimizerParamGroup(parameters, param_groups_.at(0).options()));
  param_groups_.pop_back();
  auto& first = param_groups_[0].params();
  first.insert(first.end(), parameters.begin(), parameters.end());
}

void Optimizer::finish_construction() {
  check_options(*defaults_, std::string(name()) + " defaults");
  for (size_t g = 0; g < param_groups_.size(); ++g)
    check_options(param_groups_[g].options(), std::string(name()) + " param group " + std::to_string(g));
  constructed_ = true;
}

void Optimizer::zero_grad(bool set_to_none) {
  for (auto& group : param_groups_)
    for (auto& p : group.params()) {
      Tensor g = p.grad();
      if (!g.defined()) continue;
      if (set_to_none) {
        p.set_grad(Tensor());
      } else {
        NoGradGuard guard;
        g.detach_();
        g.zero_();
      }
    }
}

const std::vector<Tensor>& Optimizer::parameters() const noexcept { return param_groups_.at(0).params(); }
std::vector<Tensor>& Optimizer::parameters() noexcept { return param_groups_.at(0).params(); }

size_t Optimizer::size() const noexcept {
  size_t n = 0;
  for (const auto& g : param_groups_) n += g.params().size();
  return n;
}

std::string Optimizer::param_key(const Tensor& p) {
  std::ostringstream os;
  os << static_cast<const void*>(p.impl());
  return os.str();
}

Tensor Optimizer::run_closure(const LossClosure& closure) {
  if (!closure) return Tensor();
  AutoGradMode enable(true);
  return closure();
}

// ------------------------------------------------------------- state dict
namespace {
std::string group_prefix(size_t g) { return "param_groups." + std::to_string(g) + "."; }
std::string state_prefix(size_t i) { return "state." + std::to_string(i) + "."; }
}  // namespace

StateDict Optimizer::state_dict() const {
  StateDict out;
  int64_t index = 0;
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    const auto& group = param_groups_[g];
    const std::string gp = group_prefix(g);
    // fields() hands out pointers for reading and writing; here they are only read.
    detail::write_fields(gp, const_cast<OptimizerOptions&>(group.options()).fields(), out);
    if (group.initial_lr()) out[gp + "initial_lr"] = scalar_tensor(*group.initial_lr(), kFloat64);
    std::vector<int64_t> ids;
    for (const auto& p : group.params()) {
      auto it = state_.find(param_key(p));
      if (it != state_.end()) detail::write_fields(state_prefix(index), it->second->fields(), out);
      ids.push_back(index++);
    }
    out[gp + "params"] = tensor(ids, kInt64);
  }
  return out;
}

void Optimizer::load_state_dict(const StateDict& in) {
  const std::string what = std::string(name()) + "::load_state_dict";
  // 1. Groups and parameter counts.
  size_t saved_groups = 0;
  while (detail::has_prefix(in, group_prefix(saved_groups))) ++saved_groups;
  if (saved_groups != param_groups_.size())
    throw Error(what + ": the state dict has " + std::to_string(saved_groups) +
                " parameter groups but the optimizer has " + std::to_string(param_groups_.size()));
  std::set<std::string> used;
  std::vector<std::unique_ptr<OptimizerOptions>> options;
  std::vector<std::optional<double>> initial_lrs;
  int64_t index = 0;
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    const std::string gp = group_prefix(g);
    const auto& params = param_groups_[g].params();
    auto it = in.find(gp + "params");
    if (it == in.end()) throw Error(what + ": missing key '" + gp + "params'");
    used.insert(it->first);
    if (it->second.numel() != static_cast<int64_t>(params.size()))
      throw Error(what + ": parameter group " + std::to_string(g) + " has " + std::to_string(params.size()) +
                  " parameters but the state dict's group has " + std::to_string(it->second.numel()));
    // Indices are stored as int64; converting a float tensor could cast 1e300 (undefined).
    if (it->second.is_floating_point())
      throw Error(what + ": '" + gp + "params' should hold integer indices, got a " +
                  std::string(dtype_name(it->second.dtype())) + " tensor");
    Tensor ids = it->second.to(kInt64).contiguous();
    for (int64_t k = 0; k < ids.numel(); ++k)
      if (ids.data_ptr<int64_t>()[k] != index + k)
        throw Error(what + ": '" + gp + "params' lists parameter " + std::to_string(ids.data_ptr<int64_t>()[k]) +
                    " where " + std::to_string(index + k) + " was expected (parameters are numbered in order "
                    "across the groups)");
    // 2. Options, checked as the constructor checks them.
    auto o = param_groups_[g].options().clone();
    detail::read_fields(gp, o->fields(), in, used, what);
    check_options(*o, what + " (param group " + std::to_string(g) + ")");
    options.push_back(std::move(o));
    auto lr0 = in.find(gp + "initial_lr");
    initial_lrs.push_back(lr0 == in.end() ? std::nullopt : std::optional<double>(lr0->second.item<double>()));
    if (lr0 != in.end()) used.insert(lr0->first);
    index += static_cast<int64_t>(params.size());
  }
  // 3. Per-parameter state, shapes checked, cast to the parameter's dtype.
  StateMap state;
  index = 0;
  for (const auto& group : param_groups_)
    for (const auto& p : group.params()) {
      const std::string sp = state_prefix(static_cast<size_t>(index));
      if (detail::has_prefix(in, sp)) {
        auto s = make_param_state();
        StateFields fields = s->fields();
        detail::read_fields(sp, fields, in, used, what);
        for (auto& f : fields) {
          if (f.kind != StateField::Kind::Tensor) continue;
          Tensor& t = *static_cast<Tensor*>(f.ptr);
          if (!t.defined()) continue;
          if (t.sizes() != p.sizes())
            throw ShapeError(what + ": '" + sp + f.name + "' has shape " + shape_str(t.sizes()) + " but parameter " +
                             std::to_string(index) + " has shape " + shape_str(p.sizes()));
          if (!t.is_floating_point())
            throw DTypeError(what + ": '" + sp + f.name + "' has dtype " + dtype_name(t.dtype()) +
                             "; optimizer state is floating-point");
          t = t.to(p.dtype());
        }
        state[param_key(p)] = std::move(s);
      }
      ++index;
    }
  detail::check_unexpected(in, used, what);
  // 4. Everything checked: commit.
  for (size_t g = 0; g < param_groups_.size(); ++g) {
    param_groups_[g].set_options(std::move(options[g]));
    param_groups_[g].initial_lr() = initial_lrs[g];
  }
  state_ = std::move(state);
}

// ================================================================ helpers
namespace detail {

std::string num(double v) {
  char b[32];
  std::snprintf(b, sizeof b, "%.10g", v);
  return b;
}

bool has_prefix(const StateDict& in, const std::string& prefix) {
  auto it = in.lower_bound(prefix);
  return it != in.end() && it->first.compare(0, prefix.size(), prefix) == 0;
}

void write_fields(const std::string& prefix, const StateFields& fields, StateDict& out) {
  using K = StateField::Kind;
  for (const auto& f : fields) {
    const std::string key = prefix + f.name;
    switch (f.kind) {
      case K::Double: out[key] = scalar_tensor(*static_cast<const double*>(f.ptr), kFloat64); break;
      case K::Int: out[key] = scalar_tensor(*static_cast<const int64_t*>(f.ptr), kInt64); break;
      case K::Bool: out[key] = scalar_tensor(int64_t{*static_cast<const bool*>(f.ptr)}, kInt64); break;
      case K::Betas: {
        auto b = *static_cast<const std::tuple<double, double>*>(f.ptr);
        out[key] = tensor(std::vector<double>{std::get<0>(b), std::get<1>(b)}, kFloat64);
        break;
      }
      case K::Tensor: {
        const Tensor& t = *static_cast<const Tensor*>(f.ptr);
        if (t.defined()) out[key] = kernels::contiguous_copy(t);
        break;
      }
      case K::Doubles: out[key] = tensor(*static_cast<const std::vector<double>*>(f.ptr), kFloat64); break;
      case K::Ints: out[key] = tensor(*static_cast<const std::vector<int64_t>*>(f.ptr), kInt64); break;
    }
  }
}

namespace {
std::vector<double> as_doubles(const Tensor& t) {
  Tensor c = t.to(kFloat64).contiguous();
  const double* d = c.data_ptr<double>();
  return {d, d + c.numel()};
}

// A stored number read back as an integer: a whole number within int64's range,
// else an Error. A plain cast of 1e300 or NaN is undefined behaviour (a fuzz
// finding with a checkpoint whose step count was stored as F64).
int64_t as_int64(double v, const std::string& what, const std::string& key) {
  if (!(v == std::floor(v) && v >= -0x1p63 && v < 0x1p63))
    throw Error(what + ": '" + key + "' should be an integer, got " + num(v));
  return static_cast<int64_t>(v);
}
}  // namespace

void read_fields(const std::string& prefix, const StateFields& fields, const StateDict& in,
                 std::set<std::string>& used, const std::string& what) {
  using K = StateField::Kind;
  for (const auto& f : fields) {
    const std::string key = prefix + f.name;
    auto it = in.find(key);
    if (it == in.end() || !it->second.defined()) {
      if (f.required) throw Error(what + ": missing key '" + key + "'");
      if (f.kind == K::Tensor) static_cast<Tensor*>(f.ptr)->reset();
      continue;
    }
    used.insert(key);
    const Tensor& t = it->second;
    auto expect_numel = [&](int64_t n, const char* kind) {
      if (t.numel() != n || (n == 1 && t.dim() > 1))
        throw ShapeError(what + ": '" + key + "' should be " + kind + ", got a tensor of shape " +
                         shape_str(t.sizes()));
    };
    switch (f.kind) {
      case K::Double: expect_numel(1, "a scalar"); *static_cast<double*>(f.ptr) = as_doubles(t)[0]; break;
      case K::Int:
      case K::Bool: {
        expect_numel(1, "a scalar");
        const int64_t v = as_int64(as_doubles(t)[0], what, key);
        if (f.kind == K::Int) *static_cast<int64_t*>(f.ptr) = v;
        else *static_cast<bool*>(f.ptr) = v != 0;
        break;
      }
      case K::Betas: {
        expect_numel(2, "2 values");
        auto v = as_doubles(t);
        *static_cast<std::tuple<double, double>*>(f.ptr) = {v[0], v[1]};
        break;
      }
      case K::Tensor: *static_cast<Tensor*>(f.ptr) = kernels::contiguous_copy(t.detach()); break;
      case K::Doubles:
        if (t.dim() != 1) throw ShapeError(what + ": '" + key + "' should be 1-d, got " + shape_str(t.sizes()));
        *static_cast<std::vector<double>*>(f.ptr) = as_doubles(t);
        break;
      case K::Ints: {
        if (t.dim() != 1) throw ShapeError(what + ": '" + key + "' should be 1-d, got " + shape_str(t.sizes()));
        auto v = as_doubles(t);
        auto& dst = *static_cast<std::vector<int64_t>*>(f.ptr);
        dst.assign(v.size(), 0);
        for (size_t i = 0; i < v.size(); ++i) dst[i] = as_int64(v[i], what, key);
        break;
      }
    }
  }
}

void check_unexpected(const StateDict& in, const std::set<std::string>& used, const std::string& what) {
  std::string extra;
  int count = 0;
  for (const auto& kv : in)
    if (!used.count(kv.first)) {
      if (count < 8) extra += (count ? ", '" : "'") + kv.first + "'";
      ++count;
    }
  if (count) {
    if (count > 8) extra += " (and " + std::to_string(count - 8) + " more)";
    throw Error(what + ": unexpected key" + (count > 1 ? "s " : " ") + extra +
                " (a state dict of another optimizer or scheduler, or of other options?)");
  }
}

ParamBuffers::ParamBuffers(const Tensor& p, const Tensor& g) : param(p) {
  n = p.numel();
  work = p.is_contiguous() ? p : kernels::contiguous_copy(p);
  grad = g.dtype() == p.dtype() ? kernels::as_contiguous(g) : g.to(p.dtype()).contiguous();
}

void ParamBuffers::finish() {
  if (!work.is_same(param)) kernels::copy(param, work);
  param.impl()->storage->bump_version();
}

Tensor state_buffer(const Tensor& param, double v) {
  Tensor t = dg::detail::make_tensor(param.sizes(), param.dtype());
  kernels::fill(t, v);
  return t;
}

}  // namespace detail
}  // namespace dg::optim
