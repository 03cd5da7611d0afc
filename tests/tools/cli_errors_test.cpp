// The dimgrad CLI on bad input: usage errors exit 2 with the usage; every other
// problem is one clear message on stderr and exit 1 — never a crash.
#include <cstdint>
#include <fstream>
#include <sstream>
#include <vector>

#include "cli_test_util.hpp"

using clitest::run;
using clitest::TempDir;

namespace {

void write(const std::string& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

// A small IDX file: magic 0x0000 08 <ndims>, big-endian sizes, then `data`.
std::string idx(std::vector<uint32_t> dims, const std::vector<uint8_t>& data, uint8_t type = 8) {
  std::string s = {0, 0, char(type), char(dims.size())};
  for (uint32_t d : dims) s += {char(d >> 24), char(d >> 16), char(d >> 8), char(d)};
  s.append(data.begin(), data.end());
  return s;
}

// A complete small fashion-mnist-like folder with 4 training and 2 test images.
void write_idx_folder(const std::string& dir, uint8_t bad_label = 0, bool truncate_images = false,
                      bool wrong_magic = false) {
  std::vector<uint8_t> px(4 * 28 * 28, 7);
  std::string images = idx({4, 28, 28}, px, wrong_magic ? 9 : 8);
  if (truncate_images) images.resize(images.size() - 100);
  write(dir + "/train-images-idx3-ubyte", images);
  write(dir + "/train-labels-idx1-ubyte", idx({4}, {0, 1, 2, bad_label}));
  write(dir + "/t10k-images-idx3-ubyte", idx({2, 28, 28}, std::vector<uint8_t>(2 * 28 * 28, 3)));
  write(dir + "/t10k-labels-idx1-ubyte", idx({2}, {1, 2}));
}

// An error exit: code 1, exactly one "error:" line naming what is expected, no crash.
void expect_clear_error(const clitest::Result& r, const std::string& needle) {
  EXPECT_EQ(r.code, 1) << r.err;
  EXPECT_EQ(clitest::error_lines(r.err), 1) << r.err;
  EXPECT_NE(r.err.find(needle), std::string::npos) << "stderr lacks '" << needle << "':\n" << r.err;
}

}  // namespace

TEST(CliUsage, NoSubcommandIsAUsageError) {
  auto r = run("");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("Usage"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("train"), std::string::npos) << r.err;
}

TEST(CliUsage, BadOptionValuesExit2) {
  auto r = run("train --epochs many");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("--epochs"), std::string::npos) << r.err;
  EXPECT_EQ(run("train --no-such-option").code, 2);
  EXPECT_EQ(run("explain --format pdf").code, 2);
  EXPECT_EQ(run("eval").code, 2);  // the model file is required
}

TEST(CliUsage, InvalidCombinationsFoundAfterParsingExit2) {
  auto r = run("train --optimizer nadam");
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("unknown optimizer 'nadam'"), std::string::npos) << r.err;
  EXPECT_NE(r.err.find("adamw"), std::string::npos) << "the message should list the valid names:\n" << r.err;
  EXPECT_NE(r.err.find("Usage"), std::string::npos) << r.err;
  EXPECT_EQ(run("train --val-split 1.5").code, 2);
  // epochs × batches would overflow the schedule's step count (fuzz finding via a checkpoint).
  auto e = run("train --epochs 4611686018427387904");
  EXPECT_EQ(e.code, 2) << e.err;
  EXPECT_NE(e.err.find("--epochs must be in [1, 1000000]"), std::string::npos) << e.err;
  EXPECT_EQ(run("train --schedule linear").code, 2);
  auto aug = run("train --augment flip,rotate");
  EXPECT_EQ(aug.code, 2) << aug.err;
  EXPECT_NE(aug.err.find("unknown item \"rotate\""), std::string::npos) << aug.err;
  EXPECT_EQ(run("train --augment crop:x").code, 2);
  EXPECT_EQ(run("predict somewhere.safetensors").code, 2);  // neither --index nor --npy
}

TEST(CliUsage, HelpSucceeds) {
  auto r = run("train --help");
  EXPECT_EQ(r.code, 0);
  EXPECT_NE(r.out.find("--resume"), std::string::npos) << r.out;
}

