// The four end-to-end workloads of docs/performance.md, in dimgrad.
// bench/libtorch_workloads.cpp (LibTorch) and bench/workloads.py (PyTorch)
// mirror this file line by line: same models, same default initialisation
// scheme (LibTorch's), same data in memory (the images as uint8 bytes, each
// batch converted to float32 v / 255 when it is picked, as torchvision does),
// the same example order (a SplitMix64 Fisher-Yates permutation computed
// identically in all three).
//
//   dg_workloads W1|W2|W2-infer|W3|W4 --threads N [--repeats R] [--batch B] [--width H] [--steps S]
//
//   W1  MLP 784-512-512-10, ReLU, batch 128, one epoch
//   W2  CNN conv(1→32,3,p1)-ReLU-pool2-conv(32→64,3,p1)-ReLU-pool2-flatten-
//       linear(3136→128)-ReLU-linear(128→10), batch 64, 300 steps
//   W2-infer  the W2 CNN in eval mode, no grad, the 10k test images at batch 1000
//   W3  784-100-10, ReLU, batch 64, one epoch (per-op overhead dominates)
//   W4  MLP 784-256-BN-ReLU-256-BN-ReLU-10, batch 128, one epoch
// Softmax cross-entropy, SGD lr 0.01 momentum 0.9. Images scaled to [0, 1].
// The last incomplete batch is dropped. Prints one JSON line per repeat:
// samples/s over the steps after the first `warmup` ones, total seconds of
// the whole loop, the loss of the first step, the mean loss of the last 50
// steps, and the peak RSS (VmHWM, reset once the data is loaded: the data in
// memory plus the workload; the loader's own peak is load_peak_rss_mb).
// Exit status 1 when the final loss is not well below ln(10) (training), or
// not finite (inference).
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "dimgrad/data.hpp"
#include "dimgrad/nn.hpp"
#include "dimgrad/optim.hpp"
#include "dimgrad/tensor.hpp"

namespace F = dg::nn::functional;

