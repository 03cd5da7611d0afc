// 2-d pooling, forward and backward side by side. Every (n, c) plane is pooled on
// its own, so the loops run over P = N·C planes of H×W (in parallel).
//
// Dimension analysis: dx has x's shape [N, C, H, W]; each output y[p, oh, ow]
// depends on the inputs of one window, so dx collects, for every pixel, the dY
// of every window that used it:
//   max:  y = x[argmax]        → dx[argmax] += dY        (one input per window gets it all)
//   avg:  y = Σ window / m     → dx[window] += dY / m    (each of the window's inputs gets 1/m)
// Windows overlap when stride < kernel: a pixel then collects from several, which
// is why backward adds (+=) instead of assigning.
#include <omp.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#include <algorithm>
#include <cmath>
#include <limits>
#include <type_traits>
#include <vector>

#include "dimgrad/nn/pooling.hpp"
#include "kernels/simd.hpp"
#include "ops/conv_pool_util.hpp"
#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

int64_t pick(IntArrayRef v, size_t i, const char* op, const char* what) {
  if (v.size() == 1) return v[0];
  if (v.size() == 2) return v[i];
  throw Error(std::string(op) + ": " + what + " takes 1 or 2 values, got " + std::to_string(v.size()));
}

// PyTorch's output size: floor (or ceil) of the window count, where with ceil_mode
// the last window must still start inside the input or its left padding.
int64_t pooled_size(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, bool ceil_mode) {
  const int64_t span = in + 2 * p - d * (k - 1) - 1;
  if (span < 0) return 0;  // not even one window fits
  int64_t out = (ceil_mode ? (span + s - 1) / s : span / s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

}  // namespace

// The input as a contiguous [planes, H, W] tensor (3-d inputs are one image).
PoolShape pool_shape(IntArrayRef sizes, ScalarType dt, IntArrayRef kernel, IntArrayRef stride, IntArrayRef padding,
                     IntArrayRef dilation, bool ceil_mode, const char* op) {
  if (sizes.size() != 4 && sizes.size() != 3)
    throw ShapeError(std::string(op) + ": expected input [N, C, H, W] or [C, H, W], got " + shape_str(sizes));
  if (!is_floating(dt)) throw DTypeError(std::string(op) + ": expected a floating-point input, got " + dtype_name(dt));
  PoolShape s;
  s.H = sizes[sizes.size() - 2];
  s.W = sizes[sizes.size() - 1];
  s.P = 1;
  for (size_t i = 0; i + 2 < sizes.size(); ++i) s.P *= sizes[i];
  s.KH = pick(kernel, 0, op, "kernel_size");
  s.KW = pick(kernel, 1, op, "kernel_size");
  s.SH = stride.empty() ? s.KH : pick(stride, 0, op, "stride");
  s.SW = stride.empty() ? s.KW : pick(stride, 1, op, "stride");
  s.PH = pick(padding, 0, op, "padding");
  s.PW = pick(padding, 1, op, "padding");
  s.DH = pick(dilation, 0, op, "dilation");
  s.DW = pick(dilation, 1, op, "dilation");
  if (s.KH < 1 || s.KW < 1 || s.SH < 1 || s.SW < 1 || s.DH < 1 || s.DW < 1)
    throw Error(std::string(op) + ": kernel_size, stride and dilation must be positive, got kernel " +
                shape_str(kernel) + ", stride " + shape_str(stride) + ", dilation " + shape_str(dilation));
  if (s.PH < 0 || s.PW < 0 || 2 * s.PH > s.KH || 2 * s.PW > s.KW)
    throw Error(std::string(op) + ": padding must be between 0 and half the kernel size, got padding " +
                shape_str(padding) + " for kernel " + shape_str(kernel));
  s.OH = pooled_size(s.H, s.KH, s.SH, s.PH, s.DH, ceil_mode);
  s.OW = pooled_size(s.W, s.KW, s.SW, s.PW, s.DW, ceil_mode);
  if (s.OH < 1 || s.OW < 1)
    throw ShapeError(std::string(op) + ": the input " + shape_str(sizes) + " is too small for kernel " +
                     shape_str(kernel) + " (dilation " + shape_str(dilation) + ", padding " + shape_str(padding) +
                     "): the output would be " + std::to_string(s.OH) + "×" + std::to_string(s.OW));
  return s;
}

namespace {
PoolShape pool_shape(const Tensor& x, IntArrayRef kernel, IntArrayRef stride, IntArrayRef padding,
                     IntArrayRef dilation, bool ceil_mode, const char* op) {
  detail::check_defined(x, op);
  return ops::pool_shape(x.sizes(), x.dtype(), kernel, stride, padding, dilation, ceil_mode, op);
}

Shape out_shape(const Tensor& x, int64_t OH, int64_t OW) {
  Shape o(x.sizes());
  o[o.size() - 2] = OH;
  o[o.size() - 1] = OW;
  return o;
}

bool parallel_planes(int64_t work) { return work >= 16384 && omp_get_max_threads() > 1 && !omp_in_parallel(); }

// ------------------------------------------------------------------ max pool
// The kernel taps [lo, hi) of output position o whose input index
// o·stride − pad + tap·dilation lies inside [0, size): the rest read padding.
struct TapRange {
  int64_t lo, hi;
};
std::vector<TapRange> tap_ranges(int64_t out, int64_t size, int64_t k, int64_t stride, int64_t pad, int64_t dil) {
  std::vector<TapRange> r(static_cast<size_t>(out));
  for (int64_t o = 0; o < out; ++o) {
    const int64_t base = o * stride - pad;
    int64_t lo = base < 0 ? (-base + dil - 1) / dil : 0;  // base + tap·dil ≥ 0
    int64_t hi = std::min(k, (size - base + dil - 1) / dil);  // base + tap·dil < size
    r[static_cast<size_t>(o)] = {std::min(lo, k), std::max(hi, std::min(lo, k))};
  }
  return r;
}

// The 2×2 window in the portable loops: the maximum of a, b, c, d (pixels 0 1 /
// 2 3) with branch-free selects in that order — first maximum wins ties, a NaN
// is taken (as PyTorch) — and the winner's code 0…3.
template <class T> inline T window_max_scalar(T a, T b, T c, T d, int64_t& code) {
  T best = a;
  code = 0;
  bool take = b > best || b != b;
  best = take ? b : best;
  code = take ? 1 : code;
  take = c > best || c != c;
  best = take ? c : best;
  code = take ? 2 : code;
  take = d > best || d != d;
  best = take ? d : best;
  code = take ? 3 : code;
  return best;
}

// Its backward: g to the pixel code k names, 0 to the other three, which lie at
// r0[0], r0[step] (the top row) and r1[0], r1[step] (the bottom row).
template <class T> inline void window_route_scalar(T g, uint8_t k, T* r0, T* r1, int64_t step) {
  r0[0] = k == 0 ? g : T(0);
  r0[step] = k == 1 ? g : T(0);
  r1[0] = k == 2 ? g : T(0);
  r1[step] = k == 3 ? g : T(0);
}

#if DG_SIMD_DISPATCH
// The 2×2 window of 16 outputs at once (one per lane), shared by the AVX-512
// kernels below whatever the layout they read and write.
//
// Forward: the maximum of v00, v01, v10, v11 (the window's pixels 0 1 / 2 3),
// taken in that order with branch-free selects — a later pixel wins only when
// it is larger or a NaN, so the first maximum wins ties and a NaN is taken, as
// in the portable loops — and in `tag` what to record of the winner: 0 for
// v00, else t01, t10 or t11 (window codes, or offsets in the plane).
DG_TARGET_AVX512 inline __m512 window_max(__m512 v00, __m512 v01, __m512 v10, __m512 v11, __m512i t01, __m512i t10,
                                          __m512i t11, __m512i& tag) {
  __m512 best = v00;
  tag = _mm512_setzero_si512();
  // (spelled out: a lambda here would not be compiled for AVX-512)
  __mmask16 take = _mm512_cmp_ps_mask(v01, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v01, v01, _CMP_UNORD_Q);
  best = _mm512_mask_mov_ps(best, take, v01);
  tag = _mm512_mask_mov_epi32(tag, take, t01);
  take = _mm512_cmp_ps_mask(v10, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v10, v10, _CMP_UNORD_Q);
  best = _mm512_mask_mov_ps(best, take, v10);
  tag = _mm512_mask_mov_epi32(tag, take, t10);
  take = _mm512_cmp_ps_mask(v11, best, _CMP_GT_OQ) | _mm512_cmp_ps_mask(v11, v11, _CMP_UNORD_Q);
  best = _mm512_mask_mov_ps(best, take, v11);
  tag = _mm512_mask_mov_epi32(tag, take, t11);
  return best;
}

// Backward: dY (g) to the pixel its window code (0 1 / 2 3) names, 0 to the
// other three; out[i] is pixel i's value.
DG_TARGET_AVX512 inline void window_route(__m512 g, __m512i code, __m512 out[4]) {
  out[0] = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(code, _mm512_setzero_si512()), g);
  out[1] = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(code, _mm512_set1_epi32(1)), g);
  out[2] = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(code, _mm512_set1_epi32(2)), g);
  out[3] = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(code, _mm512_set1_epi32(3)), g);
}

