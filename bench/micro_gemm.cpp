// GEMM inside dimgrad: GFLOP/s and % of this machine's fp32 peak, through the raw
// kernel (kernels::gemm) and through the op (dg::mm, which adds tensor creation
// and the transpose-flag handling of kernels::mm_into).
//
// Peak: 273 GFLOP/s per core (AMD EPYC Zen 5: 2 × 512-bit FMA per cycle at
// ≈ 4.27 GHz); override with DG_PEAK_GFLOPS_PER_CORE for another machine.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <vector>

#include "dimgrad/dimgrad.hpp"
#include "kernels/kernels.hpp"

namespace {

double peak_per_core() {
  const char* e = std::getenv("DG_PEAK_GFLOPS_PER_CORE");
  return e ? std::atof(e) : 273.0;
}

struct GemmShape {
  bool ta, tb;
  int64_t M, N, K;
};

// Indexed by the benchmark's first argument; names in kShapeNames.
const GemmShape kShapes[] = {
    {false, true, 128, 512, 784},   // MLP forward   Y[128×512] = X[128×784] · Wᵀ
    {false, false, 128, 784, 512},  // MLP backward dX[128×784] = dY[128×512] · W[512×784]
    {true, false, 512, 784, 128},   // MLP backward dW[512×784] = dYᵀ[512×128] · X[128×784]
    {false, false, 1024, 1024, 1024},
    {false, false, 32, 50176, 9},     // conv1 im2col: W[32×9] · cols[9×64·784]
    {false, false, 64, 12544, 288},   // conv2 im2col: W[64×288] · cols[288×64·196]
    {false, true, 64, 288, 12544},    // conv2 dW[64×288] = dY[64×12544] · colsᵀ
    {false, true, 64, 100, 784},      // two-layer net 784-100-10, batch 64: layer 1 forward
    {false, true, 64, 10, 100},       // layer 2 forward: small, call overhead shows
    {true, false, 100, 784, 64},      // layer 1 weight gradient dW[100×784] = dYᵀ · X
    {false, true, 128, 10, 512},      // MLP 784-512-512-10, last layer forward
    {false, true, 64, 128, 3136},     // the CNN's Linear(3136,128), batch 64: forward Y = X · Wᵀ
    {false, true, 1000, 128, 3136},   // the same at the inference batch of 1000
    {false, true, 128, 512, 512},     // MLP 784-512-512-10, second layer forward
    {false, true, 128, 256, 784},     // MLP with batch norm 784-256-256-10, first layer forward
    {false, true, 128, 256, 256},     // its second layer forward
    {false, true, 32, 512, 784},      // MLP first layer forward at batch 32
    {false, true, 256, 1024, 1024},   // a wider layer
};
const char* kShapeNames[] = {"mlp_fwd_128x784x512", "mlp_dX_128x512x784", "mlp_dW_512x128x784", "square_1024",
                             "conv1_32x9x50176",    "conv2_64x288x12544", "conv2_dW_64x12544x288",
                             "w3_fc1_64x784x100",   "w3_fc2_64x100x10",     "w3_fc1_dW_100x64x784",
                             "w1_fc3_128x512x10",   "w2_fc1_64x3136x128",   "w2_infer_fc1_1000x3136x128",
                             "w1_fc2_128x512x512",  "w4_fc1_128x784x256",   "w4_fc2_128x256x256",
                             "mlp_fwd_32x784x512",  "wide_256x1024x1024"};

void set_counters(benchmark::State& st, const GemmShape& s, int threads) {
  const double flops = 2.0 * double(s.M) * double(s.N) * double(s.K);
  st.counters["GFLOPS"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  st.counters["pct_peak"] =
      benchmark::Counter(flops * 1e-9 / (peak_per_core() * threads) * 100, benchmark::Counter::kIsIterationInvariantRate);
  st.SetLabel(kShapeNames[&s - kShapes]);
}

// kernels::gemm on raw buffers.
void BM_KernelsGemm(benchmark::State& st) {
  const GemmShape& s = kShapes[st.range(0)];
  const int threads = static_cast<int>(st.range(1));
  dg::set_num_threads(threads);
  const int64_t lda = s.ta ? s.M : s.K, ldb = s.tb ? s.K : s.N;
  std::vector<float> A(size_t(s.M * s.K), 0.5f), B(size_t(s.K * s.N), 0.25f), C(size_t(s.M * s.N));
  for (auto _ : st) {
    dg::kernels::gemm(s.ta, s.tb, s.M, s.N, s.K, 1.f, A.data(), lda, B.data(), ldb, 0.f, C.data(), s.N);
    benchmark::DoNotOptimize(C.data());
  }
  set_counters(st, s, threads);
}

// kernels::gemm with its route forced, sgemm (route 1) or oneDNN's matmul
// primitive (route 2): the measurement behind gemm.cpp's use_matmul. Compare
// them with --benchmark_enable_random_interleaving=true.
void BM_KernelsGemmRoute(benchmark::State& st) {
  dg::kernels::set_gemm_route(st.range(2) == 1 ? dg::kernels::GemmRoute::Sgemm : dg::kernels::GemmRoute::Matmul);
  BM_KernelsGemm(st);
  dg::kernels::set_gemm_route(dg::kernels::GemmRoute::Auto);
}

// dg::mm on tensors; a transposed operand is a .t() view (no copy).
void BM_DgMm(benchmark::State& st) {
  const GemmShape& s = kShapes[st.range(0)];
  const int threads = static_cast<int>(st.range(1));
  dg::set_num_threads(threads);
  dg::NoGradGuard no_grad;
  dg::Tensor a = s.ta ? dg::randn({s.K, s.M}).t() : dg::randn({s.M, s.K});
  dg::Tensor b = s.tb ? dg::randn({s.N, s.K}).t() : dg::randn({s.K, s.N});
  for (auto _ : st) {
    dg::Tensor c = dg::mm(a, b);
    benchmark::DoNotOptimize(c.raw_data());
  }
  set_counters(st, s, threads);
}

void gemm_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "threads"});
  for (int t : {1, 2})
    for (int s = 0; s < int(std::size(kShapes)); ++s) b->Args({s, t});
  b->UseRealTime()->MinTime(0.3);
}

void route_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"shape", "threads", "route"});
  for (int t : {1, 2})
    for (int s = 0; s < int(std::size(kShapes)); ++s)
      for (int route : {1, 2}) b->Args({s, t, route});
  b->UseRealTime()->MinTime(0.3);
}

}  // namespace

BENCHMARK(BM_KernelsGemm)->Apply(gemm_args);
BENCHMARK(BM_KernelsGemmRoute)->Apply(route_args);
BENCHMARK(BM_DgMm)->Apply(gemm_args);
