#include "optim_setup.hpp"

#include <cmath>

namespace dgcli {
namespace optim = dg::optim;

namespace {

// Linear warm-up over `warmup` steps from 0 to the base lr, then half a cosine
// down to 0 at `total` steps: a closed form of the step count, so resuming needs
// only last_epoch (kept by the base class's state dict).
class WarmupCosineLR : public optim::LRScheduler {
 public:
  WarmupCosineLR(optim::Optimizer& opt, int64_t warmup, int64_t total)
      : LRScheduler(opt), warmup_(warmup), total_(std::max<int64_t>(total, 1)) {
    initial_step();
  }

 protected:
  std::vector<double> get_lrs() override {
    const double t = double(last_epoch_);
    double f;
    if (t < double(warmup_)) f = (t + 1) / double(warmup_ + 1);
    else {
      double p = std::min(1.0, (t - double(warmup_)) / double(std::max<int64_t>(total_ - warmup_, 1)));
      f = 0.5 * (1 + std::cos(M_PI * p));
    }
    std::vector<double> r;
    for (double b : base_lrs_) r.push_back(b * f);
    return r;
  }
  void add_fields(optim::StateFields& fields) override {
    fields.push_back({"warmup", optim::StateField::Kind::Int, &warmup_});
    fields.push_back({"total", optim::StateField::Kind::Int, &total_});
  }

 private:
  int64_t warmup_, total_;
};

}  // namespace

std::unique_ptr<optim::Optimizer> make_optimizer(const TrainConfig& c, const std::vector<dg::Tensor>& params) {
  if (c.optimizer == "sgd")
    return std::make_unique<optim::SGD>(
        params, optim::SGDOptions(c.lr).momentum(c.momentum).nesterov(c.momentum > 0).weight_decay(c.weight_decay));
  if (c.optimizer == "adam")
    return std::make_unique<optim::Adam>(params, optim::AdamOptions(c.lr).weight_decay(c.weight_decay));
  if (c.optimizer == "adamw")
    return std::make_unique<optim::AdamW>(params, optim::AdamWOptions(c.lr).weight_decay(c.weight_decay));
  if (c.optimizer == "rmsprop")
    return std::make_unique<optim::RMSprop>(
        params, optim::RMSpropOptions(c.lr).momentum(c.momentum).weight_decay(c.weight_decay));
  if (c.optimizer == "adagrad")
    return std::make_unique<optim::Adagrad>(params, optim::AdagradOptions(c.lr).weight_decay(c.weight_decay));
  throw UsageError("unknown optimizer '" + c.optimizer + "'");
}

Schedule::Schedule(const TrainConfig& c, optim::Optimizer& opt, int64_t steps_per_epoch) : kind_(c.schedule), opt_(opt) {
  const int64_t total = c.epochs * steps_per_epoch;
  if (kind_ == "step") {
    sched_ = std::make_unique<optim::StepLR>(opt, unsigned(std::max<int64_t>(1, (c.epochs + 2) / 3)), 0.1);
  } else if (kind_ == "cosine") {
    sched_ = std::make_unique<optim::CosineAnnealingLR>(opt, std::max<int64_t>(total, 1), 0.0);
    per_step_ = true;
  } else if (kind_ == "onecycle") {
    // Adagrad has no momentum to cycle.
    auto o = optim::OneCycleLROptions(c.lr, std::max<int64_t>(total, 1)).cycle_momentum(c.optimizer != "adagrad" &&
                                                                                       c.momentum > 0);
    if (c.optimizer == "adam" || c.optimizer == "adamw") o.cycle_momentum(true);
    sched_ = std::make_unique<optim::OneCycleLR>(opt, o);
    per_step_ = true;
  } else if (kind_ == "warmup-cosine") {
    sched_ = std::make_unique<WarmupCosineLR>(opt, int64_t(std::llround(c.warmup * double(total))), total);
    per_step_ = true;
  } else if (kind_ == "plateau") {
    plateau_ = std::make_unique<optim::ReduceLROnPlateau>(opt, optim::ReduceLROnPlateau::min, 0.1, 2);
  } else if (kind_ != "none") {
    throw UsageError("unknown schedule '" + kind_ + "'");
  }
}

Schedule::~Schedule() = default;

void Schedule::after_step() {
  if (sched_ && per_step_) sched_->step();
}

void Schedule::after_epoch(double val_loss) {
  if (sched_ && !per_step_) sched_->step();
  if (plateau_) plateau_->step(val_loss);
}

double Schedule::lr() const { return opt_.param_groups().at(0).options().get_lr(); }

optim::StateDict Schedule::state_dict() const {
  if (sched_) return sched_->state_dict();
  if (plateau_) return plateau_->state_dict();
  return {};
}

void Schedule::load_state_dict(const optim::StateDict& s) {
  if (sched_) sched_->load_state_dict(s);
  else if (plateau_) plateau_->load_state_dict(s);
}

}  // namespace dgcli
