// The backward engine: accumulation, reuse (micrograd), retain_graph, explicit
// gradients, hooks, retain_grad, NoGradGuard, detach, autograd::grad, misuse
// errors, in-place checks, the shape check on every returned gradient, and no
// leak through the graph.
#include <gtest/gtest.h>

#include <memory>
#include <string>

#include <dimgrad/autograd/function.hpp>
#include <dimgrad/dimgrad.hpp>

#include "tensor_values.hpp"

using dg::Tensor;
using dg::TensorList;

namespace {

Tensor vec(std::initializer_list<double> v) { return dg::tensor(v, dg::kFloat64); }

using dg_test::values;

// EXPECT that calling f throws E whose message contains every one of `parts`.
template <class E, class F> void expect_throw_with(F&& f, std::initializer_list<std::string> parts) {
  try {
    f();
    ADD_FAILURE() << "expected an exception";
  } catch (const E& e) {
    std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "\"" << p << "\" not in: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type: " << e.what();
  }
}

}  // namespace

// ------------------------------------------------------------- accumulation
TEST(Engine, GradientsAccumulateAcrossBackwardCalls) {
  Tensor x = vec({1, 2, 3}).requires_grad_();
  (x * x).sum().backward();  // d/dx Σx² = 2x
  EXPECT_EQ(values(x.grad()), (std::vector<double>{2, 4, 6}));
  (x * 3.0).sum().backward();  // += 3
  EXPECT_EQ(values(x.grad()), (std::vector<double>{5, 7, 9}));
  x.grad().zero_();
  (x * 3.0).sum().backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{3, 3, 3}));
}

TEST(Engine, ReuseCubicAndDoubling) {
  // y = a·a·a + a: dy/da = 3a² + 1.   b = a + a: db/da = 2.
  Tensor a = vec({-1.5, 2.0}).requires_grad_();
  (a * a * a + a).sum().backward();
  EXPECT_DOUBLE_EQ(values(a.grad())[0], 3 * 2.25 + 1);
  EXPECT_DOUBLE_EQ(values(a.grad())[1], 3 * 4.0 + 1);
  Tensor c = vec({0.5}).requires_grad_();
  (c + c).sum().backward();
  EXPECT_DOUBLE_EQ(values(c.grad())[0], 2.0);
}

// micrograd's test_more_ops, transcribed (Python's `c += x` rebinds: c = c + x).
TEST(Engine, MicrogradReuseTest) {
  Tensor a = dg::tensor(-4.0, dg::kFloat64).requires_grad_();
  Tensor b = dg::tensor(2.0, dg::kFloat64).requires_grad_();
  Tensor c = a + b;
  Tensor d = a * b + b.pow(3);
  c = c + c + 1;
  c = c + 1 + c + (-a);
  d = d + d * 2 + (b + a).relu();
  d = d + 3 * d + (b - a).relu();
  Tensor e = c - d;
  Tensor f = e.pow(2);
  Tensor g = f / 2.0;
  g = g + 10.0 / f;
  g.backward();
  // Values PyTorch gives for the same expression (micrograd's reference).
  EXPECT_NEAR(g.item<double>(), 24.70408163265306, 1e-12);
  EXPECT_NEAR(a.grad().item<double>(), 138.83381924198252, 1e-10);
  EXPECT_NEAR(b.grad().item<double>(), 645.5772594752186, 1e-10);
}

TEST(Engine, LeafGradientsNeverShareABuffer) {
  Tensor a = vec({1, 2}).requires_grad_();
  Tensor b = vec({3, 4}).requires_grad_();
  (a + b).sum().backward();
  a.grad().add_(vec({10, 10}));
  EXPECT_EQ(values(b.grad()), (std::vector<double>{1, 1}));
  // The explicit gradient passed to backward is not adopted as a .grad buffer either.
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor g = vec({0.5, 0.25});
  x.clone().backward(g);
  x.grad().mul_(4.0);
  EXPECT_EQ(values(g), (std::vector<double>{0.5, 0.25}));
}

