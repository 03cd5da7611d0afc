#include <gtest/gtest.h>

#include <dimgrad/dimgrad.hpp>

TEST(Smoke, AddBackward) {
  auto a = dg::tensor({1.0, 2.0, 3.0}, dg::kFloat64).requires_grad_();
  auto b = dg::tensor({4.0, 5.0, 6.0}, dg::kFloat64).requires_grad_();
  auto y = (a * b + a).sum();
  y.backward();
  EXPECT_DOUBLE_EQ(a.grad().data_ptr<double>()[0], 5.0);
  EXPECT_DOUBLE_EQ(b.grad().data_ptr<double>()[2], 3.0);
}
