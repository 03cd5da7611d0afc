// exp, log, tanh, sigmoid, expm1, log1p and the normal CDF for float32 that vectorize.
//
// glibc's expf/logf/tanhf are scalar calls, so a loop over them runs one
// element at a time. These versions are branch-free straight-line arithmetic
// (range reduction, a short polynomial, exponent bits set by integer ops), so
// inside simd_for / unary_loop the compiler turns them into AVX-512, AVX2 or
// SSE2 code. Error against the exact (float64) value, over every 7th float32 bit
// pattern: exp 0.98 ulp, log 0.81, tanh 1.32, sigmoid 2.71 at most (glibc's own
// are ≤ 1 ulp); tests/kernels/vec_math_test.cpp checks ≤ 1, 1, 1.5 and 3 on a
// sweep, and expm1, log1p and Φ (built on them) against bounds given with each.
// The coefficients of exp, log and tanh are Cephes' expf/logf/tanhf (S. Moshier);
// Φ's polynomial is our own fit (below).
// Special values follow IEEE: NaN → NaN, exp(+inf) = +inf, exp(-inf) = 0,
// log(0) = -inf, log(x < 0) = NaN, log(+inf) = +inf, tanh(±inf) = ±1.
//
// The float64 overloads are std:: (float64 is for gradcheck: exactness first).
#pragma once

#include <cmath>
#include <cstdint>
#include <cstring>

