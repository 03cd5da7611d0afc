// The two ops the recurrent layers add: unbind (a sequence into its steps, with
// one backward for all of them) and the fused pointwise part of an LSTM step.
//
// unbind: Y_t = A[t] for every t. Selecting the steps one by one would give each
// step's backward a full-size zero tensor with one slice filled (T of them, so
// O(T²) work); one node for all the steps stacks their gradients instead:
//   dA [T × ...] = stack(dY_0, ..., dY_{T−1})   (zeros for steps that got no gradient)
//
// lstm_cell_pointwise, for one step with gates A [N × 4H] (the pre-activations
// x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh, in PyTorch's order i, f, g, o) and cell c [N × H]:
//   i = σ(A_i), f = σ(A_f), g = tanh(A_g), o = σ(A_o)      each [N × H]
//   c' = f ⊙ c + i ⊙ g                                     [N × H]
//   h' = o ⊙ tanh(c')                                      [N × H]
// Backward, every intermediate [N × H] (shapes equal, so each product is elementwise):
//   dc'_all = dc' + dh' ⊙ o ⊙ (1 − tanh²(c'))    c' reaches the loss directly and through h'
//   dA_o    = dh' ⊙ tanh(c') ⊙ o ⊙ (1 − o)
//   dA_i    = dc'_all ⊙ g ⊙ i ⊙ (1 − i)
//   dA_f    = dc'_all ⊙ c ⊙ f ⊙ (1 − f)
//   dA_g    = dc'_all ⊙ i ⊙ (1 − g²)
//   dc      = dc'_all ⊙ f
// (docs/derivations/lstm.md derives them; tests compare with the autograd of the
// same step composed from sigmoid, tanh, mul and add.)
#include <omp.h>

#include <cmath>

#include "dimgrad/nn/rnn.hpp"
#include "kernels/simd.hpp"
#include "kernels/vec_math.hpp"
#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

struct UnbindBackward : Node {
  UnbindBackward() : Node(OpKind::Unbind) {}
  Shape shape;  // A's shape
  int64_t dim = 0;
  TensorList apply(TensorList&& g) override {
    // dA [A] = stack of the dY_t along dim (a step with no gradient contributes zeros)
    ScalarType dt = kFloat;
    for (const Tensor& t : g)
      if (t.defined()) dt = t.dtype();
    Tensor da = make_tensor(shape, dt);
    for (int64_t t = 0; t < shape[static_cast<size_t>(dim)]; ++t) {
      Tensor slot = da.select(dim, t);
      if (g[static_cast<size_t>(t)].defined()) kernels::copy(slot, g[static_cast<size_t>(t)]);
      else kernels::fill(slot, 0);
    }
    return {da};
  }
};

inline bool parallel_rows(int64_t work) { return work >= 32768 && omp_get_max_threads() > 1 && !omp_in_parallel(); }

// Per-row steps of the LSTM pointwise op, as small functors for simd_for: each
// touches at most six arrays (__restrict), which is what GCC vectorizes; one
// larger body was left scalar. float32 uses the vectorizable fast_sigmoid /
// fast_tanh, float64 std:: (vec_math.hpp).
template <class T> struct SigmoidRow {
  const T* __restrict x;
  T* __restrict y;
  void operator()(int64_t j) const { y[j] = kernels::fast_sigmoid(x[j]); }
};
template <class T> struct TanhRow {
  const T* __restrict x;
  T* __restrict y;
  void operator()(int64_t j) const { y[j] = kernels::fast_tanh(x[j]); }
};
// c' = f⊙c + i⊙g and tanh(c')
template <class T> struct CellRow {
  const T *__restrict i, *__restrict f, *__restrict g, *__restrict c;
  T *__restrict cn, *__restrict tc;
  void operator()(int64_t j) const {
    const T v = f[j] * c[j] + i[j] * g[j];
    cn[j] = v;
    tc[j] = kernels::fast_tanh(v);
  }
};
// h' = o⊙tanh(c')
template <class T> struct OutRow {
  const T *__restrict o, *__restrict tc;
  T* __restrict h;
  void operator()(int64_t j) const { h[j] = o[j] * tc[j]; }
};