// ----------------------------------------------------------- retain_graph
TEST(Engine, RetainGraphAllowsASecondBackward) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = (x.exp() * x).sum();
  y.backward(Tensor(), /*retain_graph=*/true);
  auto first = values(x.grad());
  y.backward();
  auto second = values(x.grad());
  for (size_t i = 0; i < 2; ++i) EXPECT_DOUBLE_EQ(second[i], 2 * first[i]);
}

TEST(Engine, SecondBackwardThroughAFreedGraphIsAClearError) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = (x * x).sum();
  y.backward();
  expect_throw_with<dg::AutogradError>([&] { y.backward(); }, {"backward through sum", "second time", "retain_graph=true"});
}

// --------------------------------------------------- non-scalar backward
TEST(Engine, NonScalarBackwardNeedsAGradient) {
  Tensor x = vec({1, 2, 3}).requires_grad_();
  Tensor y = x * 2.0;
  expect_throw_with<dg::AutogradError>([&] { y.backward(); }, {"scalar", "[3]"});
  y.backward(vec({1, 0.5, -1}));
  EXPECT_EQ(values(x.grad()), (std::vector<double>{2, 1, -2}));
  expect_throw_with<dg::ShapeError>([&] { (x * 2.0).backward(vec({1, 2})); }, {"[2]", "[3]"});
}

TEST(Engine, BackwardOnATensorWithoutGradIsAnError) {
  Tensor x = vec({1, 2});
  expect_throw_with<dg::AutogradError>([&] { (x * 2.0).sum().backward(); }, {"does not require grad"});
}

TEST(Engine, BackwardFromALeafAndFromSeveralRoots) {
  Tensor x = vec({1, 2}).requires_grad_();
  x.backward(vec({3, 4}));
  EXPECT_EQ(values(x.grad()), (std::vector<double>{3, 4}));
  Tensor w = vec({1, 2}).requires_grad_();
  dg::autograd::backward({(w * 2.0).sum(), (w * w).sum()});  // 2 + 2w
  EXPECT_EQ(values(w.grad()), (std::vector<double>{4, 6}));
}

// ---------------------------------------------------- hooks, retain_grad
TEST(Engine, HookOnALeafReplacesItsGradient) {
  Tensor x = vec({1, 2}).requires_grad_();
  int calls = 0;
  x.register_hook([&](const Tensor& g) {
    ++calls;
    return g * 10.0;
  });
  (x * 3.0).sum().backward();
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(values(x.grad()), (std::vector<double>{30, 30}));
}

TEST(Engine, HookOnANonLeafChangesWhatFlowsOn) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor h = x * x;  // dh/dx = 2x
  Tensor seen;
  h.register_hook([&](const Tensor& g) { seen = g.clone(); });  // observing hook (void)
  h.register_hook([](const Tensor& g) { return g * -1.0; });  // modifying hook
  (h * 5.0).sum().backward();
  EXPECT_EQ(values(seen), (std::vector<double>{5, 5}));
  EXPECT_EQ(values(x.grad()), (std::vector<double>{-10, -20}));
  EXPECT_FALSE(h.grad().defined());  // a non-leaf keeps no gradient unless asked
}

TEST(Engine, RetainGradKeepsANonLeafGradient) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor h = x * x;
  h.retain_grad();
  EXPECT_TRUE(h.retains_grad());
  Tensor y = (h * vec({3, 4})).sum();
  y.backward(Tensor(), true);
  EXPECT_EQ(values(h.grad()), (std::vector<double>{3, 4}));
  y.backward();  // retained gradients accumulate too
  EXPECT_EQ(values(h.grad()), (std::vector<double>{6, 8}));
  x.retain_grad();  // a leaf: no-op
  EXPECT_FALSE(x.retains_grad());
}

TEST(Engine, HookOnATensorWithoutGradIsAnError) {
  Tensor x = vec({1});
  expect_throw_with<dg::AutogradError>([&] { x.register_hook([](const Tensor& g) { return g; }); },
                                       {"does not require grad"});
}

