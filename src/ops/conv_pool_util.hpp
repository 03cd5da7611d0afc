// The parts of conv2d (conv.cpp) and max_pool2d (pool.cpp) that the fused op
// conv2d_max_pool2d (conv_pool.cpp) runs too; not installed.
#pragma once

#include <cstdint>
#include <functional>

#include "kernels/im2col.hpp"
#include "ops/op_util.hpp"

namespace dg::ops {

// ---------------------------------------------------------------- conv.cpp
// Checks the operands (errors name conv2d and the shapes) and returns the geometry.
kernels::Conv2dShape conv_shape(const Tensor& x, const Tensor& w, const Tensor& b, IntArrayRef stride,
                                IntArrayRef padding, IntArrayRef dilation, int64_t groups);
// Whether this convolution's forward takes the im2col route (where
// conv_forward_im2col_each applies).
bool conv_forward_on_im2col(const kernels::Conv2dShape& s, ScalarType dt);
// The forward on the im2col route, image by image: each image's output Y_n [K,
// OH, OW] (contiguous, x's dtype) is handed to each(n, Y_n) right after its
// GEMMs, from a per-thread buffer that is still in cache, instead of being
// written to a tensor. Images run in parallel (each() too, so it must only
// write its own image's part of anything).
void conv_forward_im2col_each(const kernels::Conv2dShape& s, const Tensor& x, const Tensor& w, const Tensor& b,
                              const std::function<void(int64_t, const void*)>& each);
// Whether the forward and both gradients of this convolution run on oneDNN with
// NHWC activations (then y and dY can be handed over in NHWC with no reorder).
bool conv_runs_nhwc(const kernels::Conv2dShape& s, ScalarType dt);
// y = conv(x, w) + b on the route conv_use_dnnl picks; x, w, b contiguous, b may
// be undefined. y is [N, K, OH, OW], or, when y_nhwc (only where conv_runs_nhwc),
// a contiguous [N, OH, OW, K]. saved (may be null): see kernels::DnnlConvSaved.
Tensor conv_forward_raw(const kernels::Conv2dShape& s, const Tensor& x, const Tensor& w, const Tensor& b,
                        kernels::DnnlConvSaved* saved = nullptr, bool y_nhwc = false);
// The gradients asked for (the others undefined): dx [N, C, H, W], dw [K, C/G, KH,
// KW], db [K]. dy contiguous, laid out as dy_layout says (NHWC and Blocked16 only
// where oneDNN runs the passes that read it; else it is put back into NCHW). x is
// read only for dw and db.
struct ConvGrads {
  Tensor dx, dw, db;
};
ConvGrads conv_backward_raw(const kernels::Conv2dShape& s, const Tensor& x, const Tensor& w,
                            const kernels::DnnlConvSaved& saved, bool has_bias, const Tensor& dy, bool want_dx,
                            bool want_dw, bool want_db, kernels::DyLayout dy_layout = kernels::DyLayout::NCHW);
// A node whose inputs are conv2d's (x, w, b): what its backward needs, kept by
// save_conv when the node is recorded.
struct ConvNode : Node {
  using Node::Node;
  kernels::Conv2dShape s;
  Tensor x, w;                        // contiguous (x only when dw or db is needed)
  kernels::DnnlConvSaved dnnl_saved;  // the forward's oneDNN primitives and x in their layout (empty on im2col)
  bool has_bias = false;
  void save_conv(const kernels::Conv2dShape& shape, const Tensor& x, const Tensor& w, const Tensor& b,
                 const kernels::DnnlConvSaved& fwd);
  void release_saved() override {  // the graph is done with them: free the memory now
    Node::release_saved();
    dnnl_saved.reset();
  }
  // The gradients of x, w, b that are needed, from dY (contiguous, laid out as dy_layout says).
  ConvGrads conv_grads(const Tensor& dy, kernels::DyLayout dy_layout = kernels::DyLayout::NCHW) {
    return conv_backward_raw(s, x, w, dnnl_saved, has_bias, dy, needs_grad(0), needs_grad(1), needs_grad(2),
                             dy_layout);
  }
  // Whether this backward's only pass is the weight gradient on oneDNN reading
  // dY in nChw16c (a float32 first layer with few input channels): then dY can be
  // written in that layout (DyLayout::Blocked16) and skip the reorder.
  bool only_weights_read_blocked16() const;
};

// ---------------------------------------------------------------- pool.cpp
struct PoolShape {
  int64_t P = 1, H = 1, W = 1;  // planes (N·C) and their size
  int64_t KH = 1, KW = 1, SH = 1, SW = 1, PH = 0, PW = 0, DH = 1, DW = 1;
  int64_t OH = 1, OW = 1;
};
// The pooling geometry of an input of these sizes ([N, C, H, W] or [C, H, W]);
// errors name `op`.
PoolShape pool_shape(IntArrayRef sizes, ScalarType dt, IntArrayRef kernel, IntArrayRef stride, IntArrayRef padding,
                     IntArrayRef dilation, bool ceil_mode, const char* op);
// A 2×2 / stride-2 window without padding or dilation whose windows tile the
// plane exactly (H = 2·OH, W = 2·OW): every input pixel is in one window, and the
// argmax is kept as its code in the window, 0 1 / 2 3 (one byte).
bool k2s2_tiles(const PoolShape& s);
// Max pooling of a contiguous NCHW x into y (the output's shape) and idx: int64
// plane indices, or uint8 window codes when `codes` (only where k2s2_tiles).
void max_pool_nchw_forward(const PoolShape& s, const Tensor& x, const Tensor& y, const Tensor& idx, bool codes);
// The same on raw buffers of dtype dt (idx: int64, or uint8 when codes), serial
// when called inside a parallel region.
void max_pool_nchw_forward(const PoolShape& s, ScalarType dt, const void* x, void* y, void* idx, bool codes);
// dx [in_shape] from dy (contiguous, the output's shape) and what the forward kept:
// indices (int64), or codes (uint8) when indices is undefined.
Tensor max_pool_nchw_backward(const PoolShape& s, const Shape& in_shape, const Tensor& indices, const Tensor& codes,
                              const Tensor& dy);
// Whether the three kernels below run vectorized here (AVX-512); else their
// loops are scalar and conv2d_max_pool2d keeps to NCHW.
bool max_pool_k2s2_relayout_fast();
// The 2×2 / stride-2 window over z laid out [N, H, W, C] (a tiling one, H = 2·OH,
// W = 2·OW): y [N, C, OH, OW] (NCHW) and the window codes [N, OH, OW, C]; the same
// selects in the same order as the NCHW kernels (first maximum wins ties, a NaN
// is taken), so the same values and codes.
void max_pool_k2s2_nhwc_forward(int64_t N, int64_t C, int64_t OH, int64_t OW, const float* z, float* y,
                                uint8_t* codes);
// Its backward: dz [N, H, W, C] from dy [N, C, OH, OW] and the codes; every pixel
// is written once (dY where its window's code points, 0 elsewhere).
void max_pool_k2s2_nhwc_backward(int64_t N, int64_t C, int64_t OH, int64_t OW, const float* dy,
                                 const uint8_t* codes, float* dz);
// The NCHW backward (dy [N, C, OH, OW], codes [N, C, OH, OW] from the NCHW
// forward) writing dz in oneDNN's blocked nChw16c, [N, C/16, H, W, 16] (C a
// multiple of 16): every pixel written once, as the NCHW backward does.
void max_pool_k2s2_backward_blocked16(int64_t N, int64_t C, int64_t OH, int64_t OW, const float* dy,
                                      const uint8_t* codes, float* dz);

}  // namespace dg::ops
