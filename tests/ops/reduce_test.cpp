// amax/amin, logsumexp and prod (src/ops/reduce.cpp) beyond the PyTorch fixtures
// (tests/fixtures/core/ops.json): special values, empty dims, dtypes, 0-d
// inputs and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <dimgrad/dimgrad.hpp>

using dg::Tensor;

namespace {

std::vector<double> values(const Tensor& t) {
  Tensor c = t.to(dg::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

template <class E, class F> std::string error_of(const F& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error thrown";
  return "";
}

constexpr double kInf = std::numeric_limits<double>::infinity();

TEST(ReduceAmax, NanWinsTiesShareTheGradientAndIntegersWork) {
  Tensor x = dg::tensor({1.0, double(NAN), 0.5, 2.0, 2.0, -1.0}, dg::kFloat64).reshape({2, 3}).detach().requires_grad_(true);
  Tensor y = x.amax({1});
  std::vector<double> v = values(y);
  EXPECT_TRUE(std::isnan(v[0]));
  EXPECT_EQ(v[1], 2.0);
  y.select(0, 1).backward();
  // A row whose extreme is NaN has no element equal to it: 0/0, NaN gradients for
  // the row (as LibTorch 1.13's amax); the tie in the other row shares dY.
  std::vector<double> g = values(x.grad());
  for (int k = 0; k < 3; ++k) EXPECT_TRUE(std::isnan(g[k])) << k;
  EXPECT_EQ(std::vector<double>(g.begin() + 3, g.end()), (std::vector<double>{0.5, 0.5, 0}));
  // Everything, and integers keep their dtype.
  Tensor i = dg::tensor(std::vector<int64_t>{3, -7, 5, 1}).reshape({2, 2});
  EXPECT_EQ(i.amax().item<int64_t>(), 5);
  EXPECT_EQ(i.amin({0}, true).sizes(), dg::IntArrayRef({1, 2}));
  EXPECT_EQ(i.amin().dtype(), dg::kInt64);
  // A 0-d tensor is its own extreme.
  EXPECT_EQ(dg::scalar_tensor(4.5).amax().item<double>(), 4.5);
}

TEST(ReduceAmax, EmptyAndRepeatedDimsAreErrors) {
  EXPECT_NE(error_of<dg::ShapeError>([] { dg::zeros({2, 0}).amax({1}); })
                .find("amax: dimension 1 of shape [2, 0] is empty"),
            std::string::npos);
  EXPECT_THROW(dg::zeros({2, 3}).amin({1, -1}), dg::IndexError);
  EXPECT_THROW(dg::zeros({2, 3}).amax({2}), dg::IndexError);
  // Reducing a non-empty dim of a tensor that is empty elsewhere is fine.
  EXPECT_EQ(dg::zeros({0, 3}).amax({1}).sizes(), dg::IntArrayRef({0}));
}

TEST(ReduceLogSumExp, StableForAnyMagnitudeAndInfinities) {
  Tensor x = dg::tensor({1000.0, 1000.0, -kInf, -kInf, kInf, 1.0, -1000.0, -1001.0}, dg::kFloat64).reshape({4, 2});
  std::vector<double> y = values(x.logsumexp({1}));
  EXPECT_DOUBLE_EQ(y[0], 1000.0 + std::log(2.0));
  EXPECT_EQ(y[1], -kInf);
  EXPECT_EQ(y[2], kInf);
  EXPECT_DOUBLE_EQ(y[3], -1000.0 + std::log1p(std::exp(-1.0)));
  // Float32 keeps its dtype and agrees with float64.
  Tensor f = dg::randn({5, 7}, dg::kFloat64) * 30.0;
  EXPECT_TRUE(dg::allclose(f.to(dg::kFloat32).logsumexp({0}).to(dg::kFloat64), f.logsumexp({0}), 1e-6, 1e-5));
  // An empty sum: log 0.
  EXPECT_EQ(values(dg::zeros({2, 0}).logsumexp({1})), (std::vector<double>{-kInf, -kInf}));
  // The gradient is the softmax over the reduced dims.
  Tensor a = dg::randn({3, 4}, dg::kFloat64).requires_grad_(true);
  a.logsumexp({1}).sum().backward();
  EXPECT_TRUE(dg::allclose(a.grad(), a.detach().softmax(1), 1e-12, 1e-14));
  EXPECT_NE(error_of<dg::DTypeError>([] { dg::zeros({3}, dg::kInt64).logsumexp({0}); }).find("logsumexp"),
            std::string::npos);
}

TEST(ReduceProd, DtypesEmptyAndZeroGradients) {
  EXPECT_EQ(dg::tensor(std::vector<int64_t>{2, -3, 4, 5}).reshape({2, 2}).prod().item<int64_t>(), -120);
  EXPECT_EQ(dg::tensor(std::vector<bool>{true, false}).prod().dtype(), dg::kInt64);
  EXPECT_EQ(dg::zeros({2, 0}).prod(1).sizes(), dg::IntArrayRef({2}));
  EXPECT_EQ(values(dg::zeros({2, 0}).prod(1)), (std::vector<double>{1, 1}));
  EXPECT_EQ(dg::scalar_tensor(3.0).prod(0, true).dim(), 0);
  // Two zeros: the product of the others holds a zero for every element.
  Tensor x = dg::tensor({0.0, 2.0, 0.0, 3.0}, dg::kFloat64).requires_grad_(true);
  x.prod().backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{0, 0, 0, 0}));
  Tensor z = dg::tensor({0.0, 2.0, 5.0, 3.0}, dg::kFloat64).requires_grad_(true);
  z.prod().backward();
  EXPECT_EQ(values(z.grad()), (std::vector<double>{30, 0, 0, 0}));
  EXPECT_THROW(dg::zeros({2}).prod(1), dg::IndexError);
}

}  // namespace
