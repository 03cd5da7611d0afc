// 2-d convolution, forward and backward side by side.
//
// The readable route (im2col + GEMM). For one image n and one group, with
// P = OH·OW output positions and R = C/G·KH·KW taps per output:
//   cols_n [R × P]    = im2col(x_n): column p holds the input window of output p
//   Y_n    [K/G × P]  = W [K/G × R] · cols_n [R × P]  (+ b [K/G] broadcast over P)
// Dimension analysis gives the backward:
//   dW [K/G × R]      = Σ_n dY_n [K/G × P] · cols_nᵀ [P × R]   (the only product that is K/G × R)
//   dcols_n [R × P]   = Wᵀ [R × K/G] · dY_n [K/G × P]          (the only product that is R × P)
//   dx_n              = col2im(dcols_n): each window entry flows back to the pixel it was copied from,
//                       and a pixel copied into several windows receives the sum
//   db [K]            = Σ_{n, oh, ow} dY                        (b was broadcast over N and P)
// The other route is oneDNN's convolution primitives (float32 only); which one
// runs is chosen by measurement (see docs/derivations/conv2d.md for numbers).
#include <omp.h>

#include <algorithm>
#include <functional>
#include <vector>

#include "dimgrad/nn/conv.hpp"
#include "kernels/im2col.hpp"
#include "ops/conv_pool_util.hpp"
#include "ops/op_util.hpp"

