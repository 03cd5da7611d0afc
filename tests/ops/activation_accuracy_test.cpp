// The float32 elementwise functions (exp, log, tanh, sigmoid) and activations
// (leaky_relu, elu, gelu, softplus, silu) run vectorizable float32 formulas
// (src/kernels/vec_math.hpp), float64 runs std::. These tests hold the float32
// forward and backward to the float64 ones over a dense range, check GELU's left
// tail (where ½x(1 + erf(x/√2)) in float32 loses every digit), and that the
// results are the same bits whichever instruction set and thread count runs them.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include <dimgrad/dimgrad.hpp>

#include "each_isa.hpp"
#include "tensor_values.hpp"

namespace F = dg::nn::functional;
using dg::Tensor;

namespace {

// The float32 forward's relative tolerance at x: 2e-6 (about 16 ulps). GELU's
// left tail is ill-conditioned in its argument: erfc(a) changes by 2a² times a
// relative change of a = −x/√2, and x/√2 rounded to float32 is off by up to 6e-8,
// so there the bound grows as (x² + 16) · 1.2e-7 (2e-5 at x = −12).
double default_rtol(double) { return 2e-6; }
double gelu_rtol(double x) { return std::max(2e-6, (x * x + 16) * 1.2e-7); }

struct Case {
  std::string name;
  std::function<Tensor(const Tensor&)> f;
  double lo, hi;  // the input range compared
  double (*rtol)(double) = default_rtol;
};

std::vector<Case> cases() {
  return {
      {"exp", [](const Tensor& x) { return x.exp(); }, -80, 80},
      {"log", [](const Tensor& x) { return x.log(); }, 1e-3, 80},
      {"tanh", [](const Tensor& x) { return x.tanh(); }, -12, 12},
      {"sigmoid", [](const Tensor& x) { return x.sigmoid(); }, -80, 80},
      {"leaky_relu 0.01", [](const Tensor& x) { return F::leaky_relu(x); }, -12, 12},
      {"leaky_relu 0.2", [](const Tensor& x) { return F::leaky_relu(x, F::LeakyReLUFuncOptions().negative_slope(0.2)); },
       -12, 12},
      {"elu 1", [](const Tensor& x) { return F::elu(x); }, -20, 12},
      {"elu 0.5", [](const Tensor& x) { return F::elu(x, F::ELUFuncOptions().alpha(0.5)); }, -20, 12},
      {"gelu", [](const Tensor& x) { return F::gelu(x); }, -12, 12, gelu_rtol},
      // The tanh form's left tail depends on u = √(2/π)(x + 0.044715x³) rounded to float: σ(2u) there
      // changes by 2|u| times u's rounding, 3e-6 relative at x = −8.
      {"gelu tanh", [](const Tensor& x) { return F::gelu(x, F::GELUFuncOptions().approximate("tanh")); }, -8, 12,
       gelu_rtol},
      {"softplus", [](const Tensor& x) { return F::softplus(x); }, -30, 30},
      {"silu", [](const Tensor& x) { return F::silu(x); }, -80, 80},
      {"softplus beta 2 threshold 5",
       [](const Tensor& x) { return F::softplus(x, F::SoftplusFuncOptions().beta(2).threshold(5)); }, -30, 30},
  };
}

using dg_test::values;

// f(x) and df/dx (the backward of y.sum()) at x, computed in dtype dt.
std::pair<std::vector<double>, std::vector<double>> value_and_grad(const Case& c, const std::vector<double>& xs,
                                                                    dg::ScalarType dt) {
  Tensor x = dg::tensor(xs, dg::kFloat64).to(dt).requires_grad_(true);
  Tensor y = c.f(x);
  y.sum().backward();
  return {values(y), values(x.grad())};
}

std::vector<double> grid(double lo, double hi, double step) {
  std::vector<double> xs;
  for (double x = lo; x <= hi; x += step) xs.push_back(x);
  for (double x : {0.0, -0.0, 1e-30, -1e-30, 1e-6, -1e-6}) xs.push_back(x);
  return xs;
}

TEST(ActivationAccuracy, Float32AgainstFloat64ForwardAndBackward) {
  for (const Case& c : cases()) {
    // Every input exactly representable in float32, so both dtypes see the same x.
    std::vector<double> xs;
    for (double x : grid(c.lo, c.hi, 1.0 / 64))
      if (x >= c.lo && x <= c.hi) xs.push_back(static_cast<double>(static_cast<float>(x)));
    auto [y32, g32] = value_and_grad(c, xs, dg::kFloat32);
    auto [y64, g64] = value_and_grad(c, xs, dg::kFloat64);
    for (size_t i = 0; i < xs.size(); ++i) {
      // Relative (above), with float32's smallest normal as the absolute floor. The backward of a
      // saturating function is computed from its output, as in LibTorch (tanh: 1 − y², y rounded to
      // ±1 in float32 where 1 − y² < 6e-8), so it is held to 2e-6 relative plus a few ulps of 1.
      const double tol_y = c.rtol(xs[i]) * std::fabs(y64[i]) + 1.2e-38;
      const double tol_g = c.rtol(xs[i]) * std::fabs(g64[i]) + 2e-7;
      ASSERT_NEAR(y32[i], y64[i], tol_y) << c.name << " forward at x = " << xs[i];
      ASSERT_NEAR(g32[i], g64[i], tol_g) << c.name << " backward at x = " << xs[i];
    }
  }
}

// GELU(x) = x·Φ(x): its left tail, where ½x(1 + erf(x/√2)) in float32 is off by up
// to 100% (1 + erf cancels; 0 below x ≈ −5.5), keeps the relative accuracy that
// the rounding of its argument allows (gelu_rtol) down to x = −12.
TEST(ActivationAccuracy, GeluLeftTailKeepsItsDigits) {
  std::vector<double> xs;
  for (double x = -12; x <= -3; x += 0.125) xs.push_back(x);
  Tensor y = F::gelu(dg::tensor(xs, dg::kFloat32));
  std::vector<double> got = values(y);
  for (size_t i = 0; i < xs.size(); ++i) {
    const double exact = xs[i] * 0.5 * std::erfc(-xs[i] / std::sqrt(2.0));
    EXPECT_NEAR(got[i], exact, gelu_rtol(xs[i]) * std::fabs(exact)) << "x = " << xs[i];
    EXPECT_LT(got[i], 0.0) << "x = " << xs[i];  // not rounded to 0 or to the wrong sign
  }
}

TEST(ActivationAccuracy, NonFiniteInputs) {
  const double inf = INFINITY, nan = NAN;
  auto at = [](const Tensor& y) { return values(y); };
  Tensor x = dg::tensor({-inf, inf, nan}, dg::kFloat32);
  auto g = at(F::gelu(x));
  EXPECT_TRUE(std::isnan(g[0]));  // −inf·Φ(−inf) = −inf·0, as in LibTorch
  EXPECT_EQ(g[1], inf);
  EXPECT_TRUE(std::isnan(g[2]));
  auto gt = at(F::gelu(x, F::GELUFuncOptions().approximate("tanh")));
  EXPECT_TRUE(std::isnan(gt[0]));
  EXPECT_EQ(gt[1], inf);
  EXPECT_TRUE(std::isnan(gt[2]));
  auto e = at(F::elu(x));
  EXPECT_EQ(e[0], -1.0);
  EXPECT_EQ(e[1], inf);
  EXPECT_TRUE(std::isnan(e[2]));
  auto s = at(F::softplus(x));
  EXPECT_EQ(s[0], 0.0);
  EXPECT_EQ(s[1], inf);
  EXPECT_TRUE(std::isnan(s[2]));
  auto l = at(F::leaky_relu(x));
  EXPECT_EQ(l[0], -inf);
  EXPECT_EQ(l[1], inf);
  EXPECT_TRUE(std::isnan(l[2]));
}

// The same bits from the portable loops, AVX2 and AVX-512, on 1 and 2 threads.
TEST(ActivationAccuracy, SameBitsOnEveryIsaAndThreadCount) {
  std::vector<double> xs = grid(-20, 20, 1.0 / 512);  // 20k+ elements: long enough to run on 2 threads
  for (const Case& c : cases()) {
    std::vector<float> ref_y, ref_g;
    dg_test::on_every_isa_and_thread_count({1, 2}, [&](int, const std::string& where) {
      Tensor x = dg::tensor(xs, dg::kFloat64).to(dg::kFloat32).requires_grad_(true);
      Tensor y = c.f(x);
      y.backward(dg::ones_like(y));
      std::vector<float> yv(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
      Tensor gr = x.grad().contiguous();
      std::vector<float> gv(gr.data_ptr<float>(), gr.data_ptr<float>() + gr.numel());
      if (ref_y.empty()) {
        ref_y = yv;
        ref_g = gv;
        return;
      }
      ASSERT_EQ(std::memcmp(yv.data(), ref_y.data(), yv.size() * 4), 0) << c.name << " forward, " << where;
      ASSERT_EQ(std::memcmp(gv.data(), ref_g.data(), gv.size() * 4), 0) << c.name << " backward, " << where;
    });
  }
}

}  // namespace