// --------------------------------------------------- NoGradGuard, detach
TEST(Engine, NoGradGuardRecordsNothingAndRestores) {
  Tensor x = vec({1, 2}).requires_grad_();
  {
    dg::NoGradGuard g;
    Tensor y = x * 2.0;
    EXPECT_FALSE(y.requires_grad());
    EXPECT_EQ(y.grad_fn(), nullptr);
    {
      dg::NoGradGuard inner;
    }
    EXPECT_FALSE(dg::autograd::GradMode::is_enabled());
    {
      dg::AutoGradMode on(true);
      EXPECT_TRUE((x * 2.0).requires_grad());
    }
  }
  EXPECT_TRUE(dg::autograd::GradMode::is_enabled());
  EXPECT_TRUE((x * 2.0).requires_grad());
}

TEST(Engine, DetachSharesStorageWithoutHistory) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor y = x * 2.0;
  Tensor d = y.detach();
  EXPECT_FALSE(d.requires_grad());
  EXPECT_TRUE(d.is_leaf());
  EXPECT_EQ(d.data_ptr<double>(), y.data_ptr<double>());
  // Gradient stops at the detach: only the direct path reaches x.
  (d * x + x).sum().backward();
  EXPECT_EQ(values(x.grad()), (std::vector<double>{3, 5}));
  Tensor z = x * 3.0;
  z.detach_();
  EXPECT_FALSE(z.requires_grad());
}

// -------------------------------------------------------- autograd::grad
TEST(Engine, AutogradGradReturnsWithoutAccumulating) {
  Tensor x = vec({2, 3}).requires_grad_();
  Tensor w = vec({1, -1}).requires_grad_();
  Tensor y = (x * x * w).sum();
  TensorList g = dg::autograd::grad({y}, {x, w});
  EXPECT_EQ(values(g[0]), (std::vector<double>{4, -6}));  // 2xw
  EXPECT_EQ(values(g[1]), (std::vector<double>{4, 9}));   // x²
  EXPECT_FALSE(x.grad().defined());
  EXPECT_FALSE(w.grad().defined());
}

TEST(Engine, AutogradGradUnusedInputs) {
  Tensor x = vec({2}).requires_grad_();
  Tensor unused = vec({5}).requires_grad_();
  expect_throw_with<dg::AutogradError>([&] { dg::autograd::grad({(x * x).sum()}, {x, unused}); },
                                       {"input 1", "not used", "allow_unused"});
  TensorList g = dg::autograd::grad({(x * x).sum()}, {x, unused}, {}, false, false, /*allow_unused=*/true);
  EXPECT_DOUBLE_EQ(values(g[0])[0], 4.0);
  EXPECT_FALSE(g[1].defined());
  expect_throw_with<dg::AutogradError>([&] { dg::autograd::grad({(x * x).sum()}, {x}, {}, true, /*create_graph=*/true); },
                                       {"create_graph"});
}

TEST(Engine, AutogradGradWithExplicitGradientAndRetainGraph) {
  Tensor x = vec({1, 2, 3}).requires_grad_();
  Tensor y = x * x;
  TensorList g1 = dg::autograd::grad({y}, {x}, {vec({1, 1, 0})}, /*retain_graph=*/true);
  TensorList g2 = dg::autograd::grad({y}, {x}, {vec({0, 0, 1})});
  EXPECT_EQ(values(g1[0]), (std::vector<double>{2, 4, 0}));
  EXPECT_EQ(values(g2[0]), (std::vector<double>{0, 0, 6}));
  // A non-leaf input: the gradient at that point of the graph.
  Tensor a = vec({1, 2}).requires_grad_();
  Tensor h = a * 3.0;
  TensorList gh = dg::autograd::grad({(h * h).sum()}, {h});
  EXPECT_EQ(values(gh[0]), (std::vector<double>{6, 12}));
}