// The 2×2 / stride-2 window on one float plane, 16 outputs per step with
// AVX-512 (the portable loop below reads its inputs at stride 2, which the
// compiler turns into slow lane shuffling per element). Each step loads 32
// columns of both input rows, separates their even and odd columns with one
// permute each, and makes the same four branch-free selects in the same order
// as the portable loop: first maximum wins ties, a NaN is taken. The tail of a
// row (and rows shorter than 16 outputs, such as 14 or 7) uses masked loads and
// stores. The winner is stored as an int64 plane index (I = int64_t; computed in
// 32 bits, the caller checks H·W < 2³¹, and widened with the maskz forms: GCC 12
// warns about the undefined registers the plain ones start from) or as its
// window code 0…3 (I = uint8_t, see MaxPool2dBackward).
template <class I>
DG_TARGET_AVX512 void max_pool_k2s2_plane_avx512(const float* xp, int64_t W, int64_t OH, int64_t OW, float* yp,
                                                 I* ip) {
  constexpr bool codes = std::is_same_v<I, uint8_t>;
  const __m512i lane = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
  const __m512i even = _mm512_add_epi32(lane, lane), odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
  // What the winner stores: its window code, or its offset from the window's corner.
  const __m512i off01 = _mm512_set1_epi32(1), off10 = _mm512_set1_epi32(codes ? 2 : static_cast<int32_t>(W)),
                off11 = _mm512_set1_epi32(codes ? 3 : static_cast<int32_t>(W + 1));
  for (int64_t oh = 0; oh < OH; ++oh) {
    const float* r0 = xp + 2 * oh * W;
    const float* r1 = r0 + W;
    float* yr = yp + oh * OW;
    I* ir = ip + oh * OW;
    for (int64_t ow = 0; ow < OW; ow += 16) {
      const int64_t n = std::min<int64_t>(16, OW - ow), in = 2 * n;  // outputs, inputs per row
      const auto out_mask = static_cast<__mmask16>((1u << n) - 1);
      const auto lo_mask = static_cast<__mmask16>(in >= 16 ? 0xFFFFu : (1u << in) - 1);
      const auto hi_mask = static_cast<__mmask16>(in > 16 ? (1u << (in - 16)) - 1 : 0u);
      const float* a = r0 + 2 * ow;
      const float* b = r1 + 2 * ow;
      const __m512 a_lo = _mm512_maskz_loadu_ps(lo_mask, a), a_hi = _mm512_maskz_loadu_ps(hi_mask, a + 16);
      const __m512 b_lo = _mm512_maskz_loadu_ps(lo_mask, b), b_hi = _mm512_maskz_loadu_ps(hi_mask, b + 16);
      const __m512 v00 = _mm512_permutex2var_ps(a_lo, even, a_hi), v01 = _mm512_permutex2var_ps(a_lo, odd, a_hi);
      const __m512 v10 = _mm512_permutex2var_ps(b_lo, even, b_hi), v11 = _mm512_permutex2var_ps(b_lo, odd, b_hi);
      __m512i off;
      const __m512 best = window_max(v00, v01, v10, v11, off01, off10, off11, off);
      _mm512_mask_storeu_ps(yr + ow, out_mask, best);
      if constexpr (codes) {
        _mm512_mask_cvtepi32_storeu_epi8(ir + ow, out_mask, off);
      } else {
        // plane index of the winner: (2·oh)·W + 2·(ow + lane) + its offset in the window
        const __m512i col = _mm512_add_epi32(_mm512_set1_epi32(static_cast<int32_t>(2 * oh * W + 2 * ow)),
                                             _mm512_add_epi32(even, off));
        _mm512_mask_storeu_epi64(ir + ow, static_cast<__mmask8>(out_mask & 0xFF),
                                 _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, col, 0)));
        _mm512_mask_storeu_epi64(ir + ow + 8, static_cast<__mmask8>(out_mask >> 8),
                                 _mm512_maskz_cvtepi32_epi64(0xFF, _mm512_maskz_extracti64x4_epi64(0xF, col, 1)));
      }
    }
  }
}

