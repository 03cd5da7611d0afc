// The seeded generator: same seed → same numbers for every random factory;
// the distributions have the right mean, spread and range.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <dimgrad/dimgrad.hpp>

#include "tensor_values.hpp"

using dg::Tensor;

namespace {
using dg_test::values;
double avg(const Tensor& t) { return t.to(dg::kFloat64).mean().item<double>(); }
double stddev(const Tensor& t) { return t.to(dg::kFloat64).std().item<double>(); }
}  // namespace

TEST(Random, SameSeedSameNumbers) {
  auto draw = [] {
    std::vector<std::vector<double>> v;
    v.push_back(values(dg::randn({7})));
    v.push_back(values(dg::rand({2, 3}, dg::kFloat64)));
    v.push_back(values(dg::randint(-5, 5, {9})));
    v.push_back(values(dg::randperm(8)));
    v.push_back(values(dg::randn({3}, dg::kFloat64)));
    return v;
  };
  dg::manual_seed(42);
  auto a = draw();
  dg::manual_seed(42);
  auto b = draw();
  EXPECT_EQ(a, b);
  dg::manual_seed(43);
  auto c = draw();
  EXPECT_NE(a[0], c[0]);
  EXPECT_NE(a[1], c[1]);
}

TEST(Random, GeneratorStateRoundTrip) {
  dg::manual_seed(7);
  dg::randn({3});  // leave a Box–Muller spare behind
  std::string state = dg::default_generator().get_state();
  auto first = values(dg::randn({5}));
  dg::default_generator().set_state(state);
  EXPECT_EQ(values(dg::randn({5})), first);
  EXPECT_THROW(dg::default_generator().set_state("not a state"), dg::Error);
}

TEST(Random, NormalMeanAndStd) {
  dg::manual_seed(1);
  Tensor x = dg::randn({200000});
  EXPECT_NEAR(avg(x), 0.0, 0.01);
  EXPECT_NEAR(stddev(x), 1.0, 0.01);
  // About 68.3% within one standard deviation.
  double within = x.abs().lt(1.0).to(dg::kFloat64).mean().item<double>();
  EXPECT_NEAR(within, 0.6827, 0.005);
  Tensor y = dg::empty({100000}, dg::kFloat64);
  y.normal_(3.0, 0.5);
  EXPECT_NEAR(avg(y), 3.0, 0.01);
  EXPECT_NEAR(stddev(y), 0.5, 0.01);
}

TEST(Random, UniformRangeMeanAndVariance) {
  dg::manual_seed(2);
  Tensor u = dg::rand({200000}, dg::kFloat64);
  EXPECT_GE(u.min().item<double>(), 0.0);
  EXPECT_LT(u.max().item<double>(), 1.0);
  EXPECT_NEAR(avg(u), 0.5, 0.005);
  EXPECT_NEAR(stddev(u), std::sqrt(1.0 / 12.0), 0.005);
  Tensor w = dg::empty({100000});
  w.uniform_(-2.0, 4.0);
  EXPECT_GE(w.min().item<float>(), -2.0f);
  EXPECT_LT(w.max().item<float>(), 4.0f);
  EXPECT_NEAR(avg(w), 1.0, 0.03);
}

TEST(Random, RandintCoversItsRangeEvenly) {
  dg::manual_seed(3);
  Tensor r = dg::randint(-3, 4, {70000});
  EXPECT_EQ(r.min().item<int64_t>(), -3);
  EXPECT_EQ(r.max().item<int64_t>(), 3);
  for (int64_t k = -3; k <= 3; ++k) {
    double share = r.eq(k).to(dg::kFloat64).mean().item<double>();
    EXPECT_NEAR(share, 1.0 / 7.0, 0.01) << "value " << k;
  }
  EXPECT_THROW(dg::randint(5, 5, {2}), dg::Error);
  EXPECT_EQ(dg::randint(10, {4}).max().item<int64_t>() < 10, true);
}

TEST(Random, RandpermIsAPermutation) {
  dg::manual_seed(4);
  auto p = values(dg::randperm(50));
  std::vector<double> sorted = p;
  std::sort(sorted.begin(), sorted.end());
  for (int i = 0; i < 50; ++i) EXPECT_EQ(sorted[static_cast<size_t>(i)], i);
  EXPECT_NE(p, sorted);  // shuffled (the identity has probability 1/50!)
}

TEST(Random, Bernoulli) {
  dg::manual_seed(5);
  Tensor b = dg::empty({100000});
  b.bernoulli_(0.3);
  EXPECT_NEAR(avg(b), 0.3, 0.01);
  EXPECT_TRUE(b.eq(0).to(dg::kInt64).add(b.eq(1).to(dg::kInt64)).eq(1).all().item<bool>());
}

TEST(Random, FillsNonContiguousViewsInElementOrder) {
  dg::manual_seed(6);
  Tensor a = dg::zeros({3, 4});
  Tensor t = a.t();
  t.uniform_(1.0, 2.0);
  EXPECT_GE(a.min().item<float>(), 1.0f);
  dg::manual_seed(6);
  Tensor ref = dg::rand({4, 3}) + 1.0;
  EXPECT_TRUE(t.allclose(ref, 1e-6, 1e-6));
}

// The block draws are the per-element calls in one loop: the same numbers, the
// normals' spare carried across (odd counts, and a block after a single draw).
TEST(Random, BlockDrawsEqualOneCallPerElement) {
  for (int64_t n : {0, 1, 2, 7, 1024, 1025}) {
    dg::Generator a(42), b(42);
    std::vector<double> block(static_cast<size_t>(n));
    a.next_uniforms(block.data(), n);
    for (int64_t i = 0; i < n; ++i) ASSERT_EQ(block[static_cast<size_t>(i)], b.next_uniform()) << "uniform " << i;
    for (bool single_first : {false, true}) {
      dg::Generator c(7), d(7);
      if (single_first) {
        ASSERT_EQ(c.next_normal(), d.next_normal());  // leaves a spare
      }
      c.next_normals(block.data(), n);
      for (int64_t i = 0; i < n; ++i) ASSERT_EQ(block[static_cast<size_t>(i)], d.next_normal()) << "normal " << i;
      ASSERT_EQ(c.next_normal(), d.next_normal()) << "the spare after " << n;
    }
  }
}

// Dropout's mask: the same seed gives the same mask as the generator's uniforms
// compared one by one (the stream every earlier version drew).
TEST(Random, DropoutMaskFollowsTheUniformStream) {
  dg::manual_seed(5);
  Tensor y = dg::nn::functional::dropout(dg::ones({3000}), dg::nn::functional::DropoutFuncOptions().p(0.3).training(true));
  dg::Generator g(5);
  std::vector<double> got = values(y);
  for (size_t i = 0; i < got.size(); ++i) {
    const float expected = g.next_uniform() < 0.7 ? static_cast<float>(1.0 / 0.7) : 0.0f;
    ASSERT_EQ(static_cast<float>(got[i]), expected) << "element " << i;
  }
}
