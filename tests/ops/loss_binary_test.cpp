// binary_cross_entropy and binary_cross_entropy_with_logits compute float32 in
// float32 with the vectorizable kernels::fast_* (src/ops/loss_binary.cpp) and
// float64 with std::. These tests hold the float32 loss and both gradients to
// the float64 ones over dense grids (the clamp at −100 and the extreme logits
// included), check that an input outside [0, 1] anywhere in a long tensor is
// reported, and that the results are the same bits on every instruction set and
// thread count.
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

// Every value rounded to float32 first, so both dtypes see the same inputs.
std::vector<double> as_float32(std::vector<double> v) {
  for (double& x : v) x = static_cast<float>(x);
  return v;
}

struct LossAndGrads {
  std::vector<double> loss, dx, dt;
};

// The unreduced loss and the gradients of its sum with respect to input and target, in dtype dt.
template <class Loss> LossAndGrads run(const Loss& loss, const std::vector<double>& x, const std::vector<double>& t,
                              dg::ScalarType dt) {
  Tensor xt = dg::tensor(x, dg::kFloat64).to(dt).requires_grad_(true);
  Tensor tt = dg::tensor(t, dg::kFloat64).to(dt).requires_grad_(true);
  Tensor l = loss(xt, tt);
  l.sum().backward();
  return {values(l), values(xt.grad()), values(tt.grad())};
}

// Probabilities: a dense grid over [0, 1], both ends (where the logs are clamped
// at −100), and values within a few ulps of them.
std::vector<double> probabilities() {
  std::vector<double> p;
  for (double x = 0; x <= 1; x += 1.0 / 1024) p.push_back(x);
  for (double x : {1e-30, 1e-10, 1e-6, 1 - 1e-7, 1 - 6e-8, 0.5 + 6e-8}) p.push_back(x);
  return as_float32(p);
}

TEST(LossBinaryAccuracy, BinaryCrossEntropyFloat32AgainstFloat64) {
  const auto none = F::BinaryCrossEntropyFuncOptions().reduction(dg::kNone);
  auto bce = [&](const Tensor& x, const Tensor& t) { return F::binary_cross_entropy(x, t, none); };
  const std::vector<double> ps = probabilities();
  for (double target : {0.0, 0.25, 0.5, 1.0}) {
    const std::vector<double> ts(ps.size(), target);
    LossAndGrads r32 = run(bce, ps, ts, dg::kFloat32), r64 = run(bce, ps, ts, dg::kFloat64);
    for (size_t i = 0; i < ps.size(); ++i) {
      const double x = ps[i];
      // ℓ = −(t·log x + (1 − t)·log(1 − x)): both terms ≤ 0, no cancellation; each log within a few ulps.
      EXPECT_NEAR(r32.loss[i], r64.loss[i], 2e-6 * std::fabs(r64.loss[i]) + 1e-30) << "loss, x = " << x << ", t = " << target;
      // dx = (x − t)/(x(1 − x)): x − t is exact for these inputs, the rest a few roundings.
      EXPECT_NEAR(r32.dx[i], r64.dx[i], 2e-6 * std::fabs(r64.dx[i])) << "dx, x = " << x << ", t = " << target;
      // dt = log(1 − x) − log x cancels near x = ½: an absolute bound in the logs' size.
      const double logs = std::min(100.0, std::fabs(std::log(x))) + std::min(100.0, std::fabs(std::log1p(-x)));
      EXPECT_NEAR(r32.dt[i], r64.dt[i], 2e-6 * logs + 1e-7) << "dt, x = " << x << ", t = " << target;
    }
  }
  // The clamp: log 0 is taken as −100 (LibTorch's convention), so x = 0 with t = 1 costs 100.
  LossAndGrads edge = run(bce, {0.0, 1.0, 0.0, 1.0}, {1.0, 0.0, 0.0, 1.0}, dg::kFloat32);
  EXPECT_EQ(edge.loss, (std::vector<double>{100.0, 100.0, 0.0, 0.0}));
  EXPECT_EQ(edge.dt[0], 100.0);  // log(1 − 0) − max(log 0, −100)
  EXPECT_EQ(edge.dt[1], -100.0);
}

TEST(LossBinaryAccuracy, WithLogitsFloat32AgainstFloat64) {
  std::vector<double> xs;
  for (double x = -40; x <= 40; x += 1.0 / 64) xs.push_back(x);
  for (double x : {-1e4, -200.0, -100.0, 100.0, 200.0, 1e4, 1e-30, -1e-30}) xs.push_back(x);
  xs = as_float32(xs);
  const Tensor pos_weight = dg::tensor({3.0});
  for (bool weighted : {false, true}) {
    auto options = F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(dg::kNone);
    if (weighted) options.pos_weight(pos_weight);
    auto bce = [&](const Tensor& x, const Tensor& t) { return F::binary_cross_entropy_with_logits(x, t, options); };
    const double p = weighted ? 3.0 : 1.0;
    for (double target : {0.0, 0.3, 1.0}) {
      const std::vector<double> ts(xs.size(), target);
      LossAndGrads r32 = run(bce, xs, ts, dg::kFloat32), r64 = run(bce, xs, ts, dg::kFloat64);
      for (size_t i = 0; i < xs.size(); ++i) {
        const double x = xs[i];
        const std::string at = std::string(weighted ? "pos_weight 3, " : "") + "x = " + std::to_string(x) +
                               ", t = " + std::to_string(target);
        // ℓ = (1 − t)·x + (1 + (p − 1)t)·softplus(−x): the two terms cancel for t < 1 and x ≪ 0
        // (as in LibTorch's formula), so the bound is relative to the terms, not to ℓ.
        const double softplus = std::max(-x, 0.0) + std::log1p(std::exp(-std::fabs(x)));
        const double terms = std::fabs((1 - target) * x) + (1 + (p - 1) * target) * softplus;
        EXPECT_NEAR(r32.loss[i], r64.loss[i], 2e-6 * terms + 1e-38) << "loss, " << at;
        // dx = σ(x)·(1 + (p − 1)t) − p·t: σ(x) − t cancels where σ(x) ≈ t; a few ulps of the terms.
        EXPECT_NEAR(r32.dx[i], r64.dx[i], 2e-6 * (1 + (p - 1) * target + p * target) + 1e-38) << "dx, " << at;
        // dt = (p − 1)·softplus(−x) − x
        EXPECT_NEAR(r32.dt[i], r64.dt[i], 2e-6 * ((p - 1) * softplus + std::fabs(x)) + 1e-38) << "dt, " << at;
      }
    }
  }
}

