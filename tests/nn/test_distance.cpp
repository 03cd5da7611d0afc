// cosine_similarity, pairwise_distance, normalize and the CosineSimilarity /
// PairwiseDistance modules (src/nn/distance.cpp, src/nn/normalization.cpp)
// beyond the PyTorch fixtures (tests/fixtures/nn/layers.json): float64
// gradchecks of the compositions, the clamps at eps, broadcasting, modules and
// errors.
#include <gtest/gtest.h>

#include <cmath>
#include <sstream>
#include <string>

#include "dimgrad/nn.hpp"
#include "ops/gradcheck_registry.hpp"

using dg::Tensor;
using dg::TensorList;
using dg::test::leaf;
namespace F = dg::nn::functional;

#define IN(...) [] { return TensorList{__VA_ARGS__}; }
#define FN(...) [](const TensorList& x) -> Tensor { return __VA_ARGS__; }

// Compositions of core ops: each case names a row of its graph (cosine_similarity
// divides by the square roots of sums; the others go through dg::norm).
DG_GRADCHECK_CASE(cosine_similarity_rows, "div", IN(leaf({4, 5}, 3001), leaf({4, 5}, 3002)),
                  FN(F::cosine_similarity(x[0], x[1])));
DG_GRADCHECK_CASE(cosine_similarity_broadcast_dim0, "div", IN(leaf({3, 1, 4}, 3003), leaf({3, 2, 1}, 3004)),
                  FN(F::cosine_similarity(x[0], x[1], F::CosineSimilarityFuncOptions().dim(0))));
DG_GRADCHECK_CASE(pairwise_distance_p2, "norm", IN(leaf({3, 4}, 3005), leaf({3, 4}, 3006)),
                  FN(F::pairwise_distance(x[0], x[1])));
DG_GRADCHECK_CASE(pairwise_distance_p1_keepdim_broadcast, "norm", IN(leaf({2, 3}, 3007), leaf({3}, 3008)),
                  FN(F::pairwise_distance(x[0], x[1], F::PairwiseDistanceFuncOptions().p(1.5).keepdim(true))));
DG_GRADCHECK_CASE(normalize_rows, "norm", IN(leaf({3, 4}, 3009)), FN(F::normalize(x[0])));
DG_GRADCHECK_CASE(normalize_p3_dim0, "norm", IN(leaf({4, 2, 3}, 3010)),
                  FN(F::normalize(x[0], F::NormalizeFuncOptions().p(3).dim(0))));

