// The dimgrad CLI's training-checkpoint loader (train --resume): any bytes → a
// Checkpoint or dg::IOError. A checkpoint that loads then goes through what
// --resume does with it: its training configuration and model description are
// read back, the model is built and takes the weights, the optimizer and the LR
// schedule take their states, the RNG its state; mismatches anywhere must be
// dg::Error (or the UsageError of a configuration out of range), never a crash.
#include "checkpoint.hpp"
#include "config.hpp"
#include "fuzz_cli_util.hpp"
#include "optim_setup.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dgcli::Checkpoint c;
  try {
    c = dgcli::parse_checkpoint(data, size, "fuzz");
  } catch (const dg::IOError&) {
    return 0;
  }
  try {
    dgcli::TrainConfig cfg = dgcli::TrainConfig::from_json(c.config.at("train"));
    cfg.validate();
    dgcli::ModelSpec spec = dgcli::ModelSpec::from_json(c.config.at("model"), "fuzz");
    if (!dgfuzz::fits_fuzz_budget(spec)) return 0;
    auto model = dgcli::build_model(spec);
    model->load_state_dict(c.model, true);
    auto optimizer = dgcli::make_optimizer(cfg, model->parameters());
    dgcli::Schedule schedule(cfg, *optimizer, 3);
    optimizer->load_state_dict(c.optimizer);
    schedule.load_state_dict(c.scheduler);
    dg::Generator g;
    g.set_state(c.rng_state);
    dgfuzz::forward_zeros(model, spec);
  } catch (const dg::Error&) {
  } catch (const dgcli::UsageError&) {
  }
  return 0;
}