namespace dg {
namespace ops {

using kernels::Conv2dShape;

namespace {
int64_t pick(IntArrayRef v, size_t i, const char* what) {
  if (v.size() == 1) return v[0];
  if (v.size() == 2) return v[i];
  throw Error(std::string("conv2d: ") + what + " takes 1 or 2 values, got " + std::to_string(v.size()));
}
}  // namespace

Conv2dShape conv_shape(const Tensor& x, const Tensor& w, const Tensor& b, IntArrayRef stride, IntArrayRef padding,
                       IntArrayRef dilation, int64_t groups) {
  detail::check_defined(x, "conv2d");
  detail::check_defined(w, "conv2d");
  if (w.dim() != 4)
    throw ShapeError("conv2d: expected a 4-d weight [out_channels, in_channels/groups, kH, kW], got " +
                     shape_str(w.sizes()));
  if (groups < 1) throw Error("conv2d: groups must be positive, got " + std::to_string(groups));
  Conv2dShape s;
  s.K = w.size(0);
  s.KH = w.size(2);
  s.KW = w.size(3);
  s.groups = groups;
  const int64_t C = w.size(1) * groups;
  auto expected = [&] {
    return "[N, " + std::to_string(C) + ", H, W] (weight " + shape_str(w.sizes()) + ", groups " +
           std::to_string(groups) + ")";
  };
  if (x.dim() != 4 || x.size(1) != C)
    throw ShapeError("conv2d: expected input " + expected() + ", got " + shape_str(x.sizes()));
  if (s.K % groups != 0)
    throw ShapeError("conv2d: out_channels " + std::to_string(s.K) + " is not divisible by groups " +
                     std::to_string(groups));
  s.N = x.size(0);
  s.C = C;
  s.H = x.size(2);
  s.W = x.size(3);
  s.SH = pick(stride, 0, "stride");
  s.SW = pick(stride, 1, "stride");
  s.PH = pick(padding, 0, "padding");
  s.PW = pick(padding, 1, "padding");
  s.DH = pick(dilation, 0, "dilation");
  s.DW = pick(dilation, 1, "dilation");
  if (s.SH < 1 || s.SW < 1 || s.DH < 1 || s.DW < 1 || s.PH < 0 || s.PW < 0)
    throw Error("conv2d: stride and dilation must be positive and padding non-negative, got stride " +
                shape_str(stride) + ", padding " + shape_str(padding) + ", dilation " + shape_str(dilation));
  s.OH = (s.H + 2 * s.PH - s.DH * (s.KH - 1) - 1) / s.SH + 1;
  s.OW = (s.W + 2 * s.PW - s.DW * (s.KW - 1) - 1) / s.SW + 1;
  if (s.H + 2 * s.PH < s.DH * (s.KH - 1) + 1 || s.W + 2 * s.PW < s.DW * (s.KW - 1) + 1)
    throw ShapeError("conv2d: the (dilated) kernel " + std::to_string(s.DH * (s.KH - 1) + 1) + "×" +
                     std::to_string(s.DW * (s.KW - 1) + 1) + " is larger than the padded input " +
                     std::to_string(s.H + 2 * s.PH) + "×" + std::to_string(s.W + 2 * s.PW) + " (input " +
                     shape_str(x.sizes()) + ")");
  if (b.defined() && (b.dim() != 1 || b.size(0) != s.K))
    throw ShapeError("conv2d: expected bias [" + std::to_string(s.K) + "], got " + shape_str(b.sizes()));
  if (x.dtype() != w.dtype() || (b.defined() && b.dtype() != w.dtype()))
    throw DTypeError(std::string("conv2d: input, weight and bias must have one dtype, got ") + dtype_name(x.dtype()) +
                     ", " + dtype_name(w.dtype()) + (b.defined() ? std::string(", ") + dtype_name(b.dtype()) : ""));
  if (!is_floating(x.dtype()))
    throw DTypeError(std::string("conv2d: expected floating-point tensors, got ") + dtype_name(x.dtype()));
  return s;
}

namespace {
bool use_dnnl(const Conv2dShape& s, ScalarType dt, kernels::ConvPass pass) {
  return dt == kFloat && kernels::conv_use_dnnl(s, pass);
}

// Images run in parallel (each thread its own GEMMs) when there are several and
// the GEMM is float (OpenBLAS's float64 GEMM is left to its own threading).
template <class T> bool batch_parallel(const Conv2dShape& s) {
  return std::is_same_v<T, float> && s.N > 1 && omp_get_max_threads() > 1 && !omp_in_parallel();
}

// Σ row[0..n): 16 independent partial sums (vectorizable; one float chain would
// be bound by the add latency), each row's total added in double by the caller.
template <class T> double row_sum(const T* row, int64_t n) {
  T part[16] = {};
  int64_t p = 0;
  for (; p + 16 <= n; p += 16)
    for (int l = 0; l < 16; ++l) part[l] += row[p + l];
  double acc = 0;
  for (; p < n; ++p) acc += row[p];
  for (int l = 0; l < 16; ++l) acc += part[l];
  return acc;
}

// ----------------------------------------------------------- im2col route
// y [N, K, OH, OW]; or, when y is null, each image's output goes to each(n, Y_n)
// from a per-thread buffer right after its GEMMs (see conv_forward_im2col_each).
template <class T>
void im2col_forward(const Conv2dShape& s, const T* x, const T* w, const T* b, T* y,
                    const std::function<void(int64_t, const void*)>* each = nullptr) {
  const int64_t P = s.plane(), R = s.Cg() * s.KH * s.KW, Kg = s.Kg();
  const int64_t x_step = s.C * s.H * s.W, y_step = s.K * P;
  const bool par = batch_parallel<T>(s);
  const int nthreads = par ? omp_get_max_threads() : 1;
  std::vector<T> cols_all(s.pointwise() ? 0 : static_cast<size_t>(nthreads * s.rows() * P));
  std::vector<T> y_all(y ? 0 : static_cast<size_t>(nthreads * y_step));
  kernels::parallel_for_if(par, s.N, [&](int64_t n, int thread) {
    const T* xn = x + n * x_step;
    T* yn = y ? y + n * y_step : y_all.data() + thread * y_step;
    const T* cols = xn;  // a 1×1 stride-1 kernel reads the image as it is
    if (!s.pointwise()) {
      T* buf = cols_all.data() + thread * s.rows() * P;
      kernels::im2col(xn, buf, s);
      cols = buf;
    }
    for (int64_t g = 0; g < s.groups; ++g)
      // Y_n,g [K/G × P] = W_g [K/G × R] · cols_n,g [R × P]
      kernels::gemm(false, false, Kg, P, R, T(1), w + g * Kg * R, R, cols + g * R * P, P, T(0), yn + g * Kg * P, P);
    if (b)
      for (int64_t k = 0; k < s.K; ++k)
        for (int64_t p = 0; p < P; ++p) yn[k * P + p] += b[k];  // b [K] broadcast over P
    if (!y) (*each)(n, yn);
  });
}

// dx, dw, db: any may be null (not needed). Overwritten.
template <class T>
void im2col_backward(const Conv2dShape& s, const T* x, const T* w, const T* dy, T* dx, T* dw, T* db) {
  const int64_t P = s.plane(), R = s.Cg() * s.KH * s.KW, Kg = s.Kg();
  const int64_t x_step = s.C * s.H * s.W, y_step = s.K * P, w_size = s.K * R;
  const bool par = batch_parallel<T>(s);
  const int nthreads = par ? omp_get_max_threads() : 1;
  const bool need_cols = !s.pointwise();
  std::vector<T> cols_all(need_cols ? static_cast<size_t>(nthreads * s.rows() * P) : 0);
  // One dW accumulator per thread, summed at the end (deterministic for a fixed thread count).
  std::vector<T> dw_all(dw ? static_cast<size_t>(nthreads * w_size) : 0, T(0));
  kernels::parallel_for_if(par, s.N, [&](int64_t n, int t) {
    const T* dyn = dy + n * y_step;
    T* buf = need_cols ? cols_all.data() + t * s.rows() * P : nullptr;
    if (dw) {
      const T* cols = x + n * x_step;
      if (need_cols) {
        kernels::im2col(x + n * x_step, buf, s);
        cols = buf;
      }
      for (int64_t g = 0; g < s.groups; ++g)
        // dW_g [K/G × R] += dY_n,g [K/G × P] · cols_n,gᵀ [P × R]
        kernels::gemm(false, true, Kg, R, P, T(1), dyn + g * Kg * P, P, cols + g * R * P, P, T(1),
                      dw_all.data() + t * w_size + g * Kg * R, R);
    }
    if (dx) {
      T* dxn = dx + n * x_step;
      T* dcols = need_cols ? buf : dxn;  // 1×1 stride 1: dcols is dx itself
      for (int64_t g = 0; g < s.groups; ++g)
        // dcols_n,g [R × P] = W_gᵀ [R × K/G] · dY_n,g [K/G × P]
        kernels::gemm(true, false, R, P, Kg, T(1), w + g * Kg * R, R, dyn + g * Kg * P, P, T(0), dcols + g * R * P, P);
      if (need_cols) {
        std::fill(dxn, dxn + x_step, T(0));
        kernels::col2im(dcols, dxn, s);  // dx_n [C × H × W] = col2im(dcols_n): overlapping windows add up
      }
    }
  });
  if (dw) {
    std::copy(dw_all.begin(), dw_all.begin() + w_size, dw);
    for (int t = 1; t < nthreads; ++t)
      for (int64_t i = 0; i < w_size; ++i) dw[i] += dw_all[t * w_size + i];
  }
  if (db) {
    // db [K] = Σ_{n, p} dY[n, k, p]   (b was broadcast over the batch and every output position)
    for (int64_t k = 0; k < s.K; ++k) {
      double acc = 0;
      for (int64_t n = 0; n < s.N; ++n) acc += row_sum(dy + n * y_step + k * P, P);
      db[k] = static_cast<T>(acc);
    }
  }
}

template <class T> const T* ptr_or_null(const Tensor& t) { return t.defined() ? t.data_ptr<T>() : nullptr; }
template <class T> T* mut_or_null(const Tensor& t) { return t.defined() ? t.data_ptr<T>() : nullptr; }

}  // namespace

bool conv_forward_on_im2col(const Conv2dShape& s, ScalarType dt) {
  return !use_dnnl(s, dt, kernels::ConvPass::Forward);
}

void conv_forward_im2col_each(const Conv2dShape& s, const Tensor& x, const Tensor& w, const Tensor& b,
                              const std::function<void(int64_t, const void*)>& each) {
  if (s.N == 0) return;
  dispatch_floating(x.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    im2col_forward<T>(s, x.data_ptr<T>(), w.data_ptr<T>(), ptr_or_null<T>(b), nullptr, &each);
  });
}

bool conv_runs_nhwc(const Conv2dShape& s, ScalarType dt) {
  using kernels::ConvPass;
  return dt == kFloat && kernels::dnnl_conv2d_nhwc(s) && use_dnnl(s, dt, ConvPass::Forward) &&
         use_dnnl(s, dt, ConvPass::BackwardData) && use_dnnl(s, dt, ConvPass::BackwardWeights);
}

Tensor conv_forward_raw(const Conv2dShape& s, const Tensor& x, const Tensor& w, const Tensor& b,
                        kernels::DnnlConvSaved* saved, bool y_nhwc) {
  Tensor y = y_nhwc ? make_tensor({s.N, s.OH, s.OW, s.K}, x.dtype()) : make_tensor({s.N, s.K, s.OH, s.OW}, x.dtype());
  if (y.numel() == 0) return y;
  if (y_nhwc || use_dnnl(s, x.dtype(), kernels::ConvPass::Forward)) {
    kernels::dnnl_conv2d_forward(s, x.data_ptr<float>(), w.data_ptr<float>(), ptr_or_null<float>(b),
                                 y.data_ptr<float>(), saved, y_nhwc);
    return y;
  }
  dispatch_floating(x.dtype(), "conv2d", [&](auto tag) {
    using T = typename decltype(tag)::type;
    im2col_forward<T>(s, x.data_ptr<T>(), w.data_ptr<T>(), ptr_or_null<T>(b), y.data_ptr<T>());
  });
  return y;
}

ConvGrads conv_backward_raw(const Conv2dShape& s, const Tensor& x, const Tensor& w,
                            const kernels::DnnlConvSaved& saved, bool has_bias, const Tensor& dy_in, bool want_dx,
                            bool want_dw, bool want_db, kernels::DyLayout dy_layout) {
  Tensor dy = dy_in;
  Tensor dx, dw, db;
  if (want_dx) dx = make_tensor({s.N, s.C, s.H, s.W}, dy.dtype());     // dx [N, C, H, W]
  if (want_dw) dw = make_tensor({s.K, s.Cg(), s.KH, s.KW}, dy.dtype());  // dW [K, C/G, KH, KW]
  if (want_db) db = make_tensor({s.K}, dy.dtype());                     // db [K]
  if (s.N == 0) {
    for (Tensor* t : {&dx, &dw, &db})
      if (t->defined()) t->zero_();
    return {dx, dw, db};
  }
  const bool dnnl_data = dx.defined() && use_dnnl(s, dy.dtype(), kernels::ConvPass::BackwardData);
  const bool dnnl_weights = (dw.defined() || db.defined()) && use_dnnl(s, dy.dtype(), kernels::ConvPass::BackwardWeights);
  // dY in NHWC or nChw16c for a pass on the im2col route (the route setting
  // changed since the forward): that route reads NCHW.
  if (dy_layout != kernels::DyLayout::NCHW &&
      ((dx.defined() && !dnnl_data) || ((dw.defined() || db.defined()) && !dnnl_weights))) {
    NoGradGuard no_grad;
    if (dy_layout == kernels::DyLayout::NHWC) {
      dy = kernels::as_contiguous(dy.permute({0, 3, 1, 2}));  // [N, OH, OW, K] → [N, K, OH, OW]
    } else {  // [N, K/16, OH, OW, 16] → [N, K/16, 16, OH, OW] = [N, K, OH, OW]
      dy = kernels::as_contiguous(dy.permute({0, 1, 4, 2, 3})).reshape({s.N, s.K, s.OH, s.OW});
    }
    dy_layout = kernels::DyLayout::NCHW;
  }
  if (dnnl_data || dnnl_weights) {
    // oneDNN's weight primitive yields dW and db together (db is then needed as a buffer).
    Tensor dw_buf, db_buf;
    if (dnnl_weights) {
      dw_buf = dw.defined() ? dw : make_tensor({s.K, s.Cg(), s.KH, s.KW}, dy.dtype());
      db_buf = has_bias ? (db.defined() ? db : make_tensor({s.K}, dy.dtype())) : Tensor();
    }
    kernels::dnnl_conv2d_backward(s, dnnl_weights ? x.data_ptr<float>() : nullptr, saved, dy.data_ptr<float>(),
                                  w.data_ptr<float>(), dnnl_data ? dx.data_ptr<float>() : nullptr,
                                  mut_or_null<float>(dw_buf), mut_or_null<float>(db_buf), has_bias, dy_layout);
  }
  // The rest on the im2col route (a pass already done is passed as null).
  Tensor rdx = dnnl_data ? Tensor() : dx, rdw = dnnl_weights ? Tensor() : dw, rdb = dnnl_weights ? Tensor() : db;
  if (!rdx.defined() && !rdw.defined() && !rdb.defined()) return {dx, dw, db};
  dispatch_floating(dy.dtype(), "conv2d backward", [&](auto tag) {
    using T = typename decltype(tag)::type;
    im2col_backward<T>(s, ptr_or_null<T>(x), w.data_ptr<T>(), dy.data_ptr<T>(), mut_or_null<T>(rdx),
                       mut_or_null<T>(rdw), mut_or_null<T>(rdb));
  });
  return {dx, dw, db};
}

bool ConvNode::only_weights_read_blocked16() const {
  return w.dtype() == kFloat && !needs_grad(0) && (needs_grad(1) || needs_grad(2)) &&
         use_dnnl(s, kFloat, kernels::ConvPass::BackwardWeights) &&
         kernels::dnnl_conv2d_weights_read_blocked16(s, has_bias, dnnl_saved);
}

void ConvNode::save_conv(const Conv2dShape& shape, const Tensor& x_, const Tensor& w_, const Tensor& b_,
                         const kernels::DnnlConvSaved& fwd) {
  s = shape;
  has_bias = b_.defined();
  dnnl_saved.prims = fwd.prims;  // the backward runs the forward's oneDNN primitives
  if (needs_grad(1) || needs_grad(2)) {
    x = save(x_);  // dW needs x (and oneDNN's db rides with dW); saved for its version check too
    dnnl_saved.x = fwd.x;
  }
  w = save(w_);
}

namespace {

struct Conv2dBackward : ConvNode {
  Conv2dBackward() : ConvNode(OpKind::Conv2d) {}
  TensorList apply(TensorList&& g) override {
    ConvGrads r = conv_grads(kernels::as_contiguous(g[0]));
    return {r.dx, r.dw, r.db};
  }
};

}  // namespace
}  // namespace ops

using namespace ops;

Tensor conv2d(const Tensor& input, const Tensor& weight, const Tensor& bias, IntArrayRef stride, IntArrayRef padding,
              IntArrayRef dilation, int64_t groups) {
  detail::check_defined(input, "conv2d");
  // An unbatched [C, H, W] input runs as a batch of one.
  if (input.dim() == 3) return conv2d(input.unsqueeze(0), weight, bias, stride, padding, dilation, groups).squeeze(0);
  Conv2dShape s = conv_shape(input, weight, bias, stride, padding, dilation, groups);
  Tensor x = kernels::as_contiguous(input), w = kernels::as_contiguous(weight);
  Tensor b = bias.defined() ? kernels::as_contiguous(bias) : Tensor();
  kernels::DnnlConvSaved dnnl_saved;
  Tensor y = conv_forward_raw(s, x, w, b, &dnnl_saved);
  record<Conv2dBackward>(y, {&input, &weight, &bias}, {},
                         [&](Conv2dBackward& n) { n.save_conv(s, x, w, b, dnnl_saved); });
  return y;
}

}  // namespace dg
