// Conv2d: float64 gradchecks of input, weight and bias on odd geometries, golden
// values against PyTorch, the two float32 routes (im2col + GEMM and oneDNN)
// against each other, the module (options, init, names) and its shape errors.
#include <cmath>

#include "dimgrad/nn/conv.hpp"
#include "kernels/im2col.hpp"
#include "test_conv_fixture_util.hpp"

using namespace dg;
namespace F = dg::nn::functional;
using nn2_test::close;

namespace {

struct Geometry {
  const char* name;
  int64_t n, c, h, w, k, kh, kw, sh, sw, ph, pw, dh, dw, groups;
  bool bias;
};

// Small shapes that still hit every path of im2col / col2im.
const Geometry kGeometries[] = {
    {"batch1_k3_p1", 1, 2, 5, 4, 3, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},
    {"nonsquare_k2x3", 2, 2, 4, 5, 2, 2, 3, 1, 1, 0, 0, 1, 1, 1, true},
    {"stride2_pad1", 2, 1, 5, 6, 2, 3, 3, 2, 2, 1, 1, 1, 1, 1, true},
    {"stride2x1_pad0x2", 1, 2, 5, 4, 2, 3, 2, 2, 1, 0, 2, 1, 1, 1, true},
    {"dilation2", 1, 2, 6, 6, 2, 3, 3, 1, 1, 1, 1, 2, 2, 1, true},
    {"groups2", 2, 4, 4, 4, 6, 3, 3, 1, 1, 1, 1, 1, 1, 2, true},
    {"depthwise_no_bias", 1, 3, 4, 5, 3, 2, 2, 1, 1, 0, 1, 1, 1, 3, false},
    {"pointwise_1x1", 2, 3, 3, 4, 2, 1, 1, 1, 1, 0, 0, 1, 1, 1, true},
    {"pointwise_stride2", 1, 3, 5, 5, 2, 1, 1, 2, 2, 0, 0, 1, 1, 1, false},
};

class ConvGradcheck : public ::testing::TestWithParam<Geometry> {};

TEST_P(ConvGradcheck, InputWeightBiasFloat64) {
  const Geometry& g = GetParam();
  manual_seed(7);
  Tensor x = randn({g.n, g.c, g.h, g.w}, kFloat64).requires_grad_();
  Tensor w = randn({g.k, g.c / g.groups, g.kh, g.kw}, kFloat64).requires_grad_();
  Tensor b = g.bias ? randn({g.k}, kFloat64).requires_grad_() : Tensor();
  TensorList inputs{x, w};
  if (g.bias) inputs.push_back(b);
  auto fn = [&](const TensorList& in) {
    return conv2d(in[0], in[1], g.bias ? in[2] : Tensor(), {g.sh, g.sw}, {g.ph, g.pw}, {g.dh, g.dw}, g.groups);
  };
  EXPECT_TRUE(gradcheck(fn, inputs, 1e-6, 1e-6, 1e-5)) << g.name;
}

INSTANTIATE_TEST_SUITE_P(Geometries, ConvGradcheck, ::testing::ValuesIn(kGeometries),
                         [](const auto& info) { return std::string(info.param.name); });

// The hand-derived backward against the same convolution composed from
// differentiable primitives (unfold by narrow + mm), so autograd derives it.
TEST(Conv2d, BackwardMatchesAutogradOfComposition) {
  manual_seed(3);
  const int64_t N = 2, C = 3, H = 5, W = 6, K = 4, KH = 2, KW = 3, S = 2, P = 1;
  Tensor x = randn({N, C, H, W}, kFloat64).requires_grad_();
  Tensor w = randn({K, C, KH, KW}, kFloat64).requires_grad_();
  Tensor b = randn({K}, kFloat64).requires_grad_();
  Tensor y = conv2d(x, w, b, S, P);
  const int64_t OH = y.size(2), OW = y.size(3);
  Tensor gy = randn(y.sizes(), kFloat64);
  TensorList fused = autograd::grad({y}, {x, w, b}, {gy});

  // Padding by concatenating zeros, then each output pixel as a window · weight.
  Tensor zc = zeros({N, C, P, W}, kFloat64), zr = zeros({N, C, H + 2 * P, P}, kFloat64);
  Tensor xp = cat({zc, x, zc}, 2);
  xp = cat({zr, xp, zr}, 3);
  Tensor wm = w.reshape({K, C * KH * KW});
  TensorList cols;
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int64_t ow = 0; ow < OW; ++ow)
      cols.push_back(xp.narrow(2, oh * S, KH).narrow(3, ow * S, KW).reshape({N, C * KH * KW}));
  Tensor colsm = stack(cols, 2);                                            // [N, CKK, P]
  Tensor yc = matmul(wm, colsm) + b.reshape({1, K, 1});                     // [N, K, P]
  yc = yc.reshape({N, K, OH, OW});
  EXPECT_TRUE(close(yc, y, 1e-12, 1e-12));
  TensorList composed = autograd::grad({yc}, {x, w, b}, {gy});
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(close(fused[i], composed[i], 1e-12, 1e-10)) << "input " << i;
}