// Backward of the 2×2 / stride-2 window from window codes, on a plane whose
// windows tile it exactly (H = 2·OH, W = 2·OW): every input pixel belongs to
// one window, so dx is written once, row pair by row pair, with dY where the
// code points and 0 elsewhere (no zero fill first, no scattered adds). For 16
// outputs: four masked moves pick dY for each corner, and one permute per input
// row interleaves the even and odd columns back.
DG_TARGET_AVX512 void max_pool_k2s2_backward_plane_avx512(const float* dyp, const uint8_t* cp, int64_t OH, int64_t OW,
                                                          float* dxp) {
  const int64_t W = 2 * OW;
  const __m512i lo_pairs = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
  const __m512i hi_pairs = _mm512_setr_epi32(8, 24, 9, 25, 10, 26, 11, 27, 12, 28, 13, 29, 14, 30, 15, 31);
  for (int64_t oh = 0; oh < OH; ++oh) {
    float* r0 = dxp + 2 * oh * W;
    float* r1 = r0 + W;
    for (int64_t ow = 0; ow < OW; ow += 16) {
      const int64_t n = std::min<int64_t>(16, OW - ow), in = 2 * n;
      const auto out_mask = static_cast<__mmask16>((1u << n) - 1);
      const auto lo_mask = static_cast<__mmask16>(in >= 16 ? 0xFFFFu : (1u << in) - 1);
      const auto hi_mask = static_cast<__mmask16>(in > 16 ? (1u << (in - 16)) - 1 : 0u);
      const __m512 g = _mm512_maskz_loadu_ps(out_mask, dyp + oh * OW + ow);
      const __m512i code = _mm512_maskz_cvtepu8_epi32(0xFFFF, _mm_maskz_loadu_epi8(out_mask, cp + oh * OW + ow));
      __m512 v[4];
      window_route(g, code, v);
      _mm512_mask_storeu_ps(r0 + 2 * ow, lo_mask, _mm512_permutex2var_ps(v[0], lo_pairs, v[1]));
      _mm512_mask_storeu_ps(r0 + 2 * ow + 16, hi_mask, _mm512_permutex2var_ps(v[0], hi_pairs, v[1]));
      _mm512_mask_storeu_ps(r1 + 2 * ow, lo_mask, _mm512_permutex2var_ps(v[2], lo_pairs, v[3]));
      _mm512_mask_storeu_ps(r1 + 2 * ow + 16, hi_mask, _mm512_permutex2var_ps(v[2], hi_pairs, v[3]));
    }
  }
}
#endif

// Whether the window is 2×2 / stride 2 without padding or dilation and its
// windows tile the plane exactly (H = 2·OH, W = 2·OW): then every input pixel
// belongs to exactly one window, and the argmax can be kept as a window code.
bool k2s2(const PoolShape& s) {
  return s.KH == 2 && s.KW == 2 && s.SH == 2 && s.SW == 2 && s.PH == 0 && s.PW == 0 && s.DH == 1 && s.DW == 1 &&
         2 * s.OH <= s.H && 2 * s.OW <= s.W;
}
}  // namespace

bool k2s2_tiles(const PoolShape& s) { return k2s2(s) && 2 * s.OH == s.H && 2 * s.OW == s.W; }

