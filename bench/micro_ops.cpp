// Per-op overhead and memory-bound kernels of dimgrad (bench/libtorch_micro.cpp
// runs the same cases in LibTorch; docs/performance.md compares them).
//
//  - Chain: 1,000 ops on a [4]-element tensor (add, mul, relu in turn): forward
//    without a graph, forward recording the graph, forward + backward. The
//    "per_op" counter is the time of the chain divided by 1,000.
//  - Elementwise throughput on 1M floats, 1 and 2 threads; the activations of
//    nn/activation.hpp forward, and GELU forward + backward.
//  - A training step of a recurrent layer (RNN, LSTM) on a batch of 64
//    sequences of 28 steps of 28 features (Fashion-MNIST read row by row),
//    hidden 128, then Linear(128, 10), cross-entropy, SGD with momentum.
//  - Reductions: the bias gradient (sum over the batch dim of 128×512), row sums.
//  - The same loops with the instruction set forced (0 baseline SSE2, 1 AVX2,
//    2 AVX-512), and the vectorizable exp/tanh/sigmoid of kernels/vec_math.hpp.
#include <benchmark/benchmark.h>

#include <cmath>

#include "dimgrad/autograd.hpp"
#include "dimgrad/nn.hpp"
#include "dimgrad/ops.hpp"
#include "dimgrad/optim.hpp"
#include "dimgrad/tensor.hpp"
#include "kernels/kernels.hpp"
#include "kernels/simd.hpp"
#include "kernels/vec_math.hpp"

