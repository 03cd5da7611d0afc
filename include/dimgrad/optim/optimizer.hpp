// dimgrad — the Optimizer base: parameter groups with their own options, per-
// parameter state, zero_grad, and a flat name → Tensor state dict for resuming.
//
// Names and shapes follow LibTorch 1.13 (torch/optim/optimizer.h), so that
//   std::vector<dg::optim::OptimizerParamGroup> groups;
//   groups.emplace_back(fc1->parameters(), std::make_unique<dg::optim::SGDOptions>(0.1));
//   dg::optim::SGD opt(groups, dg::optim::SGDOptions(0.01).momentum(0.9));
//   opt.param_groups()[0].options().set_lr(0.05);
// compiles with torch:: replaced by dg::. The numbers follow PyTorch 1.13.
//
// The state dict is a flat std::map<std::string, Tensor> (written to safetensors
// checkpoints as is):
//   param_groups.<g>.params        int64 [n]   global indices of the group's parameters
//   param_groups.<g>.<option>      0-d float64 (lr, momentum, ...), 0-d int64 for bools,
//                                  float64 [2] for betas
//   param_groups.<g>.initial_lr    0-d float64, once an LR scheduler was attached
//   state.<i>.<name>               parameter i's state: tensors of the parameter's shape
//                                  (exp_avg, momentum_buffer, ...), 0-d int64 step counts
// Parameters are numbered 0, 1, ... across the groups in order, as in PyTorch.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "dimgrad/tensor.hpp"