namespace {

// y = the maximum of each window, and where it was: idx the int64 index in the
// plane (I = int64_t, what max_pool2d_with_indices returns), or its code in the
// 2×2 window, 0 1 / 2 3 (I = uint8_t: 1 byte per output instead of 8 to write
// now and read in backward; only when k2s2_tiles).
template <class T, class I> void max_pool_forward(const PoolShape& s, const T* x, T* y, I* idx) {
  constexpr bool codes = std::is_same_v<I, uint8_t>;
  const auto rows = tap_ranges(s.OH, s.H, s.KH, s.SH, s.PH, s.DH);
  const auto cols = tap_ranges(s.OW, s.W, s.KW, s.SW, s.PW, s.DW);
  const bool two_by_two = k2s2(s);
  [[maybe_unused]] const bool avx512_plane =
      kernels::active_isa() == kernels::Isa::Avx512 && s.H * s.W < (int64_t(1) << 31);
  kernels::parallel_for_if(parallel_planes(s.P * s.OH * s.OW * s.KH * s.KW), s.P, [&](int64_t p) {
    const T* xp = x + p * s.H * s.W;
    T* yp = y + p * s.OH * s.OW;
    I* ip = idx + p * s.OH * s.OW;
#if DG_SIMD_DISPATCH
    if constexpr (std::is_same_v<T, float>) {
      if (two_by_two && avx512_plane) {
        max_pool_k2s2_plane_avx512(xp, s.W, s.OH, s.OW, yp, ip);
        return;  // (the next plane)
      }
    }
#endif
    for (int64_t oh = 0; oh < s.OH; ++oh) {
      if (two_by_two) {
        // The common 2×2 / stride 2 window: four reads, no bounds to check.
        const T* r0 = xp + 2 * oh * s.W;
        const T* r1 = r0 + s.W;
        T* yr = yp + oh * s.OW;
        I* ir = ip + oh * s.OW;
        const int64_t base = 2 * oh * s.W;
        // Branch-free selects (the comparisons of random data are unpredictable),
        // so the loop vectorizes. First maximum wins ties; NaN propagates (as PyTorch).
        kernels::simd_for(0, s.OW, [=, W = s.W](int64_t ow) {
          const int64_t w = 2 * ow;
          int64_t code;
          yr[ow] = window_max_scalar(r0[w], r0[w + 1], r1[w], r1[w + 1], code);
          if constexpr (codes) ir[ow] = static_cast<uint8_t>(code);
          else ir[ow] = base + (code >> 1) * W + w + (code & 1);
        });
        continue;
      }
      if constexpr (!codes) {
        const TapRange ri = rows[static_cast<size_t>(oh)];
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          const TapRange rj = cols[static_cast<size_t>(ow)];
          T best = -std::numeric_limits<T>::infinity();
          int64_t arg = -1;
          for (int64_t i = ri.lo; i < ri.hi; ++i) {
            const int64_t ih = oh * s.SH - s.PH + i * s.DH;
            for (int64_t j = rj.lo; j < rj.hi; ++j) {
              const int64_t iw = ow * s.SW - s.PW + j * s.DW;
              const T v = xp[ih * s.W + iw];
              if (arg < 0 || v > best || std::isnan(v)) {
                best = v;
                arg = ih * s.W + iw;
              }
            }
          }
          yp[oh * s.OW + ow] = best;
          ip[oh * s.OW + ow] = arg;
        }
      }
    }
  });
}

}  // namespace

Tensor max_pool_nchw_backward(const PoolShape& s, const Shape& in_shape, const Tensor& indices, const Tensor& codes,
                              const Tensor& dy) {
  const int64_t n_out = s.OH * s.OW;
  const bool par = parallel_planes(s.P * n_out);
  if (codes.defined()) {
    // Every pixel is in one window: dx is written once, no zero fill.
    Tensor dx = make_tensor(in_shape, dy.dtype());  // dx [N, C, H, W]
    const uint8_t* code = codes.data_ptr<uint8_t>();
    [[maybe_unused]] const bool avx512 = kernels::active_isa() == kernels::Isa::Avx512;
    dispatch_floating(dy.dtype(), "max_pool2d backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* d = dy.data_ptr<T>();
      T* out = dx.data_ptr<T>();
      kernels::parallel_for_if(par, s.P, [&](int64_t p) {
        const T* dp = d + p * n_out;
        const uint8_t* cp = code + p * n_out;
        T* xp = out + p * s.H * s.W;
#if DG_SIMD_DISPATCH
        if constexpr (std::is_same_v<T, float>) {
          if (avx512) {
            max_pool_k2s2_backward_plane_avx512(dp, cp, s.OH, s.OW, xp);
            return;  // (the next plane)
          }
        }
#endif
        for (int64_t oh = 0; oh < s.OH; ++oh) {
          T* r0 = xp + 2 * oh * s.W;
          T* r1 = r0 + s.W;
          for (int64_t ow = 0; ow < s.OW; ++ow) {
            // the window's four pixels: dY to the one its code names, 0 to the others
            window_route_scalar(dp[oh * s.OW + ow], cp[oh * s.OW + ow], r0 + 2 * ow, r1 + 2 * ow, int64_t(1));
          }
        }
      });
    });
    return dx;
  }
  Tensor dx = zeros(in_shape, dy.dtype());  // dx [N, C, H, W]
  const int64_t* idx = indices.data_ptr<int64_t>();
  dispatch_floating(dy.dtype(), "max_pool2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* d = dy.data_ptr<T>();
    T* out = dx.data_ptr<T>();
    kernels::parallel_for_if(par, s.P, [&](int64_t p) {
      // dx[p, argmax] += dY[p, oh, ow]: the window's maximum took the whole gradient
      for (int64_t o = p * n_out; o < (p + 1) * n_out; ++o)
        if (idx[o] >= 0) out[p * s.H * s.W + idx[o]] += d[o];
    });
  });
  return dx;
}

void max_pool_nchw_forward(const PoolShape& s, ScalarType dt, const void* x, void* y, void* idx, bool codes) {
  dispatch_floating(dt, "max_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (codes) max_pool_forward<T>(s, static_cast<const T*>(x), static_cast<T*>(y), static_cast<uint8_t*>(idx));
    else max_pool_forward<T>(s, static_cast<const T*>(x), static_cast<T*>(y), static_cast<int64_t*>(idx));
  });
}

void max_pool_nchw_forward(const PoolShape& s, const Tensor& x, const Tensor& y, const Tensor& idx, bool codes) {
  max_pool_nchw_forward(s, x.dtype(), x.raw_data(), y.raw_data(), idx.raw_data(), codes);
}

