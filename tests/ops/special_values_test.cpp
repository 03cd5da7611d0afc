// Non-finite and extreme values behave as in LibTorch: NaN propagates through
// relu, maximum/minimum and max; sigmoid, tanh and (log_)softmax stay finite
// for huge inputs; a row of -inf gives NaN in softmax.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <vector>

#include <dimgrad/dimgrad.hpp>

#include "tensor_values.hpp"

using dg::Tensor;

namespace {
const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();
using dg_test::values;
}  // namespace

TEST(SpecialValues, NaNPropagates) {
  auto r = values(dg::relu(dg::tensor({kNaN, -1.0, 2.0})));
  EXPECT_TRUE(std::isnan(r[0]));
  EXPECT_EQ(r[1], 0.0);
  EXPECT_EQ(r[2], 2.0);
  auto m = values(dg::maximum(dg::tensor({1.0, kNaN}), dg::tensor({kNaN, 2.0})));
  EXPECT_TRUE(std::isnan(m[0]) && std::isnan(m[1]));
  auto n = values(dg::minimum(dg::tensor({1.0, kNaN}), dg::tensor({kNaN, 2.0})));
  EXPECT_TRUE(std::isnan(n[0]) && std::isnan(n[1]));
  EXPECT_TRUE(std::isnan(dg::tensor({1.0, kNaN, 3.0}).max().item<double>()));
  EXPECT_EQ(std::get<1>(dg::tensor({1.0, kNaN, 3.0}).max(0)).item<int64_t>(), 1);
  EXPECT_TRUE(std::isnan(dg::tensor({1.0, kNaN}).sum().item<double>()));
}

TEST(SpecialValues, SaturatingFunctionsStayFinite) {
  for (auto dt : {dg::kFloat32, dg::kFloat64}) {
    auto s = values(dg::tensor({-1000.0, 0.0, 1000.0}, dt).sigmoid());
    EXPECT_EQ(s, (std::vector<double>{0.0, 0.5, 1.0}));
    auto t = values(dg::tensor({-1000.0, 1000.0}, dt).tanh());
    EXPECT_EQ(t, (std::vector<double>{-1.0, 1.0}));
    auto sm = values(dg::tensor({1000.0, 1000.0, -1000.0}, dt).softmax(0));
    EXPECT_NEAR(sm[0], 0.5, 1e-7);
    EXPECT_NEAR(sm[1], 0.5, 1e-7);
    EXPECT_EQ(sm[2], 0.0);
    auto ls = values(dg::tensor({1000.0, 0.0}, dt).log_softmax(0));
    EXPECT_EQ(ls[0], 0.0);
    EXPECT_NEAR(ls[1], -1000.0, 1e-3);
  }
  // Gradients of saturated sigmoid/tanh are 0, not NaN.
  Tensor x = dg::tensor({-1000.0, 1000.0}, dg::kFloat64).requires_grad_();
  (x.sigmoid() + x.tanh()).sum().backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{0.0, 0.0}));
}

TEST(SpecialValues, InfinitiesInSoftmax) {
  auto a = values(dg::tensor({0.0, -kInf, 0.0}).softmax(0));
  EXPECT_EQ(a, (std::vector<double>{0.5, 0.0, 0.5}));
  auto l = values(dg::tensor({0.0, -kInf}).log_softmax(0));
  EXPECT_EQ(l[0], 0.0);
  EXPECT_EQ(l[1], -kInf);
  // A row that is all -inf has no distribution: NaN, as LibTorch.
  auto n = values(dg::tensor({-kInf, -kInf}).softmax(0));
  EXPECT_TRUE(std::isnan(n[0]) && std::isnan(n[1]));
}

TEST(SpecialValues, DivisionByZero) {
  auto d = values(dg::tensor({1.0, -1.0, 0.0}) / 0.0);
  EXPECT_EQ(d[0], kInf);
  EXPECT_EQ(d[1], -kInf);
  EXPECT_TRUE(std::isnan(d[2]));
  auto i = values(dg::tensor({1, 0}, dg::kInt64) / 0);  // true division: float
  EXPECT_EQ(i[0], kInf);
  EXPECT_TRUE(std::isnan(i[1]));
}