TEST(CliModels, UnknownPreset) {
  expect_clear_error(run("summary --model resnet50"), "unknown model preset 'resnet50'");
  // train checks the model before loading any data
  expect_clear_error(run("train --model resnet50 --data-dir /nonexistent"), "unknown model preset 'resnet50'");
}

TEST(CliModels, MalformedJsonModelFile) {
  TempDir t;
  write(t / "bad.json", "{\"layers\": [{\"type\": \"flatten\"}, {\"type\": \"linear\", \"out\": 10,}]}");
  auto r = run("summary --model " + t / "bad.json");
  expect_clear_error(r, "is not valid JSON");
  EXPECT_NE(r.err.find("line 1"), std::string::npos) << r.err;

  write(t / "type.json", R"({"layers": [{"type": "conv3d", "out": 4}]})");
  expect_clear_error(run("summary --model " + t / "type.json"), "unknown layer type \"conv3d\"");

  write(t / "key.json", R"([{"type": "flatten"}, {"type": "linear", "outputs": 10}])");
  expect_clear_error(run("summary --model " + t / "key.json"), "unknown key \"outputs\"");

  // A linear layer straight on images: the message says what to add.
  write(t / "shape.json", R"([{"type": "linear", "out": "classes"}])");
  expect_clear_error(run("summary --model " + t / "shape.json"), "add a {\"type\": \"flatten\"} layer");

  // The last layer must give one score per class.
  write(t / "classes.json", R"([{"type": "flatten"}, {"type": "linear", "out": 7}])");
  expect_clear_error(run("summary --model " + t / "classes.json"), "10 classes");

  expect_clear_error(run("summary --model " + t / "missing.json"), "not found");

  // A number beyond double's range is not a parse_error for nlohmann::json but an
  // out_of_range: still "not valid JSON", exit 1 (fuzz finding, fuzz/regressions/model_file/).
  write(t / "overflow.json", R"({"input_shape": [41e308], "layers": []})");
  expect_clear_error(run("summary --model " + t / "overflow.json"), "is not valid JSON: number overflow parsing '41e308'");
}

// Every activation type of the model file builds, and summary names each as PyTorch prints it.
TEST(CliModels, EveryActivationTypeBuilds) {
  TempDir t;
  write(t / "acts.json", R"([{"type": "flatten"}, {"type": "linear", "out": 16}, {"type": "relu"},
                             {"type": "leaky_relu", "negative_slope": 0.2}, {"type": "gelu"}, {"type": "silu"},
                             {"type": "tanh"}, {"type": "sigmoid"}, {"type": "linear", "out": "classes"}])");
  auto r = run("summary --model " + t / "acts.json");
  ASSERT_EQ(r.code, 0) << r.err;
  for (const char* printed : {"ReLU()", "LeakyReLU(negative_slope=0.2)", "GELU(approximate='none')", "SiLU()", "Tanh()",
                              "Sigmoid()"})
    EXPECT_NE(r.out.find(printed), std::string::npos) << printed << " not in:\n" << r.out;
}

TEST(CliModels, HugeLayersAreRefusedBeforeAnyAllocation) {
  TempDir t;
  // 784 × 10^9 weights and 10^9 biases (2.9 TiB of float32): refused while the file is resolved,
  // with the layer named, not by the allocator (or a kill) while building.
  write(t / "huge.json",
        R"([{"type": "flatten"}, {"type": "linear", "out": 1000000000}, {"type": "linear", "out": "classes"}])");
  auto r = run("summary --model " + t / "huge.json");
  expect_clear_error(r, "layer 1 (linear): the model would have 785000000000 parameters");
  EXPECT_NE(r.err.find("more than the limit of 1073741824"), std::string::npos) << r.err;
  expect_clear_error(run("train --model " + t / "huge.json" + " --data-dir " + t / "nodata"), "layer 1 (linear)");

  // Few weights, but one layer's output (1024 × 2028 × 2028 per example) would not fit.
  write(t / "wide.json", R"([{"type": "conv2d", "out": 1024, "kernel": 1, "padding": 1000}, {"type": "flatten"},
                             {"type": "linear", "out": "classes"}])");
  expect_clear_error(run("summary --model " + t / "wide.json"),
                     "layer 0 (conv2d): its output [1024, 2028, 2028] per example has 4211490816 values");

  // Beyond int64: neither wrapped to a negative size nor truncated.
  write(t / "u64.json", R"([{"type": "flatten"}, {"type": "linear", "out": 18446744073709551615}])");
  expect_clear_error(run("summary --model " + t / "u64.json"), "\"out\" is 18446744073709551615, more than the limit");
}

