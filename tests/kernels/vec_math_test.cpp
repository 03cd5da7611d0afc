// The vectorizable float32 exp/log/tanh/sigmoid/expm1/log1p/Φ of src/kernels/vec_math.hpp:
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

TEST(VecMath, Expm1WithinTwoUlp) {
  float wx = 0;
  double e = max_ulp(inputs(), [](float x) { return fast_expm1(x); }, [](double x) { return std::expm1(x); }, &wx);
  EXPECT_LE(e, 2.0) << "worst at x = " << wx;
  // Relative, not absolute, accuracy near 0 (where e^x − 1 in float keeps nothing).
  for (float x : {1e-30f, -1e-30f, 1e-8f, -3e-6f, 1e-3f, 0.49f, -0.49f})
    EXPECT_LE(ulp_error(fast_expm1(x), std::expm1(double(x))), 2.0) << x;
}

TEST(VecMath, Log1pWithinTwoAndAHalfUlp) {
  std::vector<float> xs;
  for (float x : inputs())
    if (x >= -1.0f) xs.push_back(x);
  float wx = 0;
  double e = max_ulp(xs, [](float x) { return fast_log1p(x); }, [](double x) { return std::log1p(x); }, &wx);
  EXPECT_LE(e, 2.5) << "worst at x = " << wx;
  for (float x : {1e-30f, -1e-30f, 1e-8f, -3e-6f, 1e-3f})
    EXPECT_LE(ulp_error(fast_log1p(x), std::log1p(double(x))), 2.5) << x;
}

// Φ(x) = ½·erfc(−x/√2) against float64: within (x² + 16)·1.2e-7 relative (about
// 2 ulps near 0, growing in the left tail with the rounding of x² in the exponent:
// 2e-5 at x = −12) plus a few of the smallest subnormal steps.
double normal_cdf_exact(double x) { return 0.5 * std::erfc(-x / std::sqrt(2.0)); }
double cdf_bound(double x) { return (x * x + 16) * 1.2e-7; }

TEST(VecMath, NormalCdfWithinItsBound) {
  float wx = 0;
  double worst = 0;  // error / bound
  for (float x : inputs()) {
    if (std::isnan(x)) continue;
    const double ref = normal_cdf_exact(double(x));
    const double err = std::fabs(double(fast_normal_cdf(x)) - ref);
    const double ratio = err / (cdf_bound(x) * ref + 4.0 * std::numeric_limits<float>::denorm_min());
    if (ratio > worst) {
      worst = ratio;
      wx = x;
    }
  }
  EXPECT_LE(worst, 1.0) << "worst at x = " << wx;
  // Dense over [−13, 13].
  for (float x = -13.0f; x < 13.0f; x += 1.0f / 1024) {
    const double ref = normal_cdf_exact(double(x));
    ASSERT_LE(std::fabs(double(fast_normal_cdf(x)) - ref), cdf_bound(x) * ref + 1e-45) << x;
  }
  // The density alongside: 2 ulps-ish, relative, wherever it is a normal float.
  for (float x = -13.0f; x < 13.0f; x += 1.0f / 256) {
    float pdf = 0;
    (void)normal_cdf_pdf<true>(x, &pdf);
    const double ref = std::exp(-0.5 * double(x) * double(x)) / std::sqrt(2 * M_PI);
    ASSERT_LE(std::fabs(double(pdf) - ref), cdf_bound(x) * ref + 1e-45) << x;
  }
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
  EXPECT_EQ(fast_expm1(0.f), 0.f);
  EXPECT_EQ(fast_expm1(inf), inf);
  EXPECT_EQ(fast_expm1(-inf), -1.f);
  EXPECT_EQ(fast_expm1(-100.f), -1.f);
  EXPECT_TRUE(std::isnan(fast_expm1(nan)));
  EXPECT_EQ(fast_log1p(0.f), 0.f);
  EXPECT_EQ(fast_log1p(-1.f), -inf);
  EXPECT_EQ(fast_log1p(inf), inf);
  EXPECT_TRUE(std::isnan(fast_log1p(-2.f)));
  EXPECT_TRUE(std::isnan(fast_log1p(nan)));
  EXPECT_NEAR(fast_normal_cdf(0.f), 0.5f, 1e-7);  // the fit's 4.5e-8 at t = 1
  EXPECT_EQ(fast_normal_cdf(inf), 1.f);
  EXPECT_EQ(fast_normal_cdf(-inf), 0.f);
  EXPECT_EQ(fast_normal_cdf(20.f), 1.f);
  EXPECT_EQ(fast_normal_cdf(-20.f), 0.f);
  EXPECT_TRUE(std::isnan(fast_normal_cdf(nan)));
  EXPECT_EQ(select(true, 1.f, 2.f), 1.f);
  EXPECT_EQ(select(false, 1.f, 2.f), 2.f);
  EXPECT_EQ(select(true, 1.0, 2.0), 1.0);
  EXPECT_TRUE(std::isnan(select(false, 1.0, double(nan))));
}

