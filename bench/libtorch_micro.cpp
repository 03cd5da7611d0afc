// The cases of bench/micro_ops.cpp and bench/micro_gemm.cpp in LibTorch (Debian
// libtorch-dev), line for line, so that docs/performance.md can put the two side
// by side. Built only when find_package(Torch) succeeds.
//
// Threads: at::set_num_threads sets LibTorch's OpenMP pool; its GEMM goes to
// OpenBLAS, which has its own pool, so that is set too (openblas_set_num_threads,
// looked up at run time). OPENBLAS_CORETYPE in the environment picks OpenBLAS's kernels.
#include <benchmark/benchmark.h>
#include <dlfcn.h>
#include <torch/torch.h>

#include <cstdlib>

namespace {

void set_threads(int n) {
  at::set_num_threads(n);
  using SetFn = void (*)(int);
  if (auto f = reinterpret_cast<SetFn>(dlsym(RTLD_DEFAULT, "openblas_set_num_threads"))) f(n);
}

// ------------------------------------------------------------ per-op overhead
constexpr int kChain = 1000;

torch::Tensor chain(torch::Tensor x, const torch::Tensor& c, const torch::Tensor& d) {
  for (int i = 0; i < kChain; ++i) {
    switch (i % 3) {
      case 0: x = x + d; break;
      case 1: x = x * c; break;
      default: x = torch::relu(x); break;
    }
  }
  return x;
}

void set_per_op(benchmark::State& st) {
  st.counters["per_op"] =
      benchmark::Counter(double(kChain), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_ChainForwardNoGrad(benchmark::State& st) {
  set_threads(1);
  torch::NoGradGuard no_grad;
  torch::Tensor x = torch::rand({4}), c = torch::full({4}, 0.999), d = torch::full({4}, 0.001);
  for (auto _ : st) benchmark::DoNotOptimize(chain(x, c, d).data_ptr());
  set_per_op(st);
}
BENCHMARK(BM_ChainForwardNoGrad);

void BM_ChainForwardGraph(benchmark::State& st) {
  set_threads(1);
  torch::Tensor x = torch::rand({4}).requires_grad_(), c = torch::full({4}, 0.999), d = torch::full({4}, 0.001);
  for (auto _ : st) benchmark::DoNotOptimize(chain(x, c, d).data_ptr());
  set_per_op(st);
}
BENCHMARK(BM_ChainForwardGraph);

void BM_ChainForwardBackward(benchmark::State& st) {
  set_threads(1);
  torch::Tensor x = torch::rand({4}).requires_grad_(), c = torch::full({4}, 0.999), d = torch::full({4}, 0.001);
  torch::Tensor g = torch::ones({4});
  for (auto _ : st) {
    torch::Tensor y = chain(x, c, d);
    y.backward(g);
    x.grad().zero_();
  }
  set_per_op(st);
}
BENCHMARK(BM_ChainForwardBackward);

// ---------------------------------------------------------------------- GEMM
struct GemmShape {
  bool ta, tb;
  int64_t M, N, K;
};
const GemmShape kShapes[] = {
    {false, true, 128, 512, 784},  {false, false, 128, 784, 512}, {true, false, 512, 784, 128},
    {false, false, 1024, 1024, 1024}, {false, false, 32, 50176, 9}, {false, false, 64, 12544, 288},
    {false, true, 64, 288, 12544},    {false, true, 64, 100, 784},   {false, true, 64, 10, 100},
    {true, false, 100, 784, 64},      {false, true, 128, 10, 512},
};
const char* kShapeNames[] = {"mlp_fwd_128x784x512", "mlp_dX_128x512x784", "mlp_dW_512x128x784", "square_1024",
                             "conv1_32x9x50176",    "conv2_64x288x12544", "conv2_dW_64x12544x288",
                             "w3_fc1_64x784x100",   "w3_fc2_64x100x10",     "w3_fc1_dW_100x64x784",
                             "w1_fc3_128x512x10"};

void BM_TorchMm(benchmark::State& st) {
  const GemmShape& s = kShapes[st.range(0)];
  const int threads = static_cast<int>(st.range(1));
  set_threads(threads);
  torch::NoGradGuard no_grad;
  torch::Tensor a = s.ta ? torch::randn({s.K, s.M}).t() : torch::randn({s.M, s.K});
  torch::Tensor b = s.tb ? torch::randn({s.N, s.K}).t() : torch::randn({s.K, s.N});
  for (auto _ : st) benchmark::DoNotOptimize(torch::mm(a, b).data_ptr());
  const double flops = 2.0 * double(s.M) * double(s.N) * double(s.K);
  const char* e = std::getenv("DG_PEAK_GFLOPS_PER_CORE");
  const double peak = (e ? std::atof(e) : 273.0) * threads;
  st.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["pct_peak"] = benchmark::Counter(flops * 1e-9 / peak * 100, benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(kShapeNames[st.range(0)]);
}
BENCHMARK(BM_TorchMm)->ArgNames({"shape", "threads"})->ArgsProduct({{0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, {1, 2}})->UseRealTime()->MinTime(0.3);

// ------------------------------------------------------- elementwise, 1M floats
constexpr int64_t kN = 1 << 20;

template <class F> void elementwise(benchmark::State& st, int inputs, F f) {
  set_threads(static_cast<int>(st.range(0)));
  torch::NoGradGuard no_grad;
  torch::Tensor a = torch::randn({kN}), b = torch::rand({kN}) + 0.5;
  for (auto _ : st) benchmark::DoNotOptimize(f(a, b).data_ptr());
  st.SetItemsProcessed(st.iterations() * kN);
  st.SetBytesProcessed(st.iterations() * kN * 4 * (inputs + 1));
}

void BM_Add(benchmark::State& st) { elementwise(st, 2, [](auto& a, auto& b) { return a + b; }); }
void BM_Mul(benchmark::State& st) { elementwise(st, 2, [](auto& a, auto& b) { return a * b; }); }
void BM_AddScalar(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return a + 1.0; }); }
void BM_Relu(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return torch::relu(a); }); }
void BM_Exp(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return torch::exp(a); }); }
void BM_Log(benchmark::State& st) { elementwise(st, 1, [](auto&, auto& b) { return torch::log(b); }); }
void BM_Tanh(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return torch::tanh(a); }); }
void BM_Sigmoid(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return torch::sigmoid(a); }); }
void BM_AddRowBroadcast(benchmark::State& st) {
  set_threads(static_cast<int>(st.range(0)));
  torch::NoGradGuard no_grad;
  torch::Tensor a = torch::randn({1024, 1024}), b = torch::randn({1024});
  for (auto _ : st) benchmark::DoNotOptimize((a + b).data_ptr());
  st.SetItemsProcessed(st.iterations() * kN);
  st.SetBytesProcessed(st.iterations() * kN * 4 * 2);
}
void BM_AddInplace(benchmark::State& st) {
  set_threads(static_cast<int>(st.range(0)));
  torch::NoGradGuard no_grad;
  torch::Tensor a = torch::randn({kN}), b = torch::randn({kN});
  for (auto _ : st) a.add_(b, 1e-6);
  st.SetItemsProcessed(st.iterations() * kN);
  st.SetBytesProcessed(st.iterations() * kN * 4 * 3);
}