// act [N × 4H] = (i, f, g, o) activated; tc [N × H] = tanh(c'); h, c' [N × H].
template <class T>
void lstm_pointwise_forward(int64_t N, int64_t H, const T* gates, const T* c, T* act, T* h, T* c_new, T* tc) {
  kernels::parallel_for_if(parallel_rows(N * H), N, [&](int64_t n) {
    const T* a = gates + n * 4 * H;
    T* s = act + n * 4 * H;
    kernels::simd_for(0, H, SigmoidRow<T>{a, s});                  // i = σ(A_i)
    kernels::simd_for(0, H, SigmoidRow<T>{a + H, s + H});          // f = σ(A_f)
    kernels::simd_for(0, H, TanhRow<T>{a + 2 * H, s + 2 * H});     // g = tanh(A_g)
    kernels::simd_for(0, H, SigmoidRow<T>{a + 3 * H, s + 3 * H});  // o = σ(A_o)
    kernels::simd_for(0, H, CellRow<T>{s, s + H, s + 2 * H, c + n * H, c_new + n * H, tc + n * H});
    kernels::simd_for(0, H, OutRow<T>{s + 3 * H, tc + n * H, h + n * H});
  });
}

// Backward steps, each [H] per row (see the formulas at the top of the file).
// dc'_all = dc' + dh'⊙o⊙(1 − tanh²c'), written over the dc output buffer.
template <class T> struct DcAllRow {
  const T *__restrict dcn, *__restrict dh, *__restrict o, *__restrict tc;
  T* __restrict dca;
  void operator()(int64_t j) const { dca[j] = dcn[j] + dh[j] * o[j] * (T(1) - tc[j] * tc[j]); }
};
// dA_o = dh'⊙tanh(c')⊙o(1 − o)
template <class T> struct DoRow {
  const T *__restrict dh, *__restrict tc, *__restrict o;
  T* __restrict dao;
  void operator()(int64_t j) const { dao[j] = dh[j] * tc[j] * o[j] * (T(1) - o[j]); }
};
// dA_i = dc'_all⊙g⊙i(1 − i),  dA_g = dc'_all⊙i⊙(1 − g²)
template <class T> struct DigRow {
  const T *__restrict dca, *__restrict i, *__restrict g;
  T *__restrict dai, *__restrict dag;
  void operator()(int64_t j) const {
    dai[j] = dca[j] * g[j] * i[j] * (T(1) - i[j]);
    dag[j] = dca[j] * i[j] * (T(1) - g[j] * g[j]);
  }
};
// dA_f = dc'_all⊙c⊙f(1 − f),  dc = dc'_all⊙f (in place of dc'_all)
template <class T> struct DfRow {
  const T *__restrict c, *__restrict f;
  T *__restrict dc, *__restrict daf;
  void operator()(int64_t j) const {
    daf[j] = dc[j] * c[j] * f[j] * (T(1) - f[j]);
    dc[j] = dc[j] * f[j];
  }
};

struct LstmCellBackward : Node {
  LstmCellBackward() : Node(OpKind::LstmCell) {}
  int64_t N = 0, H = 0;
  Tensor act, c, tc;  // [N × 4H] activated gates, [N × H] previous cell, [N × H] tanh(c')
  TensorList apply(TensorList&& g) override {
    // g[0] = dh' [N × H], g[1] = dc' [N × H]; an absent one is zero.
    Tensor dh = g[0].defined() ? kernels::as_contiguous(g[0]) : zeros({N, H}, act.dtype());
    Tensor dcn = g[1].defined() ? kernels::as_contiguous(g[1]) : zeros({N, H}, act.dtype());
    Tensor da = make_tensor({N, 4 * H}, act.dtype());  // dA [N × 4H]
    Tensor dc = make_tensor({N, H}, act.dtype());      // dc [N × H]
    dispatch_floating(act.dtype(), "lstm_cell backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* s = act.data_ptr<T>();
      const T* cp = c.data_ptr<T>();
      const T* tp = tc.data_ptr<T>();
      const T* dhp = dh.data_ptr<T>();
      const T* dcp = dcn.data_ptr<T>();
      T* dap = da.data_ptr<T>();
      T* dcout = dc.data_ptr<T>();
      kernels::parallel_for_if(parallel_rows(N * H), N, [&](int64_t n) {
        const T* a = s + n * 4 * H;  // i, f, g, o of row n
        T* d = dap + n * 4 * H;      // dA_i, dA_f, dA_g, dA_o of row n
        const int64_t r = n * H;
        kernels::simd_for(0, H, DcAllRow<T>{dcp + r, dhp + r, a + 3 * H, tp + r, dcout + r});
        kernels::simd_for(0, H, DoRow<T>{dhp + r, tp + r, a + 3 * H, d + 3 * H});
        kernels::simd_for(0, H, DigRow<T>{dcout + r, a, a + 2 * H, d, d + 2 * H});
        kernels::simd_for(0, H, DfRow<T>{cp + r, a + H, dcout + r, d + H});
      });
    });
    return {da, dc};
  }
};

}  // namespace
}  // namespace ops

