// The dimgrad CLI training on a subset of Fashion-MNIST: the run folder, eval
// and predict on its model, checkpoints (corrupted, from another architecture),
// exact resume (after an epoch, mid-epoch, after a real Ctrl-C), anomaly mode,
// and the report rendered by headless Chromium.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <chrono>
#include <cstring>
#include <fstream>
#include <set>
#include <thread>

#include <nlohmann/json.hpp>

#include "cli_test_util.hpp"
#include "dimgrad/data.hpp"
#include "dimgrad/io.hpp"
#include "dimgrad/ops.hpp"

extern char** environ;

using clitest::run;
using clitest::TempDir;
using json = nlohmann::json;

namespace {

const char* kSmall = "--limit-train 2000 --limit-test 500 --threads 2 --no-progress";

// One short training run shared by the tests that only read its results.
class CliTrainedRun : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!clitest::have_fashion_mnist()) return;
    dir_ = new TempDir();
    result_ = new clitest::Result(run(std::string("train --epochs 1 --stats-every 5 ") + kSmall + " --out " + run_dir()));
  }
  static void TearDownTestSuite() {
    delete dir_;
    delete result_;
    dir_ = nullptr, result_ = nullptr;
  }
  void SetUp() override {
    REQUIRE_FASHION_MNIST();
    ASSERT_EQ(result_->code, 0) << result_->out << result_->err;
  }
  static std::string run_dir() { return (*dir_) / "run"; }
  static TempDir* dir_;
  static clitest::Result* result_;
};
TempDir* CliTrainedRun::dir_ = nullptr;
clitest::Result* CliTrainedRun::result_ = nullptr;

std::vector<json> read_jsonl(const std::string& path) {
  std::vector<json> v;
  std::istringstream in(clitest::slurp(path));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) v.push_back(json::parse(line));
  return v;
}

// Every tensor of two safetensors files equal, bit for bit.
void expect_identical_tensors(const std::string& a, const std::string& b) {
  auto fa = dg::io::load_safetensors(a), fb = dg::io::load_safetensors(b);
  ASSERT_EQ(fa.tensors.size(), fb.tensors.size());
  for (auto& [k, t] : fa.tensors) {
    ASSERT_TRUE(fb.tensors.count(k)) << k;
    const dg::Tensor& u = fb.tensors.at(k);
    ASSERT_EQ(t.sizes(), u.sizes()) << k;
    ASSERT_EQ(t.dtype(), u.dtype()) << k;
    EXPECT_EQ(std::memcmp(t.contiguous().raw_data(), u.contiguous().raw_data(), t.nbytes()), 0)
        << k << " differs between " << a << " and " << b;
  }
}

}  // namespace

// The training images stay bytes in memory (47 MB for Fashion-MNIST) and each
// batch is normalised when it is made; holding the set as normalised floats
// took 660 MB at the peak (two float copies of 188 MB). The peak of a whole
// epoch on all 60,000 images, in its own process, must stay well under that.
// Not under AddressSanitizer, whose shadow memory changes every RSS.
TEST(CliMemory, FullTrainingSetIsHeldAsBytes) {
  REQUIRE_FASHION_MNIST();
#if defined(__SANITIZE_ADDRESS__)
  GTEST_SKIP() << "RSS is not meaningful under AddressSanitizer";
#else
  TempDir dir;
  auto r = run("train --epochs 1 --limit-test 100 --threads 2 --no-progress --out " + (dir / "run"));
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_TRUE(r.out.find("54000 train") != std::string::npos || r.out.find("60000 train") != std::string::npos)
      << r.out;
  // The largest process this test has waited for (the shell and dimgrad under it).
  struct rusage ru {};
  ASSERT_EQ(getrusage(RUSAGE_CHILDREN, &ru), 0);
  EXPECT_LT(ru.ru_maxrss, 400L * 1024) << "peak RSS of one epoch on Fashion-MNIST: " << ru.ru_maxrss / 1024 << " MB";
#endif
}