#define DG_ELEMENTWISE(fn) BENCHMARK(fn)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()
DG_ELEMENTWISE(BM_Add);
DG_ELEMENTWISE(BM_Mul);
DG_ELEMENTWISE(BM_AddScalar);
DG_ELEMENTWISE(BM_Relu);
DG_ELEMENTWISE(BM_Exp);
DG_ELEMENTWISE(BM_Log);
DG_ELEMENTWISE(BM_Tanh);
DG_ELEMENTWISE(BM_Sigmoid);
DG_ELEMENTWISE(BM_AddRowBroadcast);
DG_ELEMENTWISE(BM_AddInplace);

// -------------------------------------------------- activations, 1M floats
namespace F = torch::nn::functional;
void BM_Gelu(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return F::gelu(a); }); }
void BM_GeluTanh(benchmark::State& st) {
  elementwise(st, 1, [](auto& a, auto&) { return F::gelu(a, F::GELUFuncOptions().approximate("tanh")); });
}
void BM_Elu(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return F::elu(a); }); }
void BM_Softplus(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return F::softplus(a); }); }
void BM_LeakyRelu(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return F::leaky_relu(a); }); }
void BM_GeluForwardBackward(benchmark::State& st) {
  set_threads(static_cast<int>(st.range(0)));
  torch::Tensor x = torch::randn({kN}).requires_grad_(true), dy = torch::randn({kN});
  for (auto _ : st) {
    torch::Tensor y = F::gelu(x);
    benchmark::DoNotOptimize(torch::autograd::grad({y}, {x}, {dy})[0].data_ptr());
  }
  st.SetItemsProcessed(st.iterations() * kN);
}
void BM_Sqrt(benchmark::State& st) { elementwise(st, 1, [](auto&, auto& b) { return b.sqrt(); }); }
void BM_Rsqrt(benchmark::State& st) { elementwise(st, 1, [](auto&, auto& b) { return b.rsqrt(); }); }
void BM_PowHalf(benchmark::State& st) { elementwise(st, 1, [](auto&, auto& b) { return b.pow(0.5); }); }
void BM_PowThree(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return a.pow(3); }); }
void BM_Clamp(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return a.clamp(-0.5, 0.5); }); }
DG_ELEMENTWISE(BM_Sqrt);
DG_ELEMENTWISE(BM_Rsqrt);
DG_ELEMENTWISE(BM_PowHalf);
DG_ELEMENTWISE(BM_PowThree);
DG_ELEMENTWISE(BM_Clamp);
DG_ELEMENTWISE(BM_Gelu);
DG_ELEMENTWISE(BM_GeluTanh);
DG_ELEMENTWISE(BM_Elu);
DG_ELEMENTWISE(BM_Softplus);
DG_ELEMENTWISE(BM_LeakyRelu);
DG_ELEMENTWISE(BM_GeluForwardBackward);
void BM_Silu(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return F::silu(a); }); }
DG_ELEMENTWISE(BM_Silu);

