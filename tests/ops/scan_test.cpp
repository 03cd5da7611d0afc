// cumsum (src/ops/scan.cpp) beyond the PyTorch fixtures: float32 accumulated in
// double over long rows, rows and columns split among threads against one
// thread, dtypes, 0-d and empty inputs, the backward, the errors.
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include <dimgrad/dimgrad.hpp>

#include "tensor_values.hpp"

using dg::Tensor;

namespace {

using dg_test::values;

TEST(Cumsum, LongFloat32RowsAccumulateInDouble) {
  // 1M values of 0.1f: a float accumulator would drift by ~1% by the end.
  const int64_t n = 1 << 20;
  std::vector<double> y = values(dg::full({n}, 0.1, dg::kFloat32).cumsum(0));
  const double step = static_cast<double>(0.1f);
  for (int64_t i : {int64_t(0), int64_t(999), n - 1})
    EXPECT_NEAR(y[static_cast<size_t>(i)], step * static_cast<double>(i + 1), 1e-7 * step * static_cast<double>(i + 1))
        << i;
}

TEST(Cumsum, ThreadsGiveTheSameResult) {
  Tensor x = dg::randn({64, 700, 3}, dg::kFloat32);
  const int saved = dg::get_num_threads();
  for (int64_t d : {0, 1, 2}) {
    dg::set_num_threads(1);
    Tensor one = x.cumsum(d);
    dg::set_num_threads(2);
    Tensor two = x.cumsum(d);
    EXPECT_TRUE(dg::equal(one, two)) << "dim " << d;
    // Against the definition, one position.
    const int64_t k = x.size(d) - 2;
    EXPECT_NEAR(values(one.select(d, k).flatten())[0], values(x.narrow(d, 0, k + 1).sum({d}).flatten())[0], 1e-3);
  }
  dg::set_num_threads(saved);
}

TEST(Cumsum, DtypesShapesBackwardAndErrors) {
  EXPECT_EQ(values(dg::tensor(std::vector<bool>{true, true, false, true}).cumsum(0)), (std::vector<double>{1, 2, 2, 3}));
  EXPECT_EQ(dg::tensor(std::vector<bool>{true}).cumsum(0).dtype(), dg::kInt64);
  EXPECT_EQ(dg::scalar_tensor(2.5).cumsum(0).item<double>(), 2.5);
  EXPECT_EQ(dg::zeros({0, 3}).cumsum(0).sizes(), dg::IntArrayRef({0, 3}));
  // The backward is the cumsum from the other end: dA_j = Σ_{i ≥ j} dY_i.
  Tensor x = dg::tensor({1.0, 2.0, 3.0}, dg::kFloat64).requires_grad_(true);
  x.cumsum(0).backward(dg::tensor({1.0, 10.0, 100.0}, dg::kFloat64));
  EXPECT_EQ(values(x.grad()), (std::vector<double>{111, 110, 100}));
  EXPECT_THROW(dg::zeros({2, 3}).cumsum(2), dg::IndexError);
}

}  // namespace
