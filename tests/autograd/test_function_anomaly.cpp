// Custom ops (autograd::Function), anomaly mode and the swap-in check.
#include <gtest/gtest.h>

#include <cstdio>

#include <dimgrad/autograd/observer.hpp>
#include <dimgrad/dimgrad.hpp>
#include <dimgrad/io.hpp>
#include <dimgrad/swap_in.hpp>

namespace {

using dg::autograd::AutogradContext;
using dg::autograd::tensor_list;

// S[N×C] = X[N×D]·W[D×C] + b[C], derived by hand.
struct Affine : dg::autograd::Function<Affine> {
  static dg::Tensor forward(AutogradContext* ctx, dg::Tensor x, dg::Tensor w, dg::Tensor b) {
    ctx->save_for_backward({x, w});
    return x.mm(w) + b;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list g) {
    auto s = ctx->get_saved_variables();
    // dX[N×D] = dS[N×C]·Wᵀ[C×D]; dW[D×C] = Xᵀ[D×N]·dS[N×C]; db[C] = Σ_N dS
    return {g[0].mm(s[1].t()), s[0].t().mm(g[0]), g[0].sum({0})};
  }
};

// The classic mistake: dW computed as dSᵀ·X ([C×D], transposed).
struct AffineTransposedGrad : dg::autograd::Function<AffineTransposedGrad> {
  static dg::Tensor forward(AutogradContext* ctx, dg::Tensor x, dg::Tensor w) {
    ctx->save_for_backward({x, w});
    return x.mm(w);
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list g) {
    auto s = ctx->get_saved_variables();
    return {g[0].mm(s[1].t()), g[0].t().mm(s[0]).t().contiguous().view({s[1].size(1), s[1].size(0)}).t()};
  }
};

// Forgets that b was broadcast over N: returns dS itself for db.
struct AffineNoBroadcastSum : dg::autograd::Function<AffineNoBroadcastSum> {
  static dg::Tensor forward(AutogradContext* ctx, dg::Tensor x, dg::Tensor w, dg::Tensor b) {
    ctx->save_for_backward({x, w});
    return x.mm(w) + b;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list g) {
    auto s = ctx->get_saved_variables();
    return {g[0].mm(s[1].t()), s[0].t().mm(g[0]), g[0]};
  }
};

dg::Tensor leaf(dg::IntArrayRef shape) { return dg::randn(shape, dg::kFloat64).requires_grad_(); }

}  // namespace

TEST(CustomFunction, JoinsTheGraphAndPassesGradcheck) {
  dg::manual_seed(0);
  auto x = leaf({4, 3}), w = leaf({3, 2}), b = leaf({2});
  EXPECT_TRUE(dg::gradcheck([](const dg::TensorList& in) { return Affine::apply(in[0], in[1], in[2]); }, {x, w, b}));
  auto y = Affine::apply(x, w, b);
  ASSERT_TRUE(y.grad_fn());
  EXPECT_NE(y.grad_fn()->name().find("Affine"), std::string::npos);
  // Same gradients as the built-in composition.
  (y * y).sum().backward();
  auto x2 = x.detach().requires_grad_(), w2 = w.detach().requires_grad_(), b2 = b.detach().requires_grad_();
  auto y2 = x2.mm(w2) + b2;
  (y2 * y2).sum().backward();
  EXPECT_TRUE(x.grad().allclose(x2.grad()));
  EXPECT_TRUE(w.grad().allclose(w2.grad()));
  EXPECT_TRUE(b.grad().allclose(b2.grad()));
}

TEST(CustomFunction, WrongBackwardFailsGradcheckNamingTheElement) {
  dg::manual_seed(1);
  auto x = leaf({4, 3}), w = leaf({3, 3});
  try {
    dg::gradcheck([](const dg::TensorList& in) { return AffineTransposedGrad::apply(in[0], in[1]); }, {x, w});
    FAIL() << "gradcheck accepted a transposed gradient";
  } catch (const dg::GradcheckError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("input 1"), std::string::npos) << m;
    EXPECT_NE(m.find("element ["), std::string::npos) << m;
    EXPECT_NE(m.find("analytic"), std::string::npos) << m;
    EXPECT_NE(m.find("numeric"), std::string::npos) << m;
  }
}

TEST(CustomFunction, MissingBroadcastSumIsStoppedByTheShapeCheck) {
  auto x = leaf({4, 3}), w = leaf({3, 2}), b = leaf({2});
  auto y = AffineNoBroadcastSum::apply(x, w, b).sum();
  try {
    y.backward();
    FAIL() << "a [4, 2] gradient for a [2] input was accepted";
  } catch (const dg::ShapeError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("AffineNoBroadcastSum"), std::string::npos) << m;
    EXPECT_NE(m.find("input 2"), std::string::npos) << m;
    EXPECT_NE(m.find("[4, 2]"), std::string::npos) << m;
    EXPECT_NE(m.find("[2]"), std::string::npos) << m;
  }
}