// ------------------------------------------------ losses and reductions, 1M floats
template <class F> void loss_step(benchmark::State& st, F loss) {
  set_threads(static_cast<int>(st.range(0)));
  torch::Tensor x = torch::randn({kN}).requires_grad_(true), p = (torch::rand({kN}) * 0.98 + 0.01).requires_grad_(true);
  torch::Tensor t = torch::rand({kN});
  for (auto _ : st) {
    torch::Tensor in = loss.second ? p : x;
    torch::Tensor l = loss.first(in, t);
    benchmark::DoNotOptimize(torch::autograd::grad({l}, {in})[0].data_ptr());
  }
  st.SetItemsProcessed(st.iterations() * kN);
}
void BM_BceWithLogitsStep(benchmark::State& st) {
  loss_step(st, std::make_pair([](auto& x, auto& t) { return F::binary_cross_entropy_with_logits(x, t); }, false));
}
void BM_BceStep(benchmark::State& st) {
  loss_step(st, std::make_pair([](auto& p, auto& t) { return F::binary_cross_entropy(p, t); }, true));
}
void BM_MseStep(benchmark::State& st) {
  loss_step(st, std::make_pair([](auto& x, auto& t) { return F::mse_loss(x, t); }, false));
}
// The 2-norm of everything with its gradient (gradient clipping, weight norms).
void BM_NormStep(benchmark::State& st) {
  loss_step(st, std::make_pair([](auto& x, auto&) { return x.norm(); }, false));
}
void BM_MaxAll(benchmark::State& st) { elementwise(st, 0, [](auto& a, auto&) { return a.max(); }); }
void BM_ArgmaxAll(benchmark::State& st) { elementwise(st, 0, [](auto& a, auto&) { return a.argmax(); }); }
void BM_MaxRows(benchmark::State& st) {
  elementwise(st, 0, [](auto& a, auto&) { return std::get<0>(a.reshape({1024, 1024}).max(1)); });
}
void BM_MaxColumns(benchmark::State& st) {
  elementwise(st, 0, [](auto& a, auto&) { return std::get<0>(a.reshape({1024, 1024}).max(0)); });
}
void BM_AmaxRows(benchmark::State& st) {
  elementwise(st, 0, [](auto& a, auto&) { return a.reshape({1024, 1024}).amax({1}); });
}
// logsumexp along the rows of 1024 x 1024 and its gradient (the softmax of each row).
void BM_LogSumExpStep(benchmark::State& st) {
  loss_step(st, std::make_pair([](auto& x, auto&) { return x.reshape({1024, 1024}).logsumexp({1}).sum(); }, false));
}
void BM_NormAll(benchmark::State& st) { elementwise(st, 0, [](auto& a, auto&) { return a.norm(); }); }
void BM_NormRows(benchmark::State& st) {
  elementwise(st, 0, [](auto& a, auto&) { return a.reshape({1024, 1024}).norm(2, {1}); });
}
void BM_LogSumExpRows(benchmark::State& st) {
  elementwise(st, 0, [](auto& a, auto&) { return a.reshape({1024, 1024}).logsumexp({1}); });
}
void BM_CumsumRows(benchmark::State& st) {
  elementwise(st, 0, [](auto& a, auto&) { return a.reshape({1024, 1024}).cumsum(1); });
}
void BM_CumsumColumns(benchmark::State& st) {
  elementwise(st, 0, [](auto& a, auto&) { return a.reshape({1024, 1024}).cumsum(0); });
}
// b in [0.5, 1.5]: a row's product stays a normal float (about e^-46)
void BM_ProdRows(benchmark::State& st) {
  elementwise(st, 0, [](auto&, auto& b) { return b.reshape({1024, 1024}).prod(1); });
}
void BM_ProdColumns(benchmark::State& st) {
  elementwise(st, 0, [](auto&, auto& b) { return b.reshape({1024, 1024}).prod(0); });
}
DG_ELEMENTWISE(BM_BceWithLogitsStep);
DG_ELEMENTWISE(BM_BceStep);
DG_ELEMENTWISE(BM_MseStep);
DG_ELEMENTWISE(BM_MaxAll);
DG_ELEMENTWISE(BM_ArgmaxAll);
DG_ELEMENTWISE(BM_MaxRows);
DG_ELEMENTWISE(BM_MaxColumns);
DG_ELEMENTWISE(BM_AmaxRows);
DG_ELEMENTWISE(BM_LogSumExpStep);
DG_ELEMENTWISE(BM_NormStep);
DG_ELEMENTWISE(BM_NormAll);
DG_ELEMENTWISE(BM_NormRows);
DG_ELEMENTWISE(BM_LogSumExpRows);
DG_ELEMENTWISE(BM_CumsumRows);
DG_ELEMENTWISE(BM_CumsumColumns);
DG_ELEMENTWISE(BM_ProdRows);
DG_ELEMENTWISE(BM_ProdColumns);
void BM_Where(benchmark::State& st) {
  set_threads(static_cast<int>(st.range(0)));
  torch::NoGradGuard no_grad;
  torch::Tensor a = torch::randn({kN}), b = torch::randn({kN}), c = a > 0.0;
  for (auto _ : st) benchmark::DoNotOptimize(torch::where(c, a, b).data_ptr());
  st.SetItemsProcessed(st.iterations() * kN);
}
void BM_TransposeContiguous(benchmark::State& st) {
  elementwise(st, 1, [](auto& a, auto&) { return a.reshape({1024, 1024}).t().contiguous(); });
}
// Two [1024 × 512] halves of a and b joined into 1M floats: along dim 1 every
// output row interleaves the two inputs' rows; along dim 0 each input is one block.
void BM_CatDim1(benchmark::State& st) {
  elementwise(st, 2, [](auto& a, auto& b) {
    return torch::cat({a.reshape({2048, 512}).narrow(0, 0, 1024), b.reshape({2048, 512}).narrow(0, 0, 1024)}, 1);
  });
}
void BM_CatDim0(benchmark::State& st) {
  elementwise(st, 2, [](auto& a, auto& b) {
    return torch::cat({a.reshape({2048, 512}).narrow(0, 0, 1024), b.reshape({2048, 512}).narrow(0, 0, 1024)}, 0);
  });
}
// Random fills of 1M float32 values (the default generator).
void BM_Rand(benchmark::State& st) {
  elementwise(st, 0, [](auto&, auto&) { return torch::rand({kN}); });
}
void BM_Randn(benchmark::State& st) {
  elementwise(st, 0, [](auto&, auto&) { return torch::randn({kN}); });
}
void BM_Dropout(benchmark::State& st) {
  elementwise(st, 1, [](auto& a, auto&) { return F::dropout(a, F::DropoutFuncOptions().p(0.5).training(true)); });
}
DG_ELEMENTWISE(BM_Where);
DG_ELEMENTWISE(BM_TransposeContiguous);
DG_ELEMENTWISE(BM_CatDim1);
DG_ELEMENTWISE(BM_CatDim0);
DG_ELEMENTWISE(BM_Rand);
DG_ELEMENTWISE(BM_Randn);
DG_ELEMENTWISE(BM_Dropout);

