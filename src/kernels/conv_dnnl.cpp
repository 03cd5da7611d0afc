// float32 2-d convolution through oneDNN's convolution primitives: the
// alternative to im2col + GEMM (src/ops/conv.cpp picks between them).
//
// Primitives are created once per geometry and cached: creating one costs far
// more than running it on the small tensors of a training step. dimgrad's
// tensors are NCHW / OIHW and are reordered into the primitives' layouts and
// out again. Which layouts, by measurement (docs/performance.md, round 9):
//  - few input or output channels (a first layer, 1→32): oneDNN's own choice,
//    its blocked nChw16c layout; with NCHW or NHWC activations its forward was
//    1.6-2.7× slower even counting the reorder out of the blocked layout. (Such
//    a layer's forward and data gradient take the im2col route: conv_use_dnnl.)
//  - 16 or more of both (32→64): NHWC activations. oneDNN then runs its
//    brgemm-based kernels, which reached 135-150 GFLOP/s on one core against
//    87-97 for its direct kernels on nChw16c (Ice Lake; the reorders cost the
//    same either way).
//  - the data gradient of a stride-1 convolution is run as a forward
//    convolution of dY with the weights transposed and flipped (below): oneDNN
//    2.6 has no brgemm kernel for the data gradient, and its direct one ran at
//    the direct forward's 96 GFLOP/s.
#include <omp.h>

#include <atomic>
#include <cstdlib>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <oneapi/dnnl/dnnl.hpp>
#include <string>
#include <tuple>
#include <unordered_map>

#include "dimgrad/errors.hpp"
#include "kernels/dnnl_engine.hpp"
#include "kernels/im2col.hpp"
#include "kernels/signal_guard.hpp"
#include "tensor/internal.hpp"

namespace dg::kernels {
namespace {

using dnnl::memory;
using tag = memory::format_tag;
using dt = memory::data_type;


// The thread count is part of the key: oneDNN shares the work out among the
// threads it sees when a primitive is created, and a primitive made for one
// thread runs on one thread however many there are later (dg_micro's conv
// benchmarks, 32→64 forward on 2 threads: 4.3 ms after a 1-thread primitive
// was made, 2.5 ms with its own).
using Key = std::tuple<int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t, int64_t,
                       int64_t, int64_t, int64_t, int64_t, bool, int>;
Key key_of(const Conv2dShape& s, bool bias) {
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  return {s.N, s.C, s.H, s.W, s.K, s.KH, s.KW, s.SH, s.SW, s.PH, s.PW, s.DH, s.DW, s.groups, bias, threads};
}

struct ConvPrims {
  memory::desc x_md, w_md, b_md, y_md;  // our plain layouts
  memory::desc y_nhwc_md;               // y or dY handed over in NHWC (y_nhwc, DyLayout::NHWC)
  memory::desc y_blocked16_md;          // dY handed over in nChw16c (DyLayout::Blocked16)
  dnnl::convolution_forward::primitive_desc fwd_pd;
  dnnl::convolution_forward fwd;
  // The data gradient: oneDNN's backward-data primitive, or (data_as_forward)
  // a forward convolution of dY with the transposed, flipped weights wt_md.
  bool data_as_forward = false;
  std::unique_ptr<dnnl::convolution_backward_data::primitive_desc> bwd_data_pd;
  dnnl::convolution_backward_data bwd_data;
  memory::desc wt_md;  // plain [C, K, KH, KW]
  std::unique_ptr<dnnl::convolution_forward::primitive_desc> data_fwd_pd;
  dnnl::convolution_forward data_fwd;
  std::unique_ptr<dnnl::convolution_backward_weights::primitive_desc> bwd_w_pd;
  dnnl::convolution_backward_weights bwd_w;