namespace {

double at(const Tensor& t, int64_t i) { return t.reshape({-1}).to(dg::kFloat64)[i].item<double>(); }

TEST(Distance, CosineSimilarityValuesShapesAndClamp) {
  Tensor a = dg::tensor({3.0, 4.0, 1.0, 0.0}, dg::kFloat64).reshape({2, 2});
  Tensor b = dg::tensor({4.0, 3.0, -2.0, 0.0}, dg::kFloat64).reshape({2, 2});
  Tensor c = F::cosine_similarity(a, b);
  ASSERT_EQ(c.sizes(), dg::IntArrayRef({2}));
  EXPECT_NEAR(at(c, 0), 24.0 / 25.0, 1e-15);
  EXPECT_NEAR(at(c, 1), -1.0, 1e-15);
  // Broadcasting [3, 1, 4] against [2, 4] gives [3, 2] along the last dim.
  EXPECT_EQ(F::cosine_similarity(dg::randn({3, 1, 4}), dg::randn({2, 4}), F::CosineSimilarityFuncOptions().dim(-1))
                .sizes(),
            dg::IntArrayRef({3, 2}));
  // A zero vector: its norm raised to eps, the cosine 0 (not 0/0); an infinite one: 0 too.
  EXPECT_EQ(at(F::cosine_similarity(dg::zeros({1, 3}), dg::ones({1, 3})), 0), 0.0);
  EXPECT_EQ(at(F::cosine_similarity(dg::tensor({1e30, 0.0}).reshape({1, 2}), dg::ones({1, 2})), 0), 0.0);
  // |cos| stays ≤ 1 for parallel vectors of very different magnitude.
  Tensor big = dg::tensor({1e30, 2e30, 3e30}, dg::kFloat64).reshape({1, 3});
  EXPECT_LE(std::abs(at(F::cosine_similarity(big, big * 1e-40), 0)), 1.0 + 1e-6);
  // The clamp is in value only: below eps the gradient still flows through the
  // squared norm (PyTorch 1.13 clamps it in place under no_grad): finite.
  Tensor x1 = (dg::tensor({1.0, 2.0, 2.0}, dg::kFloat64) * 1e-12).reshape({1, 3}).requires_grad_(true);
  Tensor x2 = dg::tensor({2.0, 4.0, 4.0}, dg::kFloat64).reshape({1, 3});
  F::cosine_similarity(x1, x2).sum().backward();
  Tensor g = x1.grad();
  for (int64_t i = 0; i < 3; ++i) EXPECT_TRUE(std::isfinite(at(g, i))) << i;
  // Value: x1/eps · x2/‖x2‖ summed = ‖x1‖/eps = 3e-12/1e-8 = 3e-4.
  EXPECT_NEAR(at(F::cosine_similarity(x1.detach(), x2), 0), 3e-4, 1e-12);
}

TEST(Distance, PairwiseDistanceAddsEpsAndReducesTheLastDim) {
  Tensor a = dg::tensor({1.0, 2.0, 3.0, 4.0}, dg::kFloat64).reshape({2, 2});
  Tensor b = dg::tensor({1.0, 0.0, 0.0, 0.0}, dg::kFloat64).reshape({2, 2});
  Tensor d = F::pairwise_distance(a, b);
  ASSERT_EQ(d.sizes(), dg::IntArrayRef({2}));
  EXPECT_NEAR(at(d, 0), std::hypot(1e-6, 2 + 1e-6), 1e-15);
  EXPECT_NEAR(at(d, 1), std::hypot(3 + 1e-6, 4 + 1e-6), 1e-14);
  // Identical inputs: the eps keeps the distance (and its gradient) away from 0/0.
  EXPECT_NEAR(at(F::pairwise_distance(a, a), 0), std::sqrt(2.0) * 1e-6, 1e-20);
  EXPECT_EQ(F::pairwise_distance(a, b, F::PairwiseDistanceFuncOptions().keepdim(true)).sizes(),
            dg::IntArrayRef({2, 1}));
  EXPECT_NEAR(at(F::pairwise_distance(a, b, F::PairwiseDistanceFuncOptions().p(1).eps(0)), 1), 7.0, 1e-15);
  // 1-d inputs give a 0-d distance; [3, 4] against [4] broadcasts.
  EXPECT_EQ(F::pairwise_distance(dg::randn({4}), dg::randn({4})).dim(), 0);
  EXPECT_EQ(F::pairwise_distance(dg::randn({3, 4}), dg::randn({4})).sizes(), dg::IntArrayRef({3}));
}

TEST(Distance, NormalizeScalesToUnitNormAndZeroVectorsStayZero) {
  Tensor x = dg::tensor({3.0, 4.0, 0.0, 0.0}, dg::kFloat64).reshape({2, 2}).requires_grad_(true);
  Tensor y = F::normalize(x);
  EXPECT_NEAR(at(y, 0), 0.6, 1e-15);
  EXPECT_NEAR(at(y, 1), 0.8, 1e-15);
  EXPECT_EQ(at(y, 2), 0.0);
  // The zero row's norm is clamped (an op): its gradient is 1/eps times dY, finite.
  y.sum().backward();
  EXPECT_NEAR(at(x.grad(), 2), 1e12, 1.0);
  // p = 1 along dim 0.
  Tensor z = F::normalize(dg::tensor({1.0, 3.0, -2.0, 2.0}, dg::kFloat64).reshape({2, 2}),
                          F::NormalizeFuncOptions().p(1).dim(0));
  EXPECT_NEAR(at(z, 0), 1.0 / 3.0, 1e-15);
  EXPECT_NEAR(at(z, 2), -2.0 / 3.0, 1e-15);
}

TEST(Distance, ModulesPrintAndForward) {
  dg::nn::CosineSimilarity cos(dg::nn::CosineSimilarityOptions().dim(0).eps(1e-6));
  dg::nn::PairwiseDistance dist;
  std::ostringstream s1, s2;
  s1 << *cos;
  s2 << *dist;
  EXPECT_EQ(s1.str(), "CosineSimilarity(dim=0, eps=1e-06)");
  EXPECT_EQ(s2.str(), "PairwiseDistance(p=2, eps=1e-06, keepdim=false)");
  Tensor a = dg::randn({4, 3}), b = dg::randn({4, 3});
  EXPECT_TRUE(dg::allclose(cos(a, b), F::cosine_similarity(a, b, F::CosineSimilarityFuncOptions().dim(0).eps(1e-6))));
  EXPECT_TRUE(dg::allclose(dist(a, b), F::pairwise_distance(a, b)));
  EXPECT_TRUE(cos->parameters().empty());
}

TEST(Distance, ErrorsNameTheFunctionAndShapes) {
  auto message = [](auto f) {
    try {
      f();
    } catch (const dg::Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message([] { F::cosine_similarity(dg::zeros({3, 4}), dg::zeros({3, 5})); })
                .find("cosine_similarity: shapes [3, 4] and [3, 5] cannot be broadcast"),
            std::string::npos);
  EXPECT_NE(message([] { F::pairwise_distance(dg::zeros({3, 4}), dg::zeros({2, 4})); }).find("pairwise_distance"),
            std::string::npos);
  EXPECT_NE(message([] { F::cosine_similarity(dg::zeros({3}), dg::zeros({3})); }).find("cosine_similarity: dimension 1"),
            std::string::npos);
  EXPECT_NE(message([] {
              F::cosine_similarity(dg::zeros({3}, dg::kInt64), dg::zeros({3}, dg::kInt64),
                                   F::CosineSimilarityFuncOptions().dim(0));
            }).find("cosine_similarity: expected a floating-point common dtype, got int64 and int64"),
            std::string::npos);
  EXPECT_NE(message([] { F::normalize(dg::zeros({3})); }).find("normalize: dimension 1"), std::string::npos);
  EXPECT_THROW(F::normalize(dg::zeros({3}, dg::kInt64), F::NormalizeFuncOptions().dim(0)), dg::DTypeError);
}

}  // namespace
