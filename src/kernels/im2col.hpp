// Raw 2-d convolution helpers: im2col / col2im (the readable route to a
// convolution as one matrix product) and oneDNN's convolution primitives (the
// other route). Knows nothing of autograd; src/ops/conv.cpp builds on it.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "dimgrad/tensor.hpp"

namespace dg::kernels {

// The geometry of one 2-d convolution (or pooling window walk).
//   input  [N, C, H, W],  weight [K, C/groups, KH, KW],  output [N, K, OH, OW]
//   OH = (H + 2·PH − DH·(KH − 1) − 1) / SH + 1   (same for OW)
struct Conv2dShape {
  int64_t N = 1, C = 1, H = 1, W = 1;
  int64_t K = 1, KH = 1, KW = 1;
  int64_t SH = 1, SW = 1, PH = 0, PW = 0, DH = 1, DW = 1;
  int64_t groups = 1;
  int64_t OH = 1, OW = 1;
  int64_t Cg() const { return C / groups; }   // input channels per group
  int64_t Kg() const { return K / groups; }   // output channels per group
  int64_t rows() const { return C * KH * KW; }  // rows of cols (all groups)
  int64_t plane() const { return OH * OW; }     // columns of cols
  // 1×1 kernel, stride 1, no padding: cols is the input itself.
  bool pointwise() const { return KH == 1 && KW == 1 && SH == 1 && SW == 1 && PH == 0 && PW == 0; }
  std::string str() const;
};

// cols[(c·KH + i)·KW + j, oh·OW + ow] = x[c, oh·SH − PH + i·DH, ow·SW − PW + j·DW]
// (0 outside the image), for one image x [C, H, W] → cols [C·KH·KW, OH·OW].
template <class T> void im2col(const T* x, T* cols, const Conv2dShape& s);
// The adjoint of im2col: dx[c, ih, iw] += every cols entry that im2col read from
// there. dx [C, H, W] must be zeroed (or hold a sum to add to) beforehand.
template <class T> void col2im(const T* cols, T* dx, const Conv2dShape& s);

// ------------------------------------------------------------ oneDNN route
// Which route float32 convolutions take (float64 always takes im2col + GEMM).
// Auto picks per pass what measured fastest (conv_use_dnnl); Im2col and OneDNN
// force one route for every pass (tests compare them). The environment variable
// DG_CONV_ALGO=im2col|onednn sets the starting value (for benchmarks).
enum class ConvAlgo { Auto, Im2col, OneDNN };
void set_conv_algo(ConvAlgo a);
ConvAlgo conv_algo();
enum class ConvPass { Forward, BackwardData, BackwardWeights };
// Whether `pass` of this float32 convolution runs on oneDNN under the current setting.
bool conv_use_dnnl(const Conv2dShape& s, ConvPass pass);
// Whether oneDNN can run this geometry (it needs a non-negative right padding).
bool dnnl_conv2d_supported(const Conv2dShape& s);
// How many sets of oneDNN convolution primitives are cached (one per geometry,
// bias or not, and thread count; the most recently used, at most
// kConvPrimitiveSets); for tests.
int64_t dnnl_conv2d_cached_primitives();
// How many sets have been made since the program started (for tests).
int64_t dnnl_conv2d_primitive_sets_made();
inline constexpr int64_t kConvPrimitiveSets = 64;

// What a oneDNN forward leaves for its backward: the set of primitives it ran
// (the backward runs the same set, even if the thread count has changed since,
// so that `x` below is in the layout its weight gradient reads), and x in that
// layout when the forward had to reorder x into it (else undefined), so that the
// backward need not reorder x again.
struct DnnlConvSaved {
  std::shared_ptr<void> prims;
  Tensor x;
  void reset() {
    prims.reset();
    x.reset();
  }
};

// Whether oneDNN runs this geometry's activations in NHWC (16 or more channels
// in and out, no groups; see conv_dnnl.cpp): a caller that hands it y and dY in
// NHWC (y_nhwc, DyLayout::NHWC below) then skips their reorders.
bool dnnl_conv2d_nhwc(const Conv2dShape& s);
// How a caller lays dY out for dnnl_conv2d_backward: NCHW; NHWC ([N, OH, OW,
// K]); or oneDNN's blocked nChw16c ([N, K/16, OH, OW, 16], K a multiple of 16),
// the layout its weight gradient reads for few input channels (a first layer).
// Any layout is correct; one a pass reads as it is skips that pass's reorder.
enum class DyLayout { NCHW, NHWC, Blocked16 };
// Whether the weight-gradient primitive of this backward (saved's set, or the
// cached one when the forward took the im2col route) reads dY in nChw16c.
bool dnnl_conv2d_weights_read_blocked16(const Conv2dShape& s, bool bias, const DnnlConvSaved& saved);

// float32 convolution by oneDNN primitives (cached per shape). Tensors are
// plain NCHW / OIHW, contiguous, except y when y_nhwc: [N, OH, OW, K].
// bias may be null. saved (may be null): filled for the backward (above).
void dnnl_conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y,
                         DnnlConvSaved* saved = nullptr, bool y_nhwc = false);
// The gradients that are asked for (a null pointer skips that pass), overwritten:
// dx [N, C, H, W]; dw [K, C/g, KH, KW] with db [K] (db may be null; x, or
// saved.x from the forward when defined, is read only for dw). dY is put into
// oneDNN's layout once for both passes. `bias`: whether the forward had one.
// saved: what the forward left, or empty when the forward took the im2col route.
// dy_layout: how dY is laid out (dx is NCHW either way).
void dnnl_conv2d_backward(const Conv2dShape& s, const float* x, const DnnlConvSaved& saved, const float* dy,
                          const float* w, float* dx, float* dw, float* db, bool bias,
                          DyLayout dy_layout = DyLayout::NCHW);

}  // namespace dg::kernels