// ------------------------------------------------- recurrent training steps
template <class Layer> void recurrent_step(benchmark::State& st, Layer layer) {
  set_threads(static_cast<int>(st.range(0)));
  torch::manual_seed(0);
  torch::nn::Linear fc(128, 10);
  std::vector<torch::Tensor> params = layer->parameters();
  for (auto& p : fc->parameters()) params.push_back(p);
  torch::optim::SGD opt(params, torch::optim::SGDOptions(0.01).momentum(0.9));
  torch::Tensor x = torch::randn({64, 28, 28}), y = torch::randint(0, 10, {64});
  for (auto _ : st) {
    opt.zero_grad();
    torch::Tensor out = std::get<0>(layer->forward(x));  // [64, 28, 128]
    torch::Tensor loss = F::cross_entropy(fc->forward(out.select(1, 27)), y);
    loss.backward();
    opt.step();
  }
  st.SetItemsProcessed(st.iterations() * 64);
}
void BM_RnnTrainStep(benchmark::State& st) {
  recurrent_step(st, torch::nn::RNN(torch::nn::RNNOptions(28, 128).batch_first(true)));
}
void BM_LstmTrainStep(benchmark::State& st) {
  recurrent_step(st, torch::nn::LSTM(torch::nn::LSTMOptions(28, 128).batch_first(true)));
}
DG_ELEMENTWISE(BM_RnnTrainStep);
DG_ELEMENTWISE(BM_LstmTrainStep);