namespace {

// ------------------------------------------------------------ shared logic
uint64_t splitmix64(uint64_t& s) {
  uint64_t z = (s += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// Fisher-Yates with SplitMix64 (the modulo bias is irrelevant here, and the
// same in all three programs).
std::vector<int64_t> permutation(int64_t n, uint64_t seed) {
  std::vector<int64_t> p(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) p[static_cast<size_t>(i)] = i;
  for (int64_t i = n - 1; i > 0; --i) {
    const auto j = static_cast<int64_t>(splitmix64(seed) % static_cast<uint64_t>(i + 1));
    std::swap(p[static_cast<size_t>(i)], p[static_cast<size_t>(j)]);
  }
  return p;
}

double peak_rss_mb() {
  std::ifstream f("/proc/self/status");
  std::string line;
  while (std::getline(f, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return -1;
}

// Resets VmHWM to the current RSS (Linux >= 4.0), so that the peak reported is
// the workload's (data in memory included), not the file decoder's.
void reset_peak_rss() { std::ofstream("/proc/self/clear_refs") << "5"; }

double now_s() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

struct Config {
  std::string workload;
  int threads = 1;
  int repeats = 1;
  int64_t batch = 0;  // 0: the workload's own
  int64_t width = 512;  // W1's hidden layers (784-H-H-10), for the width scaling table
  int64_t steps = 0;    // 0: the workload's own (an epoch; W2: 300)
};

// ------------------------------------------------------------------ models
dg::nn::Sequential make_model(const std::string& w, int64_t width) {
  using namespace dg::nn;
  if (w == "W1") return Sequential(Linear(784, width), ReLU(), Linear(width, width), ReLU(), Linear(width, 10));
  if (w == "W3") return Sequential(Linear(784, 100), ReLU(), Linear(100, 10));
  if (w == "W4")
    return Sequential(Linear(784, 256), BatchNorm1d(256), ReLU(), Linear(256, 256), BatchNorm1d(256), ReLU(),
                      Linear(256, 10));
  // W2, W2-infer
  return Sequential(Conv2d(Conv2dOptions(1, 32, 3).padding(1)), ReLU(), MaxPool2d(2),
                    Conv2d(Conv2dOptions(32, 64, 3).padding(1)), ReLU(), MaxPool2d(2), Flatten(),
                    Linear(3136, 128), ReLU(), Linear(128, 10));
}

// ----------------------------------------------------------------- one run
struct Result {
  int64_t batch = 0, steps = 0, timed_steps = 0;
  double samples_per_s = 0, total_s = 0, initial_loss = 0, final_loss = 0;
  bool ok = false;
};

Result train(const Config& c, const dg::Tensor& X, const dg::Tensor& Y) {
  Result r;
  r.batch = c.batch ? c.batch : (c.workload == "W1" || c.workload == "W4") ? 128 : 64;
  const int64_t n = X.size(0);
  r.steps = c.steps ? std::min(c.steps, n / r.batch) : c.workload == "W2" ? 300 : n / r.batch;
  const int64_t warmup = std::min<int64_t>(20, r.steps / 5);
  r.timed_steps = r.steps - warmup;
  const int64_t last = std::min<int64_t>(50, r.steps);

  dg::manual_seed(0);
  auto model = make_model(c.workload, c.width);
  dg::optim::SGD opt(model->parameters(), dg::optim::SGDOptions(0.01).momentum(0.9));
  const dg::Tensor perm = dg::tensor(permutation(n, 0));

  double t0 = now_s(), t_warm = t0, loss_sum = 0;
  for (int64_t s = 0; s < r.steps; ++s) {
    if (s == warmup) t_warm = now_s();
    const dg::Tensor idx = perm.narrow(0, s * r.batch, r.batch);
    const dg::Tensor x = dg::data::to_unit_float(X.index_select(0, idx)), y = Y.index_select(0, idx);
    opt.zero_grad();  // drops the gradients (LibTorch 2.x's default)
    dg::Tensor loss = F::cross_entropy(model->forward(x), y);
    loss.backward();
    opt.step();
    if (s == 0) r.initial_loss = loss.item<double>();
    if (s >= r.steps - last) loss_sum += loss.item<double>();
  }
  const double t1 = now_s();
  r.total_s = t1 - t0;
  r.samples_per_s = double(r.timed_steps * r.batch) / (t1 - t_warm);
  r.final_loss = loss_sum / double(last);
  r.ok = std::isfinite(r.final_loss) && r.final_loss < 0.6 * std::log(10.0);
  return r;
}

// W2-infer: two untimed batches, then one timed pass over the test set.
Result infer(const Config& c, const dg::Tensor& X, const dg::Tensor& Y) {
  Result r;
  r.batch = c.batch ? c.batch : 1000;
  const int64_t n = X.size(0), per_pass = n / r.batch, warmup = 2;
  r.steps = warmup + per_pass;
  r.timed_steps = per_pass;

  dg::manual_seed(0);
  auto model = make_model(c.workload, c.width);
  model->eval();
  dg::NoGradGuard no_grad;

  double t0 = now_s(), t_warm = t0, loss_sum = 0;
  for (int64_t s = 0; s < r.steps; ++s) {
    if (s == warmup) t_warm = now_s();
    const int64_t b = (s - warmup + per_pass) % per_pass;
    const dg::Tensor x = dg::data::to_unit_float(X.narrow(0, b * r.batch, r.batch)),
                     y = Y.narrow(0, b * r.batch, r.batch);
    dg::Tensor loss = F::cross_entropy(model->forward(x), y);
    if (s == 0) r.initial_loss = loss.item<double>();
    if (s >= warmup) loss_sum += loss.item<double>();
  }
  const double t1 = now_s();
  r.total_s = t1 - t0;
  r.samples_per_s = double(r.timed_steps * r.batch) / (t1 - t_warm);
  r.final_loss = loss_sum / double(per_pass);
  r.ok = std::isfinite(r.final_loss);
  return r;
}

int usage(const char* prog) {
  std::fprintf(stderr, "usage: %s W1|W2|W2-infer|W3|W4 --threads N [--repeats R] [--batch B] [--width H] [--steps S]\n",
               prog);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) return usage(argv[0]);
  Config c;
  c.workload = argv[1];
  if (c.workload != "W1" && c.workload != "W2" && c.workload != "W2-infer" && c.workload != "W3" &&
      c.workload != "W4")
    return usage(argv[0]);
  for (int i = 2; i + 1 < argc; i += 2) {
    if (!std::strcmp(argv[i], "--threads")) c.threads = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--repeats")) c.repeats = std::atoi(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--batch")) c.batch = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--width")) c.width = std::atoll(argv[i + 1]);
    else if (!std::strcmp(argv[i], "--steps")) c.steps = std::atoll(argv[i + 1]);
    else return usage(argv[0]);
  }
  dg::set_num_threads(c.threads);

  const bool inference = c.workload == "W2-infer", image = c.workload.rfind("W2", 0) == 0;
  const dg::data::Dataset ds = dg::data::load_fashion_mnist(dg::data::kFashionMnistDir, !inference, dg::kUInt8);
  // uint8 [N, 1, 28, 28]; the MLPs take [N, 784]. Contiguous, in memory.
  const dg::Tensor X = image ? ds.features.contiguous() : ds.features.reshape({ds.size(), 784}).contiguous();
  const dg::Tensor& Y = ds.targets;

  const double load_peak = peak_rss_mb();
  reset_peak_rss();

  bool all_ok = true;
  for (int rep = 0; rep < c.repeats; ++rep) {
    const Result r = inference ? infer(c, X, Y) : train(c, X, Y);
    all_ok = all_ok && r.ok;
    std::printf(
        "{\"framework\": \"dimgrad\", \"workload\": \"%s\", \"threads\": %d, \"repeat\": %d, \"batch\": %lld, "
        "\"width\": %lld, "
        "\"steps\": %lld, \"timed_steps\": %lld, \"samples_per_s\": %.1f, \"total_s\": %.3f, "
        "\"initial_loss\": %.4f, \"final_loss\": %.4f, \"peak_rss_mb\": %.1f, \"load_peak_rss_mb\": %.1f, "
        "\"ok\": %s}\n",
        c.workload.c_str(), c.threads, rep, static_cast<long long>(r.batch), static_cast<long long>(c.width),
        static_cast<long long>(r.steps),
        static_cast<long long>(r.timed_steps), r.samples_per_s, r.total_s, r.initial_loss, r.final_loss,
        peak_rss_mb(), load_peak, r.ok ? "true" : "false");
    std::fflush(stdout);
  }
  return all_ok ? 0 : 1;
}
