// Learning-rate schedulers with PyTorch 1.13's numbers: each get_lrs() is the
// chainable get_lr() of torch/optim/lr_scheduler.py, written with the same
// operations in the same order, so the lrs agree to the last bit.
#include "dimgrad/optim/schedulers.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <limits>

#include "optim/optim_util.hpp"

namespace dg::optim {

using K = StateField::Kind;
using detail::num;

namespace {
constexpr double kPi = 3.141592653589793;  // Python's math.pi
}

// ============================================================ LRScheduler
LRScheduler::LRScheduler(Optimizer& optimizer) : optimizer_(optimizer) {
  // PyTorch's group.setdefault('initial_lr', group['lr']): the first scheduler
  // attached fixes every later scheduler's base lr.
  for (auto& g : optimizer_.param_groups()) {
    if (!g.initial_lr()) g.initial_lr() = g.options().get_lr();
    base_lrs_.push_back(*g.initial_lr());
  }
}

std::vector<double> LRScheduler::get_current_lrs() const {
  std::vector<double> lrs;
  for (const auto& g : optimizer_.param_groups()) lrs.push_back(g.options().get_lr());
  return lrs;
}

void LRScheduler::set_optimizer_lrs(const std::vector<double>& learning_rates) {
  auto& groups = optimizer_.param_groups();
  if (learning_rates.size() != groups.size())
    throw Error("LRScheduler::step: the scheduler computed " + std::to_string(learning_rates.size()) +
                " learning rates but the optimizer has " + std::to_string(groups.size()) +
                " parameter groups (a group added after the scheduler was made?)");
  for (size_t i = 0; i < groups.size(); ++i) groups[i].options().set_lr(learning_rates[i]);
}

void LRScheduler::step() {
  ++last_epoch_;
  set_optimizer_lrs(get_lrs());
  ++step_count_;
  last_lr_ = get_current_lrs();
}

StateFields LRScheduler::all_fields(int64_t* step_count) {
  StateFields f = {{"last_epoch", K::Int, &last_epoch_},
                   {"step_count", K::Int, step_count},
                   {"base_lrs", K::Doubles, &base_lrs_},
                   {"last_lr", K::Doubles, &last_lr_}};
  add_fields(f);
  return f;
}

StateDict LRScheduler::state_dict() const {
  int64_t step_count = step_count_;
  StateDict out;
  // all_fields() hands out pointers for reading and writing; here they are only read.
  detail::write_fields("", const_cast<LRScheduler*>(this)->all_fields(&step_count), out);
  return out;
}

void LRScheduler::load_fields(const StateDict& in) {
  const std::string what = "LRScheduler::load_state_dict";
  int64_t step_count = 0;
  std::set<std::string> used;
  detail::read_fields("", all_fields(&step_count), in, used, what);
  detail::check_unexpected(in, used, what);
  const size_t groups = optimizer_.param_groups().size();
  if (base_lrs_.size() != groups || last_lr_.size() != groups)
    throw Error(what + ": the state dict is for " + std::to_string(base_lrs_.size()) +
                " parameter groups but the optimizer has " + std::to_string(groups));
  if (step_count < 0) throw Error(what + ": step_count is negative");
  step_count_ = static_cast<unsigned>(step_count);
}

void LRScheduler::load_state_dict(const StateDict& in) {
  // All or nothing: on a bad dict, put back what was there.
  StateDict backup = state_dict();
  try {
    load_fields(in);
  } catch (...) {
    load_fields(backup);
    throw;
  }
}

// ================================================================= StepLR
StepLR::StepLR(Optimizer& optimizer, const unsigned step_size, const double gamma)
    : LRScheduler(optimizer), step_size_(step_size), gamma_(gamma) {
  if (step_size == 0) throw Error("StepLR: step_size must be positive, got 0");
  initial_step();
}

std::vector<double> StepLR::get_lrs() {
  std::vector<double> lrs = get_current_lrs();
  if (last_epoch_ == 0 || last_epoch_ % step_size_ != 0) return lrs;
  for (double& lr : lrs) lr = lr * gamma_;
  return lrs;
}

void StepLR::add_fields(StateFields& f) {
  f.push_back({"step_size", K::Int, &step_size_});
  f.push_back({"gamma", K::Double, &gamma_});
}

// ============================================================ MultiStepLR
MultiStepLR::MultiStepLR(Optimizer& optimizer, std::vector<int64_t> milestones, const double gamma)
    : LRScheduler(optimizer), milestones_(std::move(milestones)), gamma_(gamma) {
  std::sort(milestones_.begin(), milestones_.end());
  initial_step();
}

std::vector<double> MultiStepLR::get_lrs() {
  std::vector<double> lrs = get_current_lrs();
  const auto hits = std::count(milestones_.begin(), milestones_.end(), last_epoch_);
  if (hits == 0) return lrs;
  for (double& lr : lrs) lr = lr * std::pow(gamma_, static_cast<double>(hits));
  return lrs;
}

void MultiStepLR::add_fields(StateFields& f) {
  f.push_back({"milestones", K::Ints, &milestones_});
  f.push_back({"gamma", K::Double, &gamma_});
}

// ========================================================== ExponentialLR
ExponentialLR::ExponentialLR(Optimizer& optimizer, const double gamma) : LRScheduler(optimizer), gamma_(gamma) {
  initial_step();
}

std::vector<double> ExponentialLR::get_lrs() {
  std::vector<double> lrs = get_current_lrs();
  if (last_epoch_ == 0) return lrs;
  for (double& lr : lrs) lr = lr * gamma_;
  return lrs;
}

void ExponentialLR::add_fields(StateFields& f) { f.push_back({"gamma", K::Double, &gamma_}); }

// ====================================================== CosineAnnealingLR
CosineAnnealingLR::CosineAnnealingLR(Optimizer& optimizer, const int64_t T_max, const double eta_min)
    : LRScheduler(optimizer), T_max_(T_max), eta_min_(eta_min) {
  if (T_max <= 0) throw Error("CosineAnnealingLR: T_max must be positive, got " + std::to_string(T_max));
  initial_step();
}

std::vector<double> CosineAnnealingLR::get_lrs() {
  std::vector<double> lrs = get_current_lrs();
  const double T = static_cast<double>(T_max_), e = static_cast<double>(last_epoch_);
  if (last_epoch_ == 0) return lrs;
  if ((last_epoch_ - 1 - T_max_) % (2 * T_max_) == 0) {
    // At the bottom of the cosine: step up by the base lr's share (the lr is ~eta_min here).
    for (size_t i = 0; i < lrs.size(); ++i)
      lrs[i] = lrs[i] + (base_lrs_[i] - eta_min_) * (1 - std::cos(kPi / T)) / 2;
    return lrs;
  }
  // lr_t − η = (1 + cos(π t/T)) / (1 + cos(π (t−1)/T)) · (lr_{t−1} − η)
  for (double& lr : lrs)
    lr = (1 + std::cos(kPi * e / T)) / (1 + std::cos(kPi * (e - 1) / T)) * (lr - eta_min_) + eta_min_;
  return lrs;
}

void CosineAnnealingLR::add_fields(StateFields& f) {
  f.push_back({"T_max", K::Int, &T_max_});
  f.push_back({"eta_min", K::Double, &eta_min_});
}

// =============================================================== LinearLR
LinearLR::LinearLR(Optimizer& optimizer, const double start_factor, const double end_factor,
                   const int64_t total_iters)
    : LRScheduler(optimizer), start_factor_(start_factor), end_factor_(end_factor), total_iters_(total_iters) {
  if (start_factor > 1.0 || !(start_factor > 0))
    throw Error("LinearLR: Starting multiplicative factor expected to be greater than 0 and less or equal to 1, "
                "got " + num(start_factor));
  if (end_factor > 1.0 || !(end_factor >= 0))
    throw Error("LinearLR: Ending multiplicative factor expected to be between 0 and 1, got " + num(end_factor));
  if (total_iters < 0) throw Error("LinearLR: total_iters must be >= 0, got " + std::to_string(total_iters));
  initial_step();
}

std::vector<double> LinearLR::get_lrs() {
  std::vector<double> lrs = get_current_lrs();
  if (last_epoch_ == 0) {
    for (double& lr : lrs) lr = lr * start_factor_;
    return lrs;
  }
  if (last_epoch_ > total_iters_) return lrs;
  // The factor goes from f(t−1) to f(t): lr_t = lr_{t−1} · f(t)/f(t−1).
  const double step = end_factor_ - start_factor_;
  for (double& lr : lrs)
    lr = lr * (1. + step / (static_cast<double>(total_iters_) * start_factor_ +
                            static_cast<double>(last_epoch_ - 1) * step));
  return lrs;
}

void LinearLR::add_fields(StateFields& f) {
  f.push_back({"start_factor", K::Double, &start_factor_});
  f.push_back({"end_factor", K::Double, &end_factor_});
  f.push_back({"total_iters", K::Int, &total_iters_});
}

// ============================================================= OneCycleLR
namespace {
// The momentum a one-cycle schedule drives: SGD's / RMSprop's momentum or Adam's beta1.
StateField* momentum_field(StateFields& fields) {
  for (auto& f : fields)
    if ((f.name == "momentum" && f.kind == K::Double) || (f.name == "betas" && f.kind == K::Betas)) return &f;
  return nullptr;
}
void set_momentum(OptimizerOptions& o, double m) {
  StateFields fields = o.fields();
  StateField* f = momentum_field(fields);
  if (f->kind == K::Double) *static_cast<double*>(f->ptr) = m;
  else std::get<0>(*static_cast<std::tuple<double, double>*>(f->ptr)) = m;
}
}  // namespace

OneCycleLR::OneCycleLR(Optimizer& optimizer, double max_lr, int64_t total_steps)
    : OneCycleLR(optimizer, OneCycleLROptions(max_lr, total_steps)) {}

OneCycleLR::OneCycleLR(Optimizer& optimizer, const OneCycleLROptions& o)
    : LRScheduler(optimizer),
      total_steps_(o.total_steps()),
      pct_start_(o.pct_start()),
      anneal_cos_(o.anneal_strategy() == AnnealStrategy::cos),
      three_phase_(o.three_phase()),
      cycle_momentum_(o.cycle_momentum()) {
  auto& groups = optimizer.param_groups();
  if (total_steps_ <= 0)
    throw Error("OneCycleLR: Expected positive integer total_steps, but got " + std::to_string(total_steps_));
  if (!(pct_start_ >= 0 && pct_start_ <= 1))
    throw Error("OneCycleLR: Expected float between 0 and 1 pct_start, but got " + num(pct_start_));
  if (o.max_lr().size() != 1 && o.max_lr().size() != groups.size())
    throw Error("OneCycleLR: expected " + std::to_string(groups.size()) + " values for max_lr, got " +
                std::to_string(o.max_lr().size()));
  for (size_t i = 0; i < groups.size(); ++i) {
    const double mx = o.max_lr().size() == 1 ? o.max_lr()[0] : o.max_lr()[i];
    max_lr_.push_back(mx);
    initial_lr_.push_back(mx / o.div_factor());
    min_lr_.push_back(initial_lr_.back() / o.final_div_factor());
    groups[i].initial_lr() = initial_lr_.back();
  }
  base_lrs_ = initial_lr_;
  if (cycle_momentum_) {
    StateFields fields = optimizer.defaults().fields();
    StateField* f = momentum_field(fields);
    if (!f)
      throw Error(std::string("OneCycleLR: optimizer must support momentum with `cycle_momentum` option enabled (") +
                  optimizer.name() + " has neither momentum nor betas); pass OneCycleLROptions(...).cycle_momentum(false)");
    use_beta1_ = f->kind == K::Betas;
    for (auto& g : groups) {
      set_momentum(g.options(), o.max_momentum());
      max_momentum_.push_back(o.max_momentum());
      base_momentum_.push_back(o.base_momentum());
    }
  }
  initial_step();
}

double OneCycleLR::anneal(double start, double end, double pct) const {
  if (anneal_cos_) {
    const double cos_out = std::cos(kPi * pct) + 1;
    return end + (start - end) / 2.0 * cos_out;
  }
  return (end - start) * pct + start;
}

std::vector<double> OneCycleLR::get_lrs() {
  const int64_t step_num = last_epoch_;
  if (step_num > total_steps_)
    throw Error("OneCycleLR: Tried to step " + std::to_string(step_num + 1) +
                " times. The specified number of total steps is " + std::to_string(total_steps_));
  // PyTorch's phases: the end step of each and which group values it goes between.
  enum Which { kInitial, kMax, kMin, kMaxMom, kBaseMom };
  struct Phase {
    double end_step;
    Which start_lr, end_lr, start_m, end_m;
  };
  const double T = static_cast<double>(total_steps_);
  std::vector<Phase> phases;
  if (three_phase_)
    phases = {{pct_start_ * T - 1, kInitial, kMax, kMaxMom, kBaseMom},
              {2 * pct_start_ * T - 2, kMax, kInitial, kBaseMom, kMaxMom},
              {T - 1, kInitial, kMin, kMaxMom, kMaxMom}};
  else
    phases = {{pct_start_ * T - 1, kInitial, kMax, kMaxMom, kBaseMom}, {T - 1, kMax, kMin, kBaseMom, kMaxMom}};

  auto& groups = optimizer().param_groups();
  std::vector<double> lrs;
  for (size_t gi = 0; gi < groups.size(); ++gi) {
    auto value = [&](Which w) {
      switch (w) {
        case kInitial: return initial_lr_.at(gi);
        case kMax: return max_lr_.at(gi);
        case kMin: return min_lr_.at(gi);
        case kMaxMom: return max_momentum_.at(gi);
        case kBaseMom: return base_momentum_.at(gi);
      }
      return 0.0;
    };
    double start_step = 0, lr = 0, momentum = 0;
    for (size_t i = 0; i < phases.size(); ++i) {
      const double end_step = phases[i].end_step;
      if (static_cast<double>(step_num) <= end_step || i + 1 == phases.size()) {
        if (end_step == start_step)
          throw Error("OneCycleLR: phase " + std::to_string(i) + " has no steps (pct_start " + num(pct_start_) +
                      " of total_steps " + std::to_string(total_steps_) + " is too short)");
        const double pct = (static_cast<double>(step_num) - start_step) / (end_step - start_step);
        lr = anneal(value(phases[i].start_lr), value(phases[i].end_lr), pct);
        if (cycle_momentum_) momentum = anneal(value(phases[i].start_m), value(phases[i].end_m), pct);
        break;
      }
      start_step = end_step;
    }
    lrs.push_back(lr);
    if (cycle_momentum_) set_momentum(groups[gi].options(), momentum);
  }
  return lrs;
}

void OneCycleLR::add_fields(StateFields& f) {
  f.push_back({"total_steps", K::Int, &total_steps_});
  f.push_back({"pct_start", K::Double, &pct_start_});
  f.push_back({"anneal_cos", K::Int, &anneal_cos_});
  f.push_back({"three_phase", K::Bool, &three_phase_});
  f.push_back({"cycle_momentum", K::Bool, &cycle_momentum_});
  f.push_back({"use_beta1", K::Bool, &use_beta1_});
  f.push_back({"initial_lr", K::Doubles, &initial_lr_});
  f.push_back({"max_lr", K::Doubles, &max_lr_});
  f.push_back({"min_lr", K::Doubles, &min_lr_});
  f.push_back({"max_momentum", K::Doubles, &max_momentum_});
  f.push_back({"base_momentum", K::Doubles, &base_momentum_});
}

// ============================================== ReduceLROnPlateauScheduler
ReduceLROnPlateauScheduler::ReduceLROnPlateauScheduler(Optimizer& optimizer, SchedulerMode mode, double factor,
                                                       int patience, double threshold, ThresholdMode threshold_mode,
                                                       int cooldown, const std::vector<double>& min_lr, double eps,
                                                       bool verbose)
    : optimizer_(optimizer),
      mode_(mode),
      factor_(factor),
      patience_(patience),
      threshold_(threshold),
      threshold_mode_(threshold_mode),
      cooldown_(cooldown),
      eps_(eps),
      verbose_(verbose) {
  const std::string where = "ReduceLROnPlateau";
  if (!(factor < 1.0)) throw Error(where + ": Factor should be < 1.0, got " + num(factor));
  if (patience < 0) throw Error(where + ": patience must be >= 0, got " + std::to_string(patience));
  if (cooldown < 0) throw Error(where + ": cooldown must be >= 0, got " + std::to_string(cooldown));
  const size_t groups = optimizer.param_groups().size();
  if (min_lr.empty()) min_lrs_.assign(groups, 0.0);
  else if (min_lr.size() == 1) min_lrs_.assign(groups, min_lr[0]);
  else if (min_lr.size() == groups) min_lrs_ = min_lr;
  else
    throw Error(where + ": expected " + std::to_string(groups) + " min_lrs (one per param group), got " +
                std::to_string(min_lr.size()));
  best_ = mode == min ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  for (const auto& g : optimizer.param_groups()) last_lr_.push_back(g.options().get_lr());
}

bool ReduceLROnPlateauScheduler::is_better(double a, double best) const {
  if (mode_ == min && threshold_mode_ == rel) return a < best * (1. - threshold_);
  if (mode_ == min && threshold_mode_ == abs) return a < best - threshold_;
  if (mode_ == max && threshold_mode_ == rel) return a > best * (threshold_ + 1.);
  return a > best + threshold_;
}

void ReduceLROnPlateauScheduler::reduce_lr() {
  auto& groups = optimizer_.param_groups();
  for (size_t i = 0; i < groups.size(); ++i) {
    const double old_lr = groups[i].options().get_lr();
    const double new_lr = std::max(old_lr * factor_, min_lrs_.at(i));
    if (old_lr - new_lr > eps_) {
      groups[i].options().set_lr(new_lr);
      if (verbose_) {
        char msg[128];
        std::snprintf(msg, sizeof msg, "Epoch %05lld: reducing learning rate of group %zu to %.4e.",
                      static_cast<long long>(last_epoch_), i, new_lr);
        std::cout << msg << std::endl;
      }
    }
  }
}

void ReduceLROnPlateauScheduler::step(double metric) {
  last_epoch_ += 1;
  if (is_better(metric, best_)) {
    best_ = metric;
    num_bad_epochs_ = 0;
  } else {
    num_bad_epochs_ += 1;
  }
  if (cooldown_counter_ > 0) {
    cooldown_counter_ -= 1;
    num_bad_epochs_ = 0;  // bad epochs in cooldown do not count
  }
  if (num_bad_epochs_ > patience_) {
    reduce_lr();
    cooldown_counter_ = cooldown_;
    num_bad_epochs_ = 0;
  }
  last_lr_.clear();
  for (const auto& g : optimizer_.param_groups()) last_lr_.push_back(g.options().get_lr());
}

StateFields ReduceLROnPlateauScheduler::fields() {
  return {{"mode", K::Int, &mode_},
          {"factor", K::Double, &factor_},
          {"patience", K::Int, &patience_},
          {"threshold", K::Double, &threshold_},
          {"threshold_mode", K::Int, &threshold_mode_},
          {"cooldown", K::Int, &cooldown_},
          {"cooldown_counter", K::Int, &cooldown_counter_},
          {"min_lrs", K::Doubles, &min_lrs_},
          {"eps", K::Double, &eps_},
          {"best", K::Double, &best_},
          {"num_bad_epochs", K::Int, &num_bad_epochs_},
          {"last_epoch", K::Int, &last_epoch_},
          {"last_lr", K::Doubles, &last_lr_}};
}

StateDict ReduceLROnPlateauScheduler::state_dict() const {
  StateDict out;
  detail::write_fields("", const_cast<ReduceLROnPlateauScheduler*>(this)->fields(), out);
  return out;
}

void ReduceLROnPlateauScheduler::load_fields(const StateDict& in) {
  const std::string what = "ReduceLROnPlateau::load_state_dict";
  std::set<std::string> used;
  detail::read_fields("", fields(), in, used, what);
  detail::check_unexpected(in, used, what);
  const size_t groups = optimizer_.param_groups().size();
  if (min_lrs_.size() != groups)
    throw Error(what + ": the state dict is for " + std::to_string(min_lrs_.size()) +
                " parameter groups but the optimizer has " + std::to_string(groups));
  if ((mode_ != min && mode_ != max) || (threshold_mode_ != rel && threshold_mode_ != abs))
    throw Error(what + ": unknown mode " + std::to_string(mode_) + " or threshold_mode " +
                std::to_string(threshold_mode_));
}

void ReduceLROnPlateauScheduler::load_state_dict(const StateDict& in) {
  StateDict backup = state_dict();
  try {
    load_fields(in);
  } catch (...) {
    load_fields(backup);
    throw;
  }
}

}  // namespace dg::optim
