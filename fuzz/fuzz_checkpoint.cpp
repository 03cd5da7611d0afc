// The dimgrad CLI's training-checkpoint loader (train --resume): any bytes → a
// Checkpoint or dg::IOError. A checkpoint that loads then goes through what
// --resume does with it: its training configuration and model description are
// read back, the model is built and takes the weights, the optimizer and the LR
// schedule take their states, the RNG its state; mismatches anywhere must be
// dg::Error (or the UsageError of a configuration out of range), never a crash.
//
// Byte-level mutation seldom gets past the safetensors layer to the interesting
// parts (a JSON configuration inside a metadata string; tensor bytes under a CRC),
// so half the mutations are structure-aware (LLVMFuzzerCustomMutator below): the
// file is parsed, the configuration text, one metadata string or one tensor's
// bytes or dtype is mutated, and the file is written back with a valid checksum.
#include <dimgrad/io.hpp>

#include "checkpoint.hpp"
#include "config.hpp"
#include "fuzz_cli_util.hpp"
#include "optim_setup.hpp"

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

// libFuzzer's own mutation of a string, growing it by up to 64 bytes.
void mutate_string(std::string& s) {
  const size_t size = s.size();
  s.resize(size + 64);
  s.resize(LLVMFuzzerMutate(reinterpret_cast<uint8_t*>(s.data()), size, s.size()));
}

size_t mutate_structure(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  dg::io::SafetensorsFile f;
  try {
    f = dg::io::parse_safetensors(data, size, "mutator");
  } catch (const dg::Error&) {
    return 0;
  }
  f.metadata.erase("dimgrad.checksum");  // written afresh by serialize_safetensors
  f.metadata.erase("dimgrad.format_version");
  switch (seed % 4) {
    case 0:
    case 1: {  // the stored configuration (and so the model entry) most often
      auto it = f.metadata.find("dimgrad.config");
      if (it == f.metadata.end()) return 0;
      mutate_string(it->second);
      break;
    }
    case 2: {  // one tensor's bytes, or its dtype
      if (f.tensors.empty()) return 0;
      auto it = std::next(f.tensors.begin(), (seed / 4) % f.tensors.size());
      dg::Tensor& t = it->second;
      if ((seed / 64) % 4 == 0) {
        static const dg::ScalarType types[] = {dg::kFloat32, dg::kFloat64, dg::kInt64, dg::kBool};
        dg::ScalarType to = types[(seed / 256) % 4];
        // A float-to-int64 conversion of 1e300 here would be UBSan's report against
        // the mutator itself; bool takes its place (defined for every float).
        if (t.is_floating_point() && to == dg::kInt64) to = dg::kBool;
        t = t.to(to);
      } else if (t.nbytes() > 0) {
        t = t.contiguous().clone();
        LLVMFuzzerMutate(static_cast<uint8_t*>(t.raw_data()), t.nbytes(), t.nbytes());
      }
      break;
    }
    default: {  // another metadata string (kind, RNG state, model, data)
      if (f.metadata.empty()) return 0;
      auto it = std::next(f.metadata.begin(), (seed / 4) % f.metadata.size());
      mutate_string(it->second);
    }
  }
  std::vector<uint8_t> out;
  try {
    out = dg::io::serialize_safetensors(f.tensors, f.metadata);
  } catch (const dg::Error&) {
    return 0;
  }
  if (out.size() > max_size) return 0;
  std::copy(out.begin(), out.end(), data);
  return out.size();
}

}  // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size, unsigned seed) {
  if (seed % 2 == 0)
    if (size_t n = mutate_structure(data, size, max_size, seed / 2)) return n;
  return LLVMFuzzerMutate(data, size, max_size);
}

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