// The float32 im2col + GEMM and oneDNN routes on one geometry: outputs and
// every gradient agree with each other, and the output with float64.
void expect_routes_agree(const Geometry& g) {
  manual_seed(11);
  Tensor x = randn({g.n, g.c, g.h, g.w}).requires_grad_();
  Tensor w = randn({g.k, g.c / g.groups, g.kh, g.kw}).requires_grad_();
  Tensor b = g.bias ? randn({g.k}).requires_grad_() : Tensor();
  TensorList wrt{x, w};
  if (g.bias) wrt.push_back(b);
  auto run = [&](const Tensor& xi, const Tensor& wi, const Tensor& bi) {
    return conv2d(xi, wi, bi, {g.sh, g.sw}, {g.ph, g.pw}, {g.dh, g.dw}, g.groups);
  };
  Tensor gy;
  Tensor ys[2];
  TensorList res[2];
  const kernels::ConvAlgo algos[2] = {kernels::ConvAlgo::Im2col, kernels::ConvAlgo::OneDNN};
  for (int r = 0; r < 2; ++r) {
    kernels::set_conv_algo(algos[r]);
    ys[r] = run(x, w, b);
    if (!gy.defined()) gy = randn(ys[r].sizes());
    res[r] = autograd::grad({ys[r]}, wrt, {gy});
  }
  kernels::set_conv_algo(kernels::ConvAlgo::Auto);
  // float64 reference for the scale of the values.
  Tensor y64 = run(x.detach().to(kFloat64), w.detach().to(kFloat64), g.bias ? b.detach().to(kFloat64) : Tensor());
  EXPECT_TRUE(close(ys[0], y64, 1e-4, 1e-4)) << g.name;
  EXPECT_TRUE(close(ys[1], y64, 1e-4, 1e-4)) << g.name;
  for (size_t i = 0; i < wrt.size(); ++i) {
    // Sums over up to 64·784 terms: compare relative to the largest entry.
    const double scale = res[0][i].abs().max().item<double>();
    EXPECT_TRUE(close(res[0][i], res[1][i], 2e-5 * scale + 1e-5, 1e-4)) << g.name << " grad " << i;
  }
}