namespace dg::kernels {

// Always inlined: a loop that calls them must see their bodies to vectorize, and
// GCC's inliner gives up on the larger ones (Φ holds an exp and a division) — an out-of-line
// copy is compiled for baseline x86-64 and called per element, about 20x slower.
#define DG_VEC_INLINE inline __attribute__((always_inline))

namespace vm_detail {
DG_VEC_INLINE float as_float(int32_t i) {
  float f;
  std::memcpy(&f, &i, sizeof f);
  return f;
}
DG_VEC_INLINE int32_t as_int(float f) {
  int32_t i;
  std::memcpy(&i, &f, sizeof i);
  return i;
}
// c ? a : b through an all-ones / all-zeros integer mask. A plain `c ? a : b`
// whose operands are computed just before can stop GCC's vectorizer at its
// default -ftrapping-math ("control flow in loop"); the mask form never does.
DG_VEC_INLINE float select(bool c, float a, float b) {
  const int32_t m = -static_cast<int32_t>(c);
  return as_float((as_int(a) & m) | (as_int(b) & ~m));
}
// a·b + c rounded once, for the polynomials' Horner steps. Written out because
// contraction is off in the loops (simd.hpp): an fma is exactly rounded wherever
// it runs, so the AVX2 and AVX-512 copies (one vfmadd each) and the baseline
// (glibc's fmaf) still give the same bits, and a Horner step is one instruction
// with one rounding instead of two (GELU's Φ: 19 dependent steps → 10).
DG_VEC_INLINE float madd(float a, float b, float c) { return __builtin_fmaf(a, b, c); }
DG_VEC_INLINE float abs_bits(float x) { return as_float(as_int(x) & 0x7fffffff); }
// Clamp that lets NaN through: both comparisons are false for NaN.
DG_VEC_INLINE float clamp_keep_nan(float x, float lo, float hi) {
  x = select(x < lo, lo, x);
  return select(x > hi, hi, x);
}
}  // namespace vm_detail

// e^x = 2^n · e^r with n = round(x / ln 2), r = x - n·ln 2 ∈ [-ln2/2, ln2/2].
DG_VEC_INLINE float fast_exp(float x) {
  using namespace vm_detail;
  // Beyond these, e^x overflows to inf or underflows to 0 anyway; clamping keeps n
  // in the range where 2^n can be built from two normal floats.
  const float xc = clamp_keep_nan(x, -104.0f, 89.0f);
  // Round x/ln2 to the nearest integer by adding 1.5·2^23: n lands in the low mantissa bits.
  const float shifter = 12582912.0f;
  const float t = xc * 1.44269504088896341f + shifter;
  const int32_t n = as_int(t) - as_int(shifter);
  const float fn = t - shifter;
  // r = x - n·ln2 in two steps (Cody–Waite): n·ln2_hi is exact.
  float r = xc - fn * 0.693359375f;
  r = r - fn * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = madd(p, r, 1.3981999507e-3f);
  p = madd(p, r, 8.3334519073e-3f);
  p = madd(p, r, 4.1665795894e-2f);
  p = madd(p, r, 1.6666665459e-1f);
  p = madd(p, r, 5.0000001201e-1f);
  const float er = (p * (r * r) + r) + 1.0f;
  // 2^n as 2^(n/2) · 2^(n - n/2): each factor a normal float for n ∈ [-151, 129].
  const int32_t h = n >> 1;
  const float s1 = as_float((h + 127) << 23), s2 = as_float((n - h + 127) << 23);
  return (er * s1) * s2;
}

// log x = k·ln 2 + log m with x = 2^k · m, m ∈ [√½, √2).
DG_VEC_INLINE float fast_log(float x) {
  using namespace vm_detail;
  // Subnormals: scale by 2^23 first so the exponent field is meaningful.
  const bool sub = x < 1.17549435e-38f;
  const float xs = select(sub, x * 8388608.0f, x);
  const int32_t bits = as_int(xs);
  int32_t k = ((bits >> 23) & 0xff) - 126;
  float m = as_float((bits & 0x007fffff) | 0x3f000000);  // m ∈ [0.5, 1)
  // Move m into [√½, √2): below √½ double it and take one off the exponent.
  const bool small = m < 0.707106781186547524f;
  k -= static_cast<int32_t>(small);
  m = (m + select(small, m, 0.0f)) - 1.0f;
  const float fk = static_cast<float>(k) - select(sub, 23.0f, 0.0f);
  const float z = m * m;
  float p = 7.0376836292e-2f;
  p = madd(p, m, -1.1514610310e-1f);
  p = madd(p, m, 1.1676998740e-1f);
  p = madd(p, m, -1.2420140846e-1f);
  p = madd(p, m, 1.4249322787e-1f);
  p = madd(p, m, -1.6668057665e-1f);
  p = madd(p, m, 2.0000714765e-1f);
  p = madd(p, m, -2.4999993993e-1f);
  p = madd(p, m, 3.3333331174e-1f);
  float y = m * z * p;
  y = y + fk * -2.12194440e-4f;
  y = y - 0.5f * z;
  float res = (m + y) + fk * 0.693359375f;
  // Special values.
  res = select(x == 0.0f, -INFINITY, res);
  res = select(x < 0.0f, NAN, res);
  res = select(x == INFINITY, INFINITY, res);
  return select(x != x, x, res);
}

// tanh x: an odd polynomial near 0, 1 - 2/(e^{2|x|} + 1) beyond (no cancellation there).
DG_VEC_INLINE float fast_tanh(float x) {
  using namespace vm_detail;
  const float ax = abs_bits(x);
  const float z = x * x;
  float p = -5.70498872745e-3f;
  p = madd(p, z, 2.06390887954e-2f);
  p = madd(p, z, -5.37397155531e-2f);
  p = madd(p, z, 1.33314422036e-1f);
  p = madd(p, z, -3.33332819422e-1f);
  const float small = (p * z) * x + x;
  const float e = fast_exp(2.0f * select(ax < 10.0f, ax, 10.0f));  // tanh(10) rounds to 1 in float32
  const float big = 1.0f - 2.0f / (e + 1.0f);                      // ≥ 0: give it x's sign
  const float signed_big = as_float(as_int(big) | (as_int(x) & static_cast<int32_t>(0x80000000u)));
  const float res = select(ax < 0.625f, small, signed_big);
  return select(x != x, x, res);
}

// σ(x) = 1 / (1 + e^{-x}), from e = e^{-|x|} ≤ 1 so nothing overflows:
// σ(x) = 1/(1+e) for x ≥ 0 and e/(1+e) for x < 0.
DG_VEC_INLINE float fast_sigmoid(float x) {
  using namespace vm_detail;
  const float e = fast_exp(-abs_bits(x));
  const float s = 1.0f / (1.0f + e);
  const float res = select(x < 0.0f, e * s, s);
  return select(x != x, x, res);
}

// e^x − 1 without the cancellation of e^x − 1 near 0: there, for |x| < ½, the
// Taylor series to x⁸/8! (the first term left out, x⁹/9!, is below 1e-8 of the
// value); beyond, e^x − 1 loses at most a bit. expm1(-inf) = −1, (+inf) = +inf.
DG_VEC_INLINE float fast_expm1(float x) {
  using namespace vm_detail;
  float p = 1.0f / 40320.0f;
  p = madd(p, x, 1.0f / 5040.0f);
  p = madd(p, x, 1.0f / 720.0f);
  p = madd(p, x, 1.0f / 120.0f);
  p = madd(p, x, 1.0f / 24.0f);
  p = madd(p, x, 1.0f / 6.0f);
  p = madd(p, x, 0.5f);
  const float small = (p * x) * x + x;
  return select(abs_bits(x) < 0.5f, small, fast_exp(x) - 1.0f);
}

// log(1 + u) for u ≥ −1: w = 1 + u is rounded, and log w · u / (w − 1) puts back
// what the rounding lost (w − 1 is exact); where w rounds to 1, log1p u = u to
// float precision. log1p(−1) = −inf, (+inf) = +inf, u < −1 gives NaN.
DG_VEC_INLINE float fast_log1p(float u) {
  using namespace vm_detail;
  const float w = 1.0f + u;
  const float res = select(w == 1.0f, u, fast_log(w) * (u / (w - 1.0f)));
  return select(u == INFINITY, INFINITY, res);
}

// Φ(x), the standard normal CDF (GELU's gate), from erfc: Φ(x) = ½·erfc(|x|/√2)
// for x < 0 and 1 − ½·erfc(x/√2) above, with
//   erfc a = t · e^{−a² + P(t)},   t = 1 / (1 + a/2),   a ≥ 0,
// P a degree-9 polynomial fitted by tools/fit_erfc.py (Lawson-weighted least
// squares to log(erfc(a)/t) + a² over a ∈ [0, 10]; relative error 4.5e-8 in exact
// arithmetic). With a = |x|/√2, a² = x²/2: one exp, no cancellation in the left
// tail (where ½(1 + erf(x/√2)) loses every digit). The rounding of x² in the
// exponent costs x²·6e-8 of relative error there, the same as rounding x/√2 to
// float would: vec_math_test.cpp holds it to (x² + 16)·1.2e-7 relative (2e-5 at
// x = −12; results below 1e-38, x < −13, underflow). With `pdf`, also φ(x) =
// e^{−x²/2}/√(2π) (GELU's backward needs both; one more exp).
template <bool kWithPdf>
DG_VEC_INLINE float normal_cdf_pdf(float x, float* pdf) {
  using namespace vm_detail;
  const float ax = abs_bits(x);
  const float t = 1.0f / (1.0f + ax * 0.353553390593273762f);  // a/2 = |x|/(2√2)
  float p = 0.14219491f;
  p = madd(p, t, -0.666066634f);
  p = madd(p, t, 1.12240918f);
  p = madd(p, t, -0.651259181f);
  p = madd(p, t, -0.116778877f);
  p = madd(p, t, 0.0201915355f);
  p = madd(p, t, 0.0283585619f);
  p = madd(p, t, 0.387899436f);
  p = madd(p, t, 0.998492549f);
  p = madd(p, t, -1.26544144f);
  const float half_x2 = 0.5f * (x * x);
  float tail;  // ½·erfc(|x|/√2) = Φ(−|x|)
  if constexpr (kWithPdf) {
    const float e = fast_exp(-half_x2);
    *pdf = 0.398942280401432678f * e;
    tail = (0.5f * t) * (e * fast_exp(p));
  } else {
    tail = (0.5f * t) * fast_exp(p - half_x2);
  }
  return select(x < 0.0f, tail, 1.0f - tail);
}
DG_VEC_INLINE float fast_normal_cdf(float x) { return normal_cdf_pdf<false>(x, nullptr); }

// c ? a : b that GCC vectorizes: both a and b are computed, then one is picked by
// a mask (a plain ?: whose operands are computed in the branches is control flow
// it will not speculate under -ftrapping-math).
DG_VEC_INLINE float select(bool c, float a, float b) { return vm_detail::select(c, a, b); }
DG_VEC_INLINE double select(bool c, double a, double b) {
  const int64_t m = -static_cast<int64_t>(c);
  int64_t ia, ib;
  std::memcpy(&ia, &a, sizeof a);
  std::memcpy(&ib, &b, sizeof b);
  const int64_t r = (ia & m) | (ib & ~m);
  double out;
  std::memcpy(&out, &r, sizeof out);
  return out;
}

inline double fast_exp(double x) { return std::exp(x); }
inline double fast_expm1(double x) { return std::expm1(x); }
inline double fast_log1p(double x) { return std::log1p(x); }
inline double fast_normal_cdf(double x) { return 0.5 * std::erfc(-x * 0.70710678118654752440); }
inline double fast_log(double x) { return std::log(x); }
inline double fast_tanh(double x) { return std::tanh(x); }
inline double fast_sigmoid(double x) {
  return x >= 0 ? 1.0 / (1.0 + std::exp(-x)) : std::exp(x) / (1.0 + std::exp(x));
}

}  // namespace dg::kernels
