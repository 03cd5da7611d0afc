// dg::gradcheck itself: it passes correct gradients, and it catches a wrong one
// with a message naming the input, the element, both values and the relative error.
#include <gtest/gtest.h>

#include <regex>
#include <string>

#include <dimgrad/autograd/function.hpp>
#include <dimgrad/dimgrad.hpp>

using dg::Tensor;
using dg::TensorList;

namespace {

// Y = A², with a backward that forgets the factor 2 for one element (index `bad`).
struct BuggySquare : dg::autograd::Function<BuggySquare> {
  static Tensor forward(dg::autograd::AutogradContext* ctx, const Tensor& a, int64_t bad) {
    ctx->save_for_backward({a});
    ctx->saved_data["bad"] = bad;
    return a * a;
  }
  static TensorList backward(dg::autograd::AutogradContext* ctx, TensorList g) {
    Tensor a = ctx->get_saved_variables()[0];
    Tensor factor = dg::full(a.sizes(), 2.0, dg::kFloat64);
    int64_t bad = ctx->saved_data["bad"].toInt();
    if (bad >= 0) factor.reshape({-1}).data_ptr<double>()[bad] = 1.0;
    return {g[0] * factor * a, Tensor()};
  }
};

Tensor input(std::initializer_list<double> v, dg::IntArrayRef shape) {
  return dg::tensor(v, dg::kFloat64).reshape(shape).detach().requires_grad_();
}

}  // namespace

TEST(Gradcheck, PassesCorrectGradients) {
  Tensor a = input({0.5, -1.5, 2.0, 0.25, 1.0, -0.75}, {2, 3});
  Tensor b = input({1.5, -0.5, 0.75}, {3});
  EXPECT_TRUE(dg::gradcheck([](const TensorList& x) { return (x[0] * x[1]).tanh() + x[0].exp() / (x[1] * x[1] + 1.0); },
                            {a, b}));
  EXPECT_TRUE(dg::gradcheck([](const TensorList& x) { return BuggySquare::apply(x[0], int64_t{-1}); }, {a}));
}

TEST(Gradcheck, CatchesAWrongGradientAndNamesTheElement) {
  Tensor a = input({0.5, -1.5, 2.0, 0.25, 1.0, -0.75}, {2, 3});
  Tensor other = input({1.0, 2.0}, {2});
  try {
    // Element 4 = index [1, 1] (value 1.0): analytic dY/dA = 1·A = 1, numeric 2·A = 2.
    dg::gradcheck([](const TensorList& x) { return BuggySquare::apply(x[1], int64_t{4}) + x[0].sum(); }, {other, a});
    FAIL() << "gradcheck accepted a wrong gradient";
  } catch (const dg::GradcheckError& e) {
    std::string m = e.what();
    for (const char* part : {"input 1", "shape [2, 3]", "at element [1, 1]", "output element [1, 1]", "analytic 1,"})
      EXPECT_NE(m.find(part), std::string::npos) << "\"" << part << "\" not in: " << m;
    std::smatch num, rel;
    ASSERT_TRUE(std::regex_search(m, num, std::regex("numeric ([-0-9.e+]+)"))) << m;
    ASSERT_TRUE(std::regex_search(m, rel, std::regex("relative error ([-0-9.e+]+)"))) << m;
    EXPECT_NEAR(std::stod(num[1]), 2.0, 1e-6);
    EXPECT_NEAR(std::stod(rel[1]), 0.5, 1e-6);
  }
}

TEST(Gradcheck, RaiseFalseReturnsFalseWithTheMessage) {
  Tensor a = input({0.5, -1.5, 2.0}, {3});
  std::string message;
  bool ok = dg::gradcheck([](const TensorList& x) { return BuggySquare::apply(x[0], int64_t{0}); }, {a}, 1e-6, 1e-5,
                          1e-3, /*raise=*/false, &message);
  EXPECT_FALSE(ok);
  EXPECT_NE(message.find("element [0]"), std::string::npos) << message;
}

TEST(Gradcheck, MaxElementsPerInputSamplesEvenly) {
  // Only element 5 is wrong; checking 1 element of 10 (element 0) misses it, checking all finds it.
  Tensor a = dg::arange(1, 11, 1, dg::kFloat64).detach().requires_grad_();
  auto fn = [](const TensorList& x) { return BuggySquare::apply(x[0], int64_t{5}); };
  dg::GradcheckOptions sampled;
  sampled.max_elements_per_input = 1;
  EXPECT_TRUE(dg::gradcheck(fn, {a}, sampled));
  EXPECT_THROW(dg::gradcheck(fn, {a}, dg::GradcheckOptions{}), dg::GradcheckError);
}

TEST(Gradcheck, RefusesInputsItCannotCheck) {
  Tensor f32 = dg::ones({2}, dg::TensorOptions().dtype(dg::kFloat32).requires_grad(true));
  EXPECT_THROW(dg::gradcheck([](const TensorList& x) { return x[0] * 2.0; }, {f32}), dg::DTypeError);
  Tensor no_grad = dg::ones({2}, dg::kFloat64);
  EXPECT_THROW(dg::gradcheck([](const TensorList& x) { return x[0] * 2.0; }, {no_grad}), dg::AutogradError);
  Tensor leaf = dg::ones({2}, dg::kFloat64).requires_grad_();
  Tensor non_leaf = leaf * 2.0;
  EXPECT_THROW(dg::gradcheck([](const TensorList& x) { return x[0] * 2.0; }, {non_leaf}), dg::AutogradError);
  // An output that does not depend on the checked inputs.
  EXPECT_THROW(dg::gradcheck([](const TensorList&) { return dg::ones({2}, dg::kFloat64); }, {leaf}), dg::AutogradError);
}

TEST(Gradcheck, InputsThatDoNotRequireGradAreConstants) {
  Tensor a = input({0.5, 1.5}, {2});
  Tensor c = dg::tensor({3.0, -2.0}, dg::kFloat64);  // not checked
  EXPECT_TRUE(dg::gradcheck([](const TensorList& x) { return x[0] * x[1]; }, {a, c}));
  EXPECT_FALSE(c.grad().defined());
}
