// dimgrad — SGD, Adam, AdamW, RMSprop, Adagrad.
//
// Options, state and constructors as in LibTorch 1.13; every update is PyTorch
// 1.13's (torch/optim/*.py, single-tensor path), run as one fused pass over the
// parameter, its gradient and its state buffers, under no-grad, in place.
//   g ← grad (+ weight_decay · p)                       L2 penalty folded into the gradient
//   SGD:     b ← g on the first step, else μ·b + (1−τ)·g;  g ← g + μ·b (Nesterov) or b;  p ← p − lr·g
//   Adam:    m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  v̂ ← max(v̂, v) (amsgrad)
//            p ← p − lr/(1−β1ᵗ) · m / (√v / √(1−β2ᵗ) + ε)
//   AdamW:   p ← p·(1 − lr·wd) first (decoupled decay), then Adam without the L2 term
//   RMSprop: s ← α·s + (1−α)·g²;  a ← α·a + (1−α)·g (centered);  d ← √(s − a²) + ε
//            b ← μ·b + g/d; p ← p − lr·b  (momentum)   or  p ← p − lr·g/d
//   Adagrad: Σ ← Σ + g²;  p ← p − lr/(1 + (t−1)·decay) · g / (√Σ + ε)
#pragma once

#include <tuple>

#include "dimgrad/optim/optimizer.hpp"

namespace dg::optim {

// ------------------------------------------------------------------- SGD
struct SGDOptions : public OptimizerCloneableOptions<SGDOptions> {
  SGDOptions(double lr);  // NOLINT (implicit, as LibTorch)
  DG_OPTIM_ARG(double, lr);
  DG_OPTIM_ARG(double, momentum) = 0;
  DG_OPTIM_ARG(double, dampening) = 0;
  DG_OPTIM_ARG(double, weight_decay) = 0;
  DG_OPTIM_ARG(bool, nesterov) = false;

 public:
  double get_lr() const override { return lr_; }
  void set_lr(const double v) override { lr_ = v; }
  StateFields fields() override;
  const char* type_name() const override { return "SGDOptions"; }
  friend bool operator==(const SGDOptions& a, const SGDOptions& b);
};

struct SGDParamState : public OptimizerCloneableParamState<SGDParamState> {
  DG_OPTIM_ARG(Tensor, momentum_buffer);

 public:
  StateFields fields() override;
};

class SGD : public Optimizer {
 public:
  explicit SGD(std::vector<OptimizerParamGroup> param_groups, SGDOptions defaults);
  explicit SGD(std::vector<Tensor> params, SGDOptions defaults);
  Tensor step(LossClosure closure = nullptr) override;
  const char* name() const override { return "SGD"; }

 protected:
  std::unique_ptr<OptimizerParamState> make_param_state() const override;
  void check_options(const OptimizerOptions& options, const std::string& where) const override;
};

// ------------------------------------------------------------------ Adam
struct AdamOptions : public OptimizerCloneableOptions<AdamOptions> {
  AdamOptions(double lr = 1e-3);  // NOLINT
  typedef std::tuple<double, double> betas_t;
  DG_OPTIM_ARG(double, lr) = 1e-3;
  DG_OPTIM_ARG(betas_t, betas) = std::make_tuple(0.9, 0.999);
  DG_OPTIM_ARG(double, eps) = 1e-8;
  DG_OPTIM_ARG(double, weight_decay) = 0;
  DG_OPTIM_ARG(bool, amsgrad) = false;

 public:
  double get_lr() const override { return lr_; }
  void set_lr(const double v) override { lr_ = v; }
  StateFields fields() override;
  const char* type_name() const override { return "AdamOptions"; }
  friend bool operator==(const AdamOptions& a, const AdamOptions& b);
};

struct AdamParamState : public OptimizerCloneableParamState<AdamParamState> {
  DG_OPTIM_ARG(int64_t, step) = 0;
  DG_OPTIM_ARG(Tensor, exp_avg);
  DG_OPTIM_ARG(Tensor, exp_avg_sq);
  DG_OPTIM_ARG(Tensor, max_exp_avg_sq) = {};

 public:
  StateFields fields() override;
};

class Adam : public Optimizer {
 public:
  explicit Adam(std::vector<OptimizerParamGroup> param_groups, AdamOptions defaults = {});
  explicit Adam(std::vector<Tensor> params, AdamOptions defaults = {});
  Tensor step(LossClosure closure = nullptr) override;
  const char* name() const override { return "Adam"; }

 protected:
  std::unique_ptr<OptimizerParamState> make_param_state() const override;
  void check_options(const OptimizerOptions& options, const std::string& where) const override;
};

// ----------------------------------------------------------------- AdamW
struct AdamWOptions : public OptimizerCloneableOptions<AdamWOptions> {
  AdamWOptions(double lr = 1e-3);  // NOLINT
  typedef std::tuple<double, double> betas_t;
  DG_OPTIM_ARG(double, lr) = 1e-3;
  DG_OPTIM_ARG(betas_t, betas) = std::make_tuple(0.9, 0.999);
  DG_OPTIM_ARG(double, eps) = 1e-8;
  DG_OPTIM_ARG(double, weight_decay) = 1e-2;
  DG_OPTIM_ARG(bool, amsgrad) = false;

