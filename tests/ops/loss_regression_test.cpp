// The fused regression losses (src/ops/loss_regression.cpp): mse_loss, l1_loss,
// huber_loss and smooth_l1_loss. The unreduced loss and both gradients against the
// formulas in float64, at and around the switch |x − t| = δ, float32 against
// float64; the reductions (inside the op) against a sum in long double, with their
// gradients; NaN, β = 0 as l1_loss, mixed dtypes promoted, the errors, and the same
// bits on every instruction set and thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include <dimgrad/dimgrad.hpp>

#include "each_isa.hpp"
#include "tensor_values.hpp"

namespace F = dg::nn::functional;
using dg::Tensor;

namespace {

using dg_test::values;

// Differences d = x − t over a grid, the switch points ±δ and their neighbours included.
std::vector<double> differences(double delta) {
  std::vector<double> d;
  for (double v = -4; v <= 4; v += 1.0 / 64) d.push_back(v);
  for (double v : {delta, -delta, std::nextafter(delta, 0.0), std::nextafter(-delta, 0.0), 0.0}) d.push_back(v);
  return d;
}

TEST(LossRegression, HuberMatchesTheFormulasInFloat64AndFloat32) {
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

TEST(LossRegression, HuberReductionsNanBetaZeroAndErrors) {
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
  EXPECT_THROW(F::mse_loss(dg::zeros({3}, dg::kLong), dg::zeros({3})), dg::DTypeError);
}

// mse's 2d and l1's sign(d) (0 at 0 and for NaN, as LibTorch), unreduced, in both dtypes.
TEST(LossRegression, MseAndL1MatchTheFormulas) {
  const std::vector<double> d = {-3.5, -1.0, -0.25, 0.0, 0.125, 1.0, 2.75, double(NAN)};
  for (dg::ScalarType dt : {dg::kFloat64, dg::kFloat32}) {
    for (bool squared : {true, false}) {
      std::vector<double> xs(d.size());
      for (size_t i = 0; i < d.size(); ++i) xs[i] = 0.5 + d[i];
      Tensor x = dg::tensor(xs, dg::kFloat64).to(dt).requires_grad_(true);
      Tensor t = dg::full({static_cast<int64_t>(d.size())}, 0.5, dt).requires_grad_(true);
      Tensor l = squared ? F::mse_loss(x, t, F::MSELossFuncOptions().reduction(dg::kNone))
                         : F::l1_loss(x, t, F::L1LossFuncOptions().reduction(dg::kNone));
      l.backward(dg::full_like(l, 3.0));
      std::vector<double> lv = values(l), gx = values(x.grad()), gt = values(t.grad());
      for (size_t i = 0; i < d.size(); ++i) {
        const std::string at = std::string(squared ? "mse" : "l1") + ", d = " + std::to_string(d[i]);
        if (std::isnan(d[i])) {
          EXPECT_TRUE(std::isnan(lv[i])) << at;
          if (squared) EXPECT_TRUE(std::isnan(gx[i])) << at;
          else EXPECT_EQ(gx[i], 0.0) << at;
          continue;
        }
        const double want = squared ? d[i] * d[i] : std::fabs(d[i]);
        const double slope = 3 * (squared ? 2 * d[i] : (d[i] > 0) - (d[i] < 0));
        EXPECT_EQ(lv[i], want) << at;
        EXPECT_EQ(gx[i], slope) << at;
        EXPECT_EQ(gt[i], -gx[i]) << at;
      }
    }
  }
}

// Sum and mean are computed inside the op in one pass: against a long-double sum
// of the formula over 300001 float32 elements (several threads' slices, lane
// blocks and a tail), and their gradients: the upstream scalar (÷ N for mean)
// times the slope.
TEST(LossRegression, ReductionsInsideTheOp) {
  const int64_t n = 300001;
  Tensor x = dg::randn({n}, dg::kFloat32) * 2.0, t = dg::randn({n}, dg::kFloat32);
  std::vector<double> xv = values(x), tv = values(t);
  for (int which = 0; which < 4; ++which) {
    auto loss = [&](const Tensor& a, const Tensor& b, dg::nn::reduction_t r) {
      switch (which) {
        case 0: return F::mse_loss(a, b, F::MSELossFuncOptions().reduction(r));
        case 1: return F::l1_loss(a, b, F::L1LossFuncOptions().reduction(r));
        case 2: return F::huber_loss(a, b, F::HuberLossFuncOptions().delta(0.8).reduction(r));
        default: return F::smooth_l1_loss(a, b, F::SmoothL1LossFuncOptions().beta(0.6).reduction(r));
      }
    };
    auto h = [&](double dd) -> long double {
      const double a = std::fabs(dd);
      switch (which) {
        case 0: return static_cast<long double>(dd) * dd;
        case 1: return a;
        case 2: return a < 0.8 ? 0.5L * dd * dd : 0.8L * (a - 0.4L);
        default: return a < 0.6 ? 0.5L * dd * dd / 0.6L : a - 0.3L;
      }
    };
    long double want = 0;
    for (int64_t i = 0; i < n; ++i) want += h(static_cast<double>(static_cast<float>(xv[i] - tv[i])));
    const std::string at = "loss " + std::to_string(which);
    Tensor xs = x.detach().requires_grad_(true);
    Tensor s = loss(xs, t, dg::kSum), m = loss(x, t, dg::kMean);
    EXPECT_EQ(s.dim(), 0) << at;
    EXPECT_EQ(s.dtype(), dg::kFloat32) << at;
    EXPECT_NEAR(s.item<double>(), static_cast<double>(want), 2e-6 * static_cast<double>(want)) << at;
    EXPECT_NEAR(m.item<double>(), static_cast<double>(want / n), 2e-6 * static_cast<double>(want / n)) << at;
    // Gradients: sum with upstream 2, mean with upstream 1 against the unreduced loss's.
    Tensor xm = x.detach().requires_grad_(true), xn = x.detach().requires_grad_(true);
    s.backward(dg::full({}, 2.0));
    loss(xm, t, dg::kMean).backward();
    loss(xn, t, dg::kNone).backward(dg::full({n}, 1.0 / n));
    Tensor x2 = x.detach().requires_grad_(true);
    loss(x2, t, dg::kNone).backward(dg::full({n}, 2.0));
    EXPECT_TRUE(dg::equal(xs.grad(), x2.grad())) << at;
    EXPECT_TRUE(dg::allclose(xm.grad(), xn.grad(), 1e-6, 1e-12)) << at;
  }
}

// A float32 input against a float64 target (or the other way) computes in
// float64, as LibTorch's mse_loss, l1_loss and smooth_l1_loss do; each gradient
// comes back in its own tensor's dtype.
TEST(LossRegression, MixedDtypesArePromoted) {
  Tensor x = dg::tensor({0.5, 2.0, -1.0}).requires_grad_(true);
  Tensor t = dg::tensor({0.1, 0.2, 0.3}, dg::kFloat64).requires_grad_(true);
  Tensor l = F::mse_loss(x, t, F::MSELossFuncOptions().reduction(dg::kSum));
  EXPECT_EQ(l.dtype(), dg::kFloat64);
  const double want = std::pow(0.5 - 0.1, 2) + std::pow(2.0 - 0.2, 2) + std::pow(-1.0 - 0.3, 2);
  EXPECT_NEAR(l.item<double>(), want, 1e-12);
  l.backward();
  EXPECT_EQ(x.grad().dtype(), dg::kFloat32);
  EXPECT_EQ(t.grad().dtype(), dg::kFloat64);
  EXPECT_NEAR(values(t.grad())[1], -2 * (2.0 - 0.2), 1e-12);
  EXPECT_EQ(F::smooth_l1_loss(t.detach(), x.detach()).dtype(), dg::kFloat64);
  EXPECT_EQ(F::binary_cross_entropy_with_logits(x.detach(), t.detach()).dtype(), dg::kFloat64);
}

// The same bits from the portable loops, AVX2 and AVX-512, on 1 and 2 threads.
TEST(LossRegression, SameBitsOnEveryIsaAndThreadCount) {
  std::vector<double> xs, ts;
  for (int i = 0; i < 50000; ++i) {  // long enough to run on 2 threads
    xs.push_back(-4 + 8.0 * i / 50000);
    ts.push_back((i % 13) / 6.0 - 1);
  }
  const char* names[] = {"mse", "l1", "huber", "smooth_l1"};
  for (int which = 0; which < 4; ++which) {
    // Unreduced: the same bits on any thread count. Reduced: a sum's slices follow
    // the thread count (as sum() does), so the same bits on every ISA for each.
    const std::vector<std::pair<dg::nn::reduction_t, std::vector<int>>> runs = {
        {dg::kNone, {1, 2}}, {dg::kMean, {1}}, {dg::kMean, {2}}, {dg::kSum, {2}}};
    for (const auto& [r, thread_counts] : runs) {
      dg_test::expect_same_float32_bits_everywhere(thread_counts, names[which], [&] {
        Tensor x = dg::tensor(xs, dg::kFloat64).to(dg::kFloat32).requires_grad_(true);
        Tensor t = dg::tensor(ts, dg::kFloat64).to(dg::kFloat32).requires_grad_(true);
        Tensor l = which == 0   ? F::mse_loss(x, t, F::MSELossFuncOptions().reduction(r))
                   : which == 1 ? F::l1_loss(x, t, F::L1LossFuncOptions().reduction(r))
                   : which == 2 ? F::huber_loss(x, t, F::HuberLossFuncOptions().delta(1.3).reduction(r))
                                : F::smooth_l1_loss(x, t, F::SmoothL1LossFuncOptions().beta(0.7).reduction(r));
        l.backward(dg::ones_like(l));
        return std::vector<Tensor>{l, x.grad(), t.grad()};
      });
    }
  }
}

}  // namespace