// float32 im2col + GEMM and oneDNN agree with each other (and with float64),
// forward and backward: on the small CNN's real shapes, and on geometries with
// 16 or more channels on both sides, where the oneDNN route uses NHWC
// activations and, for stride 1 and dilation 1, computes dX as a forward
// convolution of dY with the weights transposed and flipped (padding
// KH − 1 − PH). Those pick each side of that choice; the non-square kernels and
// unequal paddings catch a flip or a padding taken from the wrong axis.
TEST(Conv2d, Im2colAndOneDNNRoutesAgree) {
  const Geometry cases[] = {
      {"cnn_1_to_32", 64, 1, 28, 28, 32, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},
      {"cnn_32_to_64", 64, 32, 14, 14, 64, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},
      {"groups2_stride2_dilation2", 3, 4, 9, 9, 6, 3, 3, 2, 2, 1, 1, 2, 2, 2, true},
      {"pointwise", 2, 3, 7, 7, 5, 1, 1, 1, 1, 0, 0, 1, 1, 1, true},
      // 16+ channels in and out:
      {"wide_k3_p1", 2, 16, 7, 6, 24, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},
      {"wide_k3_p0", 2, 16, 7, 6, 16, 3, 3, 1, 1, 0, 0, 1, 1, 1, true},
      {"wide_k3x5_p1x2", 3, 24, 6, 9, 16, 3, 5, 1, 1, 1, 2, 1, 1, 1, true},
      {"wide_k5x3_p0x1_no_bias", 1, 16, 8, 5, 32, 5, 3, 1, 1, 0, 1, 1, 1, 1, false},
      {"wide_k1", 2, 16, 4, 5, 16, 1, 1, 1, 1, 0, 0, 1, 1, 1, true},
      {"wide_stride2", 2, 16, 8, 7, 16, 3, 3, 2, 2, 1, 1, 1, 1, 1, true},     // backward-data primitive
      {"wide_dilation2", 2, 16, 9, 8, 16, 3, 3, 1, 1, 2, 2, 2, 2, 1, true},   // backward-data primitive
      {"wide_pad_over_kernel", 1, 16, 5, 5, 16, 3, 3, 1, 1, 3, 3, 1, 1, 1, true},  // PH > KH − 1
      {"wide_in_15_out", 2, 16, 6, 6, 15, 3, 3, 1, 1, 1, 1, 1, 1, 1, true},        // blocked layout
  };
  for (const Geometry& g : cases) expect_routes_agree(g);
}

// oneDNN shares a primitive's work out among the threads there are when it is
// made, so a primitive made on one thread must not serve two: the cache keeps
// one per thread count (else the 2-thread forward ran on one thread: 4.3 against
// 2.5 ms in dg_micro). Results agree across the thread counts.
TEST(Conv2d, OneDnnPrimitivesAreMadePerThreadCount) {
  const int threads = get_num_threads();
  kernels::set_conv_algo(kernels::ConvAlgo::OneDNN);
  manual_seed(19);
  // A geometry no other test uses, so the counts below are this test's own.
  const Tensor x = randn({3, 16, 7, 9}), w = randn({16, 16, 3, 3}), b = randn({16});
  set_num_threads(1);
  const int64_t before = kernels::dnnl_conv2d_primitive_sets_made();
  Tensor y1 = conv2d(x, w, b, 1, 1);
  EXPECT_EQ(kernels::dnnl_conv2d_primitive_sets_made(), before + 1);
  Tensor again = conv2d(x, w, b, 1, 1);
  EXPECT_EQ(kernels::dnnl_conv2d_primitive_sets_made(), before + 1)
      << "the same geometry and thread count reuse the cache";
  set_num_threads(2);
  Tensor y2 = conv2d(x, w, b, 1, 1);
  EXPECT_EQ(kernels::dnnl_conv2d_primitive_sets_made(), before + 2) << "two threads get primitives of their own";
  set_num_threads(threads);
  kernels::set_conv_algo(kernels::ConvAlgo::Auto);
  EXPECT_TRUE(close(y1, y2, 1e-5, 1e-5));
  EXPECT_TRUE(close(y1, again, 0, 0));
}