namespace {

constexpr int kChain = 1000;

dg::Tensor chain(dg::Tensor x, const dg::Tensor& c, const dg::Tensor& d) {
  for (int i = 0; i < kChain; ++i) {
    switch (i % 3) {
      case 0: x = x + d; break;
      case 1: x = x * c; break;
      default: x = dg::relu(x); break;
    }
  }
  return x;
}

void set_per_op(benchmark::State& st) {
  // Seconds per op: the inverse of ops per second (printed with an SI prefix, e.g. "142n" = 142 ns).
  st.counters["per_op"] =
      benchmark::Counter(double(kChain), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void BM_ChainForwardNoGrad(benchmark::State& st) {
  dg::set_num_threads(1);
  dg::NoGradGuard no_grad;
  dg::Tensor x = dg::rand({4}), c = dg::full({4}, 0.999), d = dg::full({4}, 0.001);
  for (auto _ : st) benchmark::DoNotOptimize(chain(x, c, d).raw_data());
  set_per_op(st);
}
BENCHMARK(BM_ChainForwardNoGrad);

void BM_ChainForwardGraph(benchmark::State& st) {
  dg::set_num_threads(1);
  dg::Tensor x = dg::rand({4}).requires_grad_(), c = dg::full({4}, 0.999), d = dg::full({4}, 0.001);
  for (auto _ : st) benchmark::DoNotOptimize(chain(x, c, d).raw_data());
  set_per_op(st);
}
BENCHMARK(BM_ChainForwardGraph);

void BM_ChainForwardBackward(benchmark::State& st) {
  dg::set_num_threads(1);
  dg::Tensor x = dg::rand({4}).requires_grad_(), c = dg::full({4}, 0.999), d = dg::full({4}, 0.001);
  dg::Tensor g = dg::ones({4});
  for (auto _ : st) {
    dg::Tensor y = chain(x, c, d);
    y.backward(g);
    x.grad().zero_();
  }
  set_per_op(st);
}
BENCHMARK(BM_ChainForwardBackward);

// ------------------------------------------------------- elementwise, 1M floats
constexpr int64_t kN = 1 << 20;

template <class F> void elementwise(benchmark::State& st, int inputs, F f) {
  dg::set_num_threads(static_cast<int>(st.range(0)));
  dg::NoGradGuard no_grad;
  dg::Tensor a = dg::randn({kN}), b = dg::rand({kN}) + 0.5;
  for (auto _ : st) benchmark::DoNotOptimize(f(a, b).raw_data());
  st.SetItemsProcessed(st.iterations() * kN);
  st.SetBytesProcessed(st.iterations() * kN * 4 * (inputs + 1));
}

void BM_Add(benchmark::State& st) { elementwise(st, 2, [](auto& a, auto& b) { return a + b; }); }
void BM_Mul(benchmark::State& st) { elementwise(st, 2, [](auto& a, auto& b) { return a * b; }); }
void BM_AddScalar(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return a + 1.0; }); }
void BM_Relu(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return dg::relu(a); }); }
void BM_Exp(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return dg::exp(a); }); }
void BM_Log(benchmark::State& st) { elementwise(st, 1, [](auto&, auto& b) { return dg::log(b); }); }
void BM_Tanh(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return dg::tanh(a); }); }
void BM_Sigmoid(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return dg::sigmoid(a); }); }
// Bias add: [1024×1024] + [1024] (the second operand broadcast along rows).
void BM_AddRowBroadcast(benchmark::State& st) {
  dg::set_num_threads(static_cast<int>(st.range(0)));
  dg::NoGradGuard no_grad;
  dg::Tensor a = dg::randn({1024, 1024}), b = dg::randn({1024});
  for (auto _ : st) benchmark::DoNotOptimize((a + b).raw_data());
  st.SetItemsProcessed(st.iterations() * kN);
  st.SetBytesProcessed(st.iterations() * kN * 4 * 2);
}
// In-place accumulation (what the engine and optimizers do): a += b.
void BM_AddInplace(benchmark::State& st) {
  dg::set_num_threads(static_cast<int>(st.range(0)));
  dg::NoGradGuard no_grad;
  dg::Tensor a = dg::randn({kN}), b = dg::randn({kN});
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
namespace F = dg::nn::functional;
void BM_Gelu(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return F::gelu(a); }); }
void BM_GeluTanh(benchmark::State& st) {
  elementwise(st, 1, [](auto& a, auto&) { return F::gelu(a, F::GELUFuncOptions().approximate("tanh")); });
}
void BM_Elu(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return F::elu(a); }); }
void BM_Softplus(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return F::softplus(a); }); }
void BM_LeakyRelu(benchmark::State& st) { elementwise(st, 1, [](auto& a, auto&) { return F::leaky_relu(a); }); }
// y = gelu(x), then dx from dy: the forward and the backward's pass.
void BM_GeluForwardBackward(benchmark::State& st) {
  dg::set_num_threads(static_cast<int>(st.range(0)));
  dg::Tensor x = dg::randn({kN}).requires_grad_(true), dy = dg::randn({kN});
  for (auto _ : st) {
    dg::Tensor y = F::gelu(x);
    benchmark::DoNotOptimize(dg::autograd::grad({y}, {x}, {dy})[0].raw_data());
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
// A loss's forward (mean) and the backward to its input: one training step's share.
template <class F> void loss_step(benchmark::State& st, F loss) {
  dg::set_num_threads(static_cast<int>(st.range(0)));
  dg::Tensor x = dg::randn({kN}).requires_grad_(true), p = (dg::rand({kN}) * 0.98 + 0.01).requires_grad_(true);
  dg::Tensor t = dg::rand({kN});
  for (auto _ : st) {
    dg::Tensor in = loss.second ? p : x;
    dg::Tensor l = loss.first(in, t);
    benchmark::DoNotOptimize(dg::autograd::grad({l}, {in})[0].raw_data());
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
// [1024×1024]: along rows (dim 1) and down columns (dim 0).
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
  dg::set_num_threads(static_cast<int>(st.range(0)));
  dg::NoGradGuard no_grad;
  dg::Tensor a = dg::randn({kN}), b = dg::randn({kN}), c = a > 0.0;
  for (auto _ : st) benchmark::DoNotOptimize(dg::where(c, a, b).raw_data());
  st.SetItemsProcessed(st.iterations() * kN);
}
void BM_TransposeContiguous(benchmark::State& st) {
  elementwise(st, 1, [](auto& a, auto&) { return a.reshape({1024, 1024}).t().contiguous(); });
}
// Two [1024 × 512] halves of a and b joined into 1M floats: along dim 1 every
// output row interleaves the two inputs' rows; along dim 0 each input is one block.
void BM_CatDim1(benchmark::State& st) {
  elementwise(st, 2, [](auto& a, auto& b) {
    return dg::cat({a.reshape({2048, 512}).narrow(0, 0, 1024), b.reshape({2048, 512}).narrow(0, 0, 1024)}, 1);
  });
}
void BM_CatDim0(benchmark::State& st) {
  elementwise(st, 2, [](auto& a, auto& b) {
    return dg::cat({a.reshape({2048, 512}).narrow(0, 0, 1024), b.reshape({2048, 512}).narrow(0, 0, 1024)}, 0);
  });
}
// Random fills of 1M float32 values (the default generator).
void BM_Rand(benchmark::State& st) {
  elementwise(st, 0, [](auto&, auto&) { return dg::rand({kN}); });
}
void BM_Randn(benchmark::State& st) {
  elementwise(st, 0, [](auto&, auto&) { return dg::randn({kN}); });
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
// One training step per iteration; items = sequences.
template <class Layer> void recurrent_step(benchmark::State& st, Layer layer) {
  dg::set_num_threads(static_cast<int>(st.range(0)));
  dg::manual_seed(0);
  dg::nn::Linear fc(128, 10);
  std::vector<dg::Tensor> params = layer->parameters();
  for (auto& p : fc->parameters()) params.push_back(p);
  dg::optim::SGD opt(params, dg::optim::SGDOptions(0.01).momentum(0.9));
  dg::Tensor x = dg::randn({64, 28, 28}), y = dg::randint(0, 10, {64});
  for (auto _ : st) {
    opt.zero_grad();
    dg::Tensor out = std::get<0>(layer->forward(x));  // [64, 28, 128]
    dg::Tensor loss = F::cross_entropy(fc->forward(out.select(1, 27)), y);
    loss.backward();
    opt.step();
  }
  st.SetItemsProcessed(st.iterations() * 64);
}
void BM_RnnTrainStep(benchmark::State& st) {
  recurrent_step(st, dg::nn::RNN(dg::nn::RNNOptions(28, 128).batch_first(true)));
}
void BM_LstmTrainStep(benchmark::State& st) {
  recurrent_step(st, dg::nn::LSTM(dg::nn::LSTMOptions(28, 128).batch_first(true)));
}
DG_ELEMENTWISE(BM_RnnTrainStep);
DG_ELEMENTWISE(BM_LstmTrainStep);

// ------------------------------------------------------------------ reductions
// db[512] = Σ_n dY[128×512]: the bias gradient of a Linear layer.
void BM_SumBatchDim(benchmark::State& st) {
  dg::set_num_threads(static_cast<int>(st.range(0)));
  dg::NoGradGuard no_grad;
  dg::Tensor a = dg::randn({128, 512});
  for (auto _ : st) benchmark::DoNotOptimize(a.sum({0}).raw_data());
  st.SetItemsProcessed(st.iterations() * a.numel());
  st.SetBytesProcessed(st.iterations() * a.numel() * 4);
}
void BM_SumRows(benchmark::State& st) {
  dg::set_num_threads(static_cast<int>(st.range(0)));
  dg::NoGradGuard no_grad;
  dg::Tensor a = dg::randn({128, 512});
  for (auto _ : st) benchmark::DoNotOptimize(a.sum({1}).raw_data());
  st.SetItemsProcessed(st.iterations() * a.numel());
  st.SetBytesProcessed(st.iterations() * a.numel() * 4);
}
void BM_SumAll1M(benchmark::State& st) {
  dg::set_num_threads(static_cast<int>(st.range(0)));
  dg::NoGradGuard no_grad;
  dg::Tensor a = dg::randn({kN});
  for (auto _ : st) benchmark::DoNotOptimize(a.sum().raw_data());
  st.SetItemsProcessed(st.iterations() * kN);
  st.SetBytesProcessed(st.iterations() * kN * 4);
}
DG_ELEMENTWISE(BM_SumBatchDim);
DG_ELEMENTWISE(BM_SumRows);
DG_ELEMENTWISE(BM_SumAll1M);

// ------------------------------------------------- instruction set comparison
// One thread, 1M floats; the ISA is forced with kernels::set_isa (clamped to the CPU's).
template <class F> void with_isa(benchmark::State& st, int64_t bytes_per_item, F f) {
  dg::set_num_threads(1);
  const auto saved = dg::kernels::active_isa();
  const auto isa = dg::kernels::set_isa(static_cast<dg::kernels::Isa>(st.range(0)));
  st.SetLabel(dg::kernels::isa_name(isa));
  for (auto _ : st) f();
  st.SetItemsProcessed(st.iterations() * kN);
  st.SetBytesProcessed(st.iterations() * kN * bytes_per_item);
  dg::kernels::set_isa(saved);
}

void BM_IsaAdd(benchmark::State& st) {
  dg::NoGradGuard no_grad;
  dg::Tensor a = dg::randn({kN}), b = dg::randn({kN});
  with_isa(st, 12, [&] { benchmark::DoNotOptimize((a + b).raw_data()); });
}
void BM_IsaRelu(benchmark::State& st) {
  dg::NoGradGuard no_grad;
  dg::Tensor a = dg::randn({kN});
  with_isa(st, 8, [&] { benchmark::DoNotOptimize(dg::relu(a).raw_data()); });
}
void BM_IsaSumBatchDim(benchmark::State& st) {
  dg::NoGradGuard no_grad;
  dg::Tensor a = dg::randn({kN / 512, 512});
  with_isa(st, 4, [&] { benchmark::DoNotOptimize(a.sum({0}).raw_data()); });
}
void BM_IsaSumAll(benchmark::State& st) {
  dg::NoGradGuard no_grad;
  dg::Tensor a = dg::randn({kN});
  with_isa(st, 4, [&] { benchmark::DoNotOptimize(a.sum().raw_data()); });
}
// y = f(x) over 1M floats through simd_for: the fast float32 functions, and glibc's for comparison.
template <class F> void math_loop(benchmark::State& st, F f) {
  dg::NoGradGuard no_grad;
  dg::Tensor x = dg::randn({kN}), y = dg::empty({kN});
  const float* xp = x.data_ptr<float>();
  float* yp = y.data_ptr<float>();
  with_isa(st, 8, [&] {
    dg::kernels::simd_for(0, kN, [=](int64_t i) { yp[i] = f(xp[i]); });
    benchmark::DoNotOptimize(yp);
  });
}
void BM_IsaFastExp(benchmark::State& st) { math_loop(st, [](float v) { return dg::kernels::fast_exp(v); }); }
void BM_IsaFastTanh(benchmark::State& st) { math_loop(st, [](float v) { return dg::kernels::fast_tanh(v); }); }
void BM_IsaFastSigmoid(benchmark::State& st) { math_loop(st, [](float v) { return dg::kernels::fast_sigmoid(v); }); }
void BM_IsaStdExp(benchmark::State& st) { math_loop(st, [](float v) { return std::exp(v); }); }
void BM_IsaStdTanh(benchmark::State& st) { math_loop(st, [](float v) { return std::tanh(v); }); }

#define DG_ISA(fn) BENCHMARK(fn)->ArgName("isa")->Arg(0)->Arg(1)->Arg(2)->UseRealTime()
DG_ISA(BM_IsaAdd);
DG_ISA(BM_IsaRelu);
DG_ISA(BM_IsaSumBatchDim);
DG_ISA(BM_IsaSumAll);
DG_ISA(BM_IsaFastExp);
DG_ISA(BM_IsaFastTanh);
DG_ISA(BM_IsaFastSigmoid);
DG_ISA(BM_IsaStdExp);
DG_ISA(BM_IsaStdTanh);

}  // namespace

BENCHMARK_MAIN();
