// The elementwise loops and reductions give the same bits on every instruction
// set the CPU has (AVX-512, AVX2, baseline — chosen at run time, forced here
// with set_isa), on every path: the contiguous fast path, the planned strided
// path, broadcasting, scalar operands, in-place updates, one and two threads.
// The values themselves are checked against plain scalar loops.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <functional>
#include <vector>

#include "dimgrad/autograd.hpp"
#include "dimgrad/ops.hpp"
#include "dimgrad/tensor.hpp"
#include "kernels/simd.hpp"

namespace dg {
namespace {

using kernels::Isa;

std::vector<Isa> isas() {
  std::vector<Isa> out;
  for (Isa i : {Isa::Generic, Isa::Avx2, Isa::Avx512})
    if (static_cast<int>(i) <= static_cast<int>(kernels::cpu_isa())) out.push_back(i);
  return out;
}

// Restores the ISA and thread count a test changed.
struct IsaScope {
  Isa saved = kernels::active_isa();
  int threads = get_num_threads();
  ~IsaScope() {
    kernels::set_isa(saved);
    set_num_threads(threads);
  }
};

std::vector<float> values(const Tensor& t) {
  Tensor c = t.contiguous();
  if (c.dtype() == kBool) {
    std::vector<float> v;
    for (int64_t i = 0; i < c.numel(); ++i) v.push_back(c.data_ptr<bool>()[i] ? 1.f : 0.f);
    return v;
  }
  if (c.dtype() == kLong) {
    std::vector<float> v;
    for (int64_t i = 0; i < c.numel(); ++i) v.push_back(static_cast<float>(c.data_ptr<int64_t>()[i]));
    return v;
  }
  Tensor f = c.to(kFloat);
  return {f.data_ptr<float>(), f.data_ptr<float>() + f.numel()};
}

void expect_same_bits(const std::vector<float>& a, const std::vector<float>& b, const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  for (size_t i = 0; i < a.size(); ++i)
    ASSERT_EQ(std::memcmp(&a[i], &b[i], sizeof(float)), 0) << what << " differs at " << i << ": " << a[i] << " vs " << b[i];
}

// Runs every case under each ISA and thread count, and compares with the baseline ISA on one thread.
void check_everywhere(const std::string& name, const std::function<Tensor()>& fn) {
  IsaScope scope;
  kernels::set_isa(Isa::Generic);
  set_num_threads(1);
  const std::vector<float> ref = values(fn());
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    for (Isa isa : isas()) {
      kernels::set_isa(isa);
      expect_same_bits(values(fn()), ref, name + " on " + kernels::isa_name(isa) + ", " + std::to_string(threads) + " thread(s)");
    }
  }
}

TEST(SimdLoops, ElementwiseSameBitsOnEveryIsaAndThreadCount) {
  NoGradGuard no_grad;
  manual_seed(7);
  // Lengths around the vector widths and above the parallel grain (32768).
  for (int64_t n : {1, 7, 16, 17, 100, 40001}) {
    Tensor a = randn({n}), b = rand({n}) + 0.5;
    const std::string s = " n=" + std::to_string(n);
    check_everywhere("add" + s, [&] { return a + b; });
    check_everywhere("sub alpha" + s, [&] { return a.sub(b, 0.3); });
    check_everywhere("mul" + s, [&] { return a * b; });
    check_everywhere("div" + s, [&] { return a / b; });
    check_everywhere("add scalar" + s, [&] { return a + 0.1; });
    check_everywhere("relu" + s, [&] { return relu(a); });
    check_everywhere("exp" + s, [&] { return exp(a); });
    check_everywhere("sigmoid" + s, [&] { return sigmoid(a); });
    check_everywhere("gt" + s, [&] { return a > b; });
    check_everywhere("where" + s, [&] { return where(a > 0, a, b); });
    check_everywhere("add_ in place" + s, [&] {
      Tensor c = a.clone();
      c.add_(b, 2.0);
      return c;
    });
  }
}

TEST(SimdLoops, StridedAndBroadcastPathsSameBitsOnEveryIsa) {
  NoGradGuard no_grad;
  manual_seed(8);
  Tensor m = randn({37, 300}), row = randn({300}), col = randn({37, 1}), t = randn({300, 37});
  check_everywhere("row broadcast", [&] { return m + row; });
  check_everywhere("column broadcast", [&] { return m * col; });
  check_everywhere("scalar tensor", [&] { return m - randn({}).fill_(0.25); });
  check_everywhere("transposed operand", [&] { return m + t.t(); });
  check_everywhere("transposed unary", [&] { return relu(t.t()); });
  check_everywhere("narrowed", [&] { return m.narrow(1, 3, 250) * 3.0; });
}

TEST(SimdLoops, ReductionsSameBitsOnEveryIsa) {
  NoGradGuard no_grad;
  manual_seed(9);
  Tensor a = randn({128, 513}), big = randn({1 << 20}), c = randn({4, 37, 300});
  check_everywhere("sum over rows (bias gradient)", [&] { return a.sum({0}); });
  check_everywhere("sum over columns", [&] { return a.sum({1}); });
  check_everywhere("sum all", [&] { return a.sum(); });
  check_everywhere("middle dim", [&] { return c.sum({1}); });
  check_everywhere("int64 rows", [&] { return (a > 0).to(kLong).sum({1}); });
  // The full sum of a long vector splits among threads; per thread count it is
  // the same on every ISA (checked against 1 thread within rounding below).
  IsaScope scope;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    kernels::set_isa(Isa::Generic);
    const std::vector<float> ref = values(big.sum());
    for (Isa isa : isas()) {
      kernels::set_isa(isa);
      expect_same_bits(values(big.sum()), ref, std::string("sum of 1M on ") + kernels::isa_name(isa));
    }
  }
}

