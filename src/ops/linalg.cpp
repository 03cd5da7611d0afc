// Matrix products: mm (2-d), bmm (3-d, one batch), and matmul composed from them.
//
// Dimension analysis of Y = A·B with A [M×K], B [K×N], Y [M×N]:
//   dA must be [M×K]; the only product of dY [M×N] and B that is [M×K] is dY·Bᵀ.
//   dB must be [K×N]; the only product of A and dY that is [K×N] is Aᵀ·dY.
#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

void check_mm(const Tensor& a, const Tensor& b, const char* op) {
  detail::check_defined(a, op);
  detail::check_defined(b, op);
  if (a.dim() != 2 || b.dim() != 2)
    throw ShapeError(std::string(op) + ": expected two 2-d matrices, got shapes " + shape_str(a.sizes()) + " and " +
                     shape_str(b.sizes()));
  if (a.size(1) != b.size(0))
    throw ShapeError(std::string(op) + ": shapes " + shape_str(a.sizes()) + " and " + shape_str(b.sizes()) +
                     " cannot be multiplied (" + std::to_string(a.size(1)) + " columns vs " +
                     std::to_string(b.size(0)) + " rows)");
  if (a.dtype() != b.dtype())
    throw DTypeError(std::string(op) + ": both matrices must have one dtype, got " + dtype_name(a.dtype()) + " and " +
                     dtype_name(b.dtype()));
  if (!is_floating(a.dtype()))
    throw DTypeError(std::string(op) + ": expected floating-point matrices, got " + dtype_name(a.dtype()));
}

Tensor mm_raw(const Tensor& a, const Tensor& b) {
  Tensor out = make_tensor({a.size(0), b.size(1)}, a.dtype());
  kernels::mm_into(out, a, b);
  return out;
}

Tensor bmm_raw(const Tensor& a, const Tensor& b) {
  const int64_t B = a.size(0);
  Tensor out = make_tensor({B, a.size(1), b.size(2)}, a.dtype());
  for (int64_t i = 0; i < B; ++i) {
    NoGradGuard g;
    kernels::mm_into(out.select(0, i), a.select(0, i), b.select(0, i));
  }
  return out;
}

struct MmBackward : Node {
  MmBackward() : Node(OpKind::Mm) {}
  Tensor a, b;
  TensorList apply(TensorList&& g) override {
    Tensor da, db;
    // dA[M×K] = dY[M×N] · Bᵀ[N×K]
    if (needs_grad(0)) da = mm_raw(g[0], b.t());
    // dB[K×N] = Aᵀ[K×M] · dY[M×N]
    if (needs_grad(1)) db = mm_raw(a.t(), g[0]);
    return {da, db};
  }
};

struct BmmBackward : Node {
  BmmBackward() : Node(OpKind::Bmm) {}
  Tensor a, b;
  TensorList apply(TensorList&& g) override {
    Tensor da, db;
    // dA[P×M×K] = dY[P×M×N] · Bᵀ[P×N×K]   (one product per batch element)
    if (needs_grad(0)) da = bmm_raw(g[0], b.transpose(1, 2));
    // dB[P×K×N] = Aᵀ[P×K×M] · dY[P×M×N]
    if (needs_grad(1)) db = bmm_raw(a.transpose(1, 2), g[0]);
    return {da, db};
  }
};

}  // namespace
}  // namespace ops

using namespace ops;

Tensor mm(const Tensor& a, const Tensor& b) {
  check_mm(a, b, "mm");
  Tensor out = mm_raw(a, b);
  record<MmBackward>(out, {&a, &b}, {}, [&](MmBackward& n) {
    if (n.needs_grad(1)) n.a = n.save(a);
    if (n.needs_grad(0)) n.b = n.save(b);
  });
  return out;
}

