// float32 2-d convolution through oneDNN's convolution primitives: the
// alternative to im2col + GEMM (src/ops/conv.cpp picks between them).
//
// Primitives are created once per geometry and cached: creating one costs far
// more than running it on the small tensors of a training step. oneDNN picks its
// own (blocked, nChw16c-like) layouts and we reorder our plain NCHW / OIHW
// buffers in and out: measured on this CPU, that is faster than primitives on the
// plain layouts by 20-45% even with the reorders (docs/derivations/conv2d.md).
#include <atomic>
#include <cstdlib>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <tuple>
#include <unordered_map>

#include "dimgrad/errors.hpp"
#include "kernels/im2col.hpp"
#include "kernels/signal_guard.hpp"
#include "tensor/internal.hpp"

namespace dg::kernels {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;

dnnl::engine& cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int64_t, int64_t, int64_t, bool>;
Key key_of(const Conv2dShape& s, bool bias) {
  return {s.N, s.C, s.H, s.W, s.K, s.KH, s.KW, s.SH, s.SW, s.PH, s.PW, s.DH, s.DW, s.groups, bias};
}

struct ConvPrims {
  memory::desc x_md, w_md, b_md, y_md;  // our plain layouts
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  std::unique_ptr<dnnl::convolution_backward_data::primitive_desc> bwd_data_pd;
  dnnl::convolution_backward_data bwd_data;
  std::unique_ptr<dnnl::convolution_backward_weights::primitive_desc> bwd_w_pd;
  dnnl::convolution_backward_weights bwd_w;
};

memory::dims dims_of(std::initializer_list<int64_t> l) { return memory::dims(l.begin(), l.end()); }

std::shared_ptr<ConvPrims> make_prims(const Conv2dShape& s, bool bias) {
  auto p = std::make_shared<ConvPrims>();
  p->x_md = memory::desc(dims_of({s.N, s.C, s.H, s.W}), dt::f32, tag::nchw);
  p->y_md = memory::desc(dims_of({s.N, s.K, s.OH, s.OW}), dt::f32, tag::nchw);
  p->w_md = s.groups == 1 ? memory::desc(dims_of({s.K, s.C, s.KH, s.KW}), dt::f32, tag::oihw)
                          : memory::desc(dims_of({s.groups, s.Kg(), s.Cg(), s.KH, s.KW}), dt::f32, tag::goihw);
  p->b_md = bias ? memory::desc(dims_of({s.K}), dt::f32, tag::x) : memory::desc();
  // oneDNN counts dilation from 0 and wants the right/bottom padding that makes
  // the output size come out: (OH − 1)·SH + DH·(KH − 1) + 1 = H + PH + PH_right.
  const memory::dims strides = dims_of({s.SH, s.SW}), dil = dims_of({s.DH - 1, s.DW - 1}),
                     pad_l = dims_of({s.PH, s.PW}),
                     pad_r = dims_of({(s.OH - 1) * s.SH + s.DH * (s.KH - 1) + 1 - s.H - s.PH,
                                      (s.OW - 1) * s.SW + s.DW * (s.KW - 1) + 1 - s.W - s.PW});
  auto pick = [&](const memory::desc& d) { return memory::desc(d.dims(), dt::f32, tag::any); };
  auto algo = dnnl::algorithm::convolution_direct;
  dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, algo, pick(p->x_md), pick(p->w_md),
                                     bias ? p->b_md : memory::desc(), pick(p->y_md), strides, dil, pad_l, pad_r);
  p->fwd_pd = dnnl::convolution_forward::primitive_desc(fd, cpu_engine());
  p->fwd = dnnl::convolution_forward(p->fwd_pd);
  dnnl::convolution_backward_data::desc bd(algo, pick(p->x_md), pick(p->w_md), pick(p->y_md), strides, dil, pad_l,
                                           pad_r);
  p->bwd_data_pd = std::make_unique<dnnl::convolution_backward_data::primitive_desc>(bd, cpu_engine(), p->fwd_pd);
  p->bwd_data = dnnl::convolution_backward_data(*p->bwd_data_pd);
  dnnl::convolution_backward_weights::desc wd(algo, pick(p->x_md), pick(p->w_md), bias ? p->b_md : memory::desc(),
                                              pick(p->y_md), strides, dil, pad_l, pad_r);
  p->bwd_w_pd = std::make_unique<dnnl::convolution_backward_weights::primitive_desc>(wd, cpu_engine(), p->fwd_pd);
  p->bwd_w = dnnl::convolution_backward_weights(*p->bwd_w_pd);
  return p;
}

