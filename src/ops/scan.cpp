// cumsum: the running sum along one dim.
//
// Dimension analysis: Y[.., i, ..] = Σ_{j ≤ i} A[.., j, ..] has A's shape. A_j
// feeds every Y_i with i ≥ j, so dA_j = Σ_{i ≥ j} dY_i: the running sum taken
// from the other end, so the backward is the same kernel run in reverse.
#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

Tensor running_sum(const Tensor& a, int64_t dim, bool reverse);

struct CumsumBackward : Node {
  CumsumBackward() : Node(OpKind::Cumsum) {}
  int64_t dim = 0;
  bool reverse = false;
  TensorList apply(TensorList&& g) override {
    // Y_i = Σ_{j ≤ i} A_j      dA_j = Σ_{i ≥ j} dY_i   [A's shape]
    return {running_sum(g[0], dim, !reverse)};
  }
};

// y[o, r, i] = Σ x[o, r', i] over r' ≤ r (r' ≥ r when reverse), accumulated in
// double for floating types (as LibTorch's CPU cumsum) and int64 for the rest.
template <class T, class R> void scan_along(const T* x, R* y, const kernels::ReduceGeometry& g, bool reverse) {
  using Acc = std::conditional_t<std::is_floating_point_v<T>, double, int64_t>;
  const int64_t Rn = g.reduce, I = g.inner;
  auto block = [&](int64_t o) {
    const int64_t base = o * Rn * I;
    if (I == 1) {
      Acc acc = 0;
      for (int64_t k = 0; k < Rn; ++k) {
        const int64_t r = reverse ? Rn - 1 - k : k;
        acc += static_cast<Acc>(x[base + r]);
        y[base + r] = static_cast<R>(acc);
      }
      return;
    }
    // Columns side by side: a running sum per column, each row read contiguously.
    std::vector<Acc> acc(static_cast<size_t>(I), Acc(0));
    for (int64_t k = 0; k < Rn; ++k) {
      const int64_t row = base + (reverse ? Rn - 1 - k : k) * I;
      for (int64_t i = 0; i < I; ++i) {
        acc[static_cast<size_t>(i)] += static_cast<Acc>(x[row + i]);
        y[row + i] = static_cast<R>(acc[static_cast<size_t>(i)]);
      }
    }
  };
  kernels::parallel_for_if(g.outer > 1 && kernels::use_threads(g.outer * Rn * I), g.outer, block);
}

Tensor running_sum(const Tensor& a_in, int64_t dim, bool reverse) {
  const Tensor a = kernels::as_contiguous(a_in);
  const ScalarType out_t = is_floating(a.dtype()) ? a.dtype() : kLong;
  Tensor out = make_tensor(a.sizes(), out_t);
  const kernels::ReduceGeometry geo = kernels::reduce_geometry(a.sizes(), dim, a.dim() == 0 ? 0 : dim + 1);
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (out_t == kLong) scan_along<T, int64_t>(a.data_ptr<T>(), out.data_ptr<int64_t>(), geo, reverse);
    else if constexpr (std::is_floating_point_v<T>) scan_along<T, T>(a.data_ptr<T>(), out.data_ptr<T>(), geo, reverse);
  });
  record<CumsumBackward>(out, {&a_in}, {}, [&](CumsumBackward& n) {
    n.dim = dim;
    n.reverse = reverse;
  });
  return out;
}

}  // namespace
}  // namespace ops

Tensor cumsum(const Tensor& a, int64_t dim) {
  detail::check_defined(a, "cumsum");
  return ops::running_sum(a, wrap_dim(dim, a.dim(), "cumsum"), false);
}

}  // namespace dg