  memory::desc dy_desc_for_data() const {
    return data_as_forward ? data_fwd_pd->src_desc() : bwd_data_pd->diff_dst_desc();
  }
};

memory::dims dims_of(std::initializer_list<int64_t> l) { return memory::dims(l.begin(), l.end()); }

// NHWC activations when both sides have enough channels to fill a vector
// (see the top of the file); else oneDNN's choice.
tag activation_layout(const Conv2dShape& s) {
  return s.groups == 1 && s.C >= 16 && s.K >= 16 ? tag::nhwc : tag::any;
}

// For stride 1 and dilation 1, the data gradient is itself a convolution:
//   dX[n, c, h, w] = Σ_k Σ_{i,j} dY[n, k, h + PH − i, w + PW − j] · W[k, c, i, j]
// and with i' = KH − 1 − i, j' = KW − 1 − j this is the forward convolution of dY
// (K channels in, C out) with Wt[c, k, i', j'] = W[k, c, KH − 1 − i', KW − 1 − j']
// and padding KH − 1 − PH, KW − 1 − PW on each side, whose output is H × W.
bool data_gradient_as_forward(const Conv2dShape& s) {
  return activation_layout(s) == tag::nhwc && s.SH == 1 && s.SW == 1 && s.DH == 1 && s.DW == 1 &&
         s.PH <= s.KH - 1 && s.PW <= s.KW - 1;
}

std::shared_ptr<ConvPrims> make_prims(const Conv2dShape& s, bool bias) {
  auto p = std::make_shared<ConvPrims>();
  p->x_md = memory::desc(dims_of({s.N, s.C, s.H, s.W}), dt::f32, tag::nchw);
  p->y_md = memory::desc(dims_of({s.N, s.K, s.OH, s.OW}), dt::f32, tag::nchw);
  p->y_nhwc_md = memory::desc(dims_of({s.N, s.K, s.OH, s.OW}), dt::f32, tag::nhwc);
  p->y_blocked16_md = memory::desc(dims_of({s.N, s.K, s.OH, s.OW}), dt::f32, tag::nChw16c);
  p->w_md = s.groups == 1 ? memory::desc(dims_of({s.K, s.C, s.KH, s.KW}), dt::f32, tag::oihw)
                          : memory::desc(dims_of({s.groups, s.Kg(), s.Cg(), s.KH, s.KW}), dt::f32, tag::goihw);
  p->b_md = bias ? memory::desc(dims_of({s.K}), dt::f32, tag::x) : memory::desc();
  // oneDNN counts dilation from 0 and wants the right/bottom padding that makes
  // the output size come out: (OH − 1)·SH + DH·(KH − 1) + 1 = H + PH + PH_right.
  const memory::dims strides = dims_of({s.SH, s.SW}), dil = dims_of({s.DH - 1, s.DW - 1}),
                     pad_l = dims_of({s.PH, s.PW}),
                     pad_r = dims_of({(s.OH - 1) * s.SH + s.DH * (s.KH - 1) + 1 - s.H - s.PH,
                                      (s.OW - 1) * s.SW + s.DW * (s.KW - 1) + 1 - s.W - s.PW});
  const tag act = activation_layout(s);
  auto activation = [&](const memory::desc& d) { return memory::desc(d.dims(), dt::f32, act); };
  auto any = [&](const memory::desc& d) { return memory::desc(d.dims(), dt::f32, tag::any); };
  auto algo = dnnl::algorithm::convolution_direct;
  dnnl::convolution_forward::desc fd(dnnl::prop_kind::forward_training, algo, activation(p->x_md), any(p->w_md),
                                     bias ? p->b_md : memory::desc(), activation(p->y_md), strides, dil, pad_l,
                                     pad_r);
  p->fwd_pd = dnnl::convolution_forward::primitive_desc(fd, dnnl_cpu_engine());
  p->fwd = dnnl::convolution_forward(p->fwd_pd);
  p->data_as_forward = data_gradient_as_forward(s);
  if (p->data_as_forward) {
    p->wt_md = memory::desc(dims_of({s.C, s.K, s.KH, s.KW}), dt::f32, tag::oihw);
    const memory::dims unit = dims_of({1, 1}), none = dims_of({0, 0}), pad = dims_of({s.KH - 1 - s.PH, s.KW - 1 - s.PW});
    dnnl::convolution_forward::desc dd(dnnl::prop_kind::forward_inference, algo, activation(p->y_md), any(p->wt_md),
                                       activation(p->x_md), unit, none, pad, pad);
    p->data_fwd_pd = std::make_unique<dnnl::convolution_forward::primitive_desc>(dd, dnnl_cpu_engine());
    p->data_fwd = dnnl::convolution_forward(*p->data_fwd_pd);
  } else {
    dnnl::convolution_backward_data::desc bd(algo, activation(p->x_md), any(p->w_md), activation(p->y_md), strides,
                                             dil, pad_l, pad_r);
    p->bwd_data_pd = std::make_unique<dnnl::convolution_backward_data::primitive_desc>(bd, dnnl_cpu_engine(), p->fwd_pd);
    p->bwd_data = dnnl::convolution_backward_data(*p->bwd_data_pd);
  }
  dnnl::convolution_backward_weights::desc wd(algo, activation(p->x_md), any(p->w_md),
                                              bias ? p->b_md : memory::desc(), activation(p->y_md), strides, dil,
                                              pad_l, pad_r);
  p->bwd_w_pd = std::make_unique<dnnl::convolution_backward_weights::primitive_desc>(wd, dnnl_cpu_engine(), p->fwd_pd);
  p->bwd_w = dnnl::convolution_backward_weights(*p->bwd_w_pd);
  return p;
}

// The cache keeps the most recently used sets of primitives, at most
// kConvPrimitiveSets of them. Each set (forward, data and weight gradients)
// holds about 0.45 MB of JIT code and buffers and takes about 40 ms to make
// (measured on the Ice Lake of round 9, a 32→64 layer); without a bound, a
// program that sees many geometries — inference over varying batch sizes —
// grew by that much per batch size. A set in use when it is evicted stays alive
// with its user (shared_ptr).
struct PrimCache {
  std::mutex mu;
  std::list<Key> recent;  // most recently used first
  std::map<Key, std::pair<std::shared_ptr<ConvPrims>, std::list<Key>::iterator>> map;
  int64_t made = 0;  // sets made so far
};
PrimCache& prim_cache() {
  static PrimCache c;
  return c;
}

std::shared_ptr<ConvPrims> prims_for(const Conv2dShape& s, bool bias) {
  PrimCache& c = prim_cache();
  const Key key = key_of(s, bias);
  std::lock_guard<std::mutex> lock(c.mu);
  if (auto it = c.map.find(key); it != c.map.end()) {
    c.recent.splice(c.recent.begin(), c.recent, it->second.second);
    return it->second.first;
  }
  std::shared_ptr<ConvPrims> made;
  try {
    made = make_prims(s, bias);
    ++c.made;
  } catch (const dnnl::error& e) {
    throw Error(std::string("oneDNN convolution unavailable for ") + s.str() + ": " + e.what());
  }
  if (static_cast<int64_t>(c.map.size()) >= kConvPrimitiveSets) {
    c.map.erase(c.recent.back());
    c.recent.pop_back();
  }
  c.recent.push_front(key);
  c.map.emplace(key, std::make_pair(made, c.recent.begin()));
  return made;
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
      : user(user_md, dnnl_cpu_engine(), data), reorder(user_md != prim_md) {
    if (!reorder) {
      prim = user;
      return;
    }
    scratch = dg::detail::make_tensor({static_cast<int64_t>((prim_md.get_size() + 3) / 4)}, kFloat);
    prim = memory(prim_md, dnnl_cpu_engine(), scratch.raw_data());
  }
  void in() {
    if (reorder) dnnl::reorder(user, prim).execute(dnnl_cpu_stream(), user, prim);
  }
  void out() {
    if (reorder) dnnl::reorder(prim, user).execute(dnnl_cpu_stream(), prim, user);
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

dnnl::engine& dnnl_cpu_engine() {
  static dnnl::engine eng(dnnl::engine::kind::cpu, 0);
  return eng;
}

dnnl::stream& dnnl_cpu_stream() {
  thread_local dnnl::stream st(dnnl_cpu_engine());
  return st;
}

int64_t dnnl_conv2d_cached_primitives() {
  PrimCache& c = prim_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return static_cast<int64_t>(c.map.size());
}

int64_t dnnl_conv2d_primitive_sets_made() {
  PrimCache& c = prim_cache();
  std::lock_guard<std::mutex> lock(c.mu);
  return c.made;
}

void set_conv_algo(ConvAlgo a) { algo_slot() = static_cast<int>(a); }
ConvAlgo conv_algo() { return static_cast<ConvAlgo>(algo_slot().load()); }

bool dnnl_conv2d_nhwc(const Conv2dShape& s) { return activation_layout(s) == tag::nhwc; }

bool dnnl_conv2d_weights_read_blocked16(const Conv2dShape& s, bool bias, const DnnlConvSaved& saved) {
  if (s.K % 16 != 0) return false;  // (nChw16c would pad K up; such a buffer is not offered)
  AsyncSignalsHeld held;              // (it may make the primitives, as the backward would)
  auto p = saved.prims ? std::static_pointer_cast<ConvPrims>(saved.prims) : prims_for(s, bias);
  return p->bwd_w_pd->diff_dst_desc() == p->y_blocked16_md;
}

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
  // Measured (docs/derivations/conv2d.md, docs/performance.md round 9): with
  // few input channels the im2col route writes NCHW directly, where oneDNN's
  // output must be reordered out of its blocked layout — on the Ice Lake of
  // round 9 the 1→32 layer's forward at batch 64 took 938 µs against 1599 on
  // one thread and the two were even on two (631, 625), and W2's inference at
  // batch 1000 ran 7–17% faster on 2 threads; on the Zen 5 of rounds 1–7 the
  // two were even on one thread — and its data gradient in the blocked layout
  // pads C up to 16. oneDNN's weight gradient stays: on Zen 5 it was twice as
  // fast as im2col's for 1→32 (on round 9's Ice Lake 7–11% faster).
  // Grouped convolutions stay on the im2col route, which handles them without
  // reorders.
  if (s.groups != 1) return false;
  if (pass == ConvPass::BackwardWeights) return true;
  return s.C >= 16;
}

void dnnl_conv2d_forward(const Conv2dShape& s, const float* x, const float* w, const float* b, float* y,
                         DnnlConvSaved* saved, bool y_nhwc) {
  AsyncSignalsHeld held;  // see signal_guard.hpp
  auto p = prims_for(s, b != nullptr);
  Arg X(p->x_md, p->fwd_pd.src_desc(), const_cast<float*>(x));
  if (saved) {
    saved->prims = p;
    if (X.reorder && p->fwd_pd.src_desc() == p->bwd_w_pd->src_desc()) saved->x = X.scratch;
  }
  Arg Wt(p->w_md, p->fwd_pd.weights_desc(), const_cast<float*>(w));
  // y in NHWC where the primitive writes NHWC: no reorder (any other pairing is reordered)
  Arg Y(y_nhwc ? p->y_nhwc_md : p->y_md, p->fwd_pd.dst_desc(), y);
  X.in();
  Wt.in();
  std::unordered_map<int, memory> args{{DNNL_ARG_SRC, X.prim}, {DNNL_ARG_WEIGHTS, Wt.prim}, {DNNL_ARG_DST, Y.prim}};
  if (b) args.insert({DNNL_ARG_BIAS, memory(p->b_md, dnnl_cpu_engine(), const_cast<float*>(b))});
  p->fwd.execute(dnnl_cpu_stream(), args);
  Y.out();
  dnnl_cpu_stream().wait();
}

void dnnl_conv2d_backward(const Conv2dShape& s, const float* x, const DnnlConvSaved& saved, const float* dy,
                          const float* w, float* dx, float* dw, float* db, bool bias, DyLayout dy_layout) {
  AsyncSignalsHeld held;  // see signal_guard.hpp
  auto p = saved.prims ? std::static_pointer_cast<ConvPrims>(saved.prims) : prims_for(s, bias);
  // dY in the layout of each pass that runs; when both want the same layout
  // (the usual case) it is reordered once and shared.
  std::optional<Arg> dy_data, dy_weights;
  const memory::desc& dy_md = dy_layout == DyLayout::NHWC        ? p->y_nhwc_md
                              : dy_layout == DyLayout::Blocked16 ? p->y_blocked16_md
                                                                 : p->y_md;
  if (dx) {
    dy_data.emplace(dy_md, p->dy_desc_for_data(), const_cast<float*>(dy));
    dy_data->in();
  }
  const bool share = dx && p->dy_desc_for_data() == p->bwd_w_pd->diff_dst_desc();
  if (dw && !share) {
    dy_weights.emplace(dy_md, p->bwd_w_pd->diff_dst_desc(), const_cast<float*>(dy));
    dy_weights->in();
  }
  if (dx && p->data_as_forward) {
    // dX [N, C, H, W] = dY [N, K, OH, OW] convolved with Wt [C, K, KH, KW], Wt[c, k, i, j] = W[k, c, KH−1−i, KW−1−j]
    Tensor wt_buf = dg::detail::make_tensor({s.C, s.K, s.KH, s.KW}, kFloat);
    float* wt = static_cast<float*>(wt_buf.raw_data());
    const int64_t taps = s.KH * s.KW;
    for (int64_t k = 0; k < s.K; ++k)
      for (int64_t c = 0; c < s.C; ++c)
        for (int64_t t = 0; t < taps; ++t) wt[(c * s.K + k) * taps + (taps - 1 - t)] = w[(k * s.C + c) * taps + t];
    Arg Wt(p->wt_md, p->data_fwd_pd->weights_desc(), wt);
    Arg DX(p->x_md, p->data_fwd_pd->dst_desc(), dx);
    Wt.in();
    p->data_fwd.execute(dnnl_cpu_stream(),
                        {{DNNL_ARG_SRC, dy_data->prim}, {DNNL_ARG_WEIGHTS, Wt.prim}, {DNNL_ARG_DST, DX.prim}});
    DX.out();
  } else if (dx) {
    // dX [N, C, H, W]: the transposed convolution of dY with W
    Arg Wt(p->w_md, p->bwd_data_pd->weights_desc(), const_cast<float*>(w));
    Arg DX(p->x_md, p->bwd_data_pd->diff_src_desc(), dx);
    Wt.in();
    p->bwd_data.execute(dnnl_cpu_stream(), {{DNNL_ARG_DIFF_DST, dy_data->prim},
                                       {DNNL_ARG_WEIGHTS, Wt.prim},
                                       {DNNL_ARG_DIFF_SRC, DX.prim}});
    DX.out();
  }
  if (dw) {
    // dW [K, C/G, KH, KW] = Σ over images and positions of dY ⊗ the input window; db [K] = Σ dY
    // x in the primitive's layout: kept from the forward when it was reordered there, else reordered now
    std::optional<Arg> X;
    memory src;
    if (saved.x.defined()) {
      src = memory(p->bwd_w_pd->src_desc(), dnnl_cpu_engine(), saved.x.raw_data());
    } else {
      X.emplace(p->x_md, p->bwd_w_pd->src_desc(), const_cast<float*>(x));
      X->in();
      src = X->prim;
    }
    Arg DW(p->w_md, p->bwd_w_pd->diff_weights_desc(), dw);
    std::unordered_map<int, memory> args{{DNNL_ARG_SRC, src},
                                         {DNNL_ARG_DIFF_DST, share ? dy_data->prim : dy_weights->prim},
                                         {DNNL_ARG_DIFF_WEIGHTS, DW.prim}};
    if (db) args.insert({DNNL_ARG_DIFF_BIAS, memory(p->b_md, dnnl_cpu_engine(), db)});
    p->bwd_w.execute(dnnl_cpu_stream(), args);
    DW.out();
  }
  dnnl_cpu_stream().wait();
}

}  // namespace dg::kernels
