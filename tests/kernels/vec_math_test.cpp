// The vectorizable float32 exp/log/tanh/sigmoid of src/kernels/vec_math.hpp:
// error in ulps against the float64 functions over a sweep of float32 inputs,
// special values, and the same bits whether a loop runs them as AVX-512, AVX2 or
// baseline code.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "kernels/simd.hpp"
#include "kernels/vec_math.hpp"

namespace dg::kernels {
namespace {

float from_bits(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// Distance in representable floats between a and the exact value `ref` (a double).
double ulp_error(float a, double ref) {
  if (std::isnan(ref)) return std::isnan(a) ? 0 : 1e9;
  if (std::isinf(ref)) return a == static_cast<float>(ref) ? 0 : 1e9;
  // The ulp of the float nearest to ref (subnormals: the smallest subnormal step).
  const float r = static_cast<float>(ref);
  if (std::isinf(r)) return std::isinf(a) && std::signbit(a) == std::signbit(r) ? 0 : 1e9;
  const double ulp = std::max(std::nextafter(std::fabs(r), INFINITY) - std::fabs(r), std::numeric_limits<float>::denorm_min());
  return std::fabs(static_cast<double>(a) - ref) / static_cast<double>(ulp);
}

// Every 509th float32 bit pattern (both signs, all exponents): about 8.4M inputs.
std::vector<float> sweep() {
  std::vector<float> xs;
  for (uint64_t u = 0; u <= 0xffffffffULL; u += 509) xs.push_back(from_bits(static_cast<uint32_t>(u)));
  return xs;
}

template <class Fast, class Ref> double max_ulp(const std::vector<float>& xs, Fast fast, Ref ref, float* worst_x) {
  double worst = 0;
  for (float x : xs) {
    if (std::isnan(x)) continue;
    double e = ulp_error(fast(x), ref(static_cast<double>(x)));
    if (e > worst) {
      worst = e;
      *worst_x = x;
    }
  }
  return worst;
}

const std::vector<float>& inputs() {
  static const std::vector<float> xs = sweep();
  return xs;
}

TEST(VecMath, ExpWithinOneUlp) {
  float wx = 0;
  double e = max_ulp(inputs(), [](float x) { return fast_exp(x); }, [](double x) { return std::exp(x); }, &wx);
  EXPECT_LE(e, 1.0) << "worst at x = " << wx;
}

TEST(VecMath, LogWithinOneUlp) {
  float wx = 0;
  double e = max_ulp(inputs(), [](float x) { return fast_log(x); }, [](double x) { return std::log(x); }, &wx);
  EXPECT_LE(e, 1.0) << "worst at x = " << wx;
}

TEST(VecMath, TanhWithinOneAndAHalfUlp) {
  float wx = 0;
  double e = max_ulp(inputs(), [](float x) { return fast_tanh(x); }, [](double x) { return std::tanh(x); }, &wx);
  EXPECT_LE(e, 1.5) << "worst at x = " << wx;
}

TEST(VecMath, SigmoidWithinThreeUlp) {
  float wx = 0;
  double e = max_ulp(inputs(), [](float x) { return fast_sigmoid(x); },
                     [](double x) { return 1.0 / (1.0 + std::exp(-x)); }, &wx);
  EXPECT_LE(e, 3.0) << "worst at x = " << wx;
}

TEST(VecMath, SpecialValues) {
  const float inf = INFINITY, nan = NAN;
  EXPECT_EQ(fast_exp(0.f), 1.f);
  EXPECT_EQ(fast_exp(inf), inf);
  EXPECT_EQ(fast_exp(-inf), 0.f);
  EXPECT_EQ(fast_exp(100.f), inf);
  EXPECT_EQ(fast_exp(-200.f), 0.f);
  EXPECT_TRUE(std::isnan(fast_exp(nan)));
  EXPECT_EQ(fast_log(1.f), 0.f);
  EXPECT_EQ(fast_log(0.f), -inf);
  EXPECT_EQ(fast_log(-0.f), -inf);
  EXPECT_EQ(fast_log(inf), inf);
  EXPECT_TRUE(std::isnan(fast_log(-1.f)));
  EXPECT_TRUE(std::isnan(fast_log(-inf)));
  EXPECT_TRUE(std::isnan(fast_log(nan)));
  EXPECT_NEAR(fast_log(std::numeric_limits<float>::denorm_min()), std::log(double(std::numeric_limits<float>::denorm_min())), 1e-5);
  EXPECT_EQ(fast_tanh(0.f), 0.f);
  EXPECT_EQ(fast_tanh(inf), 1.f);
  EXPECT_EQ(fast_tanh(-inf), -1.f);
  EXPECT_EQ(fast_tanh(20.f), 1.f);
  EXPECT_TRUE(std::isnan(fast_tanh(nan)));
  EXPECT_EQ(fast_sigmoid(0.f), 0.5f);
  EXPECT_EQ(fast_sigmoid(inf), 1.f);
  EXPECT_EQ(fast_sigmoid(-inf), 0.f);
  EXPECT_GT(fast_sigmoid(-100.f), 0.f);  // e^-100 ≈ 3.7e-44: a subnormal, not 0
  EXPECT_TRUE(std::isnan(fast_sigmoid(nan)));
}

// A loop over the functions gives the same bits under every ISA the CPU has (and
// the same as the scalar calls above): results do not depend on the machine.
TEST(VecMath, SameBitsOnEveryIsa) {
  const std::vector<float>& xs = inputs();
  const size_t n = 100003;  // not a multiple of any vector width: the tails run too
  std::vector<float> ref(n * 4);
  for (size_t i = 0; i < n; ++i) {
    float x = xs[i * 83 % xs.size()];
    ref[4 * i] = fast_exp(x);
    ref[4 * i + 1] = fast_log(x);
    ref[4 * i + 2] = fast_tanh(x);
    ref[4 * i + 3] = fast_sigmoid(x);
  }
  std::vector<float> in(n);
  for (size_t i = 0; i < n; ++i) in[i] = xs[i * 83 % xs.size()];
  const Isa saved = active_isa();
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(cpu_isa())) continue;
    set_isa(isa);
    std::vector<float> e(n), l(n), t(n), s(n);
    const float* x = in.data();
    float *pe = e.data(), *pl = l.data(), *pt = t.data(), *ps = s.data();
    simd_for(0, static_cast<int64_t>(n), [=](int64_t i) {
      pe[i] = fast_exp(x[i]);
      pl[i] = fast_log(x[i]);
      pt[i] = fast_tanh(x[i]);
      ps[i] = fast_sigmoid(x[i]);
    });
    for (size_t i = 0; i < n; ++i) {
      ASSERT_EQ(std::memcmp(&e[i], &ref[4 * i], 4), 0) << isa_name(isa) << " exp(" << in[i] << ")";
      ASSERT_EQ(std::memcmp(&l[i], &ref[4 * i + 1], 4), 0) << isa_name(isa) << " log(" << in[i] << ")";
      ASSERT_EQ(std::memcmp(&t[i], &ref[4 * i + 2], 4), 0) << isa_name(isa) << " tanh(" << in[i] << ")";
      ASSERT_EQ(std::memcmp(&s[i], &ref[4 * i + 3], 4), 0) << isa_name(isa) << " sigmoid(" << in[i] << ")";
    }
  }
  set_isa(saved);
}

}  // namespace
}  // namespace dg::kernels
