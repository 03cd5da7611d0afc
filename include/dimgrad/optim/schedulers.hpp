// dimgrad — learning-rate schedulers.
//
// Each scheduler sets the lr of every parameter group of the optimizer it holds
// by reference (the optimizer must outlive it). The numbers are PyTorch 1.13's
// (torch/optim/lr_scheduler.py): the scheduler steps once at construction
// (last_epoch −1 → 0) and each step() computes the new lr from the group's
// current lr (PyTorch's "chainable" form), so that two schedulers stepped on one
// optimizer compose as in PyTorch. After k calls of step(), last_epoch() is k.
//
// Note: LibTorch 1.13's own StepLR skips that constructor step and so lags
// PyTorch by one step (its lr after 2 steps of StepLR(opt, 2) is still the
// initial one). dimgrad follows PyTorch; the constructors are LibTorch's.
//
// Typical use (once per epoch, or once per batch for OneCycleLR):
//   dg::optim::SGD opt(model->parameters(), dg::optim::SGDOptions(0.1).momentum(0.9));
//   dg::optim::StepLR sched(opt, /*step_size=*/30, /*gamma=*/0.1);
//   for (...) { train_one_epoch(); sched.step(); }
#pragma once

#include <cstdint>
#include <vector>

#include "dimgrad/optim/optimizer.hpp"

namespace dg::optim {

class LRScheduler {
 public:
  explicit LRScheduler(Optimizer& optimizer);
  virtual ~LRScheduler() = default;

  // last_epoch += 1, then set each group's lr to get_lrs().
  void step();
  // The lrs the last step() set (one per group).
  std::vector<double> get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }

  // Counters, base lrs and hyper-parameters as a flat map: last_epoch,
  // step_count (0-d int64), base_lrs, last_lr (float64 [groups]), then the
  // scheduler's own (gamma, T_max, ...). load_state_dict checks every key
  // and the number of groups.
  StateDict state_dict() const;
  void load_state_dict(const StateDict& state_dict);

 protected:
  // The new lr of each group, for last_epoch_ (already incremented).
  virtual std::vector<double> get_lrs() = 0;
  // The lr of each group now.
  std::vector<double> get_current_lrs() const;
  // PyTorch's step at construction; every built-in scheduler calls it last in its
  // constructor (a virtual get_lrs cannot be reached from this constructor).
  void initial_step() { step(); }
  // The scheduler's own values for state_dict (the base adds its counters).
  virtual void add_fields(StateFields& fields) { (void)fields; }
  Optimizer& optimizer() { return optimizer_; }
  const Optimizer& optimizer() const { return optimizer_; }

  unsigned step_count_ = 0;
  int64_t last_epoch_ = -1;
  std::vector<double> base_lrs_;
  std::vector<double> last_lr_;

 private:
  void set_optimizer_lrs(const std::vector<double>& learning_rates);
  // The base's fields (step_count through a temporary: it is unsigned here) and add_fields'.
  StateFields all_fields(int64_t* step_count);
  void load_fields(const StateDict& state_dict);
  Optimizer& optimizer_;
};

// lr × gamma every step_size steps.
class StepLR : public LRScheduler {
 public:
  StepLR(Optimizer& optimizer, const unsigned step_size, const double gamma = 0.1);

 protected:
  std::vector<double> get_lrs() override;
  void add_fields(StateFields& fields) override;
  int64_t step_size_;
  double gamma_;
};

// lr × gamma at each milestone (a milestone listed twice multiplies by gamma²).
class MultiStepLR : public LRScheduler {
 public:
  MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, const double gamma = 0.1);

 protected:
  std::vector<double> get_lrs() override;
  void add_fields(StateFields& fields) override;
  std::vector<int64_t> milestones_;  // sorted, repeats kept
  double gamma_;
};

// lr × gamma every step.
class ExponentialLR : public LRScheduler {
 public:
  ExponentialLR(Optimizer& optimizer, const double gamma);

 protected:
  std::vector<double> get_lrs() override;
  void add_fields(StateFields& fields) override;
  double gamma_;
};

// Half a cosine from the base lr down to eta_min over T_max steps (and back up
// beyond T_max, as PyTorch's recursive form does).
class CosineAnnealingLR : public LRScheduler {
 public:
  CosineAnnealingLR(Optimizer& optimizer, const int64_t T_max, const double eta_min = 0);

 protected:
  std::vector<double> get_lrs() override;
  void add_fields(StateFields& fields) override;
  int64_t T_max_;
  double eta_min_;
};

