// dimgrad — the command-line tool: train, eval, predict, summary, explain, gradcheck.
//
// Exit codes: 0 success; 1 an error (one message on stderr); 2 a usage error
// (the usage is printed); 130 training interrupted with Ctrl-C (checkpoint saved).
#include <cstdio>
#include <exception>
#include <iostream>

#include <CLI/CLI.hpp>

#include "commands.hpp"
#include "config.hpp"
#include "dimgrad/errors.hpp"
#include "train.hpp"

namespace {

using namespace dgcli;

std::string list(const std::vector<std::string>& v) {
  std::string r;
  for (auto& s : v) r += (r.empty() ? "" : "|") + s;
  return r;
}

void add_model_args(CLI::App* sub, ModelArgs& m) {
  sub->add_option("--model", m.model, "preset (mlp, cnn, two-layer) or JSON model file")->capture_default_str();
  sub->add_option("--data", m.data, "data set the model is for: its input shape and classes")->capture_default_str();
  sub->add_option("--input-shape", m.input_shape, "input shape per example, e.g. 1,28,28 (instead of --data's)");
  sub->add_option("--classes", m.classes, "number of classes (instead of --data's)");
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"dimgrad — train, evaluate, inspect and audit neural networks on the CPU"};
  app.require_subcommand(1);
  app.failure_message(CLI::FailureMessage::help);

  // ---------------------------------------------------------------- train
  TrainConfig cfg;
  auto* train = app.add_subcommand("train", "train a model (default: mlp on Fashion-MNIST) and write a run folder");
  std::vector<std::pair<std::string, CLI::Option*>> train_opts;
  auto topt = [&](CLI::Option* o) { train_opts.emplace_back(o->get_name(), o); return o; };
  topt(train->add_option("--model", cfg.model, "preset (mlp, cnn, two-layer) or JSON model file")->capture_default_str());
  topt(train->add_option("--data", cfg.data, "fashion-mnist | mnist | cifar10 | csv:PATH[,TEST_PATH]")->capture_default_str());
  topt(train->add_option("--data-dir", cfg.data_dir, "folder of the data set's files (default: its Debian folder)"));
  auto* o_epochs = train->add_option("--epochs", cfg.epochs, "epochs (default: the preset's, 10)");
  topt(train->add_option("--batch-size", cfg.batch_size, "examples per step (default: 64 for cnn, 128 otherwise)"));
  topt(train->add_option("--optimizer", cfg.optimizer, list(optimizer_names()) + " (default: sgd; adam for cnn)"));
  topt(train->add_option("--lr", cfg.lr, "learning rate (default: 0.05 for sgd, 1e-3 for adam/adamw/rmsprop, 0.01 adagrad)"));
  topt(train->add_option("--momentum", cfg.momentum, "momentum (sgd: Nesterov, default 0.9; rmsprop: default 0)"));
  topt(train->add_option("--weight-decay", cfg.weight_decay, "weight decay (default 0; 0.01 for adamw)"));
  topt(train->add_option("--schedule", cfg.schedule, list(schedule_names()) + " (default: cosine)"));
  topt(train->add_option("--augment", cfg.augment, "training-batch augmentation: none, or a list of flip and crop:PADDING (default: none)"));
  topt(train->add_option("--warmup", cfg.warmup, "warm-up fraction of all steps for warmup-cosine")->capture_default_str());
  topt(train->add_option("--seed", cfg.seed, "seed of initialisation, split, data order and dropout")->capture_default_str());
  auto* o_threads = train->add_option("--threads", cfg.threads, "threads (default: all cores)");
  topt(train->add_option("--val-split", cfg.val_split, "fraction of the training set held out for validation (0: use the test set)")
           ->capture_default_str());
  auto* o_out = train->add_option("--out", cfg.out, "run folder (default: runs/<timestamp>)");
  train->add_option("--resume", cfg.resume, "continue from a checkpoint (file or run folder)");
  topt(train->add_option("--limit-train", cfg.limit_train, "use only the first N training examples"));
  topt(train->add_option("--limit-test", cfg.limit_test, "use only the first N test examples"));
  topt(train->add_flag("--deterministic", cfg.deterministic, "record the thread count so a resumed run is bit-identical"));
  topt(train->add_flag("--detect-anomaly", cfg.detect_anomaly, "stop at the first NaN/Inf, naming the op and module"));
  topt(train->add_option("--stats-every", cfg.stats_every, "steps between per-layer gradient statistics")->capture_default_str());
  topt(train->add_option("--report-images", cfg.report_images, "misclassified images shown in the report")->capture_default_str());
  train->add_option("--interrupt-after-steps", cfg.interrupt_after_steps,
                    "testing aid: act as if Ctrl-C came after N steps")->group("");  // hidden
  bool no_progress = false;
  auto* o_noprog = train->add_flag("--no-progress", no_progress, "no progress bar, one line per epoch");