// ------------------------------------------------------------------ reductions
void BM_SumBatchDim(benchmark::State& st) {
  set_threads(static_cast<int>(st.range(0)));
  torch::NoGradGuard no_grad;
  torch::Tensor a = torch::randn({128, 512});
  for (auto _ : st) benchmark::DoNotOptimize(a.sum({0}).data_ptr());
  st.SetItemsProcessed(st.iterations() * a.numel());
  st.SetBytesProcessed(st.iterations() * a.numel() * 4);
}
void BM_SumRows(benchmark::State& st) {
  set_threads(static_cast<int>(st.range(0)));
  torch::NoGradGuard no_grad;
  torch::Tensor a = torch::randn({128, 512});
  for (auto _ : st) benchmark::DoNotOptimize(a.sum({1}).data_ptr());
  st.SetItemsProcessed(st.iterations() * a.numel());
  st.SetBytesProcessed(st.iterations() * a.numel() * 4);
}
void BM_SumAll1M(benchmark::State& st) {
  set_threads(static_cast<int>(st.range(0)));
  torch::NoGradGuard no_grad;
  torch::Tensor a = torch::randn({kN});
  for (auto _ : st) benchmark::DoNotOptimize(a.sum().data_ptr());
  st.SetItemsProcessed(st.iterations() * kN);
  st.SetBytesProcessed(st.iterations() * kN * 4);
}
DG_ELEMENTWISE(BM_SumBatchDim);
DG_ELEMENTWISE(BM_SumRows);
DG_ELEMENTWISE(BM_SumAll1M);

}  // namespace

BENCHMARK_MAIN();