// Builder-style option, as LibTorch's TORCH_ARG: `SGDOptions(0.1).momentum(0.9)`.
// (Its own name: nn's DG_ARG may be defined differently in the same translation unit.)
#define DG_OPTIM_ARG(T, name)                                      \
 public:                                                           \
  inline auto name(const T& new_##name)->decltype(*this) {         \
    this->name##_ = new_##name;                                    \
    return *this;                                                  \
  }                                                                \
  inline const T& name() const noexcept { return this->name##_; }  \
  inline T& name() noexcept { return this->name##_; }              \
                                                                   \
 private:                                                          \
  T name##_

namespace dg::optim {

using StateDict = std::map<std::string, Tensor>;

// One named value of an optimizer's options or state, or of a scheduler's state:
// what state_dict() writes and load_state_dict() reads back, in one list per class.
struct StateField {
  enum class Kind {
    Double,   // double            → 0-d float64
    Int,      // int64_t           → 0-d int64
    Bool,     // bool              → 0-d int64 (0/1)
    Betas,    // tuple<double,double> → float64 [2]
    Tensor,   // dg::Tensor        → itself (skipped when undefined)
    Doubles,  // vector<double>    → float64 [n]
    Ints,     // vector<int64_t>   → int64 [n]
  };
  std::string name;
  Kind kind;
  void* ptr;
  bool required = true;  // a missing required key is an error on load
};
using StateFields = std::vector<StateField>;

// --------------------------------------------------------- parameter state
class OptimizerParamState {
 public:
  virtual ~OptimizerParamState() = default;
  virtual std::unique_ptr<OptimizerParamState> clone() const = 0;
  // The state's values by name (tensors are shared, not copied).
  virtual StateFields fields() = 0;
};

template <typename Derived>
class OptimizerCloneableParamState : public OptimizerParamState {
 public:
  std::unique_ptr<OptimizerParamState> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

// ---------------------------------------------------------------- options
class OptimizerOptions {
 public:
  virtual ~OptimizerOptions() = default;
  virtual std::unique_ptr<OptimizerOptions> clone() const = 0;
  virtual double get_lr() const = 0;
  virtual void set_lr(const double lr) = 0;
  // `group.options().lr()` without a cast (each *Options also has its own lr()).
  double lr() const { return get_lr(); }
  // The hyper-parameters by name ("lr", "momentum", "betas", ...).
  virtual StateFields fields() = 0;
  // Short name of the options type, for error messages ("SGDOptions").
  virtual const char* type_name() const = 0;
};

template <typename Derived>
class OptimizerCloneableOptions : public OptimizerOptions {
 public:
  std::unique_ptr<OptimizerOptions> clone() const override {
    return std::make_unique<Derived>(static_cast<const Derived&>(*this));
  }
};

// ------------------------------------------------------------ param group
// Parameters updated with one set of options. A group made without options
// takes the optimizer's defaults when added.
class OptimizerParamGroup {
 public:
  OptimizerParamGroup(const OptimizerParamGroup& other);
  OptimizerParamGroup& operator=(const OptimizerParamGroup& other);
  OptimizerParamGroup(OptimizerParamGroup&&) noexcept = default;
  OptimizerParamGroup& operator=(OptimizerParamGroup&&) noexcept = default;
  OptimizerParamGroup(std::vector<Tensor> params);  // NOLINT (implicit, as LibTorch)
  OptimizerParamGroup(std::vector<Tensor> params, std::unique_ptr<OptimizerOptions> options);
  OptimizerParamGroup(std::vector<Tensor> params, const OptimizerOptions& options);
  ~OptimizerParamGroup() = default;

  bool has_options() const { return options_ != nullptr; }
  OptimizerOptions& options();
  const OptimizerOptions& options() const;
  void set_options(std::unique_ptr<OptimizerOptions> options) { options_ = std::move(options); }
  std::vector<Tensor>& params() { return params_; }
  const std::vector<Tensor>& params() const { return params_; }
  // PyTorch's group['initial_lr']: the lr when the first LR scheduler was
  // attached; later schedulers on the same optimizer take it as their base lr.
  std::optional<double>& initial_lr() { return initial_lr_; }
  const std::optional<double>& initial_lr() const { return initial_lr_; }

 protected:
  std::vector<Tensor> params_;
  std::unique_ptr<OptimizerOptions> options_;
  std::optional<double> initial_lr_;
};

// -------------------------------------------------------------- optimizer
class Optimizer {
 public:
  // Copy through state_dict / load_state_dict, as with LibTorch.
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;
  Optimizer(Optimizer&&) = default;

  explicit Optimizer(std::vector<OptimizerParamGroup> param_groups, std::unique_ptr<OptimizerOptions> defaults);
  explicit Optimizer(std::vector<Tensor> parameters, std::unique_ptr<OptimizerOptions> defaults);
  virtual ~Optimizer() = default;

  // Adds a group (without options: a copy of the defaults). Throws if a
  // parameter is already in a group, is not a leaf, or the options are of
  // another optimizer's type.
  void add_param_group(const OptimizerParamGroup& param_group);
  // Adds parameters to the first group.
  void add_parameters(const std::vector<Tensor>& parameters);

  using LossClosure = std::function<Tensor()>;
  // One update of every parameter that has a gradient (parameters whose grad is
  // undefined are skipped). A closure, if given, is run first with grad mode on
  // and its loss returned.
  virtual Tensor step(LossClosure closure = nullptr) = 0;

  // Drops the gradients by default, as LibTorch and PyTorch 2.x do (and as
  // Module::zero_grad here): the next backward hands each parameter its
  // gradient buffer as it is, where zeroing would cost a pass writing zeros and
  // the backward a pass adding into them. set_to_none = false zeroes them in
  // place (LibTorch 1.13's only behaviour), keeping the same tensors.
  void zero_grad(bool set_to_none = true);

  // Parameters of the first group.
  const std::vector<Tensor>& parameters() const noexcept;
  std::vector<Tensor>& parameters() noexcept;
  // Number of parameters over all groups.
  size_t size() const noexcept;

  OptimizerOptions& defaults() noexcept { return *defaults_; }
  const OptimizerOptions& defaults() const noexcept { return *defaults_; }
  std::vector<OptimizerParamGroup>& param_groups() noexcept { return param_groups_; }
  const std::vector<OptimizerParamGroup>& param_groups() const noexcept { return param_groups_; }

  // Per-parameter state, keyed as in LibTorch by the address of the parameter's
  // TensorImpl (param_key()).
  using StateMap = std::unordered_map<std::string, std::unique_ptr<OptimizerParamState>>;
  StateMap& state() noexcept { return state_; }
  const StateMap& state() const noexcept { return state_; }
  static std::string param_key(const Tensor& p);

  // Snapshot of options and state (tensors copied) in the flat layout above.
  StateDict state_dict() const;
  // Restores what state_dict() wrote into an optimizer of the same kind over
  // parameters of the same shapes. Checks everything before changing anything:
  // group and parameter counts, missing and unexpected keys, state shapes, and
  // the options' validity. State tensors are cast to their parameter's dtype.
  void load_state_dict(const StateDict& state_dict);

  // "SGD", "Adam", ...
  virtual const char* name() const = 0;

 protected:
  // An empty state of this optimizer's kind (filled by load_state_dict).
  virtual std::unique_ptr<OptimizerParamState> make_param_state() const = 0;
  // Throws dg::Error naming the bad option (negative lr, beta outside [0, 1), ...).
  virtual void check_options(const OptimizerOptions& options, const std::string& where) const = 0;
  // Called at the end of every derived constructor: validates the defaults and
  // every group (virtual calls do not reach the derived class from our constructor).
  void finish_construction();
  // Runs the closure with grad mode on; undefined tensor without one.
  static Tensor run_closure(const LossClosure& closure);
  // The group's options as the optimizer's own type (checked when the group was added).
  template <class O> static O& options_as(OptimizerParamGroup& g) { return static_cast<O&>(g.options()); }

  std::vector<OptimizerParamGroup> param_groups_;
  StateMap state_;
  std::unique_ptr<OptimizerOptions> defaults_;
  bool constructed_ = false;

 private:
  const char* name_or_base() const;  // name() once constructed (not virtual-callable before)
};

}  // namespace dg::optim