TEST(SimdLoops, ValuesMatchScalarLoops) {
  NoGradGuard no_grad;
  manual_seed(10);
  const int64_t n = 40003;
  Tensor a = randn({n}), b = rand({n}) + 0.5;
  const float* x = a.data_ptr<float>();
  const float* y = b.data_ptr<float>();
  std::vector<float> add = values(a + b), mul = values(a * b), rl = values(relu(a)), sb = values(a.sub(b, 0.3));
  for (int64_t i = 0; i < n; ++i) {
    ASSERT_EQ(add[i], x[i] + y[i]);
    ASSERT_EQ(mul[i], x[i] * y[i]);
    ASSERT_EQ(rl[i], x[i] > 0 ? x[i] : 0.f);
    ASSERT_EQ(sb[i], x[i] - static_cast<float>(0.3 * y[i]));
  }
  // Sums against a float64 reference.
  Tensor m = randn({128, 513});
  const float* p = m.data_ptr<float>();
  std::vector<float> cols = values(m.sum({0})), rows = values(m.sum({1}));
  for (int64_t j = 0; j < 513; ++j) {
    double s = 0;
    for (int64_t i = 0; i < 128; ++i) s += p[i * 513 + j];
    EXPECT_NEAR(cols[j], s, 1e-4) << "column " << j;
  }
  for (int64_t i = 0; i < 128; ++i) {
    double s = 0;
    for (int64_t j = 0; j < 513; ++j) s += p[i * 513 + j];
    EXPECT_NEAR(rows[i], s, 1e-4) << "row " << i;
  }
  Tensor big = rand({1 << 20});
  double s = 0;
  for (int64_t i = 0; i < big.numel(); ++i) s += big.data_ptr<float>()[i];
  IsaScope scope;
  for (int threads : {1, 2}) {
    set_num_threads(threads);
    EXPECT_NEAR(big.sum().item<double>(), s, 1e-6 * s) << threads << " thread(s)";
  }
}

TEST(SimdLoops, SetIsaIsClampedToTheCpu) {
  IsaScope scope;
  EXPECT_EQ(kernels::set_isa(Isa::Generic), Isa::Generic);
  EXPECT_LE(static_cast<int>(kernels::set_isa(Isa::Avx512)), static_cast<int>(kernels::cpu_isa()));
  EXPECT_EQ(kernels::active_isa(), kernels::cpu_isa());
}

}  // namespace
}  // namespace dg
