// amax/amin, logsumexp, prod and norm (src/ops/reduce.cpp) beyond the PyTorch fixtures
// (tests/fixtures/core/ops.json): special values, empty dims, dtypes, 0-d
// inputs and the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include <dimgrad/dimgrad.hpp>

#include "each_isa.hpp"
#include "tensor_values.hpp"

using dg::Tensor;

namespace {

using dg_test::values;

std::vector<float> floats(const Tensor& t) {
  Tensor c = t.contiguous();
  return {c.data_ptr<float>(), c.data_ptr<float>() + c.numel()};
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

// Rows (the reduced dims last) take a fused two-pass kernel; other dims, and a
// reduction of everything, the composed passes. Both against a long-double sum,
// special rows included, and the fused rows with the same bits everywhere.
TEST(ReduceLogSumExp, FusedRowsAgreeWithALongDoubleSumAndTheComposedRoute) {
  dg::manual_seed(33);
  Tensor x = dg::randn({37, 1001}) * 20.0;
  x.select(0, 3).fill_(-kInf);                   // log 0
  x.select(0, 5).narrow(0, 7, 1).fill_(kInf);    // +inf wins
  x.select(0, 8).narrow(0, 500, 1).fill_(NAN);   // NaN spreads
  x.select(0, 9).add_(80.0);                     // exp would overflow float without the max taken out
  const std::vector<float> xv = floats(x);
  const std::vector<float> y = floats(x.logsumexp({1}));
  const std::vector<float> by_columns = floats(x.t().contiguous().logsumexp({0}));  // the composed route
  for (int64_t r = 0; r < 37; ++r) {
    SCOPED_TRACE("row " + std::to_string(r));
    if (r == 3) EXPECT_EQ(y[r], -INFINITY);
    else if (r == 5) EXPECT_EQ(y[r], INFINITY);
    else if (r == 8) EXPECT_TRUE(std::isnan(y[r]));
    else {
      long double m = -INFINITY, s = 0;
      for (int64_t i = 0; i < 1001; ++i) m = std::max<long double>(m, xv[r * 1001 + i]);
      for (int64_t i = 0; i < 1001; ++i) s += std::exp(static_cast<long double>(xv[r * 1001 + i]) - m);
      const double ref = static_cast<double>(m + std::log(s));
      EXPECT_NEAR(y[r], ref, 4e-7 * std::abs(ref) + 1e-6);
      EXPECT_NEAR(by_columns[r], ref, 4e-7 * std::abs(ref) + 1e-6);
    }
  }
  // Fused backward: the softmax of each row.
  Tensor a = dg::randn({5, 300}, dg::kFloat64).requires_grad_(true);
  (a.logsumexp({1}) * dg::arange(1.0, 6.0, 1.0, dg::kFloat64)).sum().backward();
  EXPECT_TRUE(dg::allclose(a.grad(), a.detach().softmax(1) * dg::arange(1.0, 6.0, 1.0, dg::kFloat64).reshape({5, 1}),
                           1e-12, 1e-15));
  const Tensor w = dg::randn({129, 700});
  dg_test::expect_same_float32_bits_everywhere({1, 2}, "logsumexp rows", [&] {
    Tensor v = w.detach().requires_grad_(true);
    Tensor l = v.logsumexp({1});
    l.sum().backward();
    return std::vector<Tensor>{l, v.grad()};
  });
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

// (Σ |v|^p)^(1/p) of float32 values in long double: the reference for the norms.
long double reference_norm(const std::vector<float>& v, double p) {
  long double s = 0;
  for (float f : v) s += std::pow(std::fabs(static_cast<long double>(f)), static_cast<long double>(p));
  return std::pow(s, 1.0L / p);
}

// Every route of the forward pass against a long-double sum: everything (one
// long sum split among threads), the last dim (rows), and a middle dim (the
// term tensor and kernels::sum).
TEST(ReduceNorm, EveryRouteAgreesWithALongDoubleSum) {
  dg::manual_seed(31);
  const Tensor x = dg::randn({300001});
  const Tensor m = dg::randn({7, 1001, 5});
  for (double p : {2.0, 1.0, 3.0, 0.5}) {
    SCOPED_TRACE("p = " + std::to_string(p));
    const double all = x.norm(p).item<double>();
    EXPECT_NEAR(all, static_cast<double>(reference_norm(floats(x), p)), 2e-6 * all);
    // Rows: m viewed as [7 * 1001, 5] along dim 1, and [7, 1001 * 5] along dims (1, 2).
    const Tensor rows = m.reshape({7 * 1001, 5}).norm(p, {1});
    const Tensor planes = m.norm(p, {1, 2}, true);
    const Tensor middle = m.norm(p, {1});  // [7, 5]
    ASSERT_EQ(planes.sizes(), dg::IntArrayRef({7, 1, 1}));
    ASSERT_EQ(middle.sizes(), dg::IntArrayRef({7, 5}));
    const std::vector<float> mv = floats(m), rv = floats(rows), pv = floats(planes), cv = floats(middle);
    for (int64_t r = 0; r < 7 * 1001; r += 97) {
      const long double ref = reference_norm(std::vector<float>(mv.begin() + r * 5, mv.begin() + r * 5 + 5), p);
      EXPECT_NEAR(rv[r], static_cast<double>(ref), 2e-6 * static_cast<double>(ref)) << "row " << r;
    }
    for (int64_t o = 0; o < 7; ++o) {
      const std::vector<float> plane(mv.begin() + o * 5005, mv.begin() + (o + 1) * 5005);
      const long double ref = reference_norm(plane, p);
      EXPECT_NEAR(pv[o], static_cast<double>(ref), 2e-6 * static_cast<double>(ref)) << "plane " << o;
      for (int64_t i = 0; i < 5; ++i) {
        std::vector<float> column;
        for (int64_t r = 0; r < 1001; ++r) column.push_back(plane[r * 5 + i]);
        const long double c = reference_norm(column, p);
        EXPECT_NEAR(cv[o * 5 + i], static_cast<double>(c), 2e-6 * static_cast<double>(c)) << o << ", " << i;
      }
    }
  }
  // A strided input is the same as its contiguous copy.
  EXPECT_TRUE(dg::equal(m.transpose(0, 2).norm(2, {0}), m.transpose(0, 2).contiguous().norm(2, {0})));
  // The default is the 2-norm of everything, as sqrt(Σ A²).
  Tensor d = dg::randn({6, 9}, dg::kFloat64);
  EXPECT_NEAR(d.norm().item<double>(), std::sqrt((d * d).sum().item<double>()), 1e-12);
  EXPECT_EQ(dg::linalg::vector_norm(d, 1, {0}, true).sizes(), dg::IntArrayRef({1, 9}));
  // vector_norm's dtype: the input cast first; no dims (nullopt) is every dim.
  const Tensor f = dg::tensor({1e-30, 1e-30});
  EXPECT_EQ(dg::linalg::vector_norm(f, 2, std::nullopt, false, dg::kFloat64).dtype(), dg::kFloat64);
  EXPECT_THROW(dg::linalg::vector_norm(f, 2, std::nullopt, false, dg::kInt64), dg::DTypeError);
}

TEST(ReduceNorm, GradientsWhereYOrAIsZero) {
  // A zero row: Y = 0, the gradient 0 (LibTorch's subgradient), not 0/0.
  Tensor x = dg::tensor({3.0, 4.0, 0.0, 0.0}, dg::kFloat64).reshape({2, 2}).requires_grad_(true);
  x.norm(2, {1}).sum().backward();
  EXPECT_TRUE(dg::allclose(x.grad(), dg::tensor({0.6, 0.8, 0.0, 0.0}, dg::kFloat64).reshape({2, 2}), 1e-15, 0));
  // p < 1 at A = 0: |A|^(p-1) is infinite there, the gradient 0.
  Tensor h = dg::tensor({4.0, 0.0, 1.0}, dg::kFloat64).requires_grad_(true);
  h.norm(0.5).backward();
  std::vector<double> g = values(h.grad());
  EXPECT_EQ(g[1], 0.0);
  // Y = (√4 + √1)² = 9, dA = |A|^(-1/2) · Y^(1/2): 3/2 and 3.
  EXPECT_NEAR(g[0], 1.5, 1e-12);
  EXPECT_NEAR(g[2], 3.0, 1e-12);
  // p = 1: sign(A), 0 at 0.
  Tensor s = dg::tensor({-2.0, 0.0, 5.0}, dg::kFloat64).requires_grad_(true);
  s.norm(1).backward();
  EXPECT_EQ(values(s.grad()), (std::vector<double>{-1, 0, 1}));
  // p = ∞: split between the ties of |A|, with A's sign.
  Tensor t = dg::tensor({-3.0, 1.0, 3.0}, dg::kFloat64).requires_grad_(true);
  t.norm(INFINITY).backward();
  EXPECT_EQ(values(t.grad()), (std::vector<double>{-0.5, 0, 0.5}));
}

TEST(ReduceNorm, CountsInfinitiesNanEmptyAndErrors) {
  // p = 0 counts the non-zeros (NaN counts); it passes no gradient (as LibTorch: none, not zeros).
  Tensor c = dg::tensor({0.0, -2.0, double(NAN), 0.0, 1e-300}, dg::kFloat64).requires_grad_(true);
  Tensor n0 = c.norm(0);
  EXPECT_EQ(n0.item<double>(), 3.0);
  n0.backward();
  EXPECT_FALSE(c.grad().defined());
  // ±∞: max and min of |A|; NaN propagates.
  Tensor v = dg::tensor({-5.0, 2.0, -0.5, 4.0}, dg::kFloat32).reshape({2, 2});
  EXPECT_EQ(values(v.norm(INFINITY, {1})), (std::vector<double>{5, 4}));
  EXPECT_EQ(v.norm(-INFINITY).item<float>(), 0.5f);
  EXPECT_TRUE(std::isnan(dg::tensor({1.0, double(NAN)}).norm(INFINITY).item<float>()));
  EXPECT_TRUE(std::isnan(dg::tensor({1.0, double(NAN)}).norm(2).item<float>()));
  EXPECT_EQ(dg::tensor({1.0, -kInf}).norm(2).item<float>(), INFINITY);
  // An empty sum is 0; the max of nothing is an error.
  EXPECT_EQ(values(dg::zeros({2, 0}).norm(2, {1})), (std::vector<double>{0, 0}));
  EXPECT_NE(error_of<dg::ShapeError>([] { dg::zeros({2, 0}).norm(INFINITY, {1}); })
                .find("norm: the inf-norm of shape [2, 0]"),
            std::string::npos);
  EXPECT_NE(error_of<dg::DTypeError>([] { dg::zeros({3}, dg::kInt64).norm(); }).find("norm: expected a floating"),
            std::string::npos);
  EXPECT_THROW(dg::zeros({3}).norm(NAN), dg::Error);
  EXPECT_THROW(dg::zeros({2, 3}).norm(2, {2}), dg::IndexError);
  EXPECT_THROW(dg::zeros({2, 3}).norm(2, {1, -1}), dg::IndexError);
  // 0-d: its own absolute value.
  EXPECT_EQ(dg::scalar_tensor(-2.5).norm(3).item<double>(), 2.5);
}

TEST(ReduceNorm, SameBitsOnEveryIsaAndThreadCount) {
  dg::manual_seed(32);
  const Tensor x = dg::randn({513, 700});
  for (double p : {2.0, 1.0, 3.0}) {
    dg_test::expect_same_float32_bits_everywhere({1, 2}, "norm p = " + std::to_string(p), [&] {
      Tensor a = x.detach().requires_grad_(true);
      Tensor all = a.norm(p), rows = a.norm(p, {1});
      (all + rows.sum()).backward();
      return std::vector<Tensor>{all, rows, a.grad()};
    });
  }
}

}  // namespace