// The backward runs the primitives its forward ran, whatever the thread count
// is by then: the forward may have left x in the layout of their weight
// gradient, which another set need not share.
TEST(Conv2d, BackwardRunsTheForwardsPrimitivesAfterAThreadChange) {
  const int threads = get_num_threads();
  kernels::set_conv_algo(kernels::ConvAlgo::OneDNN);
  manual_seed(29);
  const Tensor x0 = randn({2, 16, 5, 7}), w0 = randn({16, 16, 3, 3}), b0 = randn({16}), gy = randn({2, 16, 5, 7});
  auto grads = [&](int forward_threads, int backward_threads) {
    Tensor x = x0.clone().requires_grad_(), w = w0.clone().requires_grad_(), b = b0.clone().requires_grad_();
    set_num_threads(forward_threads);
    Tensor y = conv2d(x, w, b, 1, 1);
    set_num_threads(backward_threads);
    const int64_t made = kernels::dnnl_conv2d_primitive_sets_made();
    TensorList g = autograd::grad({y}, {x, w, b}, {gy});
    EXPECT_EQ(kernels::dnnl_conv2d_primitive_sets_made(), made) << "the backward made primitives of its own";
    return g;
  };
  const TensorList same = grads(1, 1), changed = grads(1, 2);
  set_num_threads(threads);
  kernels::set_conv_algo(kernels::ConvAlgo::Auto);
  for (int i = 0; i < 3; ++i) EXPECT_TRUE(close(same[i], changed[i], 1e-5, 1e-5)) << "grad " << i;
}

// The primitive cache keeps the kConvPrimitiveSets most recently used sets
// (each about 0.45 MB and 40 ms to make): more geometries than that evict the
// least recently used, which is made again when it comes back, and a set in use
// stays alive.
TEST(Conv2d, OneDnnPrimitiveCacheIsBounded) {
  kernels::set_conv_algo(kernels::ConvAlgo::OneDNN);
  manual_seed(23);
  const Tensor w = randn({16, 16, 3, 3}), b = randn({16});
  NoGradGuard no_grad;
  const Tensor first_x = randn({1, 16, 3, 5});
  const Tensor first_y = conv2d(first_x, w, b, 1, 1);
  for (int64_t n = 2; n <= kernels::kConvPrimitiveSets + 8; ++n) conv2d(randn({n, 16, 3, 5}), w, b, 1, 1);
  EXPECT_EQ(kernels::dnnl_conv2d_cached_primitives(), kernels::kConvPrimitiveSets);
  // The first geometry was evicted; it is made again and gives the same result,
  // and the most recent one is still cached.
  const int64_t made = kernels::dnnl_conv2d_primitive_sets_made();
  EXPECT_TRUE(close(conv2d(first_x, w, b, 1, 1), first_y, 0, 0));
  EXPECT_EQ(kernels::dnnl_conv2d_primitive_sets_made(), made + 1);
  conv2d(randn({kernels::kConvPrimitiveSets + 8, 16, 3, 5}), w, b, 1, 1);
  EXPECT_EQ(kernels::dnnl_conv2d_primitive_sets_made(), made + 1);
  EXPECT_EQ(kernels::dnnl_conv2d_cached_primitives(), kernels::kConvPrimitiveSets);
  kernels::set_conv_algo(kernels::ConvAlgo::Auto);
}

// Every subset of {x, W, b} needing a gradient, on both routes: the passes that
// run (and the ones skipped) agree with im2col + GEMM. 8 output channels take
// oneDNN's blocked layout, 16 its NHWC one with dX as a forward convolution.
TEST(Conv2d, PartialGradientsOnEveryRoute) {
  for (int64_t K : {8, 16}) {
    manual_seed(13);
    const Tensor x0 = randn({3, 16, 6, 5}), w0 = randn({K, 16, 3, 3}), b0 = randn({K}), gy = randn({3, K, 6, 5});
    for (int mask = 1; mask < 8; ++mask) {
      TensorList ref;
      for (auto algo : {kernels::ConvAlgo::Im2col, kernels::ConvAlgo::OneDNN, kernels::ConvAlgo::Auto}) {
        kernels::set_conv_algo(algo);
        Tensor x = x0.clone(), w = w0.clone(), b = b0.clone();
        TensorList wrt;
        for (int i = 0; i < 3; ++i)
          if (mask & (1 << i)) wrt.push_back((i == 0 ? x : i == 1 ? w : b).requires_grad_());
        TensorList got = autograd::grad({conv2d(x, w, b, 1, 1)}, wrt, {gy});
        if (ref.empty()) ref = got;
        for (size_t i = 0; i < got.size(); ++i)
          EXPECT_TRUE(close(got[i], ref[i], 1e-3, 1e-4)) << "K " << K << " mask " << mask << " grad " << i;
      }
    }
  }
  kernels::set_conv_algo(kernels::ConvAlgo::Auto);
}