Tensor bmm(const Tensor& a, const Tensor& b) {
  detail::check_defined(a, "bmm");
  detail::check_defined(b, "bmm");
  if (a.dim() != 3 || b.dim() != 3 || a.size(0) != b.size(0) || a.size(2) != b.size(1))
    throw ShapeError("bmm: expected [P×M×K] and [P×K×N], got " + shape_str(a.sizes()) + " and " +
                     shape_str(b.sizes()));
  if (a.dtype() != b.dtype() || !is_floating(a.dtype()))
    throw DTypeError(std::string("bmm: expected two floating-point tensors of one dtype, got ") +
                     dtype_name(a.dtype()) + " and " + dtype_name(b.dtype()));
  Tensor out = bmm_raw(a, b);
  record<BmmBackward>(out, {&a, &b}, {}, [&](BmmBackward& n) {
    if (n.needs_grad(1)) n.a = n.save(a);
    if (n.needs_grad(0)) n.b = n.save(b);
  });
  return out;
}

// matmul follows NumPy/LibTorch: 1-d operands are promoted to a row (left) or a
// column (right) and the added dim removed again; leading dims broadcast.
// Composed from differentiable ops, so its gradient needs no code of its own.
Tensor matmul(const Tensor& a, const Tensor& b) {
  detail::check_defined(a, "matmul");
  detail::check_defined(b, "matmul");
  const int64_t da = a.dim(), db = b.dim();
  if (da == 0 || db == 0)
    throw ShapeError("matmul: both arguments need at least 1 dimension, got shapes " + shape_str(a.sizes()) +
                     " and " + shape_str(b.sizes()));
  auto mismatch = [&](int64_t ka, int64_t kb) {
    if (ka != kb)
      throw ShapeError("matmul: shapes " + shape_str(a.sizes()) + " and " + shape_str(b.sizes()) +
                       " cannot be multiplied (" + std::to_string(ka) + " vs " + std::to_string(kb) + ")");
  };
  if (da == 1 && db == 1) {
    mismatch(a.size(0), b.size(0));
    return mm(a.unsqueeze(0), b.unsqueeze(1)).reshape({});
  }
  if (da == 2 && db == 1) {
    mismatch(a.size(1), b.size(0));
    return mm(a, b.unsqueeze(1)).squeeze(1);
  }
  if (da == 1 && db == 2) {
    mismatch(a.size(0), b.size(0));
    return mm(a.unsqueeze(0), b).squeeze(0);
  }
  if (da == 2 && db == 2) return mm(a, b);
  if (db <= 2) {
    // [..., M, K] · [K, N] (or [K]): fold the batch into rows, one GEMM.
    Tensor bm = db == 1 ? b.unsqueeze(1) : b;
    mismatch(a.size(-1), bm.size(0));
    Shape out_shape(a.sizes());
    out_shape[out_shape.size() - 1] = bm.size(1);
    Tensor y = mm(a.reshape({-1, a.size(-1)}), bm).reshape(out_shape);
    return db == 1 ? y.squeeze(-1) : y;
  }
  // General case: broadcast the batch dims, then one bmm.
  Tensor am = da == 1 ? a.unsqueeze(0) : a;
  Tensor bm = b;
  mismatch(am.size(-1), bm.size(-2));
  Shape ab(am.sizes()), bb(bm.sizes());
  Shape a_batch, b_batch;
  for (size_t i = 0; i + 2 < ab.size(); ++i) a_batch.push_back(ab[i]);
  for (size_t i = 0; i + 2 < bb.size(); ++i) b_batch.push_back(bb[i]);
  Shape batch = broadcast_shapes(a_batch, b_batch, "matmul");
  const int64_t M = am.size(-2), K = am.size(-1), N = bm.size(-1);
  int64_t P = checked_numel(batch);
  Shape ae = batch, be = batch;
  ae.push_back(M);
  ae.push_back(K);
  be.push_back(K);
  be.push_back(N);
  Tensor y = bmm(am.expand(ae).reshape({P, M, K}), bm.expand(be).reshape({P, K, N}));
  Shape out = batch;
  out.push_back(M);
  out.push_back(N);
  y = y.reshape(out);
  return da == 1 ? y.squeeze(-2) : y;
}

}  // namespace dg