TEST_F(CliTrainedRun, WritesEveryRunFolderFile) {
  const std::string d = run_dir();
  for (const char* f : {"config.json", "metrics.jsonl", "model.safetensors", "checkpoint.safetensors", "best.safetensors",
                        "report.html"})
    EXPECT_TRUE(clitest::exists(d + "/" + f)) << f;
  // config.json: the resolved defaults, enough to rerun.
  json cfg = json::parse(clitest::slurp(d + "/config.json"));
  EXPECT_EQ(cfg["train"]["model"], "mlp");
  EXPECT_EQ(cfg["train"]["optimizer"], "sgd");
  EXPECT_DOUBLE_EQ(cfg["train"]["lr"].get<double>(), 0.05);
  EXPECT_EQ(cfg["train"]["seed"], 0);
  EXPECT_EQ(cfg["model"]["layers"][1]["in"], 784);
  EXPECT_EQ(cfg["split"]["train"].get<int64_t>() + cfg["split"]["validation"].get<int64_t>(), 2000);
  // metrics.jsonl: one record per step, layer statistics every 5 steps, one epoch record, the test result.
  auto recs = read_jsonl(d + "/metrics.jsonl");
  int steps = 0, layers = 0, epochs = 0, tests = 0;
  for (auto& r : recs) {
    const std::string k = r["kind"];
    steps += k == "step", layers += k == "layers", epochs += k == "epoch", tests += k == "test";
    if (k == "layers") {
      EXPECT_GT(r["grad_norm"]["1.weight"].get<double>(), 0);
    }
  }
  const int64_t n_train = cfg["split"]["train"];
  EXPECT_EQ(steps, (n_train + 127) / 128);
  EXPECT_EQ(layers, 1 + steps / 5);
  EXPECT_EQ(epochs, 1);
  EXPECT_EQ(tests, 1);
  // model.safetensors: PyTorch's names for nn.Sequential(Flatten, Linear, ReLU, Linear, ReLU, Linear).
  auto m = dg::io::load_safetensors(d + "/model.safetensors");
  std::set<std::string> keys;
  for (auto& [k, t] : m.tensors) keys.insert(k);
  EXPECT_EQ(keys, (std::set<std::string>{"1.weight", "1.bias", "3.weight", "3.bias", "5.weight", "5.bias"}));
  EXPECT_EQ(m.tensors["1.weight"].sizes(), (std::vector<int64_t>{512, 784}));
  EXPECT_TRUE(m.metadata.count("dimgrad.model"));
  // checkpoint: weights, optimizer state, position, RNG state.
  auto c = dg::io::load_safetensors(d + "/checkpoint.safetensors");
  EXPECT_TRUE(c.tensors.count("model.1.weight"));
  EXPECT_TRUE(c.tensors.count("optimizer.state.0.momentum_buffer"));
  EXPECT_EQ(c.tensors["train.epoch"].item<int64_t>(), 1);
  EXPECT_EQ(c.tensors["train.step"].item<int64_t>(), steps);
  EXPECT_FALSE(c.metadata["dimgrad.rng_state"].empty());
}

