// Pooling: float64 gradchecks (inputs away from ties), golden values against
// PyTorch, hand-computed cases, the layers and their shape errors.
#include <cstring>
#include <limits>
#include <vector>

#include "dimgrad/nn/activation.hpp"
#include "dimgrad/nn/conv.hpp"
#include "dimgrad/nn/pooling.hpp"
#include "each_isa.hpp"
#include "test_conv_fixture_util.hpp"

using namespace dg;
namespace F = dg::nn::functional;
using nn2_test::close;

namespace {

// Distinct values 0.1 apart (shuffled): no two inputs of a window are within
// the finite-difference step, so the argmax never flips while checking.
Tensor distinct(IntArrayRef shape) {
  const int64_t n = checked_numel(shape);
  return (randperm(n).to(kFloat64) * 0.1 - 0.05 * static_cast<double>(n)).reshape(shape).contiguous();
}

TEST(Pool, MaxPoolGradcheck) {
  manual_seed(2);
  struct Case {
    std::vector<int64_t> shape, k, s, p, d;
    bool ceil;
  } cases[] = {
      {{2, 2, 4, 4}, {2}, {2}, {0}, {1}, false},        // the usual 2×2
      {{1, 2, 5, 6}, {3}, {2}, {1}, {1}, false},        // overlapping windows, padding
      {{1, 1, 5, 7}, {2, 3}, {1, 2}, {1, 0}, {1}, false}, // non-square
      {{1, 2, 7, 6}, {3}, {1}, {0}, {2}, false},        // dilation
      {{2, 1, 7, 5}, {3}, {2}, {1}, {1}, true},         // ceil mode
      {{3, 5, 5}, {2}, {2}, {0}, {1}, true},            // unbatched, ceil mode
  };
  for (const auto& c : cases) {
    Tensor x = distinct(c.shape).requires_grad_();
    auto fn = [&](const TensorList& in) { return max_pool2d(in[0], c.k, c.s, c.p, c.d, c.ceil); };
    EXPECT_TRUE(gradcheck(fn, {x}, 1e-6, 1e-7, 1e-6)) << shape_str(c.shape);
  }
}

TEST(Pool, AvgPoolGradcheck) {
  manual_seed(3);
  for (bool include_pad : {true, false})
    for (bool ceil : {false, true}) {
      Tensor x = randn({2, 2, 5, 6}, kFloat64).requires_grad_();
      auto fn = [&](const TensorList& in) { return avg_pool2d(in[0], {3, 2}, {2, 2}, {1, 1}, ceil, include_pad); };
      EXPECT_TRUE(gradcheck(fn, {x}, 1e-6, 1e-8, 1e-7)) << include_pad << ceil;
    }
  Tensor x = randn({1, 3, 4, 4}, kFloat64).requires_grad_();
  auto fn = [&](const TensorList& in) { return avg_pool2d(in[0], 2, {}, 0, false, true, 3); };
  EXPECT_TRUE(gradcheck(fn, {x}, 1e-6, 1e-8, 1e-7));
}

TEST(Pool, AdaptiveAvgPoolGradcheck) {
  manual_seed(4);
  for (auto out : {std::vector<int64_t>{3, 3}, {2, 4}, {1, 1}, {5, 4}}) {
    Tensor x = randn({2, 2, 5, 7}, kFloat64).requires_grad_();
    auto fn = [&](const TensorList& in) { return adaptive_avg_pool2d(in[0], out); };
    EXPECT_TRUE(gradcheck(fn, {x}, 1e-6, 1e-8, 1e-7)) << shape_str(out);
  }
}

TEST(Pool, HandComputed) {
  // One 4×4 plane 0..15: 2×2 max pool picks the bottom-right of each window.
  Tensor x = arange(16, kFloat64).reshape({1, 1, 4, 4}).requires_grad_();
  auto [y, idx] = max_pool2d_with_indices(x, 2);
  EXPECT_TRUE(close(y, tensor({5.0, 7.0, 13.0, 15.0}, kFloat64).reshape({1, 1, 2, 2}), 0, 0));
  EXPECT_EQ(idx.reshape({-1}).data_ptr<int64_t>()[3], 15);
  y.backward(tensor({1.0, 2.0, 3.0, 4.0}, kFloat64).reshape({1, 1, 2, 2}));
  Tensor want = zeros({16}, kFloat64);
  want.data_ptr<double>()[5] = 1;
  want.data_ptr<double>()[7] = 2;
  want.data_ptr<double>()[13] = 3;
  want.data_ptr<double>()[15] = 4;
  EXPECT_TRUE(close(x.grad().reshape({-1}), want, 0, 0));

  // Overlapping 3×3 windows at stride 1: the centre pixel 5 of a 3×4 ramp is in
  // both windows of an avg pool and gets 1/9 from each.
  Tensor z = arange(12, kFloat64).reshape({1, 3, 4}).requires_grad_();
  Tensor a = avg_pool2d(z, 3, 1);
  EXPECT_TRUE(close(a, tensor({5.0, 6.0}, kFloat64).reshape({1, 1, 2}), 1e-15, 0));
  a.sum().backward();
  EXPECT_NEAR(z.grad().reshape({-1}).data_ptr<double>()[5], 2.0 / 9.0, 1e-15);
  EXPECT_NEAR(z.grad().reshape({-1}).data_ptr<double>()[0], 1.0 / 9.0, 1e-15);
}

// The 2×2 / stride-2 max pool has an AVX-512 kernel for float planes (16
// outputs per step, masked tails). On every instruction set the CPU has, it must
// give what the PyTorch rule gives — the first maximum of the window in reading
// order wins ties, a NaN wins over numbers (the last NaN when there are several)
// — for rows shorter than, equal to and longer than 16 outputs, odd widths (the
// last column is never read) and odd heights (the last row is never read); and
// so must max_pool2d's backward, from window codes or from indices.
TEST(Pool, MaxPool2x2SameOnEveryIsaAsTheRule) {
  manual_seed(5);
  for (int64_t H : {2, 3, 6}) {
    for (int64_t W : {2, 3, 14, 15, 28, 31, 32, 33, 34, 47, 64, 66}) {
      const int64_t P = 3, OH = H / 2, OW = W / 2;
      // Few distinct values, so windows have ties; some NaNs and infinities.
      Tensor x = (randint(0, 5, {P, 1, H, W}).to(kFloat) - 2.0f).contiguous();
      float* xs = x.data_ptr<float>();
      for (int64_t i = 0; i < x.numel(); i += 13) xs[i] = std::nanf("");
      for (int64_t i = 5; i < x.numel(); i += 17) xs[i] = -std::numeric_limits<float>::infinity();
      std::vector<float> want_y;
      std::vector<int64_t> want_i;
      for (int64_t p = 0; p < P; ++p)
        for (int64_t oh = 0; oh < OH; ++oh)
          for (int64_t ow = 0; ow < OW; ++ow) {
            float best = 0;
            int64_t arg = -1;
            for (int64_t i = 0; i < 2; ++i)
              for (int64_t j = 0; j < 2; ++j) {
                const int64_t at = (2 * oh + i) * W + 2 * ow + j;
                const float v = xs[p * H * W + at];
                if (arg < 0 || v > best || std::isnan(v)) best = v, arg = at;
              }
            want_y.push_back(best);
            want_i.push_back(arg);
          }
      dg_test::on_every_isa_and_thread_count({1, 2}, [&](int, const std::string& isa_threads) {
        auto [y, idx] = max_pool2d_with_indices(x, 2);
        ASSERT_EQ(y.numel(), static_cast<int64_t>(want_y.size()));
        const std::string where = "H=" + std::to_string(H) + ", W=" + std::to_string(W) + ", " + isa_threads;
        for (int64_t k = 0; k < y.numel(); ++k) {
          const float got = y.data_ptr<float>()[k];
          ASSERT_TRUE(got == want_y[k] || (std::isnan(got) && std::isnan(want_y[k])))
              << where << ": y[" << k << "] = " << got << ", want " << want_y[k];
          ASSERT_EQ(idx.data_ptr<int64_t>()[k], want_i[k]) << where << ": index " << k;
        }
        // max_pool2d without indices — window codes instead when the windows
        // tile the plane (H and W even), the int64 indices otherwise: the same
        // values, and backward puts each dY on its window's argmax, 0 elsewhere
        // (the code path writes every dx element without zeroing first).
        Tensor xg = x.detach().requires_grad_();
        Tensor y2 = max_pool2d(xg, 2);
        Tensor dy = (arange(y2.numel(), kFloat) + 1.0f).reshape(y2.sizes());
        y2.backward(dy);
        std::vector<float> want_dx(static_cast<size_t>(x.numel()), 0.0f);
        for (int64_t k = 0; k < y2.numel(); ++k) {
          const float got = y2.data_ptr<float>()[k];
          ASSERT_TRUE(got == want_y[k] || (std::isnan(got) && std::isnan(want_y[k])))
              << where << ": max_pool2d y[" << k << "] = " << got << ", want " << want_y[k];
          want_dx[static_cast<size_t>((k / (OH * OW)) * H * W + want_i[k])] = static_cast<float>(k + 1);
        }
        const float* dx = xg.grad().data_ptr<float>();
        for (int64_t i = 0; i < x.numel(); ++i)
          ASSERT_EQ(dx[i], want_dx[static_cast<size_t>(i)]) << where << ": dx[" << i << "]";
      });
      if (HasFatalFailure()) return;
    }
  }
}

TEST(Pool, GoldenAgainstPyTorch) {
  for (ScalarType dt : {kFloat64, kFloat32}) {
    for (const auto& c : nn2_test::load_cases("pool_cases.json")) {
      SCOPED_TRACE(c.at("name").get<std::string>() + " " + dtype_name(dt));
      const auto& a = c.at("args");
      auto tol = nn2_test::tol_for(dt);
      auto vec = [&](const char* key, std::vector<int64_t> dflt) {
        return a.contains(key) ? a.at(key).get<std::vector<int64_t>>() : dflt;
      };
      Tensor x = nn2_test::from_json(c.at("x"), dt).requires_grad_();
      const std::string kind = c.at("kind");
      Tensor y;
      if (kind == "max") {
        auto k = vec("kernel_size", {});
        auto o = F::MaxPool2dFuncOptions(k).stride(vec("stride", k)).padding(vec("padding", {0, 0}))
                     .dilation(vec("dilation", {1, 1})).ceil_mode(a.value("ceil_mode", false));
        y = F::max_pool2d(x, o);
      } else if (kind == "avg") {
        auto k = vec("kernel_size", {});
        auto o = F::AvgPool2dFuncOptions(k).stride(vec("stride", k)).padding(vec("padding", {0, 0}))
                     .ceil_mode(a.value("ceil_mode", false)).count_include_pad(a.value("count_include_pad", true));
        if (a.contains("divisor_override")) o.divisor_override(a.at("divisor_override").get<int64_t>());
        y = F::avg_pool2d(x, o);
      } else {
        y = F::adaptive_avg_pool2d(x, F::AdaptiveAvgPool2dFuncOptions(vec("output_size", {})));
      }
      EXPECT_TRUE(close(y, nn2_test::from_json(c.at("y")), tol.atol, tol.rtol));
      y.backward(nn2_test::from_json(c.at("grad_y"), dt));
      EXPECT_TRUE(close(x.grad(), nn2_test::from_json(c.at("grad_x")), tol.atol, tol.rtol));
    }
  }
}

TEST(PoolModules, ShapesNamesAndOptions) {
  nn::MaxPool2d mp(2);
  EXPECT_EQ(mp->forward(randn({4, 3, 28, 28})).sizes(), IntArrayRef({4, 3, 14, 14}));
  EXPECT_TRUE(mp->parameters().empty());
  nn::MaxPool2d mp3(nn::MaxPool2dOptions({3, 2}).stride({2, 1}).padding(1).ceil_mode(true));
  std::ostringstream d;
  mp3->pretty_print(d);
  EXPECT_EQ(d.str(), "MaxPool2d k3×2 s2×1 p1 ceil");
  auto [y, idx] = mp3->forward_with_indices(randn({1, 2, 6, 6}));
  EXPECT_EQ(y.sizes(), idx.sizes());
  EXPECT_EQ(idx.dtype(), kInt64);

  nn::AvgPool2d ap(nn::AvgPool2dOptions(3).stride(2).padding(1).count_include_pad(false));
  EXPECT_EQ(ap->forward(randn({2, 5, 9, 8})).sizes(), IntArrayRef({2, 5, 5, 4}));
  nn::AdaptiveAvgPool2d gap(1);
  EXPECT_EQ(gap->forward(randn({2, 5, 9, 8})).sizes(), IntArrayRef({2, 5, 1, 1}));
  nn::AdaptiveAvgPool2d keep_w(nn::AdaptiveAvgPool2dOptions({3, std::nullopt}));
  EXPECT_EQ(keep_w->forward(randn({2, 5, 9, 8})).sizes(), IntArrayRef({2, 5, 3, 8}));
  std::ostringstream g;
  keep_w->pretty_print(g);
  EXPECT_EQ(g.str(), "AdaptiveAvgPool2d → 3×same");
}

TEST(PoolModules, BadInputNamesPathAndShapes) {
  nn::Sequential net(nn::MaxPool2d(2), nn::AvgPool2d(nn::AvgPool2dOptions(4)));
  std::string msg = nn2_test::shape_error_of([&] { net->forward(randn({64, 28, 28})); });
  EXPECT_EQ(msg, "");  // an unbatched image [C, H, W] is fine
  msg = nn2_test::shape_error_of([&] { net->forward(randn({28, 28})); });
  EXPECT_NE(msg.find("0 (MaxPool2d k2 s2) expected input [N, C, H, W], got [28, 28]"), std::string::npos) << msg;
  // 6×6 → max pool → 3×3, too small for the 4×4 average window: the trail shows why.
  msg = nn2_test::shape_error_of([&] { net->forward(randn({1, 2, 6, 6})); });
  EXPECT_NE(msg.find("1 (AvgPool2d k4 s4) expected input [N, C, H, W] with H ≥ 4 and W ≥ 4, got [1, 2, 3, 3]"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("0 [1, 2, 3, 3]"), std::string::npos) << msg;
  EXPECT_THROW(max_pool2d(randn({1, 1, 4, 4}), 2, 2, 2), Error);  // padding > kernel / 2
  msg = nn2_test::shape_error_of([&] { max_pool2d(randn({1, 1, 2, 2}), 3); });
  EXPECT_NE(msg.find("max_pool2d: the input [1, 1, 2, 2] is too small for kernel [3]"), std::string::npos) << msg;
}

void expect_same_bits(const Tensor& a, const Tensor& b, const char* what) {
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  ASSERT_EQ(std::memcmp(a.data_ptr<float>(), b.data_ptr<float>(), sizeof(float) * static_cast<size_t>(a.numel())), 0)
      << what << " differs";
}

// Sequential runs ReLU → MaxPool2d as max pool then ReLU (forward_after_relu).
// Against the two layers run one by one: the same output bits and the same
// gradients, bit for bit, for windows all ≤ 0 (ties at 0 after the ReLU), with
// -0.0, NaN and padding; the same shape trail and module paths in errors.
TEST(PoolModules, ReluThenMaxPoolInSequentialSameAsOneByOne) {
  manual_seed(9);
  for (const auto& opts : {nn::MaxPool2dOptions(2), nn::MaxPool2dOptions(3).stride(2).padding(1).ceil_mode(true)}) {
    nn::Sequential fused(nn::Conv2d(nn::Conv2dOptions(2, 3, 3).padding(1)), nn::ReLU(), nn::MaxPool2d(opts));
    nn::Conv2d conv(nn::Conv2dOptions(2, 3, 3).padding(1));
    nn::ReLU relu;
    nn::MaxPool2d pool(opts);
    {
      NoGradGuard no_grad;
      conv->weight.copy_(fused->at<nn::Conv2dImpl>(0)->weight);
      conv->bias.copy_(fused->at<nn::Conv2dImpl>(0)->bias);
    }
    // Integer inputs: many ties and all-negative windows.
    Tensor x = randint(-3, 3, {2, 2, 7, 8}).to(kFloat);
    Tensor x1 = x.clone().requires_grad_(), x2 = x.clone().requires_grad_();
    Tensor y1 = fused->forward(x1), y2 = pool->forward(relu->forward(conv->forward(x2)));
    ASSERT_EQ(y1.sizes(), y2.sizes());
    expect_same_bits(y1, y2, "y");
    Tensor dy = randn(y1.sizes());
    y1.backward(dy);
    y2.backward(dy);
    expect_same_bits(x1.grad(), x2.grad(), "dx");
    expect_same_bits(fused->at<nn::Conv2dImpl>(0)->weight.grad(), conv->weight.grad(), "dW");
    expect_same_bits(fused->at<nn::Conv2dImpl>(0)->bias.grad(), conv->bias.grad(), "db");
    EXPECT_EQ(y1.grad_fn()->module_path, "1");  // the last op is the relu, named by the ReLU layer
  }
  {
    // NaN (taken by both max and relu), -0.0 and zeros straight into the pair.
    nn::Sequential pair(nn::ReLU(), nn::MaxPool2d(2));
    Tensor x = randint(-2, 2, {1, 3, 6, 6}).to(kFloat);
    x.data_ptr<float>()[3] = std::nanf("");
    x.data_ptr<float>()[40] = -0.0f;
    x.data_ptr<float>()[41] = -0.0f;
    Tensor x1 = x.clone().requires_grad_(), x2 = x.clone().requires_grad_();
    Tensor y1 = pair->forward(x1), y2 = max_pool2d(relu(x2), 2);
    expect_same_bits(y1, y2, "y");
    Tensor dy = randn(y1.sizes());
    y1.backward(dy);
    y2.backward(dy);
    expect_same_bits(x1.grad(), x2.grad(), "dx");
  }
  // Errors still name the pooling layer and show the ReLU in the trail.
  nn::Sequential net(nn::ReLU(), nn::MaxPool2d(2), nn::ReLU(), nn::MaxPool2d(4));
  const std::string msg = nn2_test::shape_error_of([&] { net->forward(randn({1, 2, 6, 6})); });
  EXPECT_NE(msg.find("3 (MaxPool2d k4 s4) expected input [N, C, H, W] with H ≥ 4 and W ≥ 4, got [1, 2, 3, 3]"),
            std::string::npos)
      << msg;
  EXPECT_NE(msg.find("0 [1, 2, 6, 6] → 1 [1, 2, 3, 3] → 2 [1, 2, 3, 3]"), std::string::npos) << msg;
}

}  // namespace