TEST(Conv2d, GoldenAgainstPyTorch) {
  for (ScalarType dt : {kFloat64, kFloat32}) {
    for (const auto& algo : {kernels::ConvAlgo::Im2col, kernels::ConvAlgo::OneDNN, kernels::ConvAlgo::Auto}) {
      if (dt == kFloat64 && algo != kernels::ConvAlgo::Im2col) continue;  // float64 has one route
      kernels::set_conv_algo(algo);
      for (const auto& c : nn2_test::load_cases("conv_cases.json")) {
        SCOPED_TRACE(c.at("name").get<std::string>() + " " + dtype_name(dt));
        auto tol = nn2_test::tol_for(dt);
        Tensor x = nn2_test::from_json(c.at("x"), dt).requires_grad_();
        Tensor w = nn2_test::from_json(c.at("weight"), dt).requires_grad_();
        Tensor b = c.contains("bias") ? nn2_test::from_json(c.at("bias"), dt).requires_grad_() : Tensor();
        auto o = F::Conv2dFuncOptions().bias(b).stride(c.at("stride").get<std::vector<int64_t>>())
                     .dilation(c.at("dilation").get<std::vector<int64_t>>()).groups(c.at("groups").get<int64_t>());
        const auto& pad = c.at("padding");
        if (pad.is_string() && pad.get<std::string>() == "same") {
          o.padding(kSame);
        } else if (pad.is_string()) {
          o.padding(kValid);
        } else {
          o.padding(pad.get<std::vector<int64_t>>());
        }
        Tensor y = F::conv2d(x, w, o);
        EXPECT_TRUE(close(y, nn2_test::from_json(c.at("y")), tol.atol, tol.rtol));
        y.backward(nn2_test::from_json(c.at("grad_y"), dt));
        EXPECT_TRUE(close(x.grad(), nn2_test::from_json(c.at("grad_x")), tol.atol, tol.rtol));
        EXPECT_TRUE(close(w.grad(), nn2_test::from_json(c.at("grad_weight")), 10 * tol.atol, tol.rtol));
        if (b.defined()) {
          EXPECT_TRUE(close(b.grad(), nn2_test::from_json(c.at("grad_bias")), 10 * tol.atol, tol.rtol));
        }
      }
    }
  }
  kernels::set_conv_algo(kernels::ConvAlgo::Auto);
}

TEST(Conv2d, UnbatchedInputAndOnlySomeGradients) {
  manual_seed(5);
  Tensor x = randn({2, 5, 5}, kFloat64);
  Tensor w = randn({3, 2, 3, 3}, kFloat64).requires_grad_();
  Tensor y = conv2d(x, w, Tensor(), 1, 1);
  EXPECT_EQ(y.sizes(), IntArrayRef({3, 5, 5}));
  Tensor y4 = conv2d(x.unsqueeze(0), w, Tensor(), 1, 1);
  EXPECT_TRUE(close(y, y4.squeeze(0), 0, 0));
  y.sum().backward();  // x needs no gradient: only dW is computed
  Tensor w2 = w.detach().clone().requires_grad_();
  conv2d(x.unsqueeze(0), w2, Tensor(), 1, 1).sum().backward();
  EXPECT_TRUE(close(w.grad(), w2.grad(), 1e-12, 1e-12));
}

