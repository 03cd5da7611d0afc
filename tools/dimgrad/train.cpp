#include "train.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "checkpoint.hpp"
#include "dataset.hpp"
#include "dimgrad/data.hpp"
#include "dimgrad/autograd/observer.hpp"
#include "dimgrad/nn.hpp"
#include "evaluate.hpp"
#include "model_spec.hpp"
#include "optim_setup.hpp"
#include "progress.hpp"
#include "report.hpp"

namespace dgcli {
namespace F = dg::nn::functional;

namespace {

using clock_type = std::chrono::steady_clock;
double seconds_since(clock_type::time_point t) { return std::chrono::duration<double>(clock_type::now() - t).count(); }

// The run's metrics, kept in memory and written whole (atomically) with each
// checkpoint, so metrics.jsonl always agrees with checkpoint.safetensors.
class Metrics {
 public:
  explicit Metrics(std::string path) : path_(std::move(path)) {}
  void add(json r) { records_.push_back(std::move(r)); }
  // On resume: the records of the steps the checkpoint covers.
  void load_until(int64_t step, int64_t epoch) {
    if (!file_exists(path_)) return;
    std::istringstream in(read_text_file(path_));
    std::string line;
    while (std::getline(in, line)) {
      if (line.empty()) continue;
      json r = json::parse(line, nullptr, false);
      if (r.is_discarded() || !r.is_object()) continue;  // a torn last line from a crash
      const std::string kind = r.value("kind", "");
      if (kind == "test") continue;
      if (kind == "epoch" ? r.value("epoch", int64_t(0)) > epoch : r.value("step", int64_t(0)) > step) continue;
      records_.push_back(std::move(r));
    }
  }
  void write() const {
    std::string s;
    for (auto& r : records_) s += r.dump() + "\n";
    write_text_file(path_, s);
  }
  const std::vector<json>& records() const { return records_; }