// A loop over the functions gives the same bits under every ISA the CPU has (and
// the same as the scalar calls above): results do not depend on the machine.
TEST(VecMath, SameBitsOnEveryIsa) {
  const std::vector<float>& xs = inputs();
  const size_t n = 100003;  // not a multiple of any vector width: the tails run too
  constexpr size_t kFns = 7;
  std::vector<float> ref(n * kFns);
  for (size_t i = 0; i < n; ++i) {
    float x = xs[i * 83 % xs.size()];
    ref[kFns * i] = fast_exp(x);
    ref[kFns * i + 1] = fast_log(x);
    ref[kFns * i + 2] = fast_tanh(x);
    ref[kFns * i + 3] = fast_sigmoid(x);
    ref[kFns * i + 4] = fast_expm1(x);
    ref[kFns * i + 5] = fast_log1p(x);
    ref[kFns * i + 6] = fast_normal_cdf(x);
  }
  std::vector<float> in(n);
  for (size_t i = 0; i < n; ++i) in[i] = xs[i * 83 % xs.size()];
  const Isa saved = active_isa();
  for (Isa isa : {Isa::Generic, Isa::Avx2, Isa::Avx512}) {
    if (static_cast<int>(isa) > static_cast<int>(cpu_isa())) continue;
    set_isa(isa);
    std::vector<float> e(n), l(n), t(n), s(n), em(n), lp(n), ec(n);
    const float* x = in.data();
    float *pe = e.data(), *pl = l.data(), *pt = t.data(), *ps = s.data();
    float *pem = em.data(), *plp = lp.data(), *pec = ec.data();
    // Two loops of at most four outputs each (what GCC vectorizes).
    simd_for(0, static_cast<int64_t>(n), [=](int64_t i) {
      pe[i] = fast_exp(x[i]);
      pl[i] = fast_log(x[i]);
      pt[i] = fast_tanh(x[i]);
      ps[i] = fast_sigmoid(x[i]);
    });
    simd_for(0, static_cast<int64_t>(n), [=](int64_t i) {
      pem[i] = fast_expm1(x[i]);
      plp[i] = fast_log1p(x[i]);
      pec[i] = fast_normal_cdf(x[i]);
    });
    const char* names[kFns] = {"exp", "log", "tanh", "sigmoid", "expm1", "log1p", "normal_cdf"};
    const float* got[kFns] = {e.data(), l.data(), t.data(), s.data(), em.data(), lp.data(), ec.data()};
    for (size_t i = 0; i < n; ++i)
      for (size_t f = 0; f < kFns; ++f)
        ASSERT_EQ(std::memcmp(&got[f][i], &ref[kFns * i + f], 4), 0) << isa_name(isa) << " " << names[f] << "(" << in[i] << ")";
  }
  set_isa(saved);
}

}  // namespace
}  // namespace dg::kernels
