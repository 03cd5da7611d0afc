// dimgrad CLI — training checkpoints: everything `--resume` needs to continue a
// run exactly, in one safetensors file (written atomically).
//
//   tensors   model.<name>        the model's state dict (PyTorch names)
//             optimizer.<key>     Optimizer::state_dict()
//             scheduler.<key>     the LR schedule's state dict
//             train.epoch         int64: the epoch to continue in
//             train.batch         int64: batches of that epoch already done (data-loader position)
//             train.step          int64: optimizer steps done
//             train.sums          float64 [3]: running loss sum, correct count, seen count of the epoch
//             train.best_val_acc  float64
//   metadata  dimgrad.kind = "checkpoint", dimgrad.config (config.json's content),
//             dimgrad.model, dimgrad.data, dimgrad.rng_state (dg::default_generator().get_state())
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>

#include "common.hpp"
#include "dimgrad/nn.hpp"
#include "dimgrad/optim.hpp"

namespace dgcli {

struct TrainPosition {
  int64_t epoch = 0;
  int64_t batch = 0;
  int64_t step = 0;
  double loss_sum = 0, correct = 0, seen = 0;
  double best_val_acc = -1;
};

struct Checkpoint {
  json config;  // {"train": TrainConfig, "model": ModelSpec, "data": DataInfo}
  std::map<std::string, dg::Tensor> model, optimizer, scheduler;
  TrainPosition position;
  std::string rng_state;
};

void save_checkpoint(const std::string& path, const json& config, dg::nn::Module& model,
                     const dg::optim::StateDict& optimizer, const dg::optim::StateDict& scheduler,
                     const TrainPosition& pos);
// Reads and checks a checkpoint; throws dg::IOError naming the file and what is
// wrong (not a checkpoint, a missing entry, corrupted bytes).
Checkpoint load_checkpoint(const std::string& path);
// The same checks on a checkpoint's bytes in memory; `name` stands for the file in errors.
Checkpoint parse_checkpoint(const uint8_t* data, size_t size, const std::string& name);

}  // namespace dgcli