using namespace ops;

std::vector<Tensor> unbind(const Tensor& a, int64_t dim) {
  detail::check_defined(a, "unbind");
  if (a.dim() == 0) throw IndexError("unbind: cannot unbind a 0-d tensor");
  dim = wrap_dim(dim, a.dim(), "unbind");
  Shape s(a.sizes()), st(a.strides());
  s.erase(static_cast<size_t>(dim));
  st.erase(static_cast<size_t>(dim));
  TensorList outs;
  for (int64_t t = 0; t < a.size(dim); ++t)
    outs.push_back(detail::make_view(a, s, st, a.storage_offset() + t * a.stride(dim)));
  if (autograd::any_requires_grad({&a}) && !outs.empty()) {
    auto node = std::make_shared<UnbindBackward>();
    node->shape = Shape(a.sizes());
    node->dim = dim;
    autograd::set_history(node, TensorList{a}, outs);
  }
  return outs;
}

std::tuple<Tensor, Tensor> lstm_cell_pointwise(const Tensor& gates, const Tensor& c) {
  detail::check_defined(gates, "lstm_cell_pointwise");
  detail::check_defined(c, "lstm_cell_pointwise");
  if (c.dim() != 2 || gates.dim() != 2 || gates.size(0) != c.size(0) || gates.size(1) != 4 * c.size(1))
    throw ShapeError("lstm_cell_pointwise: expected gates [N, 4H] and cell [N, H], got " + shape_str(gates.sizes()) +
                     " and " + shape_str(c.sizes()));
  if (gates.dtype() != c.dtype() || !is_floating(c.dtype()))
    throw DTypeError(std::string("lstm_cell_pointwise: expected floating tensors of one dtype, got ") +
                     dtype_name(gates.dtype()) + " and " + dtype_name(c.dtype()));
  const int64_t N = c.size(0), H = c.size(1);
  Tensor a = kernels::as_contiguous(gates), cc = kernels::as_contiguous(c);
  Tensor act = make_tensor({N, 4 * H}, c.dtype()), h = make_tensor({N, H}, c.dtype()),
         c_new = make_tensor({N, H}, c.dtype()), tc = make_tensor({N, H}, c.dtype());
  dispatch_floating(c.dtype(), "lstm_cell_pointwise", [&](auto tag) {
    using T = typename decltype(tag)::type;
    lstm_pointwise_forward<T>(N, H, a.data_ptr<T>(), cc.data_ptr<T>(), act.data_ptr<T>(), h.data_ptr<T>(),
                              c_new.data_ptr<T>(), tc.data_ptr<T>());
  });
  if (autograd::any_requires_grad({&gates, &c})) {
    auto node = std::make_shared<LstmCellBackward>();
    node->N = N;
    node->H = H;
    node->act = node->save(act);
    node->c = node->save(cc);
    node->tc = node->save(tc);
    TensorList outs{h, c_new};
    autograd::set_history(node, TensorList{gates, c}, outs);
    h = outs[0];
    c_new = outs[1];
  }
  return {h, c_new};
}

}  // namespace dg
