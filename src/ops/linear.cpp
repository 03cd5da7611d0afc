// The affine op (nn::functional::linear), fused: Y = X·Wᵀ + b in one GEMM call
// whose threads each add b to their own block of Y right after computing it
// (the GEMM's epilogue), so the bias costs no separate pass over Y and no
// temporary. linear_relu (Sequential's Linear → ReLU) is the same op with
// max(·, 0) in the same epilogue, and the ReLU's mask applied to dY in the
// backward.
//
// Dimension analysis (docs/derivations/affine.md), with X viewed as [N×D]
// (every leading dim folded into N), W [C×D], b [C], Y [N×C]:
//   dX must be [N×D]: the only product of dY [N×C] and W [C×D] that is [N×D] is dY·W.
//   dW must be [C×D]: the only product of dY and X that is [C×D] is dYᵀ·X.
//   db must be [C]:   b was broadcast over the N rows, so its gradient sums dY over N.
#include "dimgrad/nn/linear.hpp"
#include "ops/nn_simd.hpp"
#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

// ΣN dY: column sums of a contiguous [N×C] matrix into db [C] (db may be null).
// With y (a fused ReLU's output), first G = dY ⊙ [Y > 0] into g, and db = ΣN G:
// the same additions in the same order as the ReLU's backward then this sum.
template <class T>
void column_sums(const T* dy, T* db, int64_t N, int64_t C, const T* y = nullptr, T* g = nullptr) {
  // Each thread owns a block of columns and walks the rows in order (rows are
  // contiguous, so the inner loop over a column block vectorizes); under 64
  // columns the whole matrix stays on one thread.
  parallel_chunks(C, C >= 64 ? N * C : 0, [&](int64_t c0, int64_t c1) {
    simd_if_float<T>([&] {  // (compiled for the CPU's vector width)
      if (db)
        for (int64_t c = c0; c < c1; ++c) db[c] = 0;
      for (int64_t n = 0; n < N; ++n) {
        // (restrict copies: a store through g could otherwise change dy, y or db)
        const T* __restrict row = dy + n * C;
        T* __restrict acc = db;
        if (y) {
          const T* __restrict yr = y + n * C;
          T* __restrict gr = g + n * C;
          if (db)
            for (int64_t c = c0; c < c1; ++c) {
              const T v = yr[c] > T(0) ? row[c] : T(0);
              gr[c] = v;
              acc[c] += v;
            }
          else
            for (int64_t c = c0; c < c1; ++c) gr[c] = yr[c] > T(0) ? row[c] : T(0);
        } else if (db) {
          for (int64_t c = c0; c < c1; ++c) acc[c] += row[c];
        }
      }
    });
  });
}

// linear_relu (Sequential's Linear → ReLU) is the same node with the ReLU's
// mask applied to dY first: G = dY ⊙ [Y > 0] [N×C], shaped like Y, then the
// three gradients of G. Y is the fused op's output, saved for that mask.
struct LinearBackward : Node {
  explicit LinearBackward(bool relu_) : Node(relu_ ? OpKind::LinearRelu : OpKind::Linear), relu(relu_) {}
  const bool relu;
  Tensor y;             // relu only: the output [N×C]
  Tensor x, w;          // x contiguous [N×D] (saved when dW is needed), w [C×D] (when dX is)
  Shape x_shape;        // the input's own shape ([*, D])
  int64_t N = 0, D = 0, C = 0;
  void release_saved() override {  // the graph is done with them: free the memory now
    Node::release_saved();
    x.reset();
    w.reset();
    y.reset();
  }
  TensorList apply(TensorList&& g) override {
    Tensor dy = kernels::as_contiguous(g[0]);  // [*, C] seen as [N×C]
    Tensor dx, dw, db;
    dispatch_floating(dy.dtype(), "linear backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      // G[N×C] = dY, or dY ⊙ [Y > 0] after a fused ReLU (written in the same pass as db)
      const T* pg = dy.data_ptr<T>();
      Tensor masked;
      // db[C] = Σ_N G   (b was broadcast over the N rows)
      T* pdb = needs_grad(2) ? (db = make_tensor({C}, dy.dtype())).template data_ptr<T>() : nullptr;
      if (relu) {
        masked = make_tensor({N, C}, dy.dtype());
        column_sums<T>(pg, pdb, N, C, y.data_ptr<T>(), masked.data_ptr<T>());
        pg = masked.data_ptr<T>();
      } else if (pdb) {
        column_sums<T>(pg, pdb, N, C);
      }
      if (needs_grad(0)) {
        // dX[N×D] = G[N×C] · W[C×D]
        dx = make_tensor(x_shape, dy.dtype());
        kernels::gemm(false, false, N, D, C, T(1), pg, C, w.data_ptr<T>(), D, T(0), dx.data_ptr<T>(), D);
      }
      if (needs_grad(1)) {
        // dW[C×D] = Gᵀ[C×N] · X[N×D]
        dw = make_tensor({C, D}, dy.dtype());
        kernels::gemm(true, false, C, D, N, T(1), pg, C, x.data_ptr<T>(), D, T(0), dw.data_ptr<T>(), D);
      }
    });
    return {dx, dw, db};
  }
};