// --------------------------------------------- 2×2 / stride 2 over NHWC input
// For conv2d_max_pool2d: the convolution's output stays in oneDNN's NHWC layout
// and is pooled from there. At each output position the four pixels of the
// window are rows of C contiguous channels, so the selects run along the
// channels, 16 at a time with AVX-512; y is NCHW, so each position's C outputs
// go out with a scatter at stride OH·OW (and dY comes in with a gather). The
// portable loops below do the same one channel at a time (conv2d_max_pool2d
// takes this path only with AVX-512).
#if DG_SIMD_DISPATCH
namespace {
DG_TARGET_AVX512 void max_pool_k2s2_nhwc_forward_avx512(int64_t C, int64_t OH, int64_t OW, const float* zn,
                                                        float* yn, uint8_t* cn) {
  const int64_t W = 2 * OW, plane = OH * OW;
  const __m512i lane_step = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                               _mm512_set1_epi32(static_cast<int32_t>(plane)));
  const __m512i k1 = _mm512_set1_epi32(1), k2 = _mm512_set1_epi32(2), k3 = _mm512_set1_epi32(3);
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int64_t ow = 0; ow < OW; ++ow) {
      const float* r0 = zn + ((2 * oh) * W + 2 * ow) * C;  // pixel (2·oh, 2·ow); (2·oh, 2·ow + 1) at + C
      const float* r1 = r0 + W * C;                       // pixel (2·oh + 1, 2·ow)
      uint8_t* code = cn + (oh * OW + ow) * C;
      float* yp = yn + oh * OW + ow;  // y[c, oh, ow] at yp[c · plane]
      for (int64_t c = 0; c < C; c += 16) {
        const auto m = static_cast<__mmask16>(C - c >= 16 ? 0xFFFFu : (1u << (C - c)) - 1);
        const __m512 v00 = _mm512_maskz_loadu_ps(m, r0 + c), v01 = _mm512_maskz_loadu_ps(m, r0 + C + c);
        const __m512 v10 = _mm512_maskz_loadu_ps(m, r1 + c), v11 = _mm512_maskz_loadu_ps(m, r1 + C + c);
        __m512i k;
        const __m512 best = window_max(v00, v01, v10, v11, k1, k2, k3, k);
        _mm512_mask_cvtepi32_storeu_epi8(code + c, m, k);
        _mm512_mask_i32scatter_ps(yp + c * plane, m, lane_step, best, 4);
      }
    }
}

DG_TARGET_AVX512 void max_pool_k2s2_nhwc_backward_avx512(int64_t C, int64_t OH, int64_t OW, const float* dyn,
                                                         const uint8_t* cn, float* dzn) {
  const int64_t W = 2 * OW, plane = OH * OW;
  const __m512i lane_step = _mm512_mullo_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15),
                                               _mm512_set1_epi32(static_cast<int32_t>(plane)));
  for (int64_t oh = 0; oh < OH; ++oh)
    for (int64_t ow = 0; ow < OW; ++ow) {
      float* r0 = dzn + ((2 * oh) * W + 2 * ow) * C;
      float* r1 = r0 + W * C;
      const uint8_t* code = cn + (oh * OW + ow) * C;
      const float* dp = dyn + oh * OW + ow;  // dY[c, oh, ow] at dp[c · plane]
      for (int64_t c = 0; c < C; c += 16) {
        const auto m = static_cast<__mmask16>(C - c >= 16 ? 0xFFFFu : (1u << (C - c)) - 1);
        const __m512 g = _mm512_mask_i32gather_ps(_mm512_setzero_ps(), m, lane_step, dp + c * plane, 4);
        const __m512i k = _mm512_maskz_cvtepu8_epi32(0xFFFF, _mm_maskz_loadu_epi8(m, code + c));
        __m512 v[4];
        window_route(g, k, v);
        _mm512_mask_storeu_ps(r0 + c, m, v[0]);
        _mm512_mask_storeu_ps(r0 + C + c, m, v[1]);
        _mm512_mask_storeu_ps(r1 + c, m, v[2]);
        _mm512_mask_storeu_ps(r1 + C + c, m, v[3]);
      }
    }
}

// r[0..16) as the rows of a 16 × 16 matrix, transposed in place (three rounds of
// shuffles: pairs of rows, pairs of pairs, then 128-bit quarters).
DG_TARGET_AVX512 inline void transpose_16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_maskz_unpacklo_ps(0xFFFF, r[i], r[i + 1]);
    t[i + 1] = _mm512_maskz_unpackhi_ps(0xFFFF, r[i], r[i + 1]);
  }
  // quarter q of r[4b + c]: rows 4b … 4b + 3 of column 4q + c
  for (int i = 0; i < 16; i += 4) {
    const __m512d a = _mm512_castps_pd(t[i]), b = _mm512_castps_pd(t[i + 1]), c = _mm512_castps_pd(t[i + 2]),
                  d = _mm512_castps_pd(t[i + 3]);
    r[i] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xFF, a, c));
    r[i + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xFF, a, c));
    r[i + 2] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(0xFF, b, d));
    r[i + 3] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(0xFF, b, d));
  }
  for (int c = 0; c < 4; ++c) {
    t[c] = _mm512_maskz_shuffle_f32x4(0xFFFF, r[c], r[4 + c], 0x88);  // quarters 0, 2 of each
    t[4 + c] = _mm512_maskz_shuffle_f32x4(0xFFFF, r[c], r[4 + c], 0xdd);  // quarters 1, 3
    t[8 + c] = _mm512_maskz_shuffle_f32x4(0xFFFF, r[8 + c], r[12 + c], 0x88);
    t[12 + c] = _mm512_maskz_shuffle_f32x4(0xFFFF, r[8 + c], r[12 + c], 0xdd);
  }
  for (int c = 0; c < 4; ++c) {
    r[c] = _mm512_maskz_shuffle_f32x4(0xFFFF, t[c], t[8 + c], 0x88);
    r[8 + c] = _mm512_maskz_shuffle_f32x4(0xFFFF, t[c], t[8 + c], 0xdd);
    r[4 + c] = _mm512_maskz_shuffle_f32x4(0xFFFF, t[4 + c], t[12 + c], 0x88);
    r[12 + c] = _mm512_maskz_shuffle_f32x4(0xFFFF, t[4 + c], t[12 + c], 0xdd);
  }
}