std::shared_ptr<ConvPrims> prims_for(const Conv2dShape& s, bool bias) {
  static std::mutex mu;
  static std::map<Key, std::shared_ptr<ConvPrims>> cache;
  std::lock_guard<std::mutex> lock(mu);
  auto& slot = cache[key_of(s, bias)];
  if (!slot) {
    try {
      slot = make_prims(s, bias);
    } catch (const dnnl::error& e) {
      cache.erase(key_of(s, bias));
      throw Error(std::string("oneDNN convolution unavailable for ") + s.str() + ": " + e.what());
    }
  }
  return slot;
}

dnnl::stream& cpu_stream() {
  thread_local dnnl::stream st(cpu_engine());
  return st;
}

// A primitive argument: the user's buffer itself when layouts agree, else a
// scratch buffer in the primitive's layout (reordered in for inputs, out for
// outputs). The scratch comes from dimgrad's caching allocator: oneDNN's own
// allocation of a fresh buffer per call cost page faults every step.
struct Arg {
  memory user, prim;
  bool reorder;
  Tensor scratch;
  Arg(const memory::desc& user_md, const memory::desc& prim_md, void* data)
      : user(user_md, cpu_engine(), data), reorder(user_md != prim_md) {
    if (!reorder) {
      prim = user;
      return;
    }
    scratch = dg::detail::make_tensor({static_cast<int64_t>((prim_md.get_size() + 3) / 4)}, kFloat);
    prim = memory(prim_md, cpu_engine(), scratch.raw_data());
  }
  void in() {
    if (reorder) dnnl::reorder(user, prim).execute(cpu_stream(), user, prim);
  }
  void out() {
    if (reorder) dnnl::reorder(prim, user).execute(cpu_stream(), prim, user);
  }
};

std::atomic<int>& algo_slot() {
  static std::atomic<int> slot = [] {
    const char* e = std::getenv("DG_CONV_ALGO");
    std::string v = e ? e : "";
    return static_cast<int>(v == "im2col" ? ConvAlgo::Im2col : v == "onednn" ? ConvAlgo::OneDNN : ConvAlgo::Auto);
  }();
  return slot;
}

}  // namespace

void set_conv_algo(ConvAlgo a) { algo_slot() = static_cast<int>(a); }
ConvAlgo conv_algo() { return static_cast<ConvAlgo>(algo_slot().load()); }

bool dnnl_conv2d_supported(const Conv2dShape& s) {
  return (s.OH - 1) * s.SH + s.DH * (s.KH - 1) + 1 - s.H - s.PH >= 0 &&
         (s.OW - 1) * s.SW + s.DW * (s.KW - 1) + 1 - s.W - s.PW >= 0;
}

bool conv_use_dnnl(const Conv2dShape& s, ConvPass pass) {
  if (!dnnl_conv2d_supported(s)) return false;
  switch (conv_algo()) {
    case ConvAlgo::Im2col: return false;
    case ConvAlgo::OneDNN: return true;
    case ConvAlgo::Auto: break;
  }
  // Measured (single thread, the small CNN's layers, docs/derivations/conv2d.md):
  // oneDNN's blocked kernels win every pass of a 32→64 conv and the weight
  // gradient of a 1→32 conv; with few input channels its data gradient is much
  // slower (the blocked layout pads C up to 16), and grouped convs stay on the
  // im2col route, which handles them without reorders.
  if (s.groups != 1) return false;
  if (pass == ConvPass::BackwardData) return s.C >= 16;
  return true;
}

