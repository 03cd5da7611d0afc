// dimgrad CLI — `dimgrad train`: the training loop, the run folder, checkpoints
// and resuming.
//
// Run folder (--out, default runs/<timestamp>):
//   config.json              every resolved option, the model spec and the data description
//   metrics.jsonl            {"kind":"step"...} per step, {"kind":"epoch"...} per epoch,
//                            {"kind":"layers"...} every stats_every steps, {"kind":"test"...} at the end
//   model.safetensors        weights (PyTorch names), model/data description in metadata
//   best.safetensors         the same, for the epoch with the best validation accuracy
//   checkpoint.safetensors   model.*, optimizer.*, scheduler.* tensors; train.epoch/batch/step;
//                            RNG state, config and running sums in metadata
//   report.html              the training report
#pragma once

#include <string>

#include "config.hpp"

namespace dgcli {

// Which options the user gave explicitly (they override a resumed configuration
// where that is allowed).
struct ExplicitOptions {
  bool epochs = false, threads = false, out = false, progress = false;
  std::vector<std::string> others;  // any other training option given (refused with --resume)
};

// Returns the process exit code: 0 done, 130 interrupted (checkpoint saved).
int run_train(TrainConfig cfg, const ExplicitOptions& given);

}  // namespace dgcli
