// conv2d_max_pool2d (src/ops/conv_pool.cpp): the fused op against conv2d then
// max_pool2d, bit for bit, on both of its paths (NHWC on oneDNN, NCHW elsewhere);
// its NHWC pooling kernels against the NCHW ones; a route change between forward
// and backward; and Sequential's Conv2d → [ReLU →] MaxPool2d, which runs it.
// (Float64 gradchecks: test_conv_gradcheck_cases.cpp.)
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>

#include "dimgrad/nn.hpp"
#include "each_isa.hpp"
#include "kernels/im2col.hpp"
#include "ops/conv_pool_util.hpp"

using namespace dg;
namespace F = dg::nn::functional;

namespace {

// Same shape and the same float32 bits.
void expect_same_bits(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  Tensor ac = a.contiguous(), bc = b.contiguous();
  ASSERT_EQ(std::memcmp(ac.data_ptr<float>(), bc.data_ptr<float>(), sizeof(float) * static_cast<size_t>(a.numel())), 0)
      << what << " differs";
}

struct Case {
  const char* name;
  int64_t n, c, h, w, k, kh, kw, stride, pad;
  bool bias;
  int64_t pool_k, pool_s, pool_p;
  bool nhwc;  // whether the op takes the NHWC path on an AVX-512 CPU (conv_runs_nhwc and k2s2_tiles)
};

const Case kCases[] = {
    {"w2_second_layer", 3, 32, 14, 14, 64, 3, 3, 1, 1, true, 2, 2, 0, true},
    {"c16_k16_no_bias_nonsquare", 2, 16, 8, 6, 16, 3, 3, 1, 1, false, 2, 2, 0, true},
    {"k20_channel_tail", 2, 16, 6, 10, 20, 3, 3, 1, 1, true, 2, 2, 0, true},
    {"k80_two_channel_blocks", 2, 16, 4, 4, 80, 3, 3, 1, 1, true, 2, 2, 0, true},
    {"stride2_conv", 2, 16, 8, 8, 16, 3, 3, 2, 1, true, 2, 2, 0, true},
    {"w2_first_layer_im2col", 3, 1, 28, 28, 32, 3, 3, 1, 1, true, 2, 2, 0, false},
    {"pool_k3_s2_p1_int64_argmax", 2, 16, 8, 8, 16, 3, 3, 1, 1, true, 3, 2, 1, false},
    {"pool_k2_not_tiling", 2, 16, 7, 7, 16, 3, 3, 1, 1, true, 2, 2, 0, false},
    {"im2col_pool_k3_s2_p1_int64_argmax", 3, 2, 9, 9, 16, 3, 3, 1, 1, true, 3, 2, 1, false},
    {"im2col_stride2_pointwise_no_bias", 4, 3, 8, 8, 5, 1, 1, 2, 0, false, 2, 2, 0, false},
};

Tensor fused(const Case& k, const TensorList& in) {
  return F::detail::conv2d_max_pool2d(in[0], in[1], k.bias ? in[2] : Tensor(), k.stride, k.pad, 1, 1, k.pool_k,
                                      k.pool_s, k.pool_p);
}
Tensor composed(const Case& k, const TensorList& in) {
  return max_pool2d(conv2d(in[0], in[1], k.bias ? in[2] : Tensor(), k.stride, k.pad), k.pool_k, k.pool_s, k.pool_p);
}

// Inputs for a case; `special` puts a NaN in the first image and makes the
// second image constant with a zero weight row, so that output channel 0 is b[0]
// everywhere: every window a four-way tie (the first pixel must win).
TensorList inputs(const Case& k, bool special) {
  manual_seed(11);
  Tensor x = randn({k.n, k.c, k.h, k.w}), w = randn({k.k, k.c, k.kh, k.kw}) * 0.2, b = randn({k.k});
  if (special) {
    NoGradGuard g;
    x[0][0][1][1].fill_(std::numeric_limits<float>::quiet_NaN());
    x[1].fill_(0.5);
    w[0].zero_();
  }
  TensorList in{x.requires_grad_(), w.requires_grad_()};
  if (k.bias) in.push_back(b.requires_grad_());
  return in;
}

TensorList copies(const TensorList& in) {
  TensorList out;
  for (const Tensor& t : in) out.push_back(t.detach().clone().requires_grad_());
  return out;
}

// The fused op and the composition on copies of the same inputs: y and every
// gradient (for one upstream gradient), bit for bit.
void expect_fused_same_as_composed(const Case& k, bool special) {
  TensorList a = inputs(k, special), b = copies(a);
  Tensor y1 = fused(k, a), y2 = composed(k, b);
  ASSERT_EQ(y1.grad_fn()->op(), OpKind::Conv2dMaxPool2d);
  expect_same_bits(y1, y2, "y");
  manual_seed(12);
  Tensor dy = randn(y1.sizes());
  y1.backward(dy);
  y2.backward(dy);
  const char* names[] = {"dx", "dW", "db"};
  for (size_t i = 0; i < a.size(); ++i) expect_same_bits(a[i].grad(), b[i].grad(), names[i]);
}

}  // namespace