void dnnl_conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y,
                         Tensor* x_for_weights) {
  AsyncSignalsHeld held;  // see signal_guard.hpp
  auto p = prims_for(s, b != nullptr);
  Arg X(p->x_md, p->fwd_pd.src_desc(), const_cast<float*>(x));
  if (x_for_weights && X.reorder && p->fwd_pd.src_desc() == p->bwd_w_pd->src_desc()) *x_for_weights = X.scratch;
  Arg Wt(p->w_md, p->fwd_pd.weights_desc(), const_cast<float*>(w));
  Arg Y(p->y_md, p->fwd_pd.dst_desc(), y);
  X.in();
  Wt.in();
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, X.prim}, {DNNL_ARG_WEIGHTS, Wt.prim}, {DNNL_ARG_DST, Y.prim}};
  if (b) args.insert({DNNL_ARG_BIAS, memory(p->b_md, cpu_engine(), const_cast<float*>(b))});
  p->fwd.execute(cpu_stream(), args);
  Y.out();
  cpu_stream().wait();
}

void dnnl_conv2d_backward(const Conv2dShape& s, const float* x, const Tensor& x_for_weights, const float* dy,
                          const float* w, float* dx, float* dw, float* db, bool bias) {
  AsyncSignalsHeld held;  // see signal_guard.hpp
  auto p = prims_for(s, bias);
  // dY in the layout of each pass that runs; when both want the same layout
  // (the usual case) it is reordered once and shared.
  std::optional<Arg> dy_data, dy_weights;
  if (dx) {
    dy_data.emplace(p->y_md, p->bwd_data_pd->diff_dst_desc(), const_cast<float*>(dy));
    dy_data->in();
  }
  const bool share = dx && p->bwd_data_pd->diff_dst_desc() == p->bwd_w_pd->diff_dst_desc();
  if (dw && !share) {
    dy_weights.emplace(p->y_md, p->bwd_w_pd->diff_dst_desc(), const_cast<float*>(dy));
    dy_weights->in();
  }
  if (dx) {
    // dX [N, C, H, W]: the transposed convolution of dY with W
    Arg Wt(p->w_md, p->bwd_data_pd->weights_desc(), const_cast<float*>(w));
    Arg DX(p->x_md, p->bwd_data_pd->diff_src_desc(), dx);
    Wt.in();
    p->bwd_data.execute(cpu_stream(), {{DNNL_ARG_DIFF_DST, dy_data->prim},
                                       {DNNL_ARG_WEIGHTS, Wt.prim},
                                       {DNNL_ARG_DIFF_SRC, DX.prim}});
    DX.out();
  }
  if (dw) {
    // dW [K, C/G, KH, KW] = Σ over images and positions of dY ⊗ the input window; db [K] = Σ dY
    // x in the primitive's layout: kept from the forward when it was reordered there, else reordered now
    std::optional<Arg> X;
    memory src;
    if (x_for_weights.defined()) {
      src = memory(p->bwd_w_pd->src_desc(), cpu_engine(), x_for_weights.raw_data());
    } else {
      X.emplace(p->x_md, p->bwd_w_pd->src_desc(), const_cast<float*>(x));
      X->in();
      src = X->prim;
    }
    Arg DW(p->w_md, p->bwd_w_pd->diff_weights_desc(), dw);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src},
                                         {DNNL_ARG_DIFF_DST, share ? dy_data->prim : dy_weights->prim},
                                         {DNNL_ARG_DIFF_WEIGHTS, DW.prim}};
    if (db) args.insert({DNNL_ARG_DIFF_BIAS, memory(p->b_md, cpu_engine(), db)});
    p->bwd_w.execute(cpu_stream(), args);
    DW.out();
  }
  cpu_stream().wait();
}

}  // namespace dg::kernels
