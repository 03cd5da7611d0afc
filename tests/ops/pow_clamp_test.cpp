// pow with the exponents that have an exact form (2, 3, 0.5, −0.5, −1, −2) runs
// them as products, square roots and divisions instead of std::pow; clamp on a
// floating tensor compares in its own dtype. Both against std:: in float64, with
// LibTorch's special values, and the same bits on every instruction set.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <dimgrad/dimgrad.hpp>

#include "each_isa.hpp"
#include "tensor_values.hpp"

using dg::Tensor;

namespace {

using dg_test::values;

std::vector<double> inputs() {
  std::vector<double> xs;
  for (double x = -50; x <= 50; x += 0.0625) xs.push_back(x);
  for (double x : {1e-30, -1e-30, 1e-20, 3e38, -3e38, 1e-5, 0.0}) xs.push_back(x);
  return xs;
}

const double kExponents[] = {2, 3, 0.5, -0.5, -1, -2, 1.5};

// Two roundings at most (x·x·x, 1/√x): within 2.5 float32 ulps of the exact power.
TEST(PowScalar, Float32WithinTwoAndAHalfUlpsOfTheExactPower) {
  const std::vector<double> xs = inputs();
  for (double p : kExponents) {
    std::vector<double> got = values(dg::tensor(xs, dg::kFloat32).pow(p));
    for (size_t i = 0; i < xs.size(); ++i) {
      const double x = static_cast<double>(static_cast<float>(xs[i]));
      const double ref = std::pow(x, p);
      const float reff = static_cast<float>(ref);
      if (std::isnan(ref)) {
        EXPECT_TRUE(std::isnan(got[i])) << "pow(" << x << ", " << p << ")";
      } else if (std::isinf(reff)) {
        EXPECT_EQ(got[i], static_cast<double>(reff)) << "pow(" << x << ", " << p << ")";
      } else {
        const double ulp = std::max(double(std::nextafter(std::fabs(reff), INFINITY) - std::fabs(reff)),
                                    double(std::numeric_limits<float>::denorm_min()));
        EXPECT_LE(std::fabs(got[i] - ref), 2.5 * ulp) << "pow(" << x << ", " << p << ")";
      }
    }
    // float64 stays within an ulp or two of std::pow as well.
    std::vector<double> got64 = values(dg::tensor(xs, dg::kFloat64).pow(p));
    for (size_t i = 0; i < xs.size(); ++i) {
      const double ref = std::pow(xs[i], p);
      if (std::isnan(ref)) EXPECT_TRUE(std::isnan(got64[i]));
      else if (std::isinf(ref)) EXPECT_EQ(got64[i], ref) << "pow(" << xs[i] << ", " << p << ") float64";
      else EXPECT_NEAR(got64[i], ref, 5e-16 * std::fabs(ref)) << "pow(" << xs[i] << ", " << p << ") float64";
    }
  }
}

// LibTorch computes these exponents the same way: √ of a negative number (−inf
// included) is NaN, √−0 is −0, 1/±0 is ±inf.
TEST(PowScalar, SpecialValuesAsLibTorch) {
  const double inf = INFINITY, nan = NAN;
  for (auto dt : {dg::kFloat32, dg::kFloat64}) {
    Tensor x = dg::tensor({-4.0, -0.0, 0.0, inf, -inf, nan}, dt);
    auto s = values(x.pow(0.5));
    EXPECT_TRUE(std::isnan(s[0]));
    EXPECT_TRUE(s[1] == 0.0 && std::signbit(s[1]));
    EXPECT_EQ(s[2], 0.0);
    EXPECT_EQ(s[3], inf);
    EXPECT_TRUE(std::isnan(s[4]));
    EXPECT_TRUE(std::isnan(s[5]));
    auto r = values(x.pow(-1));
    EXPECT_EQ(r[1], -inf);
    EXPECT_EQ(r[2], inf);
    EXPECT_EQ(r[3], 0.0);
    auto q = values(x.rsqrt());
    EXPECT_EQ(q[2], inf);
    EXPECT_EQ(q[3], 0.0);
    EXPECT_TRUE(std::isnan(q[0]));
  }
}

// Gradients through the special exponents: dA = p·A^(p−1) ⊙ dY.
TEST(PowScalar, GradientsOfTheSpecialExponents) {
  for (double p : kExponents) {
    Tensor x = dg::tensor({0.5, 1.0, 2.0, 3.0}, dg::kFloat64).requires_grad_(true);
    x.pow(p).sum().backward();
    std::vector<double> g = values(x.grad());
    for (size_t i = 0; i < g.size(); ++i) {
      const double xv = 0.5 * double(1 << i) - (i == 3 ? 1.0 : 0.0);
      EXPECT_NEAR(g[i], p * std::pow(xv, p - 1), 1e-12) << "p = " << p << ", x = " << xv;
    }
  }
}

TEST(Clamp, FloatingBoundsInTheTensorsDtype) {
  const double inf = INFINITY, nan = NAN;
  for (auto dt : {dg::kFloat32, dg::kFloat64}) {
    Tensor x = dg::tensor({-2.0, -0.5, 0.0, 0.25, 0.5, 3.0, nan, -inf, inf}, dt);
    EXPECT_EQ(values(x.clamp(-0.5, 0.5)).size(), 9u);
    auto c = values(x.clamp(-0.5, 0.5));
    const std::vector<double> want = {-0.5, -0.5, 0.0, 0.25, 0.5, 0.5, 0, -0.5, 0.5};
    for (size_t i = 0; i < want.size(); ++i) {
      if (i == 6) EXPECT_TRUE(std::isnan(c[i])) << "NaN stays NaN";
      else EXPECT_EQ(c[i], want[i]) << i;
    }
    auto lo = values(x.clamp_min(0.0));
    EXPECT_EQ(lo[0], 0.0);
    EXPECT_EQ(lo[5], 3.0);
    EXPECT_EQ(lo[8], inf);
    auto hi = values(x.clamp_max(0.0));
    EXPECT_EQ(hi[5], 0.0);
    EXPECT_EQ(hi[7], -inf);
  }
  // A float64 bound between two float32 values clamps as the float64 comparison would.
  Tensor f = dg::tensor({0.099999994f, 0.1f, 0.10000001f}, dg::kFloat32);
  auto c = values(f.clamp(0.1, std::nullopt));
  EXPECT_EQ(c[0], double(0.1f));
  EXPECT_EQ(c[1], double(0.1f));
  EXPECT_EQ(c[2], double(0.10000001f));
  // Integer tensors keep their dtype and integer bounds.
  Tensor n = dg::tensor({-5, 0, 7}, dg::kInt64);
  Tensor nc = n.clamp(-1, 3);
  EXPECT_EQ(nc.dtype(), dg::kInt64);
  EXPECT_EQ(values(nc), (std::vector<double>{-1, 0, 3}));
}

TEST(PowClamp, SameBitsOnEveryIsaAndThreadCount) {
  std::vector<double> xs;
  for (double x = -40; x <= 40; x += 1.0 / 256) xs.push_back(x);
  std::vector<std::vector<float>> ref;
  dg_test::on_every_isa_and_thread_count({1, 2}, [&](int, const std::string& where) {
    Tensor x = dg::tensor(xs, dg::kFloat32);
    std::vector<Tensor> outs;
    for (double p : kExponents) outs.push_back(x.pow(p));
    outs.push_back(x.clamp(-1.5, 2.5));
    std::vector<std::vector<float>> got;
    for (auto& o : outs) got.emplace_back(o.data_ptr<float>(), o.data_ptr<float>() + o.numel());
    if (ref.empty()) {
      ref = got;
      return;
    }
    for (size_t k = 0; k < got.size(); ++k)
      ASSERT_EQ(std::memcmp(got[k].data(), ref[k].data(), got[k].size() * 4), 0) << "case " << k << ", " << where;
  });
}

}  // namespace