  // ----------------------------------------------------------------- eval
  EvalArgs ea;
  auto* eval = app.add_subcommand("eval", "accuracy, per-class accuracy and confusion matrix of a trained model");
  eval->add_option("weights", ea.weights, "model file (model.safetensors, best.safetensors, checkpoint) or run folder")
      ->required();
  eval->add_option("--model", ea.model, "architecture, for weights without dimgrad metadata (e.g. from PyTorch)");
  eval->add_option("--data", ea.data, "data set to evaluate on (default: the one the model was trained on)");
  eval->add_option("--data-dir", ea.data_dir, "folder of the data set's files");
  eval->add_option("--limit-test", ea.limit_test, "evaluate only the first N test examples");
  eval->add_option("--batch-size", ea.batch_size, "examples per forward pass")->capture_default_str();
  eval->add_option("--threads", ea.threads, "threads (default: all cores)");
  eval->add_flag("--json", ea.json_output, "print the results as JSON");

  // -------------------------------------------------------------- predict
  PredictArgs pa;
  auto* predict = app.add_subcommand("predict", "class and probabilities for test-set examples or images in an .npy file");
  predict->add_option("weights", pa.weights, "model file or run folder")->required();
  auto* o_idx = predict->add_option("--index", pa.indices, "comma-separated test-set indices, e.g. 0,1,2");
  auto* o_npy = predict->add_option("--npy", pa.npy, ".npy file of images [N,C,H,W], [N,H,W] or [N,features] (raw pixel values 0..255)");
  o_idx->excludes(o_npy);
  predict->add_option("--model", pa.model, "architecture, for weights without dimgrad metadata");
  predict->add_option("--data", pa.data, "data set the indices refer to (default: the model's)");
  predict->add_option("--data-dir", pa.data_dir, "folder of the data set's files");
  predict->add_option("--top", pa.top, "classes listed per example")->capture_default_str();
  predict->add_option("--threads", pa.threads, "threads (default: all cores)");
  predict->add_flag("--json", pa.json_output, "print the results as JSON");

  // -------------------------------------------------------------- summary
  SummaryArgs sa;
  auto* summary = app.add_subcommand("summary", "layers, output shapes, parameter counts and FLOPs per example");
  add_model_args(summary, sa.m);
  summary->add_flag("--pytorch", sa.pytorch, "also print the equivalent PyTorch nn.Sequential");

  // -------------------------------------------------------------- explain
  ExplainArgs xa;
  auto* explain = app.add_subcommand("explain", "the backward pass of one training step, in dimension-analysis form");
  add_model_args(explain, xa.m);
  explain->add_option("--op", xa.op, "explain one op of the op table instead (see --list-ops)");
  explain->add_option("--format", xa.format, "text | markdown | dot")
      ->check(CLI::IsMember({"text", "markdown", "dot"}))
      ->capture_default_str();
  explain->add_option("--batch-size", xa.batch_size, "batch size N of the explained step")->capture_default_str();
  explain->add_option("--seed", xa.seed, "seed of the model's initialisation and the batch")->capture_default_str();
  explain->add_flag("--list-ops", xa.list_ops, "list the ops --op can explain");

  // ------------------------------------------------------------ gradcheck
  GradcheckArgs ga;
  ga.m.model = "cnn";
  auto* gradcheck = app.add_subcommand("gradcheck", "float64 finite-difference audit of every parameter's gradient");
  add_model_args(gradcheck, ga.m);
  gradcheck->add_option("--batch-size", ga.batch_size, "examples in the checked batch")->capture_default_str();
  gradcheck->add_option("--elements", ga.elements, "elements checked per parameter tensor (all if fewer)")->capture_default_str();
  gradcheck->add_option("--eps", ga.eps, "finite-difference step")->capture_default_str();
  gradcheck->add_option("--atol", ga.atol, "absolute tolerance")->capture_default_str();
  gradcheck->add_option("--rtol", ga.rtol, "relative tolerance")->capture_default_str();
  gradcheck->add_option("--seed", ga.seed, "seed of the model, the batch and the chosen elements")->capture_default_str();
  gradcheck->add_option("--threads", ga.threads, "threads (default: all cores)");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;  // --help is a success; every parse failure is a usage error
  }

  try {
    if (*train) {
      cfg.progress = !no_progress;
      ExplicitOptions given;
      given.epochs = o_epochs->count() > 0;
      given.threads = o_threads->count() > 0;
      given.out = o_out->count() > 0;
      given.progress = o_noprog->count() > 0;
      for (auto& [name, opt] : train_opts)
        if (opt->count() > 0) given.others.push_back(name);
      install_interrupt_handler();
      return run_train(cfg, given);
    }
    if (*eval) return run_eval(ea);
    if (*predict) {
      if (pa.indices.empty() && pa.npy.empty()) throw UsageError("predict: give --index LIST or --npy FILE");
      return run_predict(pa);
    }
    if (*summary) return run_summary(sa);
    if (*explain) return run_explain(xa);
    if (*gradcheck) return run_gradcheck(ga);
  } catch (const UsageError& e) {
    std::fprintf(stderr, "error: %s\n\n", e.what());
    auto subs = app.get_subcommands();
    std::fputs((subs.empty() ? app.help() : subs[0]->help()).c_str(), stderr);
    return 2;
  } catch (const dg::Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  } catch (...) {
    std::fprintf(stderr, "error: unknown failure\n");
    return 1;
  }
  return 0;
}
