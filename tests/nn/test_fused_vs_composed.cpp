// Each fused op's hand-derived backward against the autograd of the same layer
// composed from primitive ops (matmul, mean, var, sub, div, log_softmax,
// gather, where, ...): same outputs, same gradients for a random upstream
// gradient, in float64 to 1e-10. Large cases run the OpenMP paths (more than
// kernels::kParallelGrain elements), small ones the sequential paths.
#include "nn1_test_util.hpp"

#include <cstring>
#include <limits>

#include "each_isa.hpp"

namespace F = dg::nn::functional;
using dg::Tensor;
using dg::TensorList;
using nn1_test::close;
using nn1_test::det;

namespace {

using Fn = std::function<Tensor(const TensorList&)>;

// Runs both functions on fresh leaf copies of `inputs` and compares outputs and
// the gradients of every input for one upstream gradient.
void expect_same(const Fn& fused, const Fn& composed, const TensorList& inputs, double atol = 1e-10,
                 double rtol = 1e-9) {
  auto run = [&](const Fn& f, TensorList& leaves) {
    leaves.clear();
    for (const Tensor& t : inputs) leaves.push_back(t.detach().clone().requires_grad_());
    return f(leaves);
  };
  TensorList a, b;
  Tensor ya = run(fused, a), yb = run(composed, b);
  ASSERT_TRUE(close(ya, yb.detach(), atol, rtol)) << "outputs differ";
  Tensor up = det(ya.sizes(), 99, -1, 1).to(ya.dtype());
  TensorList ga = dg::autograd::grad({ya}, a, {up});
  TensorList gb = dg::autograd::grad({yb}, b, {up});
  for (size_t i = 0; i < a.size(); ++i) EXPECT_TRUE(close(ga[i], gb[i], atol, rtol)) << "gradient of input " << i;
}

Tensor labels(std::vector<int64_t> v) { return dg::tensor(v); }

// -------------------------------------------------------------------- linear
Tensor linear_composed(const TensorList& x) { return dg::matmul(x[0], x[1].t()) + x[2]; }

TEST(FusedVsComposed, LinearSmall) {
  expect_same([](const TensorList& x) { return F::linear(x[0], x[1], x[2]); }, linear_composed,
              {det({5, 7}, 1), det({3, 7}, 2), det({3}, 3)});
}

TEST(FusedVsComposed, LinearLargeParallelBiasSum) {
  expect_same([](const TensorList& x) { return F::linear(x[0], x[1], x[2]); }, linear_composed,
              {det({600, 30}, 4), det({80, 30}, 5), det({80}, 6)});
}

TEST(FusedVsComposed, LinearFloat32) {
  TensorList in = {det({64, 50}, 7).to(dg::kFloat32), det({40, 50}, 8).to(dg::kFloat32), det({40}, 9).to(dg::kFloat32)};
  expect_same([](const TensorList& x) { return F::linear(x[0], x[1], x[2]); }, linear_composed, in, 1e-5, 1e-4);
}

// linear_relu against relu(the composed product).
TEST(FusedVsComposed, LinearReluLargeParallel) {
  expect_same([](const TensorList& x) { return F::detail::linear_relu(x[0], x[1], x[2]); },
              [](const TensorList& x) { return dg::relu(linear_composed(x)); },
              {det({128, 300}, 34), det({200, 300}, 35), det({200}, 36)});
}

// ---------------------------------------------------------------- batch norm
// The training-mode layer written out: μ and the biased σ² per channel over
// every dim but 1, x̂ = (x − μ)/√(σ² + ε), y = γ·x̂ + β.
Tensor bn_composed(const TensorList& x, bool affine = true) {
  std::vector<int64_t> dims{0};
  for (int64_t d = 2; d < x[0].dim(); ++d) dims.push_back(d);
  std::vector<int64_t> cshape(x[0].dim(), 1);
  cshape[1] = x[0].size(1);
  Tensor mu = x[0].mean(dims, true);
  Tensor var = x[0].var(dims, /*unbiased=*/false, true);
  Tensor xhat = (x[0] - mu) / (var + 1e-5).sqrt();
  return affine ? xhat * x[1].reshape(cshape) + x[2].reshape(cshape) : xhat;
}
Tensor bn_fused(const TensorList& x) {
  return F::batch_norm(x[0], Tensor(), Tensor(), F::BatchNormFuncOptions().weight(x[1]).bias(x[2]).training(true));
}

TEST(FusedVsComposed, BatchNorm1dTrain) { expect_same(bn_fused, [](const TensorList& x) { return bn_composed(x); }, {det({6, 4}, 10), det({4}, 11), det({4}, 12)}); }
TEST(FusedVsComposed, BatchNorm2dTrain) {
  expect_same(bn_fused, [](const TensorList& x) { return bn_composed(x); }, {det({3, 4, 5, 2}, 13, -3, 5), det({4}, 14), det({4}, 15)});
}
TEST(FusedVsComposed, BatchNorm1dTrainLargeParallel) {
  expect_same(bn_fused, [](const TensorList& x) { return bn_composed(x); }, {det({256, 160}, 16), det({160}, 17), det({160}, 18)});
}
TEST(FusedVsComposed, BatchNorm2dTrainLargeParallel) {
  expect_same(bn_fused, [](const TensorList& x) { return bn_composed(x); }, {det({8, 16, 16, 20}, 19), det({16}, 20), det({16}, 21)});
}
TEST(FusedVsComposed, BatchNormNoAffine) {
  expect_same([](const TensorList& x) { return F::batch_norm(x[0], Tensor(), Tensor(), F::BatchNormFuncOptions().training(true)); },
              [](const TensorList& x) { return bn_composed(x, false); }, {det({5, 3, 4}, 22)});
}
TEST(FusedVsComposed, BatchNormEval) {
  Tensor rm = det({3}, 23), rv = det({3}, 24, 0.5, 2);
  expect_same(
      [&](const TensorList& x) {
        return F::batch_norm(x[0], rm, rv, F::BatchNormFuncOptions().weight(x[1]).bias(x[2]).training(false));
      },
      [&](const TensorList& x) {
        return (x[0] - rm.reshape({1, 3, 1})) / (rv.reshape({1, 3, 1}) + 1e-5).sqrt() * x[1].reshape({1, 3, 1}) +
               x[2].reshape({1, 3, 1});
      },
      {det({4, 3, 5}, 25), det({3}, 26), det({3}, 27)});
}

// batch_norm_relu against relu(the composed layer).
Tensor bn_relu_fused(const TensorList& x) {
  return F::detail::batch_norm_relu(x[0], Tensor(), Tensor(), x[1], x[2], true, 0.0, 1e-5);
}
TEST(FusedVsComposed, BatchNormRelu1dTrainLargeParallel) {
  expect_same(bn_relu_fused, [](const TensorList& x) { return dg::relu(bn_composed(x)); },
              {det({256, 160}, 28), det({160}, 29), det({160}, 30)});
}
TEST(FusedVsComposed, BatchNormRelu2dTrain) {
  expect_same(bn_relu_fused, [](const TensorList& x) { return dg::relu(bn_composed(x)); },
              {det({3, 4, 5, 2}, 31, -3, 5), det({4}, 32), det({4}, 33)});
}

// ---------------------------------------------------------------- layer norm
Tensor ln_composed(const TensorList& x, std::vector<int64_t> dims) {
  Tensor mu = x[0].mean(dims, true);
  Tensor var = x[0].var(dims, false, true);
  return (x[0] - mu) / (var + 1e-5).sqrt() * x[1] + x[2];
}
TEST(FusedVsComposed, LayerNorm) {
  expect_same([](const TensorList& x) { return F::layer_norm(x[0], F::LayerNormFuncOptions({4, 5}).weight(x[1]).bias(x[2])); },
              [](const TensorList& x) { return ln_composed(x, {-2, -1}); }, {det({3, 4, 5}, 30), det({4, 5}, 31), det({4, 5}, 32)});
}
TEST(FusedVsComposed, LayerNormLargeParallel) {
  expect_same([](const TensorList& x) { return F::layer_norm(x[0], F::LayerNormFuncOptions({200}).weight(x[1]).bias(x[2])); },
              [](const TensorList& x) { return ln_composed(x, {-1}); }, {det({200, 200}, 33), det({200}, 34), det({200}, 35)});
}

// ---------------------------------------------------------------- group norm
Tensor gn_composed(const TensorList& x, int64_t G) {
  const int64_t N = x[0].size(0), C = x[0].size(1);
  Tensor g = x[0].reshape({N, G, -1});
  Tensor xhat = ((g - g.mean({2}, true)) / (g.var({2}, false, true) + 1e-5).sqrt()).reshape(x[0].sizes());
  std::vector<int64_t> cshape(x[0].dim(), 1);
  cshape[1] = C;
  return xhat * x[1].reshape(cshape) + x[2].reshape(cshape);
}
TEST(FusedVsComposed, GroupNorm) {
  expect_same([](const TensorList& x) { return F::group_norm(x[0], F::GroupNormFuncOptions(2).weight(x[1]).bias(x[2])); },
              [](const TensorList& x) { return gn_composed(x, 2); }, {det({3, 6, 2, 3}, 40), det({6}, 41), det({6}, 42)});
}
TEST(FusedVsComposed, GroupNormLargeParallel) {
  expect_same([](const TensorList& x) { return F::group_norm(x[0], F::GroupNormFuncOptions(8).weight(x[1]).bias(x[2])); },
              [](const TensorList& x) { return gn_composed(x, 8); }, {det({4, 32, 16, 20}, 43), det({32}, 44), det({32}, 45)});
}

// ------------------------------------------------------------- cross entropy
// −Σ Q ⊙ log_softmax(S) with the target weights Q written out by hand.
Tensor q_matrix(const std::vector<int64_t>& t, int64_t C, const std::vector<double>& w, double eps, int64_t ignore,
                bool mean) {
  const int64_t N = static_cast<int64_t>(t.size());
  Tensor q = dg::zeros({N, C}, dg::kFloat64);
  double* p = q.data_ptr<double>();
  double denom = 0;
  for (int64_t i = 0; i < N; ++i)
    if (t[i] != ignore) denom += w.empty() ? 1.0 : w[t[i]];
  for (int64_t i = 0; i < N; ++i) {
    if (t[i] == ignore) continue;
    for (int64_t c = 0; c < C; ++c) {
      const double wc = w.empty() ? 1.0 : w[c];
      p[i * C + c] = eps / C * wc + (c == t[i] ? (1 - eps) * wc : 0.0);
      if (mean) p[i * C + c] /= denom;
    }
  }
  return q;
}

TEST(FusedVsComposed, CrossEntropyPlainMeanIsPMinusYOverN) {
  std::vector<int64_t> t{0, 3, 1, 1, 2};
  Tensor y = q_matrix(t, 4, {}, 0, -100, true);
  expect_same([&](const TensorList& x) { return F::cross_entropy(x[0], labels(t)); },
              [&](const TensorList& x) { return -(dg::log_softmax(x[0], 1) * y).sum(); }, {det({5, 4}, 50)});
  // and the gradient is literally (P − Y)/N
  Tensor s = det({5, 4}, 50).requires_grad_();
  F::cross_entropy(s, labels(t)).backward();
  Tensor one_hot = q_matrix(t, 4, {}, 0, -100, false);
  EXPECT_TRUE(close(s.grad(), (dg::softmax(s.detach(), 1) - one_hot) / 5.0));
}

TEST(FusedVsComposed, CrossEntropyWeightsSmoothingIgnore) {
  std::vector<int64_t> t{0, -100, 3, 1, 3, 2};
  std::vector<double> w{0.5, 2.0, 1.5, 0.7};
  for (double eps : {0.0, 0.25}) {
    for (bool mean : {true, false}) {
      SCOPED_TRACE("eps " + std::to_string(eps) + (mean ? " mean" : " sum"));
      Tensor q = q_matrix(t, 4, w, eps, -100, mean);
      expect_same(
          [&](const TensorList& x) {
            return F::cross_entropy(x[0], labels(t), F::CrossEntropyFuncOptions()
                                                         .weight(dg::tensor(w, dg::kFloat64))
                                                         .label_smoothing(eps)
                                                         .reduction(mean ? dg::nn::reduction_t(dg::kMean)
                                                                         : dg::nn::reduction_t(dg::kSum)));
          },
          [&](const TensorList& x) { return -(dg::log_softmax(x[0], 1) * q).sum(); }, {det({6, 4}, 51)});
    }
  }
}

TEST(FusedVsComposed, CrossEntropyNoneLargeParallel) {
  std::vector<int64_t> t(4096);
  for (size_t i = 0; i < t.size(); ++i) t[i] = static_cast<int64_t>((i * 7) % 10);
  Tensor q = q_matrix(t, 10, {}, 0.1, -100, false);
  expect_same(
      [&](const TensorList& x) {
        return F::cross_entropy(x[0], labels(t), F::CrossEntropyFuncOptions().label_smoothing(0.1).reduction(dg::kNone));
      },
      [&](const TensorList& x) { return -(dg::log_softmax(x[0], 1) * q).sum({1}); }, {det({4096, 10}, 52, -4, 4)});
}

// float32 rows shorter than a vector (a classifier's few classes) take their
// exponentials in one flat loop over the rows: the loss and the gradient must
// match the float64 composition, and be the same bits on every instruction set
// and thread count; a row of −∞ but its target, a row with a NaN, and rows of
// 1, 3, 10, 15 (short) and 16, 17 (the row kernels) classes.
TEST(FusedVsComposed, CrossEntropyFloat32ShortRowsEveryIsa) {
  for (int64_t C : {1, 3, 10, 15, 16, 17}) {
    const int64_t N = 4000;  // several threads' worth of rows
    std::vector<int64_t> t(static_cast<size_t>(N));
    for (int64_t i = 0; i < N; ++i) t[static_cast<size_t>(i)] = (i * 7) % C;
    Tensor x64 = det({N, C}, 60, -30, 30);
    for (int64_t c = 0; c < C; ++c)
      if (c != t[1]) x64.data_ptr<double>()[C + c] = -std::numeric_limits<double>::infinity();
    Tensor x = x64.to(dg::kFloat32);
    // −mean_i log P[i, t_i] in float64 (a product with the one-hot matrix would meet 0·(−∞))
    Tensor want = -dg::log_softmax(x.to(dg::kFloat64), 1).gather(1, labels(t).unsqueeze(1)).mean();
    Tensor want_grad = (dg::softmax(x.to(dg::kFloat64), 1) - q_matrix(t, C, {}, 0, -100, false)) / double(N);
    std::vector<float> first;
    dg_test::on_every_isa_and_thread_count({1, 2}, [&](int, const std::string& isa_threads) {
      const std::string where = "C=" + std::to_string(C) + ", " + isa_threads;
      Tensor xs = x.detach().requires_grad_();
      Tensor loss = F::cross_entropy(xs, labels(t));
      loss.backward();
      EXPECT_NEAR(loss.item<double>(), want.item<double>(), 1e-5 * std::fabs(want.item<double>())) << where;
      EXPECT_TRUE(close(xs.grad().to(dg::kFloat64), want_grad, 1e-9, 1e-5)) << where;
      std::vector<float> got(xs.grad().data_ptr<float>(), xs.grad().data_ptr<float>() + N * C);
      got.push_back(loss.item<float>());
      if (first.empty()) first = got;
      else EXPECT_EQ(std::memcmp(got.data(), first.data(), got.size() * sizeof(float)), 0) << where;
      // A NaN score makes its row's loss NaN, as in PyTorch; the other rows keep theirs.
      Tensor xn = x.clone();
      xn.data_ptr<float>()[2 * C + C - 1] = std::numeric_limits<float>::quiet_NaN();
      Tensor rows = F::cross_entropy(xn, labels(t), F::CrossEntropyFuncOptions().reduction(dg::kNone));
      EXPECT_TRUE(std::isnan(rows.data_ptr<float>()[2])) << where;
      EXPECT_FALSE(std::isnan(rows.data_ptr<float>()[3])) << where;
    });
  }
}

TEST(FusedVsComposed, CrossEntropyKDimMatchesPermutedRows) {
  // [N, C, L] scores are rows of [N·L, C] after moving the class dim last.
  Tensor t = labels({0, 2, 1, 1, 0, 2}).reshape({2, 3});
  expect_same([&](const TensorList& x) { return F::cross_entropy(x[0], t); },
              [&](const TensorList& x) {
                return F::cross_entropy(x[0].permute({0, 2, 1}).reshape({6, 3}), t.reshape({6}));
              },
              {det({2, 3, 3}, 53)});
}

// ------------------------------------------------------------------ nll loss
TEST(FusedVsComposed, NllLossIsMinusGatherOverWeights) {
  std::vector<int64_t> t{1, 0, 2, 2};
  Tensor w = dg::tensor(std::vector<double>{0.3, 1.0, 2.0}, dg::kFloat64);
  Tensor idx = labels(t).reshape({4, 1});
  Tensor wt = w.index_select(0, labels(t));
  expect_same([&](const TensorList& x) { return F::nll_loss(x[0], labels(t), F::NLLLossFuncOptions().weight(w)); },
              [&](const TensorList& x) { return -(x[0].gather(1, idx).reshape({4}) * wt).sum() / wt.sum(); },
              {det({4, 3}, 60)});
}

// ------------------------------------------------------------- multi margin
TEST(FusedVsComposed, MultiMarginIsTheSvmHingeLoss) {
  std::vector<int64_t> t{1, 0, 3, 3, 2};
  Tensor idx = labels(t).reshape({5, 1});
  Tensor not_target = dg::ones({5, 4}, dg::kFloat64) - dg::one_hot(labels(t), 4).to(dg::kFloat64);
  for (int64_t p : {1, 2}) {
    SCOPED_TRACE("p = " + std::to_string(p));
    expect_same(
        [&](const TensorList& x) { return F::multi_margin_loss(x[0], labels(t), F::MultiMarginLossFuncOptions().p(p)); },
        [&](const TensorList& x) {
          Tensor h = (1.0 - x[0].gather(1, idx) + x[0]).clamp_min(0) * not_target;  // margins, 0 at j = y
          return (p == 1 ? h : h * h).sum() / (5.0 * 4.0);
        },
        {det({5, 4}, 61)});
  }
}

// -------------------------------------------------------------------- BCE
TEST(FusedVsComposed, BinaryCrossEntropy) {
  expect_same([](const TensorList& x) { return F::binary_cross_entropy(x[0], x[1]); },
              [](const TensorList& x) { return -(x[1] * x[0].log() + (1.0 - x[1]) * (1.0 - x[0]).log()).mean(); },
              {det({3, 5}, 70, 0.05, 0.95), det({3, 5}, 71, 0, 1)});
}

TEST(FusedVsComposed, BinaryCrossEntropyWithLogitsPosWeight) {
  Tensor pw = det({5}, 72, 0.5, 3);
  expect_same(
      [&](const TensorList& x) {
        return F::binary_cross_entropy_with_logits(x[0], x[1], F::BinaryCrossEntropyWithLogitsFuncOptions().pos_weight(pw));
      },
      [&](const TensorList& x) {
        // −[p·t·log σ(x) + (1 − t)·log(1 − σ(x))]
        Tensor s = dg::sigmoid(x[0]);
        return -(pw * x[1] * s.log() + (1.0 - x[1]) * (1.0 - s).log()).mean();
      },
      {det({4, 5}, 73, -3, 3), det({4, 5}, 74, 0, 1)});
}

// ------------------------------------------------------------- activations
TEST(FusedVsComposed, Activations) {
  TensorList in{det({4, 6}, 80, -3, 3)};
  expect_same([](const TensorList& x) { return F::leaky_relu(x[0], F::LeakyReLUFuncOptions().negative_slope(0.2)); },
              [](const TensorList& x) { return dg::where(x[0] > 0, x[0], x[0] * 0.2); }, in);
  expect_same([](const TensorList& x) { return F::elu(x[0], F::ELUFuncOptions().alpha(0.7)); },
              [](const TensorList& x) { return dg::where(x[0] > 0, x[0], (x[0].exp() - 1.0) * 0.7); }, in);
  expect_same([](const TensorList& x) { return F::softplus(x[0], F::SoftplusFuncOptions().beta(1.5)); },
              [](const TensorList& x) { return ((x[0] * 1.5).exp() + 1.0).log() / 1.5; }, in);
  expect_same([](const TensorList& x) { return F::gelu(x[0], F::GELUFuncOptions().approximate("tanh")); },
              [](const TensorList& x) {
                const double k = std::sqrt(2.0 / M_PI);
                return x[0] * 0.5 * (dg::tanh((x[0] + x[0].pow(3) * 0.044715) * k) + 1.0);
              },
              in);
}

// ----------------------------------------------------------------- embedding
TEST(FusedVsComposed, EmbeddingIsIndexSelect) {
  Tensor idx = labels({4, 1, 1, 0, 4, 2}).reshape({3, 2});
  expect_same([&](const TensorList& x) { return F::embedding(idx, x[0]); },
              [&](const TensorList& x) { return x[0].index_select(0, idx.reshape({6})).reshape({3, 2, 3}); },
              {det({5, 3}, 90)});
}

}  // namespace
