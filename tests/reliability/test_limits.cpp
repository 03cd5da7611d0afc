// Limits: zero-sized dimensions through every op, gigantic allocations, shape overflow.
#include <gtest/gtest.h>

#include <dimgrad/dimgrad.hpp>

namespace {
dg::Tensor empty_batch(int64_t cols) { return dg::randn({0, cols}, dg::kFloat64).requires_grad_(); }
}  // namespace

// An empty batch flows through forward and backward: shapes stay right, nothing crashes.
TEST(EmptyTensors, ElementwiseAndBroadcastOps) {
  auto x = empty_batch(3);
  auto b = dg::randn({3}, dg::kFloat64).requires_grad_();
  auto y = dg::relu(x * b + b) - dg::exp(x) / (dg::sigmoid(x) + 1.0);
  EXPECT_EQ(y.sizes(), (std::vector<int64_t>{0, 3}));
  y.sum().backward();
  EXPECT_EQ(x.grad().sizes(), (std::vector<int64_t>{0, 3}));
  ASSERT_TRUE(b.grad().defined());
  EXPECT_EQ(b.grad().sizes(), (std::vector<int64_t>{3}));
  EXPECT_EQ(b.grad().abs().sum().item<double>(), 0.0);  // no rows, no gradient
}

TEST(EmptyTensors, MatmulReductionsSoftmaxAndShapes) {
  auto x = empty_batch(4);
  auto w = dg::randn({4, 2}, dg::kFloat64).requires_grad_();
  auto s = x.mm(w);
  EXPECT_EQ(s.sizes(), (std::vector<int64_t>{0, 2}));
  auto p = dg::softmax(s, 1);
  auto l = dg::log_softmax(s, 1);
  EXPECT_EQ(p.numel(), 0);
  (p.sum() + l.sum() + s.sum({0}).sum()).backward();
  EXPECT_EQ(w.grad().abs().sum().item<double>(), 0.0);
  // K = 0: [3×0]·[0×2] is a [3×2] matrix of zeros.
  auto z = dg::mm(dg::randn({3, 0}), dg::randn({0, 2}));
  EXPECT_EQ(z.sizes(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(z.abs().sum().item<float>(), 0.0f);
  EXPECT_EQ(x.reshape({-1, 2}).sizes(), (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(dg::cat({x, dg::randn({2, 4}, dg::kFloat64)}, 0).size(0), 2);
  EXPECT_EQ(x.index_select(0, dg::tensor(std::vector<int64_t>{})).numel(), 0);
  EXPECT_TRUE(std::isnan(x.mean().item<double>()));  // mean of nothing, as LibTorch
  EXPECT_EQ(x.sum().item<double>(), 0.0);
}

TEST(EmptyTensors, MaxOfNothingFailsClearly) {
  auto x = dg::randn({0, 3});
  try {
    x.max();
    FAIL();
  } catch (const dg::ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("empty"), std::string::npos) << e.what();
  }
  EXPECT_THROW(x.max(0), dg::ShapeError);
  EXPECT_EQ(std::get<0>(x.max(1)).numel(), 0);  // reducing a non-empty dim of an empty tensor is fine
}

TEST(Limits, GiganticAllocationIsAClearError) {
  try {
    auto t = dg::empty({int64_t(1) << 20, int64_t(1) << 20});  // 4 TiB of float32
    FAIL() << "allocated " << t.numel() << " elements";
  } catch (const dg::Error& e) {
    std::string m = e.what();
    EXPECT_NE(m.find("cannot allocate"), std::string::npos) << m;
    EXPECT_NE(m.find("MiB"), std::string::npos) << m;
  }
}

TEST(Limits, ShapeProductOverflowIsDetected) {
  const int64_t big = int64_t(1) << 40;
  try {
    dg::zeros({big, big, big});
    FAIL();
  } catch (const dg::ShapeError& e) {
    EXPECT_NE(std::string(e.what()).find("int64"), std::string::npos) << e.what();
  }
  EXPECT_THROW(dg::checked_numel({big, big}), dg::ShapeError);
  EXPECT_THROW(dg::zeros({-1, 3}), dg::ShapeError);
}
