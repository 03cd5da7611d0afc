#include "config.hpp"

#include <algorithm>
#include <sstream>

namespace dgcli {

const std::vector<std::string>& optimizer_names() {
  static const std::vector<std::string> v = {"sgd", "adam", "adamw", "rmsprop", "adagrad"};
  return v;
}
const std::vector<std::string>& schedule_names() {
  static const std::vector<std::string> v = {"none", "step", "cosine", "onecycle", "plateau", "warmup-cosine"};
  return v;
}

namespace {
bool one_of(const std::string& s, const std::vector<std::string>& v) { return std::find(v.begin(), v.end(), s) != v.end(); }
std::string joined(const std::vector<std::string>& v) {
  std::string r;
  for (auto& s : v) r += (r.empty() ? "" : ", ") + s;
  return r;
}
}  // namespace

void TrainConfig::resolve_defaults() {
  // Per-preset defaults, chosen by measurement on Fashion-MNIST (docs/cli.md):
  // they reach the targets quickly on two cores.
  const bool cnn = model == "cnn";
  if (epochs == 0) epochs = 10;
  // Measured on the cnn preset (Adam, cosine, 10 epochs): batch 64 reaches 92.3%
  // test accuracy, batch 128 91.8% (half the steps); the MLPs do well with 128.
  if (batch_size == 0) batch_size = cnn ? 64 : 128;
  if (optimizer.empty()) optimizer = cnn ? "adam" : "sgd";
  if (schedule.empty()) schedule = "cosine";
  // Off by default: measured on the cnn preset (10 epochs, Adam, cosine), flips
  // and 2-pixel crops slowed learning more than they cut overfitting (test
  // accuracy 90.5% with them, 91.8% without); they pay off in longer runs.
  if (augment.empty()) augment = "none";
  if (lr == 0) {
    if (optimizer == "sgd") lr = 0.05;
    else if (optimizer == "adam" || optimizer == "adamw" || optimizer == "rmsprop") lr = 1e-3;
    else lr = 0.01;  // adagrad
  }
  if (momentum < 0) momentum = optimizer == "sgd" ? 0.9 : 0.0;
  if (weight_decay < 0) weight_decay = optimizer == "adamw" ? 0.01 : 0.0;
  if (out.empty()) out = "runs/" + timestamp_now();
}

void TrainConfig::validate() const {
  if (!one_of(optimizer, optimizer_names()))
    throw UsageError("--optimizer: unknown optimizer '" + optimizer + "' (one of " + joined(optimizer_names()) + ")");
  if (!one_of(schedule, schedule_names()))
    throw UsageError("--schedule: unknown schedule '" + schedule + "' (one of " + joined(schedule_names()) + ")");
  // Bounded so epochs × batches per epoch (the schedules' step count) cannot
  // overflow int64: a checkpoint's stored 2^62 epochs did (fuzz finding).
  if (epochs < 1 || epochs > 1000000) throw UsageError("--epochs must be in [1, 1000000]");
  if (batch_size < 1) throw UsageError("--batch-size must be at least 1");
  if (!(lr > 0)) throw UsageError("--lr must be positive");
  if (momentum < 0 || momentum >= 1) throw UsageError("--momentum must be in [0, 1)");
  if (weight_decay < 0) throw UsageError("--weight-decay must not be negative");
  if (!(val_split >= 0 && val_split < 1)) throw UsageError("--val-split must be in [0, 1)");
  if (!(warmup >= 0 && warmup < 1)) throw UsageError("--warmup must be in [0, 1)");
  if (threads < 0) throw UsageError("--threads must not be negative");
  if (limit_train < 0 || limit_test < 0) throw UsageError("--limit-train and --limit-test must not be negative");
  augmentation_transforms(augment);  // throws on a bad item
  if (stats_every < 1) throw UsageError("--stats-every must be at least 1");
  if (data != "fashion-mnist" && data != "mnist" && data != "cifar10" && data.rfind("csv:", 0) != 0)
    throw UsageError("--data: unknown data set '" + data + "' (fashion-mnist, mnist, cifar10 or csv:PATH)");
}

json TrainConfig::to_json() const {
  return json{{"model", model},
              {"data", data},
              {"data_dir", data_dir},
              {"epochs", epochs},
              {"batch_size", batch_size},
              {"optimizer", optimizer},
              {"lr", lr},
              {"momentum", momentum},
              {"weight_decay", weight_decay},
              {"schedule", schedule},
              {"augment", augment},
              {"warmup", warmup},
              {"seed", seed},
              {"threads", threads},
              {"val_split", val_split},
              {"out", out},
              {"limit_train", limit_train},
              {"limit_test", limit_test},
              {"deterministic", deterministic},
              {"detect_anomaly", detect_anomaly},
              {"stats_every", stats_every},
              {"report_images", report_images}};
}

namespace {

// An integer field (a default when absent), checked: see json_integer.
template <class T>
T integer(const json& j, const char* key, std::optional<T> dflt = std::nullopt) {
  if (dflt && !j.contains(key)) return *dflt;
  return json_integer<T>(j.at(key), std::string("training configuration: \"") + key + "\"");
}

}  // namespace

TrainConfig TrainConfig::from_json(const json& j) {
  TrainConfig c;
  try {
    c.model = j.at("model");
    c.data = j.at("data");
    c.data_dir = j.value("data_dir", "");
    c.epochs = integer<int64_t>(j, "epochs");
    c.batch_size = integer<int64_t>(j, "batch_size");
    c.optimizer = j.at("optimizer");
    c.lr = j.at("lr");
    c.momentum = j.at("momentum");
    c.weight_decay = j.at("weight_decay");
    c.schedule = j.at("schedule");
    c.augment = j.value("augment", "none");  // runs written before the option had none
    c.warmup = j.value("warmup", 0.05);
    c.seed = integer<uint64_t>(j, "seed");
    c.threads = integer<int>(j, "threads", 0);
    c.val_split = j.at("val_split");
    c.out = j.value("out", "");
    c.limit_train = integer<int64_t>(j, "limit_train", int64_t(0));
    c.limit_test = integer<int64_t>(j, "limit_test", int64_t(0));
    c.deterministic = j.value("deterministic", false);
    c.detect_anomaly = j.value("detect_anomaly", false);
    c.stats_every = integer<int64_t>(j, "stats_every", int64_t(50));
    c.report_images = integer<int64_t>(j, "report_images", int64_t(36));
  } catch (const json::exception& e) {
    throw dg::Error(std::string("training configuration is incomplete or malformed: ") + e.what());
  }
  return c;
}

std::vector<dg::data::TransformPtr> augmentation_transforms(const std::string& augment) {
  std::vector<dg::data::TransformPtr> out;
  if (augment == "none") return out;
  std::stringstream items(augment);
  std::string item;
  while (std::getline(items, item, ',')) {
    if (item == "flip") {
      out.push_back(dg::data::RandomHorizontalFlip());
    } else if (item.rfind("crop:", 0) == 0) {
      const std::string n = item.substr(5);
      if (n.empty() || n.size() > 2 || n.find_first_not_of("0123456789") != std::string::npos)
        throw UsageError("--augment: \"" + item + "\": crop takes a padding of 0 to 99 pixels, e.g. crop:2");
      out.push_back(dg::data::RandomCrop(std::stoll(n)));
    } else {
      throw UsageError("--augment: unknown item \"" + item + "\" (none, or a comma list of flip and crop:PADDING)");
    }
  }
  if (out.empty()) throw UsageError("--augment: empty list (use none)");
  return out;
}

}  // namespace dgcli
