// huber_loss and smooth_l1_loss as one fused elementwise op (src/ops/loss_huber.cpp):
// the unreduced loss and both gradients against the formulas in float64, at and
// around the switch |x − t| = δ, float32 against float64, NaN, β = 0 as l1_loss,
// the errors, and the same bits on every instruction set and thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <dimgrad/dimgrad.hpp>

#include "each_isa.hpp"

namespace F = dg::nn::functional;
using dg::Tensor;

namespace {

std::vector<double> values(const Tensor& t) {
  Tensor c = t.to(dg::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

// Differences d = x − t over a grid, the switch points ±δ and their neighbours included.
std::vector<double> differences(double delta) {
  std::vector<double> d;
  for (double v = -4; v <= 4; v += 1.0 / 64) d.push_back(v);
  for (double v : {delta, -delta, std::nextafter(delta, 0.0), std::nextafter(-delta, 0.0), 0.0}) d.push_back(v);
  return d;
}

TEST(LossHuber, MatchesTheFormulasInFloat64AndFloat32) {
  for (double delta : {1.0, 0.5, 2.0}) {
    for (bool smooth : {false, true}) {
      const std::vector<double> d = differences(delta);
      for (dg::ScalarType dt : {dg::kFloat64, dg::kFloat32}) {
        // t = 0.25, x = t + d: exact in both dtypes for this grid.
        std::vector<double> xs(d.size()), ts(d.size(), 0.25);
        for (size_t i = 0; i < d.size(); ++i) xs[i] = 0.25 + d[i];
        Tensor x = dg::tensor(xs, dg::kFloat64).to(dt).requires_grad_(true);
        Tensor t = dg::tensor(ts, dg::kFloat64).to(dt).requires_grad_(true);
        Tensor l = smooth ? F::smooth_l1_loss(x, t, F::SmoothL1LossFuncOptions().beta(delta).reduction(dg::kNone))
                          : F::huber_loss(x, t, F::HuberLossFuncOptions().delta(delta).reduction(dg::kNone));
        l.sum().backward();
        std::vector<double> lv = values(l), gx = values(x.grad()), gt = values(t.grad());
        const double tol = dt == dg::kFloat64 ? 1e-15 : 3e-7;
        for (size_t i = 0; i < d.size(); ++i) {
          const double a = std::fabs(d[i]), s = smooth ? 1 / delta : 1;
          const double want = s * (a < delta ? 0.5 * d[i] * d[i] : delta * (a - 0.5 * delta));
          const double slope = s * std::max(-delta, std::min(delta, d[i]));
          const std::string at = std::string(smooth ? "smooth_l1" : "huber") + " δ = " + std::to_string(delta) +
                                 ", d = " + std::to_string(d[i]) + (dt == dg::kFloat32 ? ", float32" : ", float64");
          EXPECT_NEAR(lv[i], want, tol * (std::fabs(want) + 1)) << at;
          EXPECT_NEAR(gx[i], slope, tol * (std::fabs(slope) + 1)) << at;
          EXPECT_EQ(gt[i], -gx[i]) << at;
        }
      }
    }
  }
}

TEST(LossHuber, ReductionsNanBetaZeroAndErrors) {
  Tensor x = dg::tensor({0.0, 3.0, -1.0}, dg::kFloat64), t = dg::tensor({0.5, 0.0, 1.0}, dg::kFloat64);
  // h: ½·0.25, 1·(3 − ½), 1·(2 − ½)
  EXPECT_DOUBLE_EQ(F::huber_loss(x, t, F::HuberLossFuncOptions().reduction(dg::kSum)).item<double>(), 0.125 + 2.5 + 1.5);
  EXPECT_DOUBLE_EQ(F::huber_loss(x, t).item<double>(), (0.125 + 2.5 + 1.5) / 3);
  // β = 0 is l1_loss.
  EXPECT_DOUBLE_EQ(F::smooth_l1_loss(x, t, F::SmoothL1LossFuncOptions().beta(0)).item<double>(), (0.5 + 3 + 2) / 3);
  // NaN propagates into the loss and the gradient.
  Tensor xn = dg::tensor({double(NAN), 1.0}).requires_grad_(true);
  Tensor ln = F::huber_loss(xn, dg::zeros({2}), F::HuberLossFuncOptions().reduction(dg::kNone));
  ln.sum().backward();
  EXPECT_TRUE(std::isnan(values(ln)[0]));
  EXPECT_TRUE(std::isnan(values(xn.grad())[0]));
  EXPECT_EQ(values(xn.grad())[1], 1.0);
  // Errors name the op, what was expected and what came.
  EXPECT_THROW(F::huber_loss(x, t, F::HuberLossFuncOptions().delta(0)), dg::Error);
  EXPECT_THROW(F::smooth_l1_loss(x, t, F::SmoothL1LossFuncOptions().beta(-1)), dg::Error);
  try {
    F::huber_loss(dg::zeros({4, 1}), dg::zeros({4}));
    ADD_FAILURE() << "no error for [4, 1] against [4]";
  } catch (const dg::ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("huber_loss: input [4, 1] and target [4]"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("view_as"), std::string::npos) << e.what();
  }
  EXPECT_THROW(F::smooth_l1_loss(dg::zeros({3}), dg::zeros({3}, dg::kFloat64)), dg::DTypeError);
}

// The same bits from the portable loops, AVX2 and AVX-512, on 1 and 2 threads.
TEST(LossHuber, SameBitsOnEveryIsaAndThreadCount) {
  std::vector<double> xs, ts;
  for (int i = 0; i < 50000; ++i) {  // long enough to run on 2 threads
    xs.push_back(-4 + 8.0 * i / 50000);
    ts.push_back((i % 13) / 6.0 - 1);
  }
  for (bool smooth : {false, true}) {
    dg_test::expect_same_float32_bits_everywhere({1, 2}, smooth ? "smooth_l1" : "huber", [&] {
      Tensor x = dg::tensor(xs, dg::kFloat64).to(dg::kFloat32).requires_grad_(true);
      Tensor t = dg::tensor(ts, dg::kFloat64).to(dg::kFloat32).requires_grad_(true);
      Tensor l = smooth ? F::smooth_l1_loss(x, t, F::SmoothL1LossFuncOptions().beta(0.7).reduction(dg::kNone))
                        : F::huber_loss(x, t, F::HuberLossFuncOptions().delta(1.3).reduction(dg::kNone));
      l.backward(dg::ones_like(l));
      return std::vector<Tensor>{l, x.grad(), t.grad()};
    });
  }
}

}  // namespace
