#include "checkpoint.hpp"

#include "dimgrad/io.hpp"

namespace dgcli {

void save_checkpoint(const std::string& path, const json& config, dg::nn::Module& model,
                     const dg::optim::StateDict& optimizer, const dg::optim::StateDict& scheduler,
                     const TrainPosition& pos) {
  std::map<std::string, dg::Tensor> t;
  for (const auto& item : model.state_dict()) t["model." + item.key()] = item.value();
  for (const auto& [k, v] : optimizer) t["optimizer." + k] = v;
  for (const auto& [k, v] : scheduler) t["scheduler." + k] = v;
  t["train.epoch"] = dg::scalar_tensor(pos.epoch, dg::kInt64);
  t["train.batch"] = dg::scalar_tensor(pos.batch, dg::kInt64);
  t["train.step"] = dg::scalar_tensor(pos.step, dg::kInt64);
  t["train.sums"] = dg::tensor(std::vector<double>{pos.loss_sum, pos.correct, pos.seen});
  t["train.best_val_acc"] = dg::scalar_tensor(pos.best_val_acc, dg::kFloat64);
  std::map<std::string, std::string> meta = {
      {"dimgrad.kind", "checkpoint"},
      {"dimgrad.config", config.dump()},
      {"dimgrad.model", config.at("model").dump()},
      {"dimgrad.data", config.at("data").dump()},
      {"dimgrad.rng_state", dg::default_generator().get_state()},
  };
  dg::io::save_safetensors(path, t, meta);
}

namespace {

// Everything after the safetensors layer, shared by the file and in-memory
// entry points so the checks fuzzed on bytes are the ones --resume runs.
Checkpoint checkpoint_from(dg::io::SafetensorsFile f, const std::string& path) {
  auto meta = [&](const char* key) -> const std::string& {
    auto it = f.metadata.find(key);
    if (it == f.metadata.end())
      throw dg::IOError("'" + path + "' is not a dimgrad training checkpoint (no \"" + key +
                        "\" in its metadata; model.safetensors and best.safetensors hold weights only)");
    return it->second;
  };
  if (meta("dimgrad.kind") != "checkpoint")
    throw dg::IOError("'" + path + "' is not a training checkpoint (it is a '" + meta("dimgrad.kind") + "' file)");
  Checkpoint c;
  try {
    c.config = json::parse(meta("dimgrad.config"));
  } catch (const json::exception& e) {
    throw dg::IOError("'" + path + "': malformed configuration in its metadata (" + e.what() + ")");
  }
  // --resume reads these three with json::at: checked here, so a damaged file is an
  // IOError naming it rather than a bare json::out_of_range (fuzz finding).
  for (const char* part : {"train", "model", "data"})
    if (!c.config.is_object() || !c.config.contains(part) || !c.config.at(part).is_object())
      throw dg::IOError("'" + path + "': malformed configuration in its metadata (no \"" + part + "\" object)");
  c.rng_state = meta("dimgrad.rng_state");
  auto scalar = [&](const char* key) -> dg::Tensor {
    auto it = f.tensors.find(key);
    if (it == f.tensors.end()) throw dg::IOError("'" + path + "' is an incomplete checkpoint: no tensor \"" + key + "\"");
    return it->second;
  };
  // Written as int64 scalars; item<int64_t>() of a float tensor holding 1e300 would
  // be an undefined cast (fuzz finding), and a shape other than one value an error
  // without the file's name.
  auto count = [&](const char* key) -> int64_t {
    dg::Tensor t = scalar(key);
    if (t.is_floating_point() || t.numel() != 1)
      throw dg::IOError("'" + path + "': \"" + key + "\" must be one integer, got a " + dg::dtype_name(t.dtype()) +
                        " tensor of shape " + shape_string(t.sizes()));
    return t.item<int64_t>();
  };
  c.position.epoch = count("train.epoch");
  c.position.batch = count("train.batch");
  c.position.step = count("train.step");
  dg::Tensor best = scalar("train.best_val_acc");
  if (best.numel() != 1) throw dg::IOError("'" + path + "': train.best_val_acc must be one value");
  c.position.best_val_acc = best.item<double>();
  dg::Tensor sums = scalar("train.sums");
  if (sums.numel() != 3) throw dg::IOError("'" + path + "': train.sums must hold 3 values");
  auto s = to_doubles(sums);
  c.position.loss_sum = s[0], c.position.correct = s[1], c.position.seen = s[2];
  if (c.position.epoch < 0 || c.position.batch < 0 || c.position.step < 0)
    throw dg::IOError("'" + path + "': negative training position");
  for (const auto& entry : f.tensors) {
    // Named references, not structured bindings: clang before 16 (the fuzz builds)
    // cannot capture those in a lambda.
    const std::string& k = entry.first;
    const dg::Tensor& v = entry.second;
    auto take = [&](const std::string& prefix, std::map<std::string, dg::Tensor>& into) {
      if (k.rfind(prefix, 0) != 0) return false;
      into[k.substr(prefix.size())] = v;
      return true;
    };
    if (!take("model.", c.model) && !take("optimizer.", c.optimizer) && !take("scheduler.", c.scheduler) &&
        k.rfind("train.", 0) != 0)
      throw dg::IOError("'" + path + "': unexpected tensor \"" + k + "\" in a checkpoint");
  }
  if (c.model.empty()) throw dg::IOError("'" + path + "': the checkpoint holds no model weights");
  return c;
}

}  // namespace

Checkpoint load_checkpoint(const std::string& path) {
  if (is_directory(path)) return load_checkpoint(path_join(path, "checkpoint.safetensors"));
  if (!file_exists(path)) throw dg::IOError("checkpoint '" + path + "' not found");
  // Streamed from the file (not read whole first): a checkpoint is as large as its model.
  return checkpoint_from(dg::io::load_safetensors(path), path);
}

Checkpoint parse_checkpoint(const uint8_t* data, size_t size, const std::string& name) {
  return checkpoint_from(dg::io::parse_safetensors(data, size, name), name);
}

}  // namespace dgcli