// Which path each case takes (so the cases below cover both).
TEST(Conv2dMaxPool2d, PathsOfTheCases) {
  for (const Case& k : kCases) {
    Tensor x = zeros({k.n, k.c, k.h, k.w}), w = zeros({k.k, k.c, k.kh, k.kw});
    kernels::Conv2dShape cs = ops::conv_shape(x, w, Tensor(), k.stride, k.pad, 1, 1);
    ops::PoolShape ps = ops::pool_shape(Shape({cs.N, cs.K, cs.OH, cs.OW}), kFloat, k.pool_k, k.pool_s, k.pool_p, 1,
                                        false, "test");
    EXPECT_EQ(ops::conv_runs_nhwc(cs, kFloat) && ops::k2s2_tiles(ps), k.nhwc) << k.name;
  }
}

TEST(Conv2dMaxPool2d, SameAsConvThenPoolBitForBit) {
  for (const Case& k : kCases)
    dg_test::on_every_isa_and_thread_count({1, 2}, [&](int, const std::string& where) {
      SCOPED_TRACE(std::string(k.name) + " " + where);
      expect_fused_same_as_composed(k, false);
    });
}

// NaN taken and ties to the first pixel, as max_pool2d does.
TEST(Conv2dMaxPool2d, NaNAndTiesAsMaxPool) {
  for (const Case& k : kCases) {
    SCOPED_TRACE(k.name);
    expect_fused_same_as_composed(k, true);
  }
}

// The NHWC kernels alone against the NCHW ones on the same data (with ties and
// NaNs): the same outputs, the same window codes (permuted), the same dz.
TEST(Conv2dMaxPool2d, NhwcKernelsMatchNchwKernels) {
  const int64_t N = 3, C = 70, OH = 3, OW = 5, H = 2 * OH, W = 2 * OW;
  manual_seed(21);
  Tensor z = randn({N, C, H, W});
  {
    NoGradGuard g;
    z[0][3].fill_(1.0);  // all ties
    z[1][5][2][3].fill_(std::numeric_limits<float>::quiet_NaN());
    z[2][69][0][0].fill_(std::numeric_limits<float>::quiet_NaN());
    z[2][69][1][1].fill_(std::numeric_limits<float>::quiet_NaN());
  }
  const ops::PoolShape ps = ops::pool_shape(z.sizes(), kFloat, 2, {}, 0, 1, false, "test");
  ASSERT_TRUE(ops::k2s2_tiles(ps));
  dg_test::on_every_isa_and_thread_count({1, 2}, [&](int, const std::string& where) {
    SCOPED_TRACE(where);
    Tensor y_ref = empty({N, C, OH, OW}), codes_ref = empty({N, C, OH, OW}, kUInt8);
    ops::max_pool_nchw_forward(ps, z, y_ref, codes_ref, true);
    Tensor z_nhwc = z.permute({0, 2, 3, 1}).contiguous();
    Tensor y = empty({N, C, OH, OW}), codes = empty({N, OH, OW, C}, kUInt8);
    ops::max_pool_k2s2_nhwc_forward(N, C, OH, OW, z_nhwc.data_ptr<float>(), y.data_ptr<float>(),
                                    codes.data_ptr<uint8_t>());
    expect_same_bits(y, y_ref, "y");
    EXPECT_TRUE(codes.permute({0, 3, 1, 2}).contiguous().equal(codes_ref)) << "codes";
    manual_seed(22);
    Tensor dy = randn({N, C, OH, OW});
    Tensor dz_ref = ops::max_pool_nchw_backward(ps, Shape({N, C, H, W}), Tensor(), codes_ref, dy);
    Tensor dz = full({N, H, W, C}, 7.0);  // every element must be overwritten
    ops::max_pool_k2s2_nhwc_backward(N, C, OH, OW, dy.data_ptr<float>(), codes.data_ptr<uint8_t>(),
                                     dz.data_ptr<float>());
    expect_same_bits(dz.permute({0, 3, 1, 2}), dz_ref, "dz");
  });
}

