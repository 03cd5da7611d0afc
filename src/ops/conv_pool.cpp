// conv2d_max_pool2d: a convolution whose output goes straight into max pooling,
// as one op — what nn::Sequential runs for a Conv2d followed by a MaxPool2d
// (with a ReLU between them, after the ReLU → MaxPool2d reorder).
//
//   Z [N, K, OH, OW]   = conv2d(X, W, b)            (conv.cpp)
//   Y [N, K, PH, PW]   = max of Z over each window  (pool.cpp), argmax kept
// Backward, by the chain rule through Z:
//   G = dZ [N, K, OH, OW] = dY added at each window's argmax (0 elsewhere)
//   dX = col2im(Wᵀ · G),  dW = Σ_N G · colsᵀ,  db = Σ_{N, OH, OW} G  (conv2d's backward with dY = G)
//
// Why one op: where oneDNN runs the convolution on NHWC activations (16 or more
// channels in and out), Z never leaves that layout — the pooling reads it there
// and writes Y in NCHW, and G is written in NHWC for oneDNN's backward — so Z
// and G skip the two reorders between NCHW and NHWC that conv2d makes
// (docs/performance.md, round 10). Z itself is not kept; the backward needs only
// the argmax. Elsewhere (im2col, float64, windows other than a tiling 2×2, a CPU
// without AVX-512) the op runs the NCHW kernels, with the same values; on the
// im2col route each image's Z_n is pooled right after its GEMMs, while it is in
// cache, so Z is never written out whole (W2's first layer at batch 1000: 100 MB).
#include "ops/conv_pool_util.hpp"

#include "dimgrad/nn/conv.hpp"

namespace dg {
namespace ops {
namespace {

using kernels::Conv2dShape;

struct Conv2dMaxPool2dBackward : ConvNode {
  Conv2dMaxPool2dBackward() : ConvNode(OpKind::Conv2dMaxPool2d) {}
  PoolShape ps;
  bool nhwc = false;  // Z (and G) laid out [N, OH, OW, K]; the argmax as codes [N, PH, PW, K]
  Tensor indices;     // int64 argmax in Z's planes; or, when undefined:
  Tensor codes;       // uint8 window codes (k2s2_tiles)
  TensorList apply(TensorList&& g) override {
    Tensor dy = kernels::as_contiguous(g[0]);  // dY [N, K, PH, PW]
    Tensor dz;                                 // G = dZ, Z's shape, in `layout`
    kernels::DyLayout layout = kernels::DyLayout::NCHW;
    if (nhwc) {
      dz = make_tensor({s.N, s.OH, s.OW, s.K}, dy.dtype());
      max_pool_k2s2_nhwc_backward(s.N, s.K, ps.OH, ps.OW, dy.data_ptr<float>(), codes.data_ptr<uint8_t>(),
                                  dz.data_ptr<float>());
      layout = kernels::DyLayout::NHWC;
    } else if (codes.defined() && max_pool_k2s2_relayout_fast() && only_weights_read_blocked16()) {
      // a first layer: G only feeds oneDNN's weight gradient, which reads nChw16c
      dz = make_tensor({s.N, s.K / 16, s.OH, s.OW, 16}, dy.dtype());
      max_pool_k2s2_backward_blocked16(s.N, s.K, ps.OH, ps.OW, dy.data_ptr<float>(), codes.data_ptr<uint8_t>(),
                                       dz.data_ptr<float>());
      layout = kernels::DyLayout::Blocked16;
    } else {
      dz = max_pool_nchw_backward(ps, Shape({s.N, s.K, s.OH, s.OW}), indices, codes, dy);
    }
    ConvGrads r = conv_grads(dz, layout);
    return {r.dx, r.dw, r.db};
  }
};

}  // namespace
}  // namespace ops

using namespace ops;

namespace nn::functional::detail {

Tensor conv2d_max_pool2d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride,
                         IntArrayRef padding, IntArrayRef dilation, int64_t groups, IntArrayRef pool_kernel,
                         IntArrayRef pool_stride, IntArrayRef pool_padding, IntArrayRef pool_dilation,
                         bool ceil_mode) {
  dg::detail::check_defined(input, "conv2d_max_pool2d");
  // An unbatched [C, H, W] input runs as a batch of one.
  if (input.dim() == 3)
    return conv2d_max_pool2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups, pool_kernel,
                             pool_stride, pool_padding, pool_dilation, ceil_mode)
        .squeeze(0);
  const Conv2dShape cs = conv_shape(input, weight, bias, stride, padding, dilation, groups);
  const PoolShape ps = pool_shape(Shape({cs.N, cs.K, cs.OH, cs.OW}), input.dtype(), pool_kernel, pool_stride,
                                  pool_padding, pool_dilation, ceil_mode, "conv2d_max_pool2d");
  Tensor x = kernels::as_contiguous(input), w = kernels::as_contiguous(weight);
  Tensor b = bias.defined() ? kernels::as_contiguous(bias) : Tensor();
  const bool nhwc = k2s2_tiles(ps) && conv_runs_nhwc(cs, x.dtype()) && max_pool_k2s2_relayout_fast();
  kernels::DnnlConvSaved dnnl_saved;
  Tensor y = make_tensor({cs.N, cs.K, ps.OH, ps.OW}, x.dtype());
  const bool codes = k2s2_tiles(ps);
  Tensor idx = nhwc ? make_tensor({cs.N, ps.OH, ps.OW, cs.K}, kUInt8)
                    : make_tensor({cs.N, cs.K, ps.OH, ps.OW}, codes ? kUInt8 : kLong);
  if (nhwc) {
    Tensor z = conv_forward_raw(cs, x, w, b, &dnnl_saved, true);  // Z [N, OH, OW, K], not kept
    max_pool_k2s2_nhwc_forward(cs.N, cs.K, ps.OH, ps.OW, z.data_ptr<float>(), y.data_ptr<float>(),
                               idx.data_ptr<uint8_t>());
  } else if (conv_forward_on_im2col(cs, x.dtype())) {
    // Each image's Z_n [K, OH, OW] is pooled right after its GEMMs, while it is in cache.
    PoolShape image = ps;
    image.P = cs.K;
    const int64_t y_step = cs.K * ps.OH * ps.OW, idx_bytes = y_step * (codes ? 1 : 8);
    char* yd = static_cast<char*>(y.raw_data());
    char* id = static_cast<char*>(idx.raw_data());
    const int64_t y_bytes = y_step * static_cast<int64_t>(x.element_size());
    conv_forward_im2col_each(cs, x, w, b, [&](int64_t n, const void* zn) {
      max_pool_nchw_forward(image, x.dtype(), zn, yd + n * y_bytes, id + n * idx_bytes, codes);
    });
  } else {
    Tensor z = conv_forward_raw(cs, x, w, b, &dnnl_saved);  // Z [N, K, OH, OW], not kept
    max_pool_nchw_forward(ps, z, y, idx, codes);
  }
  record<Conv2dMaxPool2dBackward>(y, {&input, &weight, &bias}, {}, [&](Conv2dMaxPool2dBackward& n) {
    n.save_conv(cs, x, w, b, dnnl_saved);
    n.ps = ps;
    n.nhwc = nhwc;
    if (codes) n.codes = n.save(idx);
    else n.indices = n.save(idx);
  });
  return y;
}

}  // namespace nn::functional::detail
}  // namespace dg