// ------------------------------------------------------------ misuse
TEST(Engine, RequiresGradOnANonLeafIsRefused) {
  Tensor x = vec({1}).requires_grad_();
  Tensor y = x * 2.0;
  expect_throw_with<dg::AutogradError>([&] { y.requires_grad_(); }, {"leaf", "mul_scalar", "detach()"});
  expect_throw_with<dg::DTypeError>([] { dg::tensor({1, 2}, dg::kInt64).requires_grad_(); },
                                    {"floating-point", "int64"});
}

TEST(Engine, InPlaceOnALeafThatRequiresGradIsRefused) {
  Tensor w = vec({1, 2}).requires_grad_();
  expect_throw_with<dg::AutogradError>([&] { w.add_(vec({1, 1})); }, {"add_", "leaf", "NoGradGuard", "[2]"});
  expect_throw_with<dg::AutogradError>([&] { w.mul_(2.0); }, {"mul_"});
  expect_throw_with<dg::AutogradError>([&] { w.zero_(); }, {"fill_"});
  expect_throw_with<dg::AutogradError>([&] { w.copy_(vec({0, 0})); }, {"copy_"});
  {
    dg::NoGradGuard g;  // as an optimizer step does
    w.sub_(vec({0.5, 0.5}));
  }
  EXPECT_EQ(values(w), (std::vector<double>{0.5, 1.5}));
  // A non-leaf of the graph cannot be changed in place either.
  Tensor y = w * 2.0;
  expect_throw_with<dg::AutogradError>([&] { y.add_(1.0); }, {"add_", "mul_scalar"});
}

TEST(Engine, InPlaceChangeOfASavedTensorIsDetected) {
  Tensor x = vec({1, 2}).requires_grad_();
  Tensor w = vec({3, 4});  // no grad: in-place is allowed on it...
  Tensor y = (x * w).sum();  // ...but mul saved it for dx = dy·w
  w.mul_(10.0);
  expect_throw_with<dg::AutogradError>([&] { y.backward(); }, {"mul", "modified by an in-place operation"});
  // Through a view of the saved tensor: same storage, same detection.
  Tensor v = vec({3, 4, 5});
  Tensor y2 = (x * v.narrow(0, 0, 2)).sum();
  v.select(0, 2).fill_(0.0);
  expect_throw_with<dg::AutogradError>([&] { y2.backward(); }, {"modified by an in-place operation"});
  // An op that saves its output (exp) sees a change of the output's storage.
  Tensor e = x.exp();
  Tensor alias = e.detach();
  Tensor loss = e.sum();
  alias.add_(1.0);
  expect_throw_with<dg::AutogradError>([&] { loss.backward(); }, {"exp", "modified"});
}

// ------------------------------------------------------------ shape check
namespace {
// A hand-made node whose backward returns a gradient of the wrong shape.
struct WrongShapeNode : dg::autograd::Node {
  WrongShapeNode() : Node(dg::OpKind::Custom) {}
  dg::Shape give;
  TensorList apply(TensorList&&) override { return {dg::zeros(give, dg::kFloat64)}; }
};

Tensor through_wrong_node(const Tensor& x, dg::Shape give) {
  Tensor out = x.detach().clone();
  auto node = std::make_shared<WrongShapeNode>();
  node->give = give;
  dg::autograd::set_history(node, {&x}, {&out});
  return out;
}

struct BadTranspose : dg::autograd::Function<BadTranspose> {
  static Tensor forward(dg::autograd::AutogradContext*, const Tensor& a, const Tensor& b) { return a.mm(b); }
  static TensorList backward(dg::autograd::AutogradContext*, TensorList g) {
    return {g[0], g[0]};  // wrong: dA must be [M×K], dB [K×N]; dY is [M×N]
  }
};
}  // namespace