// Extreme logits stay finite: no exp overflows (softplus(−x) from e^{−|x|}).
TEST(LossBinaryAccuracy, WithLogitsExtremeScoresAreFinite) {
  const auto none = F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(dg::kNone);
  Tensor x = dg::tensor({-1e30, 1e30, -100.0, 100.0}).requires_grad_(true);
  Tensor t = dg::tensor({1.0, 0.0, 0.0, 1.0});
  Tensor l = F::binary_cross_entropy_with_logits(x, t, none);
  l.sum().backward();
  std::vector<double> lv = values(l), gv = values(x.grad());
  EXPECT_FLOAT_EQ(lv[0], 1e30);  // confidently wrong: the loss is the score
  EXPECT_FLOAT_EQ(lv[1], 1e30);
  EXPECT_NEAR(lv[2], 0.0, 1e-38);  // confidently right: e^{−100} underflows float32's normals
  EXPECT_NEAR(lv[3], 0.0, 1e-38);
  EXPECT_EQ(gv[0], -1.0);  // σ(x) − t
  EXPECT_EQ(gv[1], 1.0);
  EXPECT_NEAR(gv[2], 0.0, 1e-38);  // σ(−100) ≈ 4e-44, a subnormal
  EXPECT_NEAR(gv[3], 0.0, 1e-38);
}

// One element outside [0, 1] anywhere in a tensor long enough to be split among
// threads is reported, whichever instruction set and thread count runs the check.
TEST(LossBinaryAccuracy, BinaryCrossEntropyRejectsNonProbabilitiesAnywhere) {
  const int64_t n = 100003;
  Tensor target = dg::full({n}, 0.5);
  for (double bad : {-1e-7, 1.0000001, double(NAN), double(INFINITY)}) {
    for (int64_t at : {int64_t(0), n / 2 + 7, n - 1}) {
      dg_test::on_every_isa_and_thread_count({1, 2}, [&](int, const std::string& where) {
        Tensor x = dg::full({n}, 0.5);
        x.data_ptr<float>()[at] = static_cast<float>(bad);
        try {
          F::binary_cross_entropy(x, target);
          ADD_FAILURE() << "no error for " << bad << " at " << at << ", " << where;
        } catch (const dg::Error& e) {
          EXPECT_NE(std::string(e.what()).find("probabilities in [0, 1]"), std::string::npos) << e.what();
        }
      });
    }
  }
  // A non-contiguous view is checked too (the check reads it through a contiguous copy).
  Tensor m = dg::full({4, 3}, 0.5);
  m.data_ptr<float>()[5] = 2.0f;
  EXPECT_THROW(F::binary_cross_entropy(m.t(), dg::full({3, 4}, 0.5)), dg::Error);
  EXPECT_NO_THROW(F::binary_cross_entropy(dg::full({4, 3}, 0.5).t(), dg::full({3, 4}, 0.5)));
}

// The same bits from the portable loops, AVX2 and AVX-512, on 1 and 2 threads.
TEST(LossBinaryAccuracy, SameBitsOnEveryIsaAndThreadCount) {
  std::vector<double> logits, probs, targets;
  for (int i = 0; i < 50000; ++i) {  // long enough to run on 2 threads
    logits.push_back(-25 + 50.0 * i / 50000);
    probs.push_back((i % 4099) / 4098.0);
    targets.push_back((i % 7) / 6.0);
  }
  const Tensor pos_weight = dg::tensor({0.5});
  for (int which = 0; which < 3; ++which) {
    dg_test::expect_same_float32_bits_everywhere({1, 2}, "case " + std::to_string(which), [&] {
      Tensor x = dg::tensor(which == 0 ? probs : logits, dg::kFloat64).to(dg::kFloat32).requires_grad_(true);
      Tensor t = dg::tensor(targets, dg::kFloat64).to(dg::kFloat32).requires_grad_(true);
      Tensor l;
      if (which == 0) l = F::binary_cross_entropy(x, t, F::BinaryCrossEntropyFuncOptions().reduction(dg::kNone));
      else
        l = F::binary_cross_entropy_with_logits(
            x, t,
            which == 1 ? F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(dg::kNone)
                       : F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(dg::kNone).pos_weight(pos_weight));
      l.backward(dg::ones_like(l));
      return std::vector<Tensor>{l, x.grad(), t.grad()};
    });
  }
}

}  // namespace
