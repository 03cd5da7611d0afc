// im2col / col2im: a convolution's input windows laid out as the columns of a
// matrix, so that the convolution becomes one GEMM (and its backward two).
#include "kernels/im2col.hpp"

#include <algorithm>
#include <cstring>
#include <sstream>

namespace dg::kernels {

std::string Conv2dShape::str() const {
  std::ostringstream o;
  o << "input [" << N << ", " << C << ", " << H << ", " << W << "], weight [" << K << ", " << Cg() << ", " << KH
    << ", " << KW << "], stride (" << SH << ", " << SW << "), padding (" << PH << ", " << PW << "), dilation (" << DH
    << ", " << DW << "), groups " << groups << " → output [" << N << ", " << K << ", " << OH << ", " << OW << "]";
  return o.str();
}

namespace {

// The output columns ow whose input column ow·SW − PW + off lies inside [0, W):
// [lo, hi). Everything outside reads the zero padding.
inline void valid_range(int64_t off, int64_t W, int64_t SW, int64_t OW, int64_t& lo, int64_t& hi) {
  // iw = ow·SW + off ≥ 0  ⇔  ow ≥ ceil(−off / SW)
  lo = off >= 0 ? 0 : (-off + SW - 1) / SW;
  // iw < W  ⇔  ow ≤ (W − 1 − off) / SW
  hi = (W - 1 - off) < 0 ? 0 : (W - 1 - off) / SW + 1;
  lo = std::min(lo, OW);
  hi = std::clamp(hi, lo, OW);
}

}  // namespace

template <class T> void im2col(const T* x, T* cols, const Conv2dShape& s) {
  const int64_t OHW = s.OH * s.OW;
  for (int64_t c = 0; c < s.C; ++c) {
    for (int64_t i = 0; i < s.KH; ++i) {
      for (int64_t j = 0; j < s.KW; ++j) {
        T* dst = cols + ((c * s.KH + i) * s.KW + j) * OHW;
        const int64_t woff = j * s.DW - s.PW;
        int64_t lo, hi;
        valid_range(woff, s.W, s.SW, s.OW, lo, hi);
        for (int64_t oh = 0; oh < s.OH; ++oh, dst += s.OW) {
          const int64_t ih = oh * s.SH - s.PH + i * s.DH;
          if (ih < 0 || ih >= s.H) {
            std::fill(dst, dst + s.OW, T(0));
            continue;
          }
          const T* row = x + (c * s.H + ih) * s.W;
          std::fill(dst, dst + lo, T(0));
          if (s.SW == 1) {
            if (hi > lo) std::memcpy(dst + lo, row + lo + woff, static_cast<size_t>(hi - lo) * sizeof(T));
          } else {
            for (int64_t ow = lo; ow < hi; ++ow) dst[ow] = row[ow * s.SW + woff];
          }
          std::fill(dst + hi, dst + s.OW, T(0));
        }
      }
    }
  }
}

template <class T> void col2im(const T* cols, T* dx, const Conv2dShape& s) {
  const int64_t OHW = s.OH * s.OW;
  for (int64_t c = 0; c < s.C; ++c) {
    for (int64_t i = 0; i < s.KH; ++i) {
      for (int64_t j = 0; j < s.KW; ++j) {
        const T* src = cols + ((c * s.KH + i) * s.KW + j) * OHW;
        const int64_t woff = j * s.DW - s.PW;
        int64_t lo, hi;
        valid_range(woff, s.W, s.SW, s.OW, lo, hi);
        for (int64_t oh = 0; oh < s.OH; ++oh, src += s.OW) {
          const int64_t ih = oh * s.SH - s.PH + i * s.DH;
          if (ih < 0 || ih >= s.H) continue;  // the padding takes no gradient
          T* row = dx + (c * s.H + ih) * s.W;
          for (int64_t ow = lo; ow < hi; ++ow) row[ow * s.SW + woff] += src[ow];
        }
      }
    }
  }
}

template void im2col<float>(const float*, float*, const Conv2dShape&);
template void im2col<double>(const double*, double*, const Conv2dShape&);
template void col2im<float>(const float*, float*, const Conv2dShape&);
template void col2im<double>(const double*, double*, const Conv2dShape&);

}  // namespace dg::kernels
