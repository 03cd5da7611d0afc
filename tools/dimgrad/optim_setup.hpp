// dimgrad CLI — the optimizer and learning-rate schedule named in the config.
//
// Schedules (T = epochs × batches per epoch steps in all):
//   none           constant lr
//   step           lr × 0.1 after each third of the epochs (StepLR, stepped per epoch)
//   cosine         cosine from lr to 0 over T steps (CosineAnnealingLR, per step)
//   onecycle       1cycle up to lr and down (OneCycleLR, per step)
//   plateau        lr × 0.1 when the validation loss has not improved for 2 epochs
//   warmup-cosine  linear from 0 to lr over warmup·T steps, then cosine to 0
#pragma once

#include <memory>
#include <string>

#include "config.hpp"
#include "dimgrad/optim.hpp"

namespace dgcli {

class Schedule {
 public:
  Schedule(const TrainConfig& cfg, dg::optim::Optimizer& opt, int64_t steps_per_epoch);
  ~Schedule();
  void after_step();
  void after_epoch(double val_loss);
  double lr() const;
  dg::optim::StateDict state_dict() const;
  void load_state_dict(const dg::optim::StateDict& s);

 private:
  std::string kind_;
  dg::optim::Optimizer& opt_;
  std::unique_ptr<dg::optim::LRScheduler> sched_;
  std::unique_ptr<dg::optim::ReduceLROnPlateau> plateau_;
  bool per_step_ = false;
};

std::unique_ptr<dg::optim::Optimizer> make_optimizer(const TrainConfig& cfg, const std::vector<dg::Tensor>& params);

}  // namespace dgcli