// One image. For each block of 16 channels and output row, the block's 16 rows
// of dY and of the codes (up to 16 positions at a time) are loaded and
// transposed, so that each position's 16 channels sit in one register: they
// fill the 16 lanes of the window's four pixels in nChw16c. The stores are
// non-temporal (whole aligned cache lines; dz, 6.4 MB in W2's first layer, is
// read next by oneDNN from memory anyway): without reading the lines first this
// pass took 2.3% of W2's step instead of 4.1% (perf, 2 threads).
DG_TARGET_AVX512 void max_pool_k2s2_backward_blocked16_avx512(int64_t C, int64_t OH, int64_t OW, const float* dyn,
                                                              const uint8_t* cn, float* dzn) {
  const int64_t W = 2 * OW, plane = OH * OW;
  __m512 g[16], k[16];
  for (int64_t cb = 0; cb < C / 16; ++cb) {
    const float* dp = dyn + cb * 16 * plane;  // dY[16·cb + l, oh, ow] at dp[l · plane + oh·OW + ow]
    const uint8_t* cp = cn + cb * 16 * plane;
    float* blk = dzn + cb * 4 * plane * 16;   // the block's [H, W, 16]
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow0 = 0; ow0 < OW; ow0 += 16) {
        const int64_t n = std::min<int64_t>(16, OW - ow0);
        const auto m = static_cast<__mmask16>(n >= 16 ? 0xFFFFu : (1u << n) - 1);
        const int64_t o = oh * OW + ow0;
        for (int l = 0; l < 16; ++l) {
          g[l] = _mm512_maskz_loadu_ps(m, dp + l * plane + o);
          k[l] = _mm512_castsi512_ps(_mm512_maskz_cvtepu8_epi32(0xFFFF, _mm_maskz_loadu_epi8(m, cp + l * plane + o)));
        }
        transpose_16x16(g);  // g[j]: the 16 channels' dY at position (oh, ow0 + j)
        transpose_16x16(k);
        for (int64_t j = 0; j < n; ++j) {
          const __m512i kj = _mm512_castps_si512(k[j]);
          float* r0 = blk + ((2 * oh) * W + 2 * (ow0 + j)) * 16;  // pixel (2·oh, 2·ow); (2·oh, 2·ow + 1) at + 16
          float* r1 = r0 + W * 16;                                  // pixel (2·oh + 1, 2·ow)
          __m512 v[4];
          window_route(g[j], kj, v);
          _mm512_stream_ps(r0, v[0]);
          _mm512_stream_ps(r0 + 16, v[1]);
          _mm512_stream_ps(r1, v[2]);
          _mm512_stream_ps(r1 + 16, v[3]);
        }
      }
  }
  _mm_sfence();  // the streamed stores are ordered before whatever reads dz next
}
}  // namespace
#endif

bool max_pool_k2s2_relayout_fast() {
  return DG_SIMD_DISPATCH && kernels::active_isa() == kernels::Isa::Avx512;
}

void max_pool_k2s2_nhwc_forward(int64_t N, int64_t C, int64_t OH, int64_t OW, const float* z, float* y,
                                uint8_t* codes) {
  const int64_t W = 2 * OW, plane = OH * OW;
  [[maybe_unused]] const bool avx512 = kernels::active_isa() == kernels::Isa::Avx512 && C * plane < (int64_t(1) << 31);
  kernels::parallel_for_if(parallel_planes(N * C * plane * 4), N, [&](int64_t n) {
    const float* zn = z + n * 4 * plane * C;
    float* yn = y + n * C * plane;
    uint8_t* cn = codes + n * plane * C;
#if DG_SIMD_DISPATCH
    if (avx512) {
      max_pool_k2s2_nhwc_forward_avx512(C, OH, OW, zn, yn, cn);
      return;  // (the next image)
    }
#endif
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        const float* r0 = zn + ((2 * oh) * W + 2 * ow) * C;
        const float* r1 = r0 + W * C;
        uint8_t* code = cn + (oh * OW + ow) * C;
        for (int64_t c = 0; c < C; ++c) {
          int64_t k;
          yn[c * plane + oh * OW + ow] = window_max_scalar(r0[c], r0[C + c], r1[c], r1[C + c], k);
          code[c] = static_cast<uint8_t>(k);
        }
      }
  });
}

void max_pool_k2s2_nhwc_backward(int64_t N, int64_t C, int64_t OH, int64_t OW, const float* dy,
                                 const uint8_t* codes, float* dz) {
  const int64_t W = 2 * OW, plane = OH * OW;
  [[maybe_unused]] const bool avx512 = kernels::active_isa() == kernels::Isa::Avx512 && C * plane < (int64_t(1) << 31);
  kernels::parallel_for_if(parallel_planes(N * C * plane * 4), N, [&](int64_t n) {
    const float* dyn = dy + n * C * plane;
    const uint8_t* cn = codes + n * plane * C;
    float* dzn = dz + n * 4 * plane * C;
#if DG_SIMD_DISPATCH
    if (avx512) {
      max_pool_k2s2_nhwc_backward_avx512(C, OH, OW, dyn, cn, dzn);
      return;  // (the next image)
    }
#endif
    for (int64_t oh = 0; oh < OH; ++oh)
      for (int64_t ow = 0; ow < OW; ++ow) {
        float* r0 = dzn + ((2 * oh) * W + 2 * ow) * C;
        float* r1 = r0 + W * C;
        const uint8_t* code = cn + (oh * OW + ow) * C;
        for (int64_t c = 0; c < C; ++c) window_route_scalar(dyn[c * plane + oh * OW + ow], code[c], r0 + c, r1 + c, C);
      }
  });
}