void check_linear(const Tensor& x, const Tensor& w, const Tensor& b) {
  detail::check_defined(x, "linear");
  detail::check_defined(w, "linear (weight)");
  if (w.dim() != 2)
    throw ShapeError("linear: expected a 2-d weight [out_features, in_features], got " + shape_str(w.sizes()));
  if (x.dim() < 1)
    throw ShapeError("linear: expected an input with at least 1 dimension [*, " + std::to_string(w.size(1)) +
                     "], got a 0-d tensor");
  if (x.size(-1) != w.size(1))
    throw ShapeError("linear: expected input [*, " + std::to_string(w.size(1)) + "] for weight " +
                     shape_str(w.sizes()) + ", got " + shape_str(x.sizes()));
  if (b.defined() && (b.dim() != 1 || b.size(0) != w.size(0)))
    throw ShapeError("linear: expected bias [" + std::to_string(w.size(0)) + "], got " + shape_str(b.sizes()));
  if (!is_floating(x.dtype()) || x.dtype() != w.dtype() || (b.defined() && b.dtype() != w.dtype()))
    throw DTypeError(std::string("linear: input, weight and bias must share one floating dtype, got input ") +
                     dtype_name(x.dtype()) + ", weight " + dtype_name(w.dtype()) +
                     (b.defined() ? std::string(", bias ") + dtype_name(b.dtype()) : std::string()));
}

}  // namespace
}  // namespace ops

namespace nn::functional {

using namespace ops;

namespace {

// linear, and linear_relu when `relu` (Y = max(X·Wᵀ + b, 0), one node).
Tensor linear_impl(const Tensor& input, const Tensor& weight, const Tensor& bias, bool relu) {
  check_linear(input, weight, bias);
  const int64_t D = weight.size(1), C = weight.size(0);
  int64_t N = 1;  // every leading dim folded into the rows
  for (int64_t d = 0; d + 1 < input.dim(); ++d) N *= input.size(d);
  Tensor x = kernels::as_contiguous(input);
  Tensor w = kernels::as_contiguous(weight);
  Shape out_shape(input.sizes());
  out_shape[out_shape.size() - 1] = C;
  Tensor y = make_tensor(out_shape, input.dtype());
  dispatch_floating(input.dtype(), "linear", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const Tensor b = bias.defined() ? kernels::as_contiguous(bias) : Tensor();
    // Y[N×C] = X[N×D] · Wᵀ[D×C], + b broadcast over the N rows, then max(Y, 0)
    // for linear_relu: the bias and the clip in gemm's epilogue, each thread
    // on its own block of Y while that is in its cache.
    kernels::gemm(false, true, N, C, D, T(1), x.data_ptr<T>(), D, w.data_ptr<T>(), D, T(0), y.data_ptr<T>(), C,
                  relu, b.defined() ? b.data_ptr<T>() : nullptr);
  });
  record<LinearBackward>(
      y, {&input, &weight, &bias}, {},
      [&](LinearBackward& n) {
        n.N = N;
        n.D = D;
        n.C = C;
        n.x_shape = Shape(input.sizes());
        if (n.needs_grad(1)) n.x = n.save(x);
        if (n.needs_grad(0)) n.w = n.save(w);
        if (relu) n.y = n.save(y);
      },
      relu);
  return y;
}

}  // namespace

Tensor linear(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  return linear_impl(input, weight, bias, false);
}

Tensor detail::linear_relu(const Tensor& input, const Tensor& weight, const Tensor& bias) {
  return linear_impl(input, weight, bias, true);
}

}  // namespace nn::functional
}  // namespace dg
