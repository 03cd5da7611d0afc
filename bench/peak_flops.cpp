// peak_flops: the fp32 FMA throughput one core reaches here, the denominator for
// "% of peak" in docs/gemm-backends.md and docs/performance.md. Twelve independent
// FMA chains per ISA (enough to hide the FMA latency on both FMA pipes), timed
// for about half a second each; prints GFLOP/s per core for AVX-512 and AVX2.
#include <immintrin.h>

#include <chrono>
#include <cstdio>

namespace {

__attribute__((target("avx512f,fma"))) float fma_avx512(long iters) {
  __m512 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm512_set1_ps(1.0f + float(i) * 1e-3f);
  const __m512 b = _mm512_set1_ps(0.999999f), c = _mm512_set1_ps(1e-7f);
  for (long k = 0; k < iters; ++k)
    for (int i = 0; i < 12; ++i) a[i] = _mm512_fmadd_ps(a[i], b, c);
  __m512 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm512_add_ps(s, a[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  return out[0];
}

__attribute__((target("avx2,fma"))) float fma_avx2(long iters) {
  __m256 a[12];
  for (int i = 0; i < 12; ++i) a[i] = _mm256_set1_ps(1.0f + float(i) * 1e-3f);
  const __m256 b = _mm256_set1_ps(0.999999f), c = _mm256_set1_ps(1e-7f);
  for (long k = 0; k < iters; ++k)
    for (int i = 0; i < 12; ++i) a[i] = _mm256_fmadd_ps(a[i], b, c);
  __m256 s = a[0];
  for (int i = 1; i < 12; ++i) s = _mm256_add_ps(s, a[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0];
}

template <class F> double best_gflops(F f, int lanes) {
  const long iters = 20000000;
  double best = 0;
  for (int rep = 0; rep < 5; ++rep) {
    auto t0 = std::chrono::steady_clock::now();
    volatile float sink = f(iters);
    (void)sink;
    double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double g = double(iters) * 12 * lanes * 2 / s / 1e9;
    if (g > best) best = g;
  }
  return best;
}

}  // namespace

int main() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f"))
    std::printf("peak fp32 FMA, AVX-512: %.1f GFLOP/s per core (best of 5)\n", best_gflops(fma_avx512, 16));
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
    std::printf("peak fp32 FMA, AVX2:    %.1f GFLOP/s per core (best of 5)\n", best_gflops(fma_avx2, 8));
  return 0;
}