// The forward on oneDNN in NHWC, the backward after the route was switched to
// im2col: the backward puts G back into NCHW for that route, and gives what the
// composition gives under the same switch.
TEST(Conv2dMaxPool2d, RouteChangedBetweenForwardAndBackward) {
  const Case& k = kCases[0];
  ASSERT_TRUE(k.nhwc);
  TensorList a = inputs(k, false), b = copies(a);
  Tensor y1 = fused(k, a), y2 = composed(k, b);
  kernels::set_conv_algo(kernels::ConvAlgo::Im2col);
  manual_seed(12);
  Tensor dy = randn(y1.sizes());
  y1.backward(dy);
  y2.backward(dy);
  kernels::set_conv_algo(kernels::ConvAlgo::Auto);
  const char* names[] = {"dx", "dW", "db"};
  for (size_t i = 0; i < a.size(); ++i) expect_same_bits(a[i].grad(), b[i].grad(), names[i]);
}

// Only some inputs need gradients: the others stay undefined and the rest match.
TEST(Conv2dMaxPool2d, PartialGradients) {
  const Case& k = kCases[0];
  TensorList a = inputs(k, false), b = copies(a);
  a[0] = a[0].detach();
  b[0] = b[0].detach();
  Tensor y1 = fused(k, a), y2 = composed(k, b);
  y1.sum().backward();
  y2.sum().backward();
  EXPECT_FALSE(a[0].grad().defined());
  expect_same_bits(a[1].grad(), b[1].grad(), "dW");
  expect_same_bits(a[2].grad(), b[2].grad(), "db");
}

TEST(Conv2dMaxPool2d, UnbatchedInputAndErrors) {
  manual_seed(5);
  Tensor x = randn({16, 6, 6}), w = randn({16, 16, 3, 3}), b = randn({16});
  Tensor y = F::detail::conv2d_max_pool2d(x, w, b, 1, 1, 1, 1, 2);
  EXPECT_EQ(Shape(y.sizes()), Shape({16, 3, 3}));
  expect_same_bits(y, max_pool2d(conv2d(x, w, b, 1, 1), 2), "unbatched y");
  try {
    F::detail::conv2d_max_pool2d(randn({2, 3, 6, 6}), w, b, 1, 1, 1, 1, 2);
    ADD_FAILURE() << "no error for a wrong channel count";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("conv2d: expected input [N, 16, H, W]"), std::string::npos) << e.what();
  }
  try {
    F::detail::conv2d_max_pool2d(randn({2, 16, 3, 3}), w, b, 1, 0, 1, 1, 2);  // conv output 1×1
    ADD_FAILURE() << "no error for a window larger than the convolution's output";
  } catch (const ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("conv2d_max_pool2d: the input [2, 16, 1, 1] is too small"), std::string::npos)
        << e.what();
  }
}