 public:
  double get_lr() const override { return lr_; }
  void set_lr(const double v) override { lr_ = v; }
  StateFields fields() override;
  const char* type_name() const override { return "AdamWOptions"; }
  friend bool operator==(const AdamWOptions& a, const AdamWOptions& b);
};

struct AdamWParamState : public OptimizerCloneableParamState<AdamWParamState> {
  DG_OPTIM_ARG(int64_t, step) = 0;
  DG_OPTIM_ARG(Tensor, exp_avg);
  DG_OPTIM_ARG(Tensor, exp_avg_sq);
  DG_OPTIM_ARG(Tensor, max_exp_avg_sq) = {};

 public:
  StateFields fields() override;
};

class AdamW : public Optimizer {
 public:
  explicit AdamW(std::vector<OptimizerParamGroup> param_groups, AdamWOptions defaults = {});
  explicit AdamW(std::vector<Tensor> params, AdamWOptions defaults = {});
  Tensor step(LossClosure closure = nullptr) override;
  const char* name() const override { return "AdamW"; }

 protected:
  std::unique_ptr<OptimizerParamState> make_param_state() const override;
  void check_options(const OptimizerOptions& options, const std::string& where) const override;
};

// --------------------------------------------------------------- RMSprop
struct RMSpropOptions : public OptimizerCloneableOptions<RMSpropOptions> {
  RMSpropOptions(double lr = 1e-2);  // NOLINT
  DG_OPTIM_ARG(double, lr) = 1e-2;
  DG_OPTIM_ARG(double, alpha) = 0.99;
  DG_OPTIM_ARG(double, eps) = 1e-8;
  DG_OPTIM_ARG(double, weight_decay) = 0;
  DG_OPTIM_ARG(double, momentum) = 0;
  DG_OPTIM_ARG(bool, centered) = false;

 public:
  double get_lr() const override { return lr_; }
  void set_lr(const double v) override { lr_ = v; }
  StateFields fields() override;
  const char* type_name() const override { return "RMSpropOptions"; }
  friend bool operator==(const RMSpropOptions& a, const RMSpropOptions& b);
};

struct RMSpropParamState : public OptimizerCloneableParamState<RMSpropParamState> {
  DG_OPTIM_ARG(int64_t, step) = 0;
  DG_OPTIM_ARG(Tensor, square_avg);
  DG_OPTIM_ARG(Tensor, momentum_buffer) = {};
  DG_OPTIM_ARG(Tensor, grad_avg) = {};

 public:
  StateFields fields() override;
};

class RMSprop : public Optimizer {
 public:
  explicit RMSprop(std::vector<OptimizerParamGroup> param_groups, RMSpropOptions defaults = {});
  explicit RMSprop(std::vector<Tensor> params, RMSpropOptions defaults = {});
  Tensor step(LossClosure closure = nullptr) override;
  const char* name() const override { return "RMSprop"; }

 protected:
  std::unique_ptr<OptimizerParamState> make_param_state() const override;
  void check_options(const OptimizerOptions& options, const std::string& where) const override;
};

// --------------------------------------------------------------- Adagrad
struct AdagradOptions : public OptimizerCloneableOptions<AdagradOptions> {
  AdagradOptions(double lr = 1e-2);  // NOLINT
  DG_OPTIM_ARG(double, lr) = 1e-2;
  DG_OPTIM_ARG(double, lr_decay) = 0;
  DG_OPTIM_ARG(double, weight_decay) = 0;
  DG_OPTIM_ARG(double, initial_accumulator_value) = 0;
  DG_OPTIM_ARG(double, eps) = 1e-10;

 public:
  double get_lr() const override { return lr_; }
  void set_lr(const double v) override { lr_ = v; }
  StateFields fields() override;
  const char* type_name() const override { return "AdagradOptions"; }
  friend bool operator==(const AdagradOptions& a, const AdagradOptions& b);
};

struct AdagradParamState : public OptimizerCloneableParamState<AdagradParamState> {
  DG_OPTIM_ARG(Tensor, sum);
  DG_OPTIM_ARG(int64_t, step) = 0;

 public:
  StateFields fields() override;
};

// As in PyTorch and LibTorch 1.13, the accumulators are made at construction,
// filled with the defaults' initial_accumulator_value (a group's own value is
// not used there); parameters added later get their group's value on first use.
class Adagrad : public Optimizer {
 public:
  explicit Adagrad(std::vector<OptimizerParamGroup> param_groups, AdagradOptions defaults = {});
  explicit Adagrad(std::vector<Tensor> params, AdagradOptions defaults = {});
  Tensor step(LossClosure closure = nullptr) override;
  const char* name() const override { return "Adagrad"; }

 protected:
  std::unique_ptr<OptimizerParamState> make_param_state() const override;
  void check_options(const OptimizerOptions& options, const std::string& where) const override;
};

}  // namespace dg::optim