TEST(CustomFunction, WrongGradientCountIsNamed) {
  struct TooFew : dg::autograd::Function<TooFew> {
    static dg::Tensor forward(AutogradContext*, dg::Tensor a, dg::Tensor b) { return a * b; }
    static tensor_list backward(AutogradContext*, tensor_list g) { return {g[0]}; }
  };
  auto a = leaf({3}), b = leaf({3});
  try {
    TooFew::apply(a, b).sum().backward();
    FAIL();
  } catch (const dg::AutogradError& e) {
    EXPECT_NE(std::string(e.what()).find("TooFew"), std::string::npos) << e.what();
  }
}

TEST(AnomalyMode, NamesTheOpForLogOfZeroAndDumpsItsInputs) {
  std::string dump = testing::TempDir() + "/anomaly_log.safetensors";
  std::remove(dump.c_str());
  auto w = dg::tensor({1.0, 0.0, 2.0}, dg::kFloat64).requires_grad_();
  dg::autograd::AnomalyOptions o;
  o.dump_path = dump;
  o.extra = {{"w", w}};
  dg::autograd::DetectAnomalyGuard guard(o);
  guard.set_step(7);
  try {
    auto y = dg::log(w * 1.0).sum();
    FAIL() << "log(0) was not reported";
  } catch (const dg::autograd::AnomalyError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("op 'log'"), std::string::npos) << m;
    EXPECT_NE(m.find("step 7"), std::string::npos) << m;
    EXPECT_NE(m.find("non-finite 1/3"), std::string::npos) << m;
    EXPECT_NE(m.find("min 0 max 2"), std::string::npos) << m;
  }
  // The dump reproduces it: log of the saved input is not finite.
  auto f = dg::io::load_safetensors(dump);
  ASSERT_TRUE(f.tensors.count("input0"));
  ASSERT_TRUE(f.tensors.count("param.w"));
  EXPECT_FALSE(dg::isfinite(dg::log(f.tensors["input0"])).all().item<bool>());
}

TEST(AnomalyMode, NamesDivForZeroOverZeroInsideAModule) {
  dg::nn::Sequential model(dg::nn::Functional([](const dg::Tensor& x) { return x / (x - x); }, "ZeroDiv"));
  auto x = dg::ones({2, 2}, dg::kFloat64).requires_grad_();
  dg::autograd::AnomalyOptions o;
  o.dump_path = "";
  dg::autograd::DetectAnomalyGuard guard(o);
  try {
    model->forward(x);
    FAIL();
  } catch (const dg::autograd::AnomalyError& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("op 'div'"), std::string::npos) << m;
    EXPECT_NE(m.find("module 0"), std::string::npos) << m;
  }
}

TEST(AnomalyMode, CatchesANonFiniteGradientInBackward) {
  // sqrt(0) is finite, but its gradient 1/(2·√0) is not.
  auto x = dg::zeros({3}, dg::kFloat64).requires_grad_();
  dg::autograd::AnomalyOptions o;
  o.dump_path = "";
  dg::autograd::DetectAnomalyGuard guard(o);
  auto y = dg::sqrt(x).sum();
  try {
    y.backward();
    FAIL();
  } catch (const dg::autograd::AnomalyError& e) {
    EXPECT_NE(std::string(e.what()).find("backward of op 'sqrt'"), std::string::npos) << e.what();
  }
}

TEST(SwapIn, ComparesAUsersBackwardWithoutChangingTraining) {
  dg::manual_seed(3);
  dg::BackwardSwapIn check;
  // Correct dX and dW for mm, and a deliberately wrong dW (missing transpose) to be caught.
  check.add("mm", [](const dg::SwapInContext& c) -> dg::TensorList {
    return {c.grad_outputs[0].mm(c.inputs[1].t()), c.inputs[0].t().mm(c.grad_outputs[0])};
  });
  auto X = dg::randn({5, 4}, dg::kFloat64);
  auto W = dg::randn({4, 3}, dg::kFloat64).requires_grad_();
  for (int step = 0; step < 3; ++step) {
    check.set_step(step);
    auto loss = X.mm(W).pow(2).sum();
    loss.backward();
  }
  ASSERT_EQ(check.records().size(), 3u);
  EXPECT_LT(check.worst_error(), 1e-12);
  EXPECT_NE(check.report().find("mm"), std::string::npos);

  dg::BackwardSwapIn wrong;
  wrong.add("mm", [](const dg::SwapInContext& c) -> dg::TensorList {
    return {dg::Tensor(), c.inputs[0].t().mm(c.grad_outputs[0]) * 2.0};
  });
  auto before = W.grad().clone();
  X.mm(W).sum().backward();
  EXPECT_GT(wrong.worst_error(), 0.5);
  // Training used the library's gradient, not the wrong one.
  EXPECT_TRUE((W.grad() - before).allclose(X.t().mm(dg::ones({5, 3}, dg::kFloat64))));
}
