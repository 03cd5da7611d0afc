// The small CNN's (W2's) two convolutions through dimgrad's conv2d, forward and
// backward, on each route (kernels::set_conv_algo), 1 and 2 threads. The
// "GFLOP/s" counter is the multiply-adds of the pass (2 FLOPs each) per second:
// forward 2·N·K·C·KH·KW·OH·OW, backward the same once for dW and once more for
// dX where the input needs a gradient (the first layer's, the images, does not).
// Batch 64, 3×3 kernels, padding 1, as in W2.
#include <benchmark/benchmark.h>

#include "dimgrad/autograd.hpp"
#include "dimgrad/nn/conv.hpp"
#include "dimgrad/ops.hpp"
#include "dimgrad/tensor.hpp"
#include "kernels/im2col.hpp"

namespace {

struct Layer {
  int64_t c, k, hw;
  bool input_grad;
};
constexpr Layer kLayers[] = {{1, 32, 28, false}, {32, 64, 14, true}};
constexpr int64_t kBatch = 64;
constexpr dg::kernels::ConvAlgo kRoutes[] = {dg::kernels::ConvAlgo::Im2col, dg::kernels::ConvAlgo::OneDNN,
                                             dg::kernels::ConvAlgo::Auto};

double pass_flops(const Layer& l) { return 2.0 * kBatch * l.k * l.c * 9 * l.hw * l.hw; }

struct Setup {
  dg::Tensor x, w, b;
  explicit Setup(benchmark::State& st) {
    const Layer& l = kLayers[st.range(0)];
    dg::kernels::set_conv_algo(kRoutes[st.range(1)]);
    dg::set_num_threads(static_cast<int>(st.range(2)));
    dg::manual_seed(1);
    x = dg::randn({kBatch, l.c, l.hw, l.hw});
    w = (dg::randn({l.k, l.c, 3, 3}) * 0.1).requires_grad_();
    b = dg::zeros({l.k}).requires_grad_();
    if (l.input_grad) x.requires_grad_();
  }
  ~Setup() { dg::kernels::set_conv_algo(dg::kernels::ConvAlgo::Auto); }
};

void BM_Conv2dForward(benchmark::State& st) {
  Setup s(st);
  dg::NoGradGuard no_grad;
  for (auto _ : st) benchmark::DoNotOptimize(dg::conv2d(s.x, s.w, s.b, 1, 1).raw_data());
  st.counters["GFLOP/s"] = benchmark::Counter(pass_flops(kLayers[st.range(0)]) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

// The backward alone: the forward that records the graph runs outside the timing.
void BM_Conv2dBackward(benchmark::State& st) {
  Setup s(st);
  const Layer& l = kLayers[st.range(0)];
  dg::TensorList wrt{s.w, s.b};
  if (l.input_grad) wrt.push_back(s.x);
  dg::Tensor gy = dg::randn({kBatch, l.k, l.hw, l.hw});
  for (auto _ : st) {
    st.PauseTiming();
    dg::Tensor y = dg::conv2d(s.x, s.w, s.b, 1, 1);
    st.ResumeTiming();
    benchmark::DoNotOptimize(dg::autograd::grad({y}, wrt, {gy}));
  }
  st.counters["GFLOP/s"] = benchmark::Counter((l.input_grad ? 2 : 1) * pass_flops(l) / 1e9,
                                              benchmark::Counter::kIsIterationInvariantRate);
}

void conv_args(benchmark::internal::Benchmark* b) {
  b->ArgNames({"layer", "route", "threads"})->UseRealTime()->Unit(benchmark::kMicrosecond);
  for (int64_t layer : {0, 1})
    for (int64_t route : {0, 1, 2})
      for (int64_t threads : {1, 2}) b->Args({layer, route, threads});
}
BENCHMARK(BM_Conv2dForward)->Apply(conv_args);
BENCHMARK(BM_Conv2dBackward)->Apply(conv_args);

}  // namespace