// ------------------------------------------------------------------ module
TEST(Conv2dModule, OptionsShapesAndNames) {
  nn::Conv2d conv(nn::Conv2dOptions(4, 6, {3, 5}).stride(2).padding({1, 2}).dilation(1).groups(2).bias(false));
  EXPECT_EQ(conv->weight.sizes(), IntArrayRef({6, 2, 3, 5}));
  EXPECT_FALSE(conv->bias.defined());
  auto names = conv->named_parameters().keys();
  ASSERT_EQ(names.size(), 1u);
  EXPECT_EQ(names[0], "weight");
  Tensor y = conv->forward(randn({2, 4, 9, 10}));
  // OH = (9 + 2 − 3)/2 + 1 = 5, OW = (10 + 4 − 5)/2 + 1 = 5
  EXPECT_EQ(y.sizes(), IntArrayRef({2, 6, 5, 5}));
  std::ostringstream d;
  conv->pretty_print(d);
  EXPECT_EQ(d.str(), "Conv2d 4→6 k3×5 s2 p1×2 g2 no bias");

  nn::Conv2d same(nn::Conv2dOptions(2, 3, 4).padding(kSame));
  EXPECT_EQ(same->forward(randn({1, 2, 7, 6})).sizes(), IntArrayRef({1, 3, 7, 6}));
  // The small CNN's first layer, written as with LibTorch.
  nn::Conv2d c1(nn::Conv2dOptions(1, 32, 3).stride(1).padding(1));
  EXPECT_EQ(c1->forward(randn({2, 1, 28, 28})).sizes(), IntArrayRef({2, 32, 28, 28}));
  EXPECT_EQ(F::conv2d(randn({2, 1, 6, 6}), c1->weight, F::Conv2dFuncOptions().padding(1).stride(2)).sizes(),
            IntArrayRef({2, 32, 3, 3}));
  nn::Conv2d plain(1, 32, 3);
  EXPECT_EQ(plain->named_parameters().keys(), (std::vector<std::string>{"weight", "bias"}));
}

TEST(Conv2dModule, LibTorchInitBounds) {
  manual_seed(1);
  nn::Conv2d conv(nn::Conv2dOptions(8, 16, 3).groups(2));
  const double bound = 1.0 / std::sqrt(4.0 * 9.0);  // fan_in = in/groups · kh · kw = 36
  EXPECT_LE(conv->weight.abs().max().item<double>(), bound);
  EXPECT_LE(conv->bias.abs().max().item<double>(), bound);
  // Uniform on ±bound: the spread fills the interval (not a much smaller one).
  EXPECT_GT(conv->weight.abs().max().item<double>(), 0.9 * bound);
  const double var = conv->weight.var().item<double>();
  EXPECT_NEAR(var, bound * bound / 3.0, 0.15 * bound * bound / 3.0);
}

TEST(Conv2dModule, WrongChannelsNamesPathAndShapes) {
  nn::Sequential net(nn::Conv2d(nn::Conv2dOptions(1, 32, 3)));
  struct Net : nn::Module {
    nn::Conv2d conv1{nullptr};
    Net() { conv1 = register_module("conv1", nn::Conv2d(1, 32, 3)); }
  };
  auto model = std::make_shared<Net>();
  std::string msg = nn2_test::shape_error_of([&] { model->conv1->forward(randn({64, 3, 28, 28})); });
  EXPECT_NE(msg.find("conv1 (Conv2d 1→32 k3) expected input [N, 1, H, W], got [64, 3, 28, 28]"), std::string::npos)
      << msg;
  msg = nn2_test::shape_error_of([&] { model->conv1->forward(randn({28, 28})); });
  EXPECT_NE(msg.find("expected input [N, 1, H, W], got [28, 28]"), std::string::npos) << msg;
  msg = nn2_test::shape_error_of([&] { net->forward(randn({2, 1, 2, 2})); });
  EXPECT_NE(msg.find("0 (Conv2d 1→32 k3)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got [2, 1, 2, 2]"), std::string::npos) << msg;
  // The functional form names the op, the weight and the groups.
  msg = nn2_test::shape_error_of([&] { conv2d(randn({1, 4, 5, 5}), randn({2, 3, 3, 3})); });
  EXPECT_NE(msg.find("conv2d: expected input [N, 3, H, W] (weight [2, 3, 3, 3], groups 1), got [1, 4, 5, 5]"),
            std::string::npos)
      << msg;
  EXPECT_THROW(nn::Conv2d(nn::Conv2dOptions(3, 4, 3).groups(2)), Error);
  EXPECT_THROW(conv2d(randn({1, 3, 5, 5}), randn({2, 3, 3, 3}, kFloat64)), DTypeError);
}

}  // namespace