// Sequential runs Conv2d → ReLU → MaxPool2d and Conv2d → MaxPool2d as the fused
// op: against the layers run one by one, the same output and gradients (input,
// weights, biases) bit for bit, the fused node named by the Conv2d's path, and
// the layers' output shapes in the shape trail.
TEST(Conv2dMaxPool2d, SequentialRunsTheFusedOp) {
  for (bool with_relu : {true, false}) {
    SCOPED_TRACE(with_relu ? "with relu" : "without relu");
    manual_seed(3);
    nn::Conv2d conv1(nn::Conv2dOptions(1, 16, 3).padding(1)), conv2(nn::Conv2dOptions(16, 32, 3).padding(1));
    nn::Sequential fused;
    fused->push_back("conv1", conv1);
    if (with_relu) fused->push_back("relu1", nn::ReLU());
    fused->push_back("pool1", nn::MaxPool2d(2));
    fused->push_back("conv2", conv2);
    if (with_relu) fused->push_back("relu2", nn::ReLU());
    fused->push_back("pool2", nn::MaxPool2d(2));
    // the same layers one by one, with copies of the parameters
    nn::Conv2d c1(nn::Conv2dOptions(1, 16, 3).padding(1)), c2(nn::Conv2dOptions(16, 32, 3).padding(1));
    {
      NoGradGuard g;
      c1->weight.copy_(conv1->weight);
      c1->bias.copy_(conv1->bias);
      c2->weight.copy_(conv2->weight);
      c2->bias.copy_(conv2->bias);
    }
    Tensor x1 = randn({4, 1, 12, 12}).requires_grad_(), x2 = x1.detach().clone().requires_grad_();
    Tensor y1 = fused->forward(x1);
    Tensor h = max_pool2d(c1->forward(x2), 2);
    if (with_relu) h = relu(h);
    h = max_pool2d(c2->forward(h), 2);
    if (with_relu) h = relu(h);
    expect_same_bits(y1, h, "y");
    if (with_relu) {
      EXPECT_EQ(y1.grad_fn()->op(), OpKind::Relu);
      EXPECT_EQ(y1.grad_fn()->module_path, "relu2");
      EXPECT_EQ(y1.grad_fn()->next_edges[0].node->op(), OpKind::Conv2dMaxPool2d);
      EXPECT_EQ(y1.grad_fn()->next_edges[0].node->module_path, "conv2");
    } else {
      EXPECT_EQ(y1.grad_fn()->op(), OpKind::Conv2dMaxPool2d);
      EXPECT_EQ(y1.grad_fn()->module_path, "conv2");
    }
    manual_seed(4);
    Tensor dy = randn(y1.sizes());
    y1.backward(dy);
    h.backward(dy);
    expect_same_bits(x1.grad(), x2.grad(), "dx");
    expect_same_bits(conv1->weight.grad(), c1->weight.grad(), "conv1 dW");
    expect_same_bits(conv1->bias.grad(), c1->bias.grad(), "conv1 db");
    expect_same_bits(conv2->weight.grad(), c2->weight.grad(), "conv2 dW");
    expect_same_bits(conv2->bias.grad(), c2->bias.grad(), "conv2 db");
    // The trail names every layer with its output shape: a wrong input to a
    // layer after them shows it.
    nn::Sequential longer;
    longer->push_back("body", fused);
    longer->push_back("fc", nn::Linear(5, 2));
    try {
      longer->forward(randn({2, 1, 12, 12}));
      ADD_FAILURE() << "no error";
    } catch (const ShapeError& e) {
      const std::string m = e.what();
      for (const char* want : {"conv1 [2, 16, 12, 12]", "pool1 [2, 16, 6, 6]", "conv2 [2, 32, 6, 6]",
                               "pool2 [2, 32, 3, 3]"})
        EXPECT_NE(m.find(want), std::string::npos) << want << " not in: " << m;
      if (with_relu) {
        EXPECT_NE(m.find("relu2 [2, 32, 6, 6]"), std::string::npos) << m;
      }
    }
  }
}