 private:
  std::string path_;
  std::vector<json> records_;
};

void apply_resume_overrides(TrainConfig& cfg, const TrainConfig& saved, const ExplicitOptions& given) {
  if (!given.others.empty()) {
    std::string list;
    for (auto& o : given.others) list += (list.empty() ? "" : ", ") + o;
    throw UsageError("with --resume the checkpoint's configuration is used; these options cannot be changed: " + list +
                     " (only --epochs, --threads, --out and --no-progress can)");
  }
  TrainConfig c = saved;
  if (given.epochs && cfg.epochs != saved.epochs) {
    // These schedules were laid out over the planned number of steps.
    if (saved.schedule == "cosine" || saved.schedule == "onecycle" || saved.schedule == "warmup-cosine")
      throw UsageError("--epochs cannot change when resuming a run with the '" + saved.schedule +
                       "' schedule: it was planned over " + std::to_string(saved.epochs) +
                       " epochs (schedules none, step and plateau can be extended)");
    c.epochs = cfg.epochs;
  }
  if (given.threads) c.threads = cfg.threads;
  if (given.out) c.out = cfg.out;
  c.progress = cfg.progress;
  c.resume = cfg.resume;
  c.interrupt_after_steps = cfg.interrupt_after_steps;
  cfg = c;
}

}  // namespace

int run_train(TrainConfig cfg, const ExplicitOptions& given) {
  const auto t_start = clock_type::now();
  std::unique_ptr<Checkpoint> ckpt;
  if (!cfg.resume.empty()) {
    ckpt = std::make_unique<Checkpoint>(load_checkpoint(cfg.resume));
    TrainConfig saved = TrainConfig::from_json(ckpt->config.at("train"));
    const std::string resume_path = cfg.resume;
    if (!given.out) {
      // Continue in the checkpoint's folder.
      auto slash = resume_path.find_last_of('/');
      cfg.out = is_directory(resume_path) ? resume_path : slash == std::string::npos ? "." : resume_path.substr(0, slash);
    }
    apply_resume_overrides(cfg, saved, given);
    // A deterministic run keeps its thread count: the order of floating-point
    // sums inside the kernels depends on it.
    if (cfg.deterministic && given.threads && cfg.threads != saved.threads)
      throw UsageError("--threads cannot change when resuming a --deterministic run (it ran with " +
                       std::to_string(saved.threads) + " threads)");
  } else {
    cfg.resolve_defaults();
  }
  cfg.validate();
  if (cfg.threads > 0) dg::set_num_threads(cfg.threads);
  cfg.threads = dg::get_num_threads();  // recorded, so a deterministic resume uses the same count
  dg::manual_seed(cfg.seed);

  // ---- data, model, optimizer
  if (auto known = builtin_data_info(cfg.data); known && !ckpt)
    load_model_spec(cfg.model, known->example_shape, known->num_classes());  // a bad model fails before the data loads
  DataRequest req;
  req.name = cfg.data, req.dir = cfg.data_dir, req.limit_train = cfg.limit_train, req.limit_test = cfg.limit_test;
  if (ckpt) {
    DataInfo saved = DataInfo::from_json(ckpt->config.at("data"));
    req.mean_std = std::make_pair(saved.mean, saved.std);
  }
  Dataset data = load_dataset(req);
  const DataInfo& info = data.info;
  ModelSpec spec = ckpt ? ModelSpec::from_json(ckpt->config.at("model"), "checkpoint '" + cfg.resume + "'")
                        : load_model_spec(cfg.model, info.example_shape, info.num_classes());
  auto model = build_model(spec);
  auto params = model->parameters();
  auto optimizer = make_optimizer(cfg, params);

  // Validation: a stratified, seeded split of the training set (dg::data), or the
  // test set when --val-split is 0.
  dg::data::Dataset all;
  all.features = data.train_x, all.targets = data.train_y, all.num_classes = info.num_classes();
  all.class_names = info.class_names, all.name = info.name;
  dg::data::Dataset train_set = all, val_set;
  if (cfg.val_split > 0) std::tie(train_set, val_set) = dg::data::train_val_split(all, cfg.val_split, cfg.seed);
  const bool val_is_test = val_set.size() == 0;
  dg::Tensor val_x = val_is_test ? data.test_x : val_set.features, val_y = val_is_test ? data.test_y : val_set.targets;
  // Held-out images are bytes like the training ones: normalised once here, as the test set was.
  if (val_x.dtype() == dg::kUInt8) val_x = normalize_inputs(info, dg::data::to_unit_float(val_x), true);
  const int64_t n_train = train_set.size();
  if (n_train == 0) throw dg::Error("no training examples left (check --limit-train and --val-split)");
  // The order of epoch e is a function of (seed, e) alone, and batches are made
  // on a background thread: resuming at (epoch, batch) sees the same batches.
  dg::data::DataLoaderOptions loader_options = dg::data::DataLoaderOptions()
                                                   .with_batch_size(cfg.batch_size)
                                                   .with_shuffle(true)
                                                   .with_seed(cfg.seed)
                                                   .with_prefetch(2);
  // Image batches arrive as float pixels in [0, 1] (the loader converts the
  // bytes): normalised first, then augmented, as when the whole set was
  // normalised up front.
  if (data.train_x.dtype() == dg::kUInt8) loader_options.with_transform(batch_normalizer(info));
  // Random flips and crops draw from a generator seeded by (seed, epoch, batch):
  // a resumed run sees the same augmented batches.
  if (info.example_shape.size() == 3)
    for (auto& t : augmentation_transforms(cfg.augment)) loader_options.with_transform(t);
  else if (cfg.augment != "none")
    throw UsageError("--augment " + cfg.augment + ": flips and crops need images, and " + info.name + " has " +
                     std::to_string(info.example_shape.size()) + "-d examples (use --augment none)");
  dg::data::DataLoader loader(train_set, loader_options);
  const int64_t batches = loader.num_batches();
  Schedule schedule(cfg, *optimizer, batches);

  // ---- run folder
  make_directories(cfg.out);
  const json config{{"train", cfg.to_json()},
                    {"model", spec.to_json()},
                    {"data", info.to_json()},
                    {"split", {{"train", n_train}, {"validation", val_is_test ? 0 : val_set.size()},
                               {"validation_source", val_is_test ? "test set" : "held out from the training set"},
                               {"test", data.test_x.size(0)}}},
                    {"parameters", [&] { int64_t n = 0; for (auto& p : params) n += p.numel(); return n; }()}};
  write_text_file(path_join(cfg.out, "config.json"), config.dump(2) + "\n");
  Metrics metrics(path_join(cfg.out, "metrics.jsonl"));

  TrainPosition pos;
  if (ckpt) {
    try {
      model->load_state_dict(ckpt->model, true);
    } catch (const dg::Error& e) {
      throw dg::Error("checkpoint '" + cfg.resume + "' does not fit its own model description: " + e.what());
    }
    optimizer->load_state_dict(ckpt->optimizer);
    schedule.load_state_dict(ckpt->scheduler);
    dg::default_generator().set_state(ckpt->rng_state);
    pos = ckpt->position;
    metrics.load_until(pos.step, pos.epoch);
    if (pos.epoch >= cfg.epochs)
      std::printf("the checkpoint is already at epoch %lld of %lld: nothing to train (raise --epochs)\n",
                  static_cast<long long>(pos.epoch), static_cast<long long>(cfg.epochs));
  }

  std::optional<dg::autograd::DetectAnomalyGuard> anomaly;
  if (cfg.detect_anomaly) {
    dg::autograd::AnomalyOptions ao;
    ao.dump_path = path_join(cfg.out, "anomaly.safetensors");
    for (const auto& item : model->named_parameters()) ao.extra.emplace_back(item.key(), item.value());
    anomaly.emplace(ao);
  }

  Progress progress(cfg.progress && stdout_is_tty());
  std::printf("training %s on %s: %lld train / %lld validation / %lld test examples, %lld parameters, %s %s lr %g, "
              "%lld epochs, %d threads → %s\n",
              spec.name.c_str(), info.name.c_str(), static_cast<long long>(n_train),
              static_cast<long long>(val_x.size(0)), static_cast<long long>(data.test_x.size(0)),
              static_cast<long long>(config["parameters"].get<int64_t>()), cfg.optimizer.c_str(), cfg.schedule.c_str(),
              cfg.lr, static_cast<long long>(cfg.epochs), cfg.threads, cfg.out.c_str());
  if (ckpt)
    std::printf("resuming from %s at epoch %lld, batch %lld (step %lld)\n", cfg.resume.c_str(),
                static_cast<long long>(pos.epoch + 1), static_cast<long long>(pos.batch),
                static_cast<long long>(pos.step));
  std::fflush(stdout);

  const std::string ckpt_path = path_join(cfg.out, "checkpoint.safetensors");
  auto save_all = [&] {
    save_checkpoint(ckpt_path, config, *model, optimizer->state_dict(), schedule.state_dict(), pos);
    metrics.write();
  };
  std::vector<std::string> names = model->named_parameters().keys();

  const int64_t first_step = pos.step;
  for (; pos.epoch < cfg.epochs; ++pos.epoch) {
    const auto t_epoch = clock_type::now();
    loader.start(pos.epoch, pos.batch);
    model->train();
    progress.begin_epoch(pos.epoch + 1, cfg.epochs, batches, pos.batch);
    int64_t samples_now = 0;
    for (; pos.batch < batches; ++pos.batch) {
      if (cfg.interrupt_after_steps > 0 && pos.step - first_step >= cfg.interrupt_after_steps) g_interrupted = true;
      if (g_interrupted.load()) {
        save_all();
        progress.message("interrupted: checkpoint saved at epoch " + std::to_string(pos.epoch + 1) + ", batch " +
                         std::to_string(pos.batch) + " (step " + std::to_string(pos.step) + ") to " + ckpt_path +
                         "\nresume with: dimgrad train --resume " + ckpt_path);
        return 130;
      }
      std::optional<dg::data::Batch> batch = loader.next();
      if (!batch) throw dg::Error("internal: the data loader ended early at batch " + std::to_string(pos.batch));
      const dg::Tensor& x = batch->data;
      const dg::Tensor& y = batch->target;
      if (anomaly) anomaly->set_step(pos.step + 1);

      dg::Tensor logits = model->forward(x);
      dg::Tensor loss = F::cross_entropy(logits, y);
      optimizer->zero_grad();
      loss.backward();

      const bool stats = (pos.step + 1) % cfg.stats_every == 0 || pos.step == 0;
      std::vector<dg::Tensor> before;
      json grad_norm, weight_norm;
      if (stats) {
        dg::NoGradGuard ng;
        for (size_t i = 0; i < params.size(); ++i) {
          grad_norm[names[i]] = params[i].grad().defined() ? params[i].grad().norm().item<double>() : 0.0;
          weight_norm[names[i]] = params[i].norm().item<double>();
          before.push_back(params[i].detach().clone());
        }
      }
      const double lr_used = schedule.lr();
      optimizer->step();
      schedule.after_step();
      ++pos.step;

      const double loss_v = loss.item<double>();
      const int64_t bsz = x.size(0);
      const double correct = logits.argmax(1).eq(y).sum().item<double>();
      pos.loss_sum += loss_v * double(bsz), pos.correct += correct, pos.seen += double(bsz);
      samples_now += bsz;
      metrics.add({{"kind", "step"}, {"epoch", pos.epoch + 1}, {"step", pos.step}, {"loss", loss_v},
                   {"acc", correct / double(bsz)}, {"lr", lr_used}});
      if (stats) {
        dg::NoGradGuard ng;
        json ratio;
        for (size_t i = 0; i < params.size(); ++i) {
          double w = weight_norm[names[i]].get<double>();
          ratio[names[i]] = w > 0 ? (params[i] - before[i]).norm().item<double>() / w : 0.0;
        }
        metrics.add({{"kind", "layers"}, {"epoch", pos.epoch + 1}, {"step", pos.step}, {"grad_norm", grad_norm},
                     {"weight_norm", weight_norm}, {"update_ratio", ratio}});
      }
      if (!std::isfinite(loss_v) && !anomaly)
        throw dg::Error("the loss became " + std::to_string(loss_v) + " at step " + std::to_string(pos.step) +
                        " (try a smaller --lr, or --detect-anomaly to find the op that made it)");
      progress.update(pos.batch + 1, pos.loss_sum / pos.seen, pos.correct / pos.seen, samples_now);
    }

    // ---- end of epoch: validate, schedule, save
    EvalResult val = evaluate(*model, val_x, val_y, info.num_classes());
    const double train_loss = pos.seen > 0 ? pos.loss_sum / pos.seen : 0, train_acc = pos.seen > 0 ? pos.correct / pos.seen : 0;
    const double lr_epoch = schedule.lr();
    schedule.after_epoch(val.loss);
    const double secs = seconds_since(t_epoch);
    metrics.add({{"kind", "epoch"}, {"epoch", pos.epoch + 1}, {"step", pos.step}, {"train_loss", train_loss},
                 {"train_acc", train_acc}, {"val_loss", val.loss}, {"val_acc", val.accuracy}, {"lr", lr_epoch},
                 {"time_s", secs}, {"samples_per_s", secs > 0 ? double(samples_now) / secs : 0.0}});
    char line[320];
    std::snprintf(line, sizeof line,
                  "epoch %lld/%lld  loss %.4f  acc %.2f%%  val_loss %.4f  val_acc %.2f%%  lr %.3g  %s  %.0f samples/s",
                  static_cast<long long>(pos.epoch + 1), static_cast<long long>(cfg.epochs), train_loss, train_acc * 100,
                  val.loss, val.accuracy * 100, lr_epoch, format_duration(secs).c_str(),
                  secs > 0 ? double(samples_now) / secs : 0.0);
    progress.end_epoch(line);

    const std::map<std::string, std::string> epoch_meta = {{"dimgrad.epoch", std::to_string(pos.epoch + 1)},
                                                           {"dimgrad.val_acc", std::to_string(val.accuracy)}};
    save_model_file(path_join(cfg.out, "model.safetensors"), *model, spec, info, epoch_meta);
    if (val.accuracy > pos.best_val_acc) {
      pos.best_val_acc = val.accuracy;
      save_model_file(path_join(cfg.out, "best.safetensors"), *model, spec, info, epoch_meta);
    }
    pos.batch = 0, pos.loss_sum = pos.correct = pos.seen = 0;
    TrainPosition next = pos;
    next.epoch = pos.epoch + 1;
    save_checkpoint(ckpt_path, config, *model, optimizer->state_dict(), schedule.state_dict(), next);
    metrics.write();
  }

  // ---- final test evaluation and report
  EvalResult test = evaluate(*model, data.test_x, data.test_y, info.num_classes(), 1000, cfg.report_images);
  json test_record = test.to_json(info.class_names);
  test_record["kind"] = "test";
  test_record["step"] = pos.step;
  metrics.add(test_record);
  metrics.write();
  write_report(path_join(cfg.out, "report.html"), config, metrics.records(), test, data);
  const double total = seconds_since(t_start);
  std::printf("test accuracy %.2f%% (%lld examples), test loss %.4f, total time %s\nrun folder: %s (report.html)\n",
              test.accuracy * 100, static_cast<long long>(test.count), test.loss, format_duration(total).c_str(),
              cfg.out.c_str());
  return 0;
}

}  // namespace dgcli