// PyTorch's LinearLR: the factor on the base lr goes linearly from start_factor
// to end_factor over total_iters steps, then stays. A linear warm-up is
// LinearLR(opt, 0.01, 1.0, warmup_steps).
class LinearLR : public LRScheduler {
 public:
  LinearLR(Optimizer& optimizer, const double start_factor = 1.0 / 3, const double end_factor = 1.0,
           const int64_t total_iters = 5);

 protected:
  std::vector<double> get_lrs() override;
  void add_fields(StateFields& fields) override;
  double start_factor_;
  double end_factor_;
  int64_t total_iters_;
};
using LinearWarmup = LinearLR;

enum class AnnealStrategy { cos, linear };

struct OneCycleLROptions {
  OneCycleLROptions(double max_lr, int64_t total_steps) : max_lr_({max_lr}), total_steps_(total_steps) {}
  // One max_lr per parameter group.
  OneCycleLROptions(std::vector<double> max_lrs, int64_t total_steps)
      : max_lr_(std::move(max_lrs)), total_steps_(total_steps) {}
  DG_OPTIM_ARG(std::vector<double>, max_lr);
  DG_OPTIM_ARG(int64_t, total_steps);
  DG_OPTIM_ARG(double, pct_start) = 0.3;
  DG_OPTIM_ARG(AnnealStrategy, anneal_strategy) = AnnealStrategy::cos;
  // Cycle SGD's / RMSprop's momentum or Adam's / AdamW's beta1 inversely to the lr
  // (PyTorch's default; it throws for an optimizer without momentum, e.g. Adagrad).
  DG_OPTIM_ARG(bool, cycle_momentum) = true;
  DG_OPTIM_ARG(double, base_momentum) = 0.85;
  DG_OPTIM_ARG(double, max_momentum) = 0.95;
  DG_OPTIM_ARG(double, div_factor) = 25.0;
  DG_OPTIM_ARG(double, final_div_factor) = 1e4;
  DG_OPTIM_ARG(bool, three_phase) = false;
};

// The 1cycle policy, stepped once per batch: lr rises from max_lr/div_factor to
// max_lr over pct_start of total_steps, then anneals to
// max_lr/(div_factor·final_div_factor) (three_phase: back to the initial lr first).
class OneCycleLR : public LRScheduler {
 public:
  OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& options);
  OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps);

 protected:
  std::vector<double> get_lrs() override;
  void add_fields(StateFields& fields) override;
  double anneal(double start, double end, double pct) const;

  int64_t total_steps_;
  double pct_start_;
  int64_t anneal_cos_;  // 1 cos, 0 linear (an int64 in the state dict)
  bool three_phase_;
  bool cycle_momentum_;
  bool use_beta1_ = false;
  // Per group (PyTorch keeps them in the param group).
  std::vector<double> initial_lr_, max_lr_, min_lr_, max_momentum_, base_momentum_;
};

// Divides the lr by 1/factor when a metric has stopped improving for `patience`
// steps. Not an LRScheduler (its step takes the metric), as in LibTorch 2.x.
class ReduceLROnPlateauScheduler {
 public:
  enum SchedulerMode { min, max };
  enum ThresholdMode { rel, abs };

  ReduceLROnPlateauScheduler(Optimizer& optimizer, SchedulerMode mode = min, double factor = 0.1,
                             int patience = 10, double threshold = 1e-4, ThresholdMode threshold_mode = rel,
                             int cooldown = 0, const std::vector<double>& min_lr = {}, double eps = 1e-8,
                             bool verbose = false);
  virtual ~ReduceLROnPlateauScheduler() = default;

  void step(double metric);
  void step(const Tensor& metric) { step(metric.item<double>()); }
  std::vector<double> get_last_lr() const { return last_lr_; }
  int64_t last_epoch() const { return last_epoch_; }
  double best() const { return best_; }
  int64_t num_bad_epochs() const { return num_bad_epochs_; }

  StateDict state_dict() const;
  void load_state_dict(const StateDict& state_dict);

 private:
  bool is_better(double a, double best) const;
  void reduce_lr();
  StateFields fields();
  void load_fields(const StateDict& state_dict);

  Optimizer& optimizer_;
  int64_t mode_;            // SchedulerMode
  double factor_;
  int64_t patience_;
  double threshold_;
  int64_t threshold_mode_;  // ThresholdMode
  int64_t cooldown_;
  std::vector<double> min_lrs_;
  double eps_;
  bool verbose_;
  int64_t cooldown_counter_ = 0;
  int64_t num_bad_epochs_ = 0;
  int64_t last_epoch_ = 0;
  double best_;
  std::vector<double> last_lr_;
};
using ReduceLROnPlateau = ReduceLROnPlateauScheduler;

}  // namespace dg::optim