// Where the op does not apply, Sequential runs the layers one by one, and their
// own errors are the ones thrown: padding kSame with an even kernel (trims a
// row), a window larger than the convolution's output, a wrong input; and a
// Conv2d subclass with its own forward is not fused.
TEST(Conv2dMaxPool2d, SequentialFallsBackToTheLayers) {
  manual_seed(6);
  {
    nn::Sequential s(nn::Conv2d(nn::Conv2dOptions(2, 3, 2).padding(kSame)), nn::MaxPool2d(2));
    Tensor y = s->forward(randn({1, 2, 6, 6}));
    EXPECT_EQ(Shape(y.sizes()), Shape({1, 3, 3, 3}));
    EXPECT_EQ(y.grad_fn()->op(), OpKind::MaxPool2d);
  }
  {
    nn::Sequential s(nn::Conv2d(nn::Conv2dOptions(2, 3, 3)), nn::MaxPool2d(4));
    try {
      s->forward(randn({1, 2, 5, 5}));  // the convolution's output is 3×3
      ADD_FAILURE() << "no error";
    } catch (const ShapeError& e) {
      EXPECT_NE(std::string(e.what()).find("MaxPool2d"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("smaller than the pooling window"), std::string::npos) << e.what();
    }
  }
  {
    nn::Sequential s(nn::Conv2d(nn::Conv2dOptions(2, 3, 3)), nn::MaxPool2d(2));
    try {
      s->forward(randn({1, 4, 5, 5}));
      ADD_FAILURE() << "no error";
    } catch (const ShapeError& e) {
      EXPECT_NE(std::string(e.what()).find("Conv2d 2→3 k3"), std::string::npos) << e.what();
      EXPECT_NE(std::string(e.what()).find("the input has 4 channels"), std::string::npos) << e.what();
    }
  }
  {
    struct Doubled : nn::Conv2dImpl {
      Doubled() : nn::Conv2dImpl(nn::Conv2dOptions(2, 3, 3)) {}
      Tensor forward(const Tensor& x) override { return nn::Conv2dImpl::forward(x) * 2.0; }
    };
    nn::Sequential s;
    s->push_back("conv", std::make_shared<Doubled>());
    s->push_back("pool", nn::MaxPool2d(2));
    Tensor y = s->forward(randn({1, 2, 6, 6}));
    EXPECT_EQ(y.grad_fn()->op(), OpKind::MaxPool2d) << "a subclass runs its own forward";
  }
}

// A first layer (its input needs no gradient) whose weight gradient oneDNN reads
// in nChw16c: the backward writes G in that layout. dW and db against the
// composition, bit for bit, on every ISA and 1/2 threads: W2's first layer, 3 → 16
// channels without bias, 48 channels (three blocks); 20 channels (not a multiple
// of 16) keeps G in NCHW.
TEST(Conv2dMaxPool2d, FirstLayerWeightGradientFromBlockedG) {
  const Case cases[] = {
      {"w2_first_layer", 3, 1, 28, 28, 32, 3, 3, 1, 1, true, 2, 2, 0, false},
      {"c3_k16_no_bias", 2, 3, 10, 6, 16, 3, 3, 1, 1, false, 2, 2, 0, false},
      {"c1_k48", 2, 1, 8, 8, 48, 3, 3, 1, 1, true, 2, 2, 0, false},
      {"c2_k20_nchw", 2, 2, 6, 6, 20, 3, 3, 1, 1, true, 2, 2, 0, false},
  };
  if (kernels::cpu_isa() == kernels::Isa::Avx512) {  // oneDNN's layout for this CPU: nChw16c
    Tensor x = zeros({64, 1, 28, 28}), w = zeros({32, 1, 3, 3});
    EXPECT_TRUE(kernels::dnnl_conv2d_weights_read_blocked16(ops::conv_shape(x, w, Tensor(), 1, 1, 1, 1), true, {}));
  }
  for (const Case& k : cases)
    dg_test::on_every_isa_and_thread_count({1, 2}, [&](int, const std::string& where) {
      SCOPED_TRACE(std::string(k.name) + " " + where);
      TensorList a = inputs(k, false), b = copies(a);
      a[0] = a[0].detach();
      b[0] = b[0].detach();
      Tensor y1 = fused(k, a), y2 = composed(k, b);
      expect_same_bits(y1, y2, "y");
      manual_seed(12);
      Tensor dy = randn(y1.sizes());
      y1.backward(dy);
      y2.backward(dy);
      EXPECT_FALSE(a[0].grad().defined());
      expect_same_bits(a[1].grad(), b[1].grad(), "dW");
      if (k.bias) expect_same_bits(a[2].grad(), b[2].grad(), "db");
    });
}

// The blocked backward kernel against the NCHW one (every pixel overwritten).
TEST(Conv2dMaxPool2d, Blocked16KernelMatchesNchwKernel) {
  const int64_t N = 2, C = 32, OH = 3, OW = 5, H = 2 * OH, W = 2 * OW;
  manual_seed(23);
  Tensor z = randn({N, C, H, W});
  const ops::PoolShape ps = ops::pool_shape(z.sizes(), kFloat, 2, {}, 0, 1, false, "test");
  Tensor y = empty({N, C, OH, OW}), codes = empty({N, C, OH, OW}, kUInt8);
  ops::max_pool_nchw_forward(ps, z, y, codes, true);
  Tensor dy = randn({N, C, OH, OW});
  Tensor dz_ref = ops::max_pool_nchw_backward(ps, Shape({N, C, H, W}), Tensor(), codes, dy);
  dg_test::on_every_isa_and_thread_count({1, 2}, [&](int, const std::string& where) {
    SCOPED_TRACE(where);
    Tensor dz = full({N, C / 16, H, W, 16}, 7.0);
    ops::max_pool_k2s2_backward_blocked16(N, C, OH, OW, dy.data_ptr<float>(), codes.data_ptr<uint8_t>(),
                                          dz.data_ptr<float>());
    expect_same_bits(dz.permute({0, 1, 4, 2, 3}).reshape({N, C, H, W}), dz_ref, "dz");
  });
}

// conv_backward_raw given dY in nChw16c or NHWC while the route is im2col: it
// puts dY back into NCHW and gives the NCHW result.
TEST(Conv2dMaxPool2d, BackwardPutsOtherLayoutsBackForIm2col) {
  manual_seed(24);
  Tensor x = randn({2, 16, 5, 6}), w = randn({32, 16, 3, 3}), b = randn({32});
  const kernels::Conv2dShape s = ops::conv_shape(x, w, b, 1, 1, 1, 1);
  Tensor dy = randn({2, 32, 5, 6});
  kernels::set_conv_algo(kernels::ConvAlgo::Im2col);
  const ops::ConvGrads want = ops::conv_backward_raw(s, x, w, {}, true, dy, true, true, true);
  const ops::ConvGrads nhwc = ops::conv_backward_raw(s, x, w, {}, true, dy.permute({0, 2, 3, 1}).contiguous(), true,
                                                     true, true, kernels::DyLayout::NHWC);
  const ops::ConvGrads blocked =
      ops::conv_backward_raw(s, x, w, {}, true, dy.reshape({2, 2, 16, 5, 6}).permute({0, 1, 3, 4, 2}).contiguous(),
                             true, true, true, kernels::DyLayout::Blocked16);
  kernels::set_conv_algo(kernels::ConvAlgo::Auto);
  for (const ops::ConvGrads* g : {&nhwc, &blocked}) {
    expect_same_bits(g->dx, want.dx, "dx");
    expect_same_bits(g->dw, want.dw, "dW");
    expect_same_bits(g->db, want.db, "db");
  }
}
