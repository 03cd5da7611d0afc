// nn::init: gains, fans, the bounds and spreads of every initialiser, and
// reproducibility under dg::manual_seed.
#include <cmath>

#include "nn1_test_util.hpp"

namespace init = dg::nn::init;
using dg::Tensor;

namespace {

double mean_of(const Tensor& t) { return t.to(dg::kFloat64).mean().item<double>(); }
double std_of(const Tensor& t) { return t.to(dg::kFloat64).std().item<double>(); }
double max_abs(const Tensor& t) { return t.abs().max().item<double>(); }

TEST(Init, CalculateGainMatchesLibTorch) {
  EXPECT_DOUBLE_EQ(init::calculate_gain(dg::kLinear), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(dg::kConv2D), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(dg::kSigmoid), 1.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(dg::kTanh), 5.0 / 3.0);
  EXPECT_DOUBLE_EQ(init::calculate_gain(dg::kReLU), std::sqrt(2.0));
  EXPECT_DOUBLE_EQ(init::calculate_gain(dg::kLeakyReLU), std::sqrt(2.0 / (1 + 0.01 * 0.01)));
  EXPECT_DOUBLE_EQ(init::calculate_gain(dg::kLeakyReLU, 0.2), std::sqrt(2.0 / 1.04));
}

TEST(Init, FansOfLinearAndConvWeights) {
  auto [in, out] = init::_calculate_fan_in_and_fan_out(dg::empty({10, 784}));
  EXPECT_EQ(in, 784);
  EXPECT_EQ(out, 10);
  auto [cin, cout] = init::_calculate_fan_in_and_fan_out(dg::empty({32, 3, 5, 3}));
  EXPECT_EQ(cin, 3 * 15);
  EXPECT_EQ(cout, 32 * 15);
  EXPECT_THROW(init::_calculate_fan_in_and_fan_out(dg::empty({5})), dg::ShapeError);
}

TEST(Init, KaimingUniformBoundAndSpread) {
  Tensor w = dg::empty({256, 1024});
  init::kaiming_uniform_(w, 0, dg::kFanIn, dg::kReLU);
  const double bound = std::sqrt(2.0) * std::sqrt(3.0 / 1024);  // gain·√(3/fan_in)
  EXPECT_LE(max_abs(w), bound);
  EXPECT_GT(max_abs(w), 0.99 * bound);
  EXPECT_NEAR(std_of(w), bound / std::sqrt(3.0), 0.01 * bound);
  EXPECT_NEAR(mean_of(w), 0.0, 0.01 * bound);
  // fan_out uses size(0)
  init::kaiming_uniform_(w, 0, dg::kFanOut, dg::kReLU);
  EXPECT_LE(max_abs(w), std::sqrt(2.0) * std::sqrt(3.0 / 256));
  EXPECT_GT(max_abs(w), 0.99 * std::sqrt(2.0) * std::sqrt(3.0 / 256));
}

TEST(Init, KaimingNormalStd) {
  Tensor w = dg::empty({256, 512});
  init::kaiming_normal_(w, 0, dg::kFanIn, dg::kReLU);
  EXPECT_NEAR(std_of(w), std::sqrt(2.0 / 512), 0.02 * std::sqrt(2.0 / 512));
  init::kaiming_normal_(w);  // LibTorch's defaults: a = 0, fan_in, leaky_relu
  EXPECT_NEAR(std_of(w), init::calculate_gain(dg::kLeakyReLU, 0) / std::sqrt(512.0), 0.02 / std::sqrt(512.0));
}

TEST(Init, XavierUniformAndNormal) {
  Tensor w = dg::empty({300, 500});
  init::xavier_uniform_(w, 2.0);
  const double bound = 2.0 * std::sqrt(6.0 / 800);
  EXPECT_LE(max_abs(w), bound);
  EXPECT_GT(max_abs(w), 0.99 * bound);
  init::xavier_normal_(w);
  EXPECT_NEAR(std_of(w), std::sqrt(2.0 / 800), 0.02 * std::sqrt(2.0 / 800));
}

TEST(Init, ConstantOnesZerosUniformNormalEye) {
  Tensor t = dg::empty({40, 50});
  init::constant_(t, 0.25);
  EXPECT_EQ(t.min().item<double>(), 0.25);
  EXPECT_EQ(t.max().item<double>(), 0.25);
  init::ones_(t);
  EXPECT_EQ(t.sum().item<double>(), 2000.0);
  init::zeros_(t);
  EXPECT_EQ(max_abs(t), 0.0);
  init::uniform_(t, -3, -1);
  EXPECT_GE(t.min().item<double>(), -3.0);
  EXPECT_LT(t.max().item<double>(), -1.0);
  init::normal_(t, 5, 0.5);
  EXPECT_NEAR(mean_of(t), 5.0, 0.05);
  EXPECT_NEAR(std_of(t), 0.5, 0.05);
  Tensor e = dg::empty({3, 4});
  init::eye_(e);
  EXPECT_TRUE(e.equal(dg::eye(3, 4)));
}

TEST(Init, ReproducibleUnderManualSeedAndWorksOnParameters) {
  // A parameter that requires grad: the initialiser runs under no-grad.
  Tensor a = dg::empty({8, 8}).requires_grad_(), b = dg::empty({8, 8}).requires_grad_();
  dg::manual_seed(7);
  init::kaiming_uniform_(a, std::sqrt(5.0));
  dg::manual_seed(7);
  init::kaiming_uniform_(b, std::sqrt(5.0));
  EXPECT_TRUE(a.equal(b));
  EXPECT_TRUE(a.requires_grad());
  EXPECT_TRUE(a.is_leaf());
  dg::manual_seed(8);
  init::kaiming_uniform_(b, std::sqrt(5.0));
  EXPECT_FALSE(a.equal(b));
}

TEST(Init, LinearDefaultInitIsLibTorchs) {
  // kaiming_uniform_(a = √5) gives U(-1/√in, 1/√in) for the weight, and the bias uses the same bound.
  dg::nn::Linear fc(400, 300);
  const double bound = 1.0 / std::sqrt(400.0);
  EXPECT_LE(max_abs(fc->weight), bound);
  EXPECT_GT(max_abs(fc->weight), 0.99 * bound);
  EXPECT_LE(max_abs(fc->bias), bound);
  EXPECT_NEAR(std_of(fc->weight), bound / std::sqrt(3.0), 0.01 * bound);
}

}  // namespace