TEST(CliModels, JsonModelFileWithInferredSizes) {
  TempDir t;
  write(t / "m.json", R"({"layers": [{"type": "conv2d", "out": 4, "kernel": 5}, {"type": "relu"},
                                     {"type": "maxpool2d", "kernel": 2}, {"type": "flatten"},
                                     {"type": "linear", "out": "classes"}]})");
  auto r = run("summary --model " + t / "m.json" + " --pytorch");
  ASSERT_EQ(r.code, 0) << r.err;
  // conv 1→4, 5×5: 28→24, pool → 12: 4·12·12 = 576 features; 4·25+4 = 104 and 576·10+10 = 5770 parameters.
  EXPECT_NE(r.out.find("[4, 24, 24]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("Linear(in_features=576, out_features=10, bias=True)"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("total: 5874 parameters"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("torch.nn.Conv2d(1, 4, kernel_size=(5, 5), stride=(1, 1)),  # 0"), std::string::npos) << r.out;
}

TEST(CliSummary, CnnPresetCountsByHand) {
  auto r = run("summary --model cnn");
  ASSERT_EQ(r.code, 0) << r.err;
  // conv1 1·32·9+32 = 320, conv2 32·64·9+64 = 18496, fc1 3136·128+128 = 401536, fc2 128·10+10 = 1290.
  EXPECT_NE(r.out.find("total: 421642 parameters"), std::string::npos) << r.out;
  // conv1 FLOPs per example: 2·(1·3·3)·32·28·28 multiply-adds + 32·28·28 bias adds = 476672.
  EXPECT_NE(r.out.find("476672"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[64, 7, 7]"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("8.weight [128, 3136]"), std::string::npos) << r.out;

  auto m = run("summary --model mlp");
  ASSERT_EQ(m.code, 0) << m.err;
  // 784·512+512 + 512·512+512 + 512·10+10
  EXPECT_NE(m.out.find("total: 669706 parameters"), std::string::npos) << m.out;
  EXPECT_NE(m.out.find("1.weight [512, 784]"), std::string::npos) << m.out;
}

TEST(CliData, MissingDataFolder) {
  auto r = run("train --data-dir /nonexistent/fmnist --epochs 1");
  expect_clear_error(r, "/nonexistent/fmnist");
}

TEST(CliData, TruncatedWrongMagicAndBadLabels) {
  {
    TempDir t;
    write_idx_folder(t.path(), 0, /*truncate_images=*/true);
    expect_clear_error(run("train --epochs 1 --val-split 0 --data-dir " + t.path() + " --out " + t / "run"),
                       "train-images-idx3-ubyte");
  }
  {
    TempDir t;
    write_idx_folder(t.path(), 0, false, /*wrong_magic=*/true);
    expect_clear_error(run("train --epochs 1 --val-split 0 --data-dir " + t.path() + " --out " + t / "run"),
                       "train-images-idx3-ubyte");
  }
  {
    TempDir t;
    write_idx_folder(t.path(), /*bad_label=*/12);
    expect_clear_error(run("train --epochs 1 --val-split 0 --data-dir " + t.path() + " --out " + t / "run"), "12");
  }
  {
    // The same folder with good files trains (so the failures above are the files' fault).
    TempDir t;
    write_idx_folder(t.path());
    auto r = run("train --epochs 1 --val-split 0 --batch-size 2 --no-progress --data-dir " + t.path() + " --out " +
                 t / "run");
    EXPECT_EQ(r.code, 0) << r.err;
    EXPECT_TRUE(clitest::exists(t / "run/model.safetensors"));
  }
}

TEST(CliData, Cifar10ShapesFlowIntoTheCnnPreset) {
  TempDir t;
  // Two records per file: 1 label byte + 3072 pixel bytes (R, G, B planes).
  auto records = [](int seed) {
    std::string s;
    for (int r = 0; r < 2; ++r) {
      s += char((seed + r) % 10);
      for (int i = 0; i < 3072; ++i) s += char((i * 7 + seed * 13 + r) % 256);
    }
    return s;
  };
  for (int b = 1; b <= 5; ++b) write(t / ("data_batch_" + std::to_string(b) + ".bin"), records(b));
  write(t / "test_batch.bin", records(9));
  auto r = run("train --data cifar10 --data-dir " + t.path() + " --model cnn --epochs 1 --batch-size 4 --val-split 0 "
               "--no-progress --threads 1 --out " + t / "run");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  EXPECT_NE(r.out.find("10 train"), std::string::npos) << r.out;
  std::ifstream cfg(t / "run/config.json");
  std::stringstream text;
  text << cfg.rdbuf();
  // 3×32×32 → conv/pool twice → 64×8×8 = 4096 inputs to the first linear layer.
  EXPECT_NE(text.str().find("\"in\": 4096"), std::string::npos) << text.str();
  auto s = run("summary --model cnn --data cifar10");
  ASSERT_EQ(s.code, 0) << s.err;
  EXPECT_NE(s.out.find("Linear(in_features=4096, out_features=128, bias=True)"), std::string::npos) << s.out;
}

TEST(CliData, CsvWithHeldOutTestRows) {
  TempDir t;
  // Two features; the label is 1 exactly when x0 > x1.
  std::string csv = "x0,x1,label\n";
  for (int i = 0; i < 200; ++i) {
    double a = (i * 37 % 100) / 100.0, b = (i * 61 % 100) / 100.0;
    csv += std::to_string(a) + "," + std::to_string(b) + "," + (a > b ? "1" : "0") + "\n";
  }
  write(t / "d.csv", csv);
  auto r = run("train --data csv:" + t / "d.csv" + " --model two-layer --epochs 30 --batch-size 16 --optimizer adam "
               "--lr 0.01 --val-split 0 --no-progress --out " + t / "run");
  ASSERT_EQ(r.code, 0) << r.err;
  // 160 training rows, 40 held out; a linearly separable rule is learned.
  EXPECT_NE(r.out.find("160 train"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("(40 examples)"), std::string::npos) << r.out;
  auto acc_pos = r.out.find("test accuracy ");
  ASSERT_NE(acc_pos, std::string::npos);
  EXPECT_GE(std::stod(r.out.substr(acc_pos + 14)), 90.0) << r.out;
  // Flips and crops need images.
  auto aug = run("train --data csv:" + t / "d.csv" + " --model two-layer --augment flip --epochs 1 --out " + t / "r2");
  EXPECT_EQ(aug.code, 2) << aug.err;
  EXPECT_NE(aug.err.find("need images"), std::string::npos) << aug.err;
}

TEST(CliExplain, ModelStepAndSingleOps) {
  auto r = run("explain --model two-layer --batch-size 16");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("N=16"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("[N×"), std::string::npos) << r.out;

  auto op = run("explain --op mm");
  ASSERT_EQ(op.code, 0) << op.err;
  EXPECT_NE(op.out.find("ᵀ"), std::string::npos) << op.out;

  auto dot = run("explain --model mlp --format dot");
  ASSERT_EQ(dot.code, 0) << dot.err;
  EXPECT_NE(dot.out.find("digraph"), std::string::npos) << dot.out;

  expect_clear_error(run("explain --op no_such_op"), "unknown op 'no_such_op'");
}

TEST(CliGradcheck, WholeModelAuditPassesAndFailsWhenTheToleranceIsImpossible) {
  auto r = run("gradcheck --model cnn --batch-size 2 --elements 4 --threads 1");
  ASSERT_EQ(r.code, 0) << r.out << r.err;
  for (const char* p : {"0.weight", "0.bias", "3.weight", "3.bias", "8.weight", "11.weight"})
    EXPECT_NE(r.out.find(p), std::string::npos) << p << "\n" << r.out;
  EXPECT_NE(r.out.find("all gradients agree"), std::string::npos) << r.out;
  EXPECT_EQ(r.out.find("FAIL"), std::string::npos) << r.out;

  // Central differences never agree with the analytic gradient to 1e-15: the
  // comparison is real, and a failure exits nonzero with FAIL in the table.
  auto f = run("gradcheck --model two-layer --elements 3 --atol 0 --rtol 1e-15 --threads 1");
  EXPECT_EQ(f.code, 1) << f.out;
  EXPECT_NE(f.out.find("FAIL"), std::string::npos) << f.out;
  EXPECT_NE(f.out.find("GRADIENT MISMATCH"), std::string::npos) << f.out;
}