void max_pool_k2s2_backward_blocked16(int64_t N, int64_t C, int64_t OH, int64_t OW, const float* dy,
                                      const uint8_t* codes, float* dz) {
  const int64_t W = 2 * OW, plane = OH * OW;
  // (streamed stores need 64-byte alignment: a fresh tensor has it)
  [[maybe_unused]] const bool avx512 =
      kernels::active_isa() == kernels::Isa::Avx512 && reinterpret_cast<uintptr_t>(dz) % 64 == 0;
  kernels::parallel_for_if(parallel_planes(N * C * plane * 4), N, [&](int64_t n) {
    const float* dyn = dy + n * C * plane;
    const uint8_t* cn = codes + n * C * plane;
    float* dzn = dz + n * 4 * plane * C;
#if DG_SIMD_DISPATCH
    if (avx512) {
      max_pool_k2s2_backward_blocked16_avx512(C, OH, OW, dyn, cn, dzn);
      return;  // (the next image)
    }
#endif
    for (int64_t c = 0; c < C; ++c) {
      float* blk = dzn + (c / 16) * 4 * plane * 16 + c % 16;  // dz[n, c/16, h, w, c%16] at blk[(h·W + w)·16]
      for (int64_t oh = 0; oh < OH; ++oh)
        for (int64_t ow = 0; ow < OW; ++ow) {
          float* r0 = blk + ((2 * oh) * W + 2 * ow) * 16;
          window_route_scalar(dyn[c * plane + oh * OW + ow], cn[c * plane + oh * OW + ow], r0, r0 + W * 16, 16);
        }
    }
  });
}

namespace {

struct MaxPool2dBackward : Node {
  MaxPool2dBackward() : Node(OpKind::MaxPool2d) {}
  PoolShape s;
  Shape in_shape;
  Tensor indices;  // int64, the output's shape; or, when undefined:
  Tensor codes;    // uint8 window codes (k2s2_tiles)
  TensorList apply(TensorList&& g) override {
    return {max_pool_nchw_backward(s, in_shape, indices, codes, kernels::as_contiguous(g[0]))};
  }
};

// ------------------------------------------------------------------ avg pool
// Window bounds clipped to the input, and the divisor PyTorch uses.
struct AvgWindow {
  int64_t h0, h1, w0, w1;
  int64_t divisor;
};

inline AvgWindow avg_window(const PoolShape& s, int64_t oh, int64_t ow, bool count_include_pad,
                            std::optional<int64_t> divisor_override) {
  int64_t h0 = oh * s.SH - s.PH, w0 = ow * s.SW - s.PW;
  int64_t h1 = std::min(h0 + s.KH, s.H + s.PH), w1 = std::min(w0 + s.KW, s.W + s.PW);
  const int64_t padded = (h1 - h0) * (w1 - w0);  // the window inside input + padding
  h0 = std::max<int64_t>(h0, 0);
  w0 = std::max<int64_t>(w0, 0);
  h1 = std::min(h1, s.H);
  w1 = std::min(w1, s.W);
  int64_t divisor = divisor_override ? *divisor_override : count_include_pad ? padded : (h1 - h0) * (w1 - w0);
  return {h0, h1, w0, w1, divisor};
}

struct AvgPool2dBackward : Node {
  AvgPool2dBackward() : Node(OpKind::AvgPool2d) {}
  PoolShape s;
  Shape in_shape;
  bool count_include_pad = true;
  std::optional<int64_t> divisor_override;
  TensorList apply(TensorList&& g) override {
    Tensor dy = kernels::as_contiguous(g[0]);
    Tensor dx = zeros(in_shape, dy.dtype());  // dx [N, C, H, W]
    dispatch_floating(dy.dtype(), "avg_pool2d backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* d = dy.data_ptr<T>();
      T* out = dx.data_ptr<T>();
      kernels::parallel_for_if(parallel_planes(s.P * s.OH * s.OW * s.KH * s.KW), s.P, [&](int64_t p) {
        T* dxp = out + p * s.H * s.W;
        for (int64_t oh = 0; oh < s.OH; ++oh)
          for (int64_t ow = 0; ow < s.OW; ++ow) {
            AvgWindow w = avg_window(s, oh, ow, count_include_pad, divisor_override);
            if (w.h0 >= w.h1 || w.w0 >= w.w1) continue;
            // dx[window] += dY[p, oh, ow] / divisor: each input of the window counted once in the mean
            const T share = d[(p * s.OH + oh) * s.OW + ow] / static_cast<T>(w.divisor);
            for (int64_t ih = w.h0; ih < w.h1; ++ih)
              for (int64_t iw = w.w0; iw < w.w1; ++iw) dxp[ih * s.W + iw] += share;
          }
      });
    });
    return {dx};
  }
};

// ---------------------------------------------------------- adaptive average
inline int64_t start_index(int64_t o, int64_t out, int64_t in) { return (o * in) / out; }
inline int64_t end_index(int64_t o, int64_t out, int64_t in) { return ((o + 1) * in + out - 1) / out; }

struct AdaptiveAvgPool2dBackward : Node {
  AdaptiveAvgPool2dBackward() : Node(OpKind::AdaptiveAvgPool2d) {}
  PoolShape s;
  Shape in_shape;
  TensorList apply(TensorList&& g) override {
    Tensor dy = kernels::as_contiguous(g[0]);
    Tensor dx = zeros(in_shape, dy.dtype());  // dx [N, C, H, W]
    dispatch_floating(dy.dtype(), "adaptive_avg_pool2d backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* d = dy.data_ptr<T>();
      T* out = dx.data_ptr<T>();
      kernels::parallel_for_if(parallel_planes(s.P * s.H * s.W), s.P, [&](int64_t p) {
        T* dxp = out + p * s.H * s.W;
        for (int64_t oh = 0; oh < s.OH; ++oh) {
          const int64_t h0 = start_index(oh, s.OH, s.H), h1 = end_index(oh, s.OH, s.H);
          for (int64_t ow = 0; ow < s.OW; ++ow) {
            const int64_t w0 = start_index(ow, s.OW, s.W), w1 = end_index(ow, s.OW, s.W);
            // dx[window] += dY / |window|
            const T share = d[(p * s.OH + oh) * s.OW + ow] / static_cast<T>((h1 - h0) * (w1 - w0));
            for (int64_t ih = h0; ih < h1; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw) dxp[ih * s.W + iw] += share;
          }
        }
      });
    });
    return {dx};
  }
};

}  // namespace
}  // namespace ops

using namespace ops;