TEST_F(CliTrainedRun, ReportIsSelfContainedWithItsCharts) {
  std::string html = clitest::slurp(run_dir() + "/report.html");
  for (const char* id : {"chart-loss", "chart-accuracy", "chart-lr", "chart-grad-norms", "chart-update-ratios",
                         "chart-confusion", "misclassified"})
    EXPECT_NE(html.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  EXPECT_NE(html.find("<polyline"), std::string::npos);
  EXPECT_NE(html.find("src=\"data:image/png;base64,iVBORw0KGgo"), std::string::npos);  // PNG signature, base64
  EXPECT_EQ(html.find("<script"), std::string::npos);
  EXPECT_EQ(html.find("https://"), std::string::npos);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
}

TEST_F(CliTrainedRun, EvalAgreesWithTheRunsTestResult) {
  auto r = run("eval " + run_dir() + " --limit-test 500 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json e = json::parse(r.out);
  json test;
  for (auto& rec : read_jsonl(run_dir() + "/metrics.jsonl"))
    if (rec["kind"] == "test") test = rec;
  EXPECT_EQ(e["count"], 500);
  EXPECT_DOUBLE_EQ(e["accuracy"].get<double>(), test["accuracy"].get<double>());
  EXPECT_EQ(e["confusion_matrix"], test["confusion_matrix"]);
  int64_t total = 0;
  for (auto& row : e["confusion_matrix"])
    for (auto& v : row) total += v.get<int64_t>();
  EXPECT_EQ(total, 500);
  auto text = run("eval " + run_dir() + "/best.safetensors --limit-test 100");
  ASSERT_EQ(text.code, 0) << text.err;
  EXPECT_NE(text.out.find("confusion matrix"), std::string::npos);
  EXPECT_NE(text.out.find("Ankle boot"), std::string::npos);
}

TEST_F(CliTrainedRun, PredictIndicesAndNpyImagesAgree) {
  auto r = run("predict " + run_dir() + "/model.safetensors --index 0,1,2 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json by_index = json::parse(r.out);
  ASSERT_EQ(by_index.size(), 3u);
  // The same three test images as raw pixels (0..255) in an .npy file.
  auto test = dg::data::load_fashion_mnist(clitest::kFashionDir, false).head(3);
  dg::io::save_npy((*dir_) / "three.npy", (test.features * 255.0).reshape({3, 28, 28}));
  auto n = run("predict " + run_dir() + " --npy " + (*dir_) / "three.npy --json");
  ASSERT_EQ(n.code, 0) << n.err;
  json by_npy = json::parse(n.out);
  ASSERT_EQ(by_npy.size(), 3u);
  for (size_t i = 0; i < 3; ++i) {
    auto p = by_index[i]["probabilities"].get<std::vector<double>>();
    double sum = 0;
    for (double v : p) sum += v;
    EXPECT_NEAR(sum, 1.0, 1e-5);
    EXPECT_EQ(by_index[i]["class"], int64_t(std::max_element(p.begin(), p.end()) - p.begin()));
    EXPECT_EQ(by_index[i]["true_class"], test.targets[int64_t(i)].item<int64_t>());
    EXPECT_EQ(by_npy[i]["class"], by_index[i]["class"]);
    auto q = by_npy[i]["probabilities"].get<std::vector<double>>();
    for (size_t c = 0; c < p.size(); ++c) EXPECT_NEAR(q[c], p[c], 1e-5);
  }
  auto bad = run("predict " + run_dir() + " --index 10000000");
  EXPECT_EQ(bad.code, 1);
  EXPECT_NE(bad.err.find("out of range"), std::string::npos) << bad.err;
}

TEST_F(CliTrainedRun, CheckpointFromAnotherArchitectureListsKeysAndShapes) {
  auto r = run("eval " + run_dir() + "/model.safetensors --model two-layer --limit-test 10");
  EXPECT_EQ(r.code, 1);
  EXPECT_NE(r.err.find("1.weight: checkpoint [512, 784], model [100, 784]"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("unexpected keys"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("5.weight"), std::string::npos) << r.err;
  auto c = run("eval " + run_dir() + "/model.safetensors --model cnn --limit-test 10");
  EXPECT_EQ(c.code, 1);
  EXPECT_NE(c.err.find("missing keys"), std::string::npos) << c.err;
  EXPECT_NE(c.err.find("0.weight"), std::string::npos) << c.err;
}

TEST_F(CliTrainedRun, CorruptedOrTruncatedCheckpointIsRefused) {
  const std::string good = run_dir() + "/checkpoint.safetensors", bad = (*dir_) / "bad.safetensors";
  std::string bytes = clitest::slurp(good);
  std::string flipped = bytes;
  flipped[flipped.size() - 1000] ^= 0x55;  // inside the data buffer
  std::ofstream(bad, std::ios::binary) << flipped;
  auto r = run("train --resume " + bad);
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(clitest::error_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find("checksum"), std::string::npos) << r.err;

  std::ofstream(bad, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  auto t = run("train --resume " + bad);
  EXPECT_EQ(t.code, 1) << t.err;
  EXPECT_NE(t.err.find(bad), std::string::npos) << t.err;

  auto w = run("train --resume " + run_dir() + "/model.safetensors");
  EXPECT_EQ(w.code, 1) << w.err;
  EXPECT_NE(w.err.find("training checkpoint"), std::string::npos) << w.err;

  auto o = run("train --resume " + good + " --lr 0.5");
  EXPECT_EQ(o.code, 2) << o.err;
  EXPECT_NE(o.err.find("--lr"), std::string::npos) << o.err;
}

// ---------------------------------------------------------------- resume
namespace {
// Dropout (RNG state), Adam (moments, step counts) and 1cycle (scheduler state)
// all have to come back exactly.
const char* kResumeModel = R"({"layers": [{"type": "flatten"}, {"type": "linear", "out": 32}, {"type": "relu"},
  {"type": "dropout", "p": 0.3}, {"type": "linear", "out": "classes"}]})";
std::string resume_args(const TempDir& t) {
  // Augmented batches too: their random flips and crops must replay exactly on resume.
  return "--model " + t / "m.json" + " --optimizer adam --schedule onecycle --lr 0.01 --batch-size 50 --augment flip,crop:2 "
         "--limit-train 600 --limit-test 100 --seed 7 --deterministic --threads 2 --no-progress";
}
}  // namespace

TEST(CliResume, AfterAnEpochAndMidEpochIsBitIdentical) {
  REQUIRE_FASHION_MNIST();
  TempDir t;
  std::ofstream(t / "m.json") << kResumeModel;
  auto full = run("train --epochs 2 --out " + t / "full " + resume_args(t));
  ASSERT_EQ(full.code, 0) << full.err;

  // Stopped after the first of two epochs (as Ctrl-C between epochs would), then resumed.
  const int64_t per_epoch = dg::io::load_safetensors(t / "full/checkpoint.safetensors").tensors["train.step"].item<int64_t>() / 2;
  auto first = run("train --epochs 2 --interrupt-after-steps " + std::to_string(per_epoch) + " --out " + t / "split " +
                   resume_args(t));
  ASSERT_EQ(first.code, 130) << first.err;
  EXPECT_EQ(dg::io::load_safetensors(t / "split/checkpoint.safetensors").tensors["train.epoch"].item<int64_t>(), 1);
  auto second = run("train --resume " + t / "split/checkpoint.safetensors");
  ASSERT_EQ(second.code, 0) << second.err;
  EXPECT_NE(second.out.find("resuming"), std::string::npos) << second.out;
  expect_identical_tensors(t / "full/model.safetensors", t / "split/model.safetensors");
  expect_identical_tensors(t / "full/checkpoint.safetensors", t / "split/checkpoint.safetensors");

  // Interrupted mid-epoch, twice: after 4 steps, then 9 more (in the second epoch).
  auto part = run("train --epochs 2 --interrupt-after-steps 4 --out " + t / "mid " + resume_args(t));
  ASSERT_EQ(part.code, 130) << part.out << part.err;
  EXPECT_NE(part.out.find("interrupted"), std::string::npos) << part.out;
  auto part2 = run("train --resume " + t / "mid --interrupt-after-steps 9");
  ASSERT_EQ(part2.code, 130) << part2.out << part2.err;
  auto rest = run("train --resume " + t / "mid");
  ASSERT_EQ(rest.code, 0) << rest.err;
  expect_identical_tensors(t / "full/model.safetensors", t / "mid/model.safetensors");
  // The metrics of the interrupted run are those of the uninterrupted one (no step twice).
  int steps = 0;
  for (auto& r : read_jsonl(t / "mid/metrics.jsonl")) steps += r["kind"] == "step";
  int full_steps = 0;
  for (auto& r : read_jsonl(t / "full/metrics.jsonl")) full_steps += r["kind"] == "step";
  EXPECT_EQ(steps, full_steps);
}

TEST(CliResume, CtrlCSavesACheckpointAndExits130) {
  REQUIRE_FASHION_MNIST();
  TempDir t;
  const std::string out = t / "stdout.txt";
  std::vector<std::string> args = {DG_CLI_PATH, "train", "--epochs", "200", "--limit-train", "1000", "--limit-test",
                                   "100", "--model", "two-layer", "--threads", "1", "--no-progress", "--out", t / "run"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  ASSERT_EQ(posix_spawn(&pid, DG_CLI_PATH, &fa, nullptr, argv.data(), environ), 0);
  posix_spawn_file_actions_destroy(&fa);
  // Wait for the first epoch to finish, then press Ctrl-C.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(120);
  while (clitest::slurp(out).find("epoch 1/200") == std::string::npos && std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ::kill(pid, SIGINT);
  int st = 0;
  ::waitpid(pid, &st, 0);
  ASSERT_TRUE(WIFEXITED(st)) << "killed by a signal";
  EXPECT_EQ(WEXITSTATUS(st), 130) << clitest::slurp(out);
  EXPECT_NE(clitest::slurp(out).find("checkpoint saved"), std::string::npos) << clitest::slurp(out);
  auto c = dg::io::load_safetensors(t / "run/checkpoint.safetensors");
  EXPECT_GE(c.tensors["train.epoch"].item<int64_t>(), 1);
  EXPECT_LT(c.tensors["train.epoch"].item<int64_t>(), 200);
}

TEST(CliAnomaly, ExplodingTrainingStopsWithAClearMessage) {
  REQUIRE_FASHION_MNIST();
  TempDir t;
  const std::string args = " --epochs 1 --lr 1e30 --momentum 0 --limit-train 512 --limit-test 10 --no-progress --threads 1";
  auto plain = run("train --out " + t / "a" + args);
  EXPECT_EQ(plain.code, 1) << plain.out << plain.err;
  EXPECT_NE(plain.err.find("--detect-anomaly"), std::string::npos) << plain.err;
  auto an = run("train --detect-anomaly --out " + t / "b" + args);
  EXPECT_EQ(an.code, 1) << an.out << an.err;
  EXPECT_EQ(clitest::error_lines(an.err), 1) << an.err;
  EXPECT_TRUE(clitest::exists(t / "b/anomaly.safetensors")) << an.err;
}

// ---------------------------------------------------------------- chromium
TEST_F(CliTrainedRun, ReportRendersInHeadlessChromium) {
  if (!clitest::exists("/usr/bin/chromium")) GTEST_SKIP() << "chromium is not installed";
  TempDir profile;
  const std::string flags = "--headless --no-sandbox --disable-gpu --disable-background-networking --no-first-run "
                            "--user-data-dir=" + profile.path() + " --enable-logging=stderr --v=0 ";
  const std::string url = "file://" + run_dir() + "/report.html";
  const std::string dom = (*dir_) / "dom.html", log = (*dir_) / "chromium.log", png = (*dir_) / "report.png";
  int rc = std::system(("timeout 120 chromium " + flags + "--dump-dom '" + url + "' >'" + dom + "' 2>'" + log + "'").c_str());
  ASSERT_EQ(rc, 0) << clitest::slurp(log);
  std::string d = clitest::slurp(dom);
  for (const char* id : {"chart-loss", "chart-accuracy", "chart-lr", "chart-grad-norms", "chart-update-ratios",
                         "chart-confusion"})
    EXPECT_NE(d.find(std::string("id=\"") + id + "\""), std::string::npos) << id;
  EXPECT_NE(d.find("<polyline"), std::string::npos);
  std::string l = clitest::slurp(log);
  EXPECT_EQ(l.find("Uncaught"), std::string::npos) << l;
  EXPECT_EQ(l.find("Failed to load resource"), std::string::npos) << l;
  rc = std::system(("timeout 120 chromium " + flags + "--window-size=1280,2400 --screenshot='" + png + "' '" + url +
                    "' >/dev/null 2>&1").c_str());
  ASSERT_EQ(rc, 0);
  std::string img = clitest::slurp(png);
  ASSERT_GT(img.size(), 20000u);  // a page with charts, not a blank one
  EXPECT_EQ(img.substr(1, 3), "PNG");
}

// ---------------------------------------------------------------- interop
// Weights trained in PyTorch and written from its state_dict (by the numpy-only
// writer, tools/make_cli_fixtures.py) load into the same architecture described
// in dimgrad's JSON format and give PyTorch's predictions.
TEST(CliInterop, PyTorchWeightsGivePyTorchsPredictions) {
  REQUIRE_FASHION_MNIST();
  const std::string f = std::string(DG_SOURCE_DIR) + "/tests/fixtures/tools/";
  json expected = json::parse(clitest::slurp(f + "torch_tiny_cnn_expected.json"));
  auto r = run("predict " + f + "torch_tiny_cnn.safetensors --model " + f + "tiny_cnn.json --index 0,1,2,3,4,5,6,7 --json");
  ASSERT_EQ(r.code, 0) << r.err;
  json got = json::parse(r.out);
  ASSERT_EQ(got.size(), 8u);
  for (size_t i = 0; i < 8; ++i) {
    EXPECT_EQ(got[i]["class"], expected["classes"][i]) << i;
    auto p = got[i]["probabilities"].get<std::vector<double>>();
    auto q = expected["probabilities"][i].get<std::vector<double>>();
    ASSERT_EQ(p.size(), q.size());
    for (size_t c = 0; c < p.size(); ++c) EXPECT_NEAR(p[c], q[c], 2e-5) << "example " << i << " class " << c;
  }
  auto e = run("eval " + f + "torch_tiny_cnn.safetensors --model " + f + "tiny_cnn.json --limit-test 1000 --json");
  ASSERT_EQ(e.code, 0) << e.err;
  EXPECT_DOUBLE_EQ(json::parse(e.out)["accuracy"].get<double>(), expected["accuracy_first_1000"].get<double>());
  // Without --model the file does not say what it holds: a clear error.
  auto n = run("eval " + f + "torch_tiny_cnn.safetensors --limit-test 10");
  EXPECT_EQ(n.code, 1);
  EXPECT_NE(n.err.find("--model"), std::string::npos) << n.err;
}

// Fuzz findings (fuzz/regressions/checkpoint/): a checkpoint whose stored
// configuration is damaged is one clear error, never an uncaught json exception
// or the undefined float-to-integer cast of nlohmann's get<int64_t>().
TEST(CliResume, DamagedConfigurationInTheCheckpointIsAClearError) {
  TempDir t;
  std::string csv = "a,b,label\n";
  for (int i = 0; i < 40; ++i) csv += std::to_string(i % 7) + "," + std::to_string(i % 5) + "," + std::to_string(i % 2) + "\n";
  std::ofstream(t / "d.csv") << csv;
  auto r = run("train --data csv:" + t / "d.csv" + " --model two-layer --epochs 1 --batch-size 8 --threads 1 "
               "--no-progress --out " + t / "run");
  ASSERT_EQ(r.code, 0) << r.err;
  const auto good = dg::io::load_safetensors(t / "run/checkpoint.safetensors");
  const json config = json::parse(good.metadata.at("dimgrad.config"));

  auto resume_with = [&](const json& damaged, const std::string& needle) {
    auto meta = good.metadata;
    meta["dimgrad.config"] = damaged.dump();
    dg::io::save_safetensors(t / "bad.safetensors", good.tensors, meta);  // a valid checksum: only the config is wrong
    auto b = run("train --resume " + t / "bad.safetensors");
    EXPECT_EQ(b.code, 1) << b.err;
    EXPECT_EQ(clitest::error_lines(b.err), 1) << b.err;
    EXPECT_NE(b.err.find(needle), std::string::npos) << "stderr lacks '" << needle << "':\n" << b.err;
  };
  json c = config;
  c.erase("train");
  resume_with(c, "malformed configuration in its metadata (no \"train\" object)");
  c = config;
  c["train"]["epochs"] = 1e300;
  resume_with(c, "\"epochs\" must be an integer");
  c = config;
  c["train"]["threads"] = 1e30;
  resume_with(c, "\"threads\" must be an integer");
  c = config;
  c["model"]["input_shape"] = {1e300};
  resume_with(c, "\"input_shape\" must be an integer");
  c = config;
  c["data"]["example_shape"] = {1e300};
  resume_with(c, "\"example_shape\" must be an integer");

  // A position counter and the schedule's step count stored as floats beyond int64.
  auto resume_with_tensor = [&](const std::string& key, const std::string& needle,
                                dg::Tensor value = dg::scalar_tensor(1e300, dg::kFloat64)) {
    auto tensors = good.tensors;
    tensors[key] = value;
    dg::io::save_safetensors(t / "bad.safetensors", tensors, good.metadata);
    auto b = run("train --resume " + t / "bad.safetensors");
    EXPECT_EQ(b.code, 1) << b.err;
    EXPECT_NE(b.err.find(needle), std::string::npos) << "stderr lacks '" << needle << "':\n" << b.err;
  };
  resume_with_tensor("train.epoch", "\"train.epoch\" must be one integer, got a float64 tensor");
  resume_with_tensor("scheduler.last_epoch", "'last_epoch' should be an integer, got 1e+300");
  // Two values where one is expected: an IOError naming the file, not item()'s bare error.
  resume_with_tensor("train.best_val_acc", "train.best_val_acc must be one value", dg::zeros({2}));
}