TEST(Engine, WrongShapedGradientThrowsShapeErrorNamingOpInputAndShapes) {
  Tensor x = dg::ones({2, 3}, dg::kFloat64).requires_grad_();
  Tensor y = through_wrong_node(x, {5});
  expect_throw_with<dg::ShapeError>([&] { y.sum().backward(); },
                                    {"backward of custom", "input 0", "[5]", "expected [2, 3]"});
  // A gradient that merely broadcasts is still wrong when the op did not broadcast.
  Tensor y2 = through_wrong_node(x, {4, 2, 3});
  expect_throw_with<dg::ShapeError>([&] { y2.sum().backward(); }, {"[4, 2, 3]", "[2, 3]"});
  // Through autograd::Function: the error names the user's op.
  Tensor a = dg::ones({2, 3}, dg::kFloat64).requires_grad_();
  Tensor b = dg::ones({3, 4}, dg::kFloat64).requires_grad_();
  expect_throw_with<dg::ShapeError>([&] { BadTranspose::apply(a, b).sum().backward(); },
                                    {"BadTranspose", "input 0", "[2, 4]", "expected [2, 3]"});
}

TEST(Engine, SumToReducesBroadcastGradients) {
  Tensor g = dg::arange(24, dg::kFloat64).reshape({2, 3, 4});
  EXPECT_EQ(dg::sum_to(g, {3, 4}).sizes().vec(), (std::vector<int64_t>{3, 4}));
  EXPECT_DOUBLE_EQ(dg::sum_to(g, {3, 4}).sum().item<double>(), 276.0);
  Tensor s = dg::sum_to(g, {3, 1});
  EXPECT_EQ(values(s), (std::vector<double>{0 + 1 + 2 + 3 + 12 + 13 + 14 + 15, 4 + 5 + 6 + 7 + 16 + 17 + 18 + 19,
                                            8 + 9 + 10 + 11 + 20 + 21 + 22 + 23}));
  EXPECT_DOUBLE_EQ(dg::sum_to(g, {}).item<double>(), 276.0);
  EXPECT_TRUE(dg::sum_to(g, {2, 3, 4}).is_same(g));
  expect_throw_with<dg::ShapeError>([&] { dg::sum_to(g, {2, 4}); }, {"[2, 3, 4]", "[2, 4]"});
}

// ---------------------------------------------------------- no leaks
TEST(Engine, GraphIsFreedWhenTheLossGoesOutOfScope) {
  Tensor x = dg::ones({3}, dg::kFloat64).requires_grad_();
  std::weak_ptr<dg::autograd::Node> node, acc;
  std::weak_ptr<dg::TensorImpl> mid, out;
  {
    // exp, tanh, sigmoid, sqrt, relu and softmax save their own output.
    Tensor e = x.exp();
    Tensor h = e.tanh().sigmoid().sqrt().relu().softmax(0);
    h.retain_grad();
    h.register_hook([](const Tensor& g) { return g; });
    Tensor loss = (h * x).sum();
    node = e.grad_fn();
    acc = dg::autograd::gradient_edge(x).node;
    mid = e.impl_ptr();
    out = h.impl_ptr();
    loss.backward();
    EXPECT_FALSE(node.expired());
  }
  EXPECT_TRUE(node.expired()) << "exp's node outlived the loss";
  EXPECT_TRUE(acc.expired()) << "x's AccumulateGrad outlived the graph";
  EXPECT_TRUE(mid.expired());
  EXPECT_TRUE(out.expired());
  EXPECT_TRUE(x.grad().defined());
}

TEST(Engine, GraphIsFreedWithoutBackwardToo) {
  std::weak_ptr<dg::TensorImpl> leaf;
  std::weak_ptr<dg::autograd::Node> node;
  {
    Tensor x = dg::ones({2, 2}, dg::kFloat64).requires_grad_();
    leaf = x.impl_ptr();
    Tensor y = dg::log_softmax(x.matmul(x.t()), 1);
    Tensor z = std::get<0>(y.max(1)) + dg::cat({y, y}).sum();
    node = z.grad_fn();
  }
  EXPECT_TRUE(node.expired());
  EXPECT_TRUE(leaf.expired()) << "the leaf is kept alive by its own graph (a cycle)";
}
