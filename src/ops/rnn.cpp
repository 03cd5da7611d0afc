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

template <class T> inline T sigm(T x) { return T(1) / (T(1) + std::exp(-x)); }

// act [N × 4H] = (i, f, g, o) activated; tc [N × H] = tanh(c'); h, c' [N × H].
template <class T>
void lstm_pointwise_forward(int64_t N, int64_t H, const T* gates, const T* c, T* act, T* h, T* c_new, T* tc) {
#pragma omp parallel for schedule(static) if (parallel_rows(N * H))
  for (int64_t n = 0; n < N; ++n) {
    const T* a = gates + n * 4 * H;
    T* s = act + n * 4 * H;
    for (int64_t j = 0; j < H; ++j) {
      const T i = sigm(a[j]), f = sigm(a[H + j]), g = std::tanh(a[2 * H + j]), o = sigm(a[3 * H + j]);
      const T cn = f * c[n * H + j] + i * g;
      const T t = std::tanh(cn);
      s[j] = i;
      s[H + j] = f;
      s[2 * H + j] = g;
      s[3 * H + j] = o;
      c_new[n * H + j] = cn;
      tc[n * H + j] = t;
      h[n * H + j] = o * t;
    }
  }
}

struct LstmCellBackward : Node {
  LstmCellBackward() : Node(OpKind::LstmCell) {}
  int64_t N = 0, H = 0;
  Tensor act, c, tc;  // [N × 4H] activated gates, [N × H] previous cell, [N × H] tanh(c')
  TensorList apply(TensorList&& g) override {
    // g[0] = dh' [N × H], g[1] = dc' [N × H]; either may be absent (zero).
    Tensor dh = g[0].defined() ? kernels::as_contiguous(g[0]) : Tensor();
    Tensor dcn = g[1].defined() ? kernels::as_contiguous(g[1]) : Tensor();
    Tensor da = make_tensor({N, 4 * H}, act.dtype());  // dA [N × 4H]
    Tensor dc = make_tensor({N, H}, act.dtype());      // dc [N × H]
    dispatch_floating(act.dtype(), "lstm_cell backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* s = act.data_ptr<T>();
      const T* cp = c.data_ptr<T>();
      const T* tp = tc.data_ptr<T>();
      const T* dhp = dh.defined() ? dh.data_ptr<T>() : nullptr;
      const T* dcp = dcn.defined() ? dcn.data_ptr<T>() : nullptr;
      T* dap = da.data_ptr<T>();
      T* dcout = dc.data_ptr<T>();
#pragma omp parallel for schedule(static) if (parallel_rows(N * H))
      for (int64_t n = 0; n < N; ++n) {
        const T* a = s + n * 4 * H;
        T* d = dap + n * 4 * H;
        for (int64_t j = 0; j < H; ++j) {
          const int64_t k = n * H + j;
          const T i = a[j], f = a[H + j], gg = a[2 * H + j], o = a[3 * H + j], t = tp[k];
          const T dhk = dhp ? dhp[k] : T(0);
          const T dc_all = (dcp ? dcp[k] : T(0)) + dhk * o * (T(1) - t * t);  // dc'_all = dc' + dh'⊙o⊙(1 − tanh²c')
          d[3 * H + j] = dhk * t * o * (T(1) - o);                            // dA_o = dh'⊙tanh(c')⊙o(1 − o)
          d[j] = dc_all * gg * i * (T(1) - i);                                // dA_i = dc'_all⊙g⊙i(1 − i)
          d[H + j] = dc_all * cp[k] * f * (T(1) - f);                         // dA_f = dc'_all⊙c⊙f(1 − f)
          d[2 * H + j] = dc_all * i * (T(1) - gg * gg);                       // dA_g = dc'_all⊙i⊙(1 − g²)
          dcout[k] = dc_all * f;                                              // dc = dc'_all⊙f
        }
      }
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