namespace ops {
namespace {

// The output, and the int64 indices when asked for. Without them, a 2×2 /
// stride-2 window tiling the plane keeps window codes for backward instead.
std::tuple<Tensor, Tensor> max_pool2d_impl(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride,
                                           IntArrayRef padding, IntArrayRef dilation, bool ceil_mode,
                                           bool want_indices) {
  PoolShape s = pool_shape(input, kernel_size, stride, padding, dilation, ceil_mode, "max_pool2d");
  Tensor x = kernels::as_contiguous(input);
  Shape os = out_shape(x, s.OH, s.OW);
  const bool use_codes = !want_indices && k2s2_tiles(s);
  Tensor y = make_tensor(os, x.dtype()), idx = make_tensor(os, use_codes ? kUInt8 : kLong);
  max_pool_nchw_forward(s, x, y, idx, use_codes);
  record<MaxPool2dBackward>(y, {&input}, {}, [&](MaxPool2dBackward& n) {
    n.s = s;
    n.in_shape = Shape(input.sizes());
    if (use_codes) n.codes = n.save(idx);
    else n.indices = n.save(idx);
  });
  return {y, use_codes ? Tensor() : idx};
}

}  // namespace
}  // namespace ops

std::tuple<Tensor, Tensor> max_pool2d_with_indices(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride,
                                                   IntArrayRef padding, IntArrayRef dilation, bool ceil_mode) {
  return max_pool2d_impl(input, kernel_size, stride, padding, dilation, ceil_mode, /*want_indices=*/true);
}

Tensor max_pool2d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride, IntArrayRef padding,
                  IntArrayRef dilation, bool ceil_mode) {
  return std::get<0>(max_pool2d_impl(input, kernel_size, stride, padding, dilation, ceil_mode, false));
}

Tensor avg_pool2d(const Tensor& input, IntArrayRef kernel_size, IntArrayRef stride, IntArrayRef padding,
                  bool ceil_mode, bool count_include_pad, std::optional<int64_t> divisor_override) {
  PoolShape s = pool_shape(input, kernel_size, stride, padding, 1, ceil_mode, "avg_pool2d");
  if (divisor_override && *divisor_override == 0) throw Error("avg_pool2d: divisor_override must not be zero");
  Tensor x = kernels::as_contiguous(input);
  Tensor y = make_tensor(out_shape(x, s.OH, s.OW), x.dtype());
  dispatch_floating(x.dtype(), "avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xd = x.data_ptr<T>();
    T* yd = y.data_ptr<T>();
    kernels::parallel_for_if(parallel_planes(s.P * s.OH * s.OW * s.KH * s.KW), s.P, [&](int64_t p) {
      const T* xp = xd + p * s.H * s.W;
      for (int64_t oh = 0; oh < s.OH; ++oh)
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          AvgWindow w = avg_window(s, oh, ow, count_include_pad, divisor_override);
          T sum = 0;
          for (int64_t ih = w.h0; ih < w.h1; ++ih)
            for (int64_t iw = w.w0; iw < w.w1; ++iw) sum += xp[ih * s.W + iw];
          yd[(p * s.OH + oh) * s.OW + ow] = w.h0 < w.h1 && w.w0 < w.w1 ? sum / static_cast<T>(w.divisor) : T(0);
        }
    });
  });
  record<AvgPool2dBackward>(y, {&input}, {}, [&](AvgPool2dBackward& n) {
    n.s = s;
    n.in_shape = Shape(input.sizes());
    n.count_include_pad = count_include_pad;
    n.divisor_override = divisor_override;
  });
  return y;
}

Tensor adaptive_avg_pool2d(const Tensor& input, IntArrayRef output_size) {
  detail::check_defined(input, "adaptive_avg_pool2d");
  if (input.dim() != 4 && input.dim() != 3)
    throw ShapeError("adaptive_avg_pool2d: expected input [N, C, H, W] or [C, H, W], got " +
                     shape_str(input.sizes()));
  if (!is_floating(input.dtype()))
    throw DTypeError(std::string("adaptive_avg_pool2d: expected a floating-point input, got ") +
                     dtype_name(input.dtype()));
  PoolShape s;
  s.H = input.size(-2);
  s.W = input.size(-1);
  s.P = input.numel() / std::max<int64_t>(s.H * s.W, 1);
  s.OH = pick(output_size, 0, "adaptive_avg_pool2d", "output_size");
  s.OW = pick(output_size, 1, "adaptive_avg_pool2d", "output_size");
  if (s.OH < 1 || s.OW < 1 || s.H < 1 || s.W < 1)
    throw ShapeError("adaptive_avg_pool2d: output_size " + shape_str(output_size) +
                     " must be positive and the input " + shape_str(input.sizes()) + " non-empty");
  Tensor x = kernels::as_contiguous(input);
  Tensor y = make_tensor(out_shape(x, s.OH, s.OW), x.dtype());
  dispatch_floating(x.dtype(), "adaptive_avg_pool2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* xd = x.data_ptr<T>();
    T* yd = y.data_ptr<T>();
    kernels::parallel_for_if(parallel_planes(s.P * s.H * s.W), s.P, [&](int64_t p) {
      const T* xp = xd + p * s.H * s.W;
      for (int64_t oh = 0; oh < s.OH; ++oh) {
        const int64_t h0 = start_index(oh, s.OH, s.H), h1 = end_index(oh, s.OH, s.H);
        for (int64_t ow = 0; ow < s.OW; ++ow) {
          const int64_t w0 = start_index(ow, s.OW, s.W), w1 = end_index(ow, s.OW, s.W);
          T sum = 0;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) sum += xp[ih * s.W + iw];
          yd[(p * s.OH + oh) * s.OW + ow] = sum / static_cast<T>((h1 - h0) * (w1 - w0));
        }
      }
    });
  });
  record<AdaptiveAvgPool2dBackward>(y, {&input}, {}, [&](AdaptiveAvgPool2dBackward& n) {
    n.s = s;
    n.in_shape = Shape(input.sizes());
  });
  return y;
}

}  // namespace dg
