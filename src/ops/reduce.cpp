// Reductions: sum mean var std max min argmax argmin amax amin logsumexp prod.
//
// A reduction's backward undoes the shape change: Y lost the reduced dims, so
// dY is first given them back as size 1 (unsqueeze) and then broadcast to A's
// shape — each A element contributed once to its Y element.
#include <algorithm>
#include <cmath>
#include <limits>

#include "ops/op_util.hpp"

namespace dg {

int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op) {
  int64_t n = std::max<int64_t>(ndim, 1);  // a 0-d tensor accepts dim 0 and -1
  if (dim < -n || dim >= n)
    throw IndexError(std::string(op) + ": dimension " + std::to_string(dim) + " is out of range for a " +
                     std::to_string(ndim) + "-d tensor (expected a value in [" + std::to_string(-n) + ", " +
                     std::to_string(n - 1) + "])");
  return dim < 0 ? dim + n : dim;
}

namespace ops {
namespace {

// Sorted unique dims; an empty list means every dim (LibTorch's sum(dim=[])).
std::vector<int64_t> reduce_dims(const Tensor& a, IntArrayRef dims, const char* op) {
  std::vector<int64_t> out;
  if (dims.empty()) {
    for (int64_t d = 0; d < a.dim(); ++d) out.push_back(d);
    return out;
  }
  for (int64_t d : dims) {
    int64_t w = wrap_dim(d, a.dim(), op);
    if (a.dim() == 0) continue;
    if (std::find(out.begin(), out.end(), w) != out.end())
      throw IndexError(std::string(op) + ": dimension " + std::to_string(d) + " appears twice in the list of dims");
    out.push_back(w);
  }
  std::sort(out.begin(), out.end());
  return out;
}

int64_t reduced_count(const Tensor& a, const std::vector<int64_t>& dims) {
  int64_t n = 1;
  for (int64_t d : dims) n *= a.size(d);
  return n;
}

// dY (reduced shape) → dY viewed with the reduced dims back as size 1, broadcast to `shape`.
Tensor expand_back(const Tensor& g, IntArrayRef shape, const std::vector<int64_t>& dims, bool keepdim) {
  Tensor v = g;
  if (!keepdim) {
    Shape kept(shape);
    for (int64_t d : dims) kept[static_cast<size_t>(d)] = 1;
    v = g.reshape(kept);
  }
  return v.expand(shape);
}

struct SumBackward : Node {
  SumBackward() : Node(OpKind::Sum) {}
  Shape shape;
  std::vector<int64_t> dims;
  bool keepdim = false;
  TensorList apply(TensorList&& g) override {
    // Y = Σ_dims A        dA[A] = dY broadcast back over dims (every A element counted once)
    return {expand_back(g[0], shape, dims, keepdim)};
  }
};

struct MeanBackward : Node {
  MeanBackward() : Node(OpKind::Mean) {}
  Shape shape;
  std::vector<int64_t> dims;
  bool keepdim = false;
  double n = 1;
  TensorList apply(TensorList&& g) override {
    // Y = Σ_dims A / n    dA[A] = dY / n broadcast back over dims
    return {expand_back(g[0] * (1.0 / n), shape, dims, keepdim)};
  }
};

struct VarBackward : Node {
  VarBackward() : Node(OpKind::Var) {}
  Tensor a, mean;  // mean kept with keepdim
  std::vector<int64_t> dims;
  bool keepdim = false;
  double denom = 1;
  TensorList apply(TensorList&& g) override {
    // Y = Σ (A - μ)² / (n - 1)
    // dA[A] = 2·(A - μ) ⊙ dY / (n - 1)   (the path through μ adds Σ(A - μ) = 0)
    Tensor gb = expand_back(g[0], a.sizes(), dims, keepdim);
    return {(a - mean) * gb * (2.0 / denom)};
  }
};

// max()/min() over everything: the gradient goes to the extreme element(s), split between ties.
struct ExtremeAllBackward : Node {
  explicit ExtremeAllBackward(bool is_max) : Node(is_max ? OpKind::MaxAll : OpKind::MinAll) {}
  Tensor a, y;
  TensorList apply(TensorList&& g) override {
    // dA[A] = dY · [A = Y] / #ties
    Tensor mask = eq(a, y).to(a.dtype());
    return {mask * (g[0] / mask.sum())};
  }
};

struct ExtremeDimBackward : Node {
  explicit ExtremeDimBackward(bool is_max) : Node(is_max ? OpKind::MaxDim : OpKind::MinDim) {}
  Shape shape;
  Tensor indices;  // keepdim form
  int64_t dim = 0;
  bool keepdim = false;
  TensorList apply(TensorList&& g) override {
    // Y[.., 1, ..] = A[.., I, ..]   dA[A] = zeros with dY placed at the positions I along dim
    Tensor gk = keepdim ? g[0] : g[0].unsqueeze(dim);
    Tensor da = zeros(shape, g[0].dtype());
    Tensor gc = gk.contiguous();
    kernels::ReduceGeometry geo = kernels::reduce_geometry(shape, dim, dim + 1);
    const int64_t* idx = indices.data_ptr<int64_t>();
    dispatch_floating(da.dtype(), "max backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      T* d = da.data_ptr<T>();
      const T* s = gc.data_ptr<T>();
      for (int64_t o = 0; o < geo.outer; ++o)
        for (int64_t i = 0; i < geo.inner; ++i)
          d[(o * geo.reduce + idx[o * geo.inner + i]) * geo.inner + i] += s[o * geo.inner + i];
    });
    return {da.reshape(input_meta[0].shape)};
  }
};

// A's shape with the reduced dims removed (keepdim = false) or kept as size 1.
Shape reduced_shape(const Tensor& a, const std::vector<int64_t>& dims, bool keepdim) {
  Shape s;
  for (int64_t d = 0; d < a.dim(); ++d) {
    const bool reduced = std::binary_search(dims.begin(), dims.end(), d);
    if (!reduced) s.push_back(a.size(d));
    else if (keepdim) s.push_back(1);
  }
  return s;
}

// amax/amin: unlike max(dim), which sends the gradient to one index, the
// gradient is split evenly between the elements equal to the extreme (LibTorch's).
struct AmaxBackward : Node {
  explicit AmaxBackward(bool is_max) : Node(is_max ? OpKind::Amax : OpKind::Amin) {}
  Tensor a, y;  // y with the reduced dims kept as size 1
  std::vector<int64_t> dims;
  bool keepdim = false;
  TensorList apply(TensorList&& g) override {
    // Y = max_dims A      dA[A] = dY ⊙ [A = Y] / #ties   (Y, dY, #ties broadcast back over dims)
    Tensor mask = eq(a, y).to(a.dtype());
    return {mask * expand_back(g[0], a.sizes(), dims, keepdim) / mask.sum(dims, true)};
  }
};

struct LogSumExpBackward : Node {
  LogSumExpBackward() : Node(OpKind::LogSumExp) {}
  Tensor a, y;  // y with the reduced dims kept as size 1
  std::vector<int64_t> dims;
  bool keepdim = false;
  TensorList apply(TensorList&& g) override {
    // Y = log Σ_dims exp(A)      dA[A] = dY ⊙ exp(A − Y)   (the softmax over dims; Y, dY broadcast back)
    return {expand_back(g[0], a.sizes(), dims, keepdim) * exp(a - y)};
  }
};

struct ProdBackward : Node {
  ProdBackward() : Node(OpKind::Prod) {}
  Tensor a;  // contiguous
  int64_t dim = 0;
  bool keepdim = false;
  TensorList apply(TensorList&& g) override {
    // Y = Π_r A_r along dim      dA_r = dY · Π_{r' ≠ r} A_r'
    // The product of the others is (prefix product before r)·(suffix product
    // after r), never Y / A_r: exact when some A_r are 0.
    Tensor gk = (keepdim ? g[0] : g[0].unsqueeze(dim)).contiguous();
    Tensor da = make_tensor(a.sizes(), a.dtype());
    const kernels::ReduceGeometry geo = kernels::reduce_geometry(a.sizes(), dim, dim + 1);
    dispatch_floating(a.dtype(), "prod backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* x = a.data_ptr<T>();
      const T* gy = gk.data_ptr<T>();
      T* d = da.data_ptr<T>();
      const int64_t R = geo.reduce, I = geo.inner;
      for (int64_t o = 0; o < geo.outer; ++o)
        for (int64_t i = 0; i < I; ++i) {
          const int64_t base = o * R * I + i;
          double before = 1;  // Π_{r' < r}, stored into d first
          for (int64_t r = 0; r < R; ++r) {
            d[base + r * I] = static_cast<T>(before);
            before *= static_cast<double>(x[base + r * I]);
          }
          double after = 1;  // Π_{r' > r}
          const double up = static_cast<double>(gy[o * I + i]);
          for (int64_t r = R - 1; r >= 0; --r) {
            d[base + r * I] = static_cast<T>(up * static_cast<double>(d[base + r * I]) * after);
            after *= static_cast<double>(x[base + r * I]);
          }
        }
    });
    return {da.reshape(input_meta[0].shape)};
  }
};

}  // namespace
}  // namespace ops

using namespace ops;

Tensor sum(const Tensor& a) { return sum(a, {}, false); }

Tensor sum(const Tensor& a, IntArrayRef dims_in, bool keepdim) {
  detail::check_defined(a, "sum");
  auto dims = reduce_dims(a, dims_in, "sum");
  Tensor out = kernels::sum(a, dims, keepdim);
  record<SumBackward>(out, {&a}, {}, [&](SumBackward& n) {
    n.shape = Shape(a.sizes());
    n.dims = dims;
    n.keepdim = keepdim;
  });
  return out;
}

Tensor mean(const Tensor& a) { return mean(a, {}, false); }

Tensor mean(const Tensor& a, IntArrayRef dims_in, bool keepdim) {
  detail::check_defined(a, "mean");
  if (!a.is_floating_point())
    throw DTypeError(std::string("mean: expected a floating-point tensor, got ") + dtype_name(a.dtype()) +
                     "; convert it first with .to(dg::kFloat32)");
  auto dims = reduce_dims(a, dims_in, "mean");
  const double n = static_cast<double>(reduced_count(a, dims));
  Tensor out;
  {
    NoGradGuard g;
    out = kernels::sum(a, dims, keepdim);
    out.mul_(n == 0 ? std::numeric_limits<double>::quiet_NaN() : 1.0 / n);
  }
  record<MeanBackward>(out, {&a}, {}, [&](MeanBackward& node) {
    node.shape = Shape(a.sizes());
    node.dims = dims;
    node.keepdim = keepdim;
    node.n = n;
  });
  return out;
}

Tensor var(const Tensor& a, bool unbiased) { return var(a, {}, unbiased, false); }

Tensor var(const Tensor& a, IntArrayRef dims_in, bool unbiased, bool keepdim) {
  detail::check_defined(a, "var");
  if (!a.is_floating_point())
    throw DTypeError(std::string("var: expected a floating-point tensor, got ") + dtype_name(a.dtype()));
  auto dims = reduce_dims(a, dims_in, "var");
  const double n = static_cast<double>(reduced_count(a, dims));
  const double denom = unbiased ? n - 1 : n;
  Tensor out, mu;
  {
    NoGradGuard g;
    mu = kernels::sum(a, dims, true);
    mu.mul_(1.0 / n);
    Tensor d = a - mu;
    out = kernels::sum(d * d, dims, keepdim);
    out.mul_(denom <= 0 ? std::numeric_limits<double>::quiet_NaN() : 1.0 / denom);
  }
  record<VarBackward>(out, {&a}, {}, [&](VarBackward& node) {
    node.a = node.save(a);
    node.mean = mu;
    node.dims = dims;
    node.keepdim = keepdim;
    node.denom = denom;
  });
  return out;
}

Tensor std(const Tensor& a, bool unbiased) { return sqrt(var(a, unbiased)); }
Tensor std(const Tensor& a, IntArrayRef dims, bool unbiased, bool keepdim) { return sqrt(var(a, dims, unbiased, keepdim)); }

static Tensor extreme_all(const Tensor& a, bool is_max) {
  const char* name = is_max ? "max" : "min";
  detail::check_defined(a, name);
  if (a.numel() == 0)
    throw ShapeError(std::string(name) + "(): the tensor is empty (shape " + shape_str(a.sizes()) +
                     "); there is no " + (is_max ? "maximum" : "minimum") + " to return. Use " + name +
                     "(dim) on a non-empty dim instead");
  Tensor out = kernels::max_min_all(a, is_max);
  record<ExtremeAllBackward>(
      out, {&a}, {},
      [&](ExtremeAllBackward& n) {
        n.a = n.save(a);
        n.y = out.detach();
      },
      is_max);
  return out;
}

Tensor max(const Tensor& a) { return extreme_all(a, true); }
Tensor min(const Tensor& a) { return extreme_all(a, false); }

static std::tuple<Tensor, Tensor> extreme_dim(const Tensor& a, int64_t dim_in, bool keepdim, bool is_max) {
  const char* name = is_max ? "max" : "min";
  detail::check_defined(a, name);
  int64_t dim = wrap_dim(dim_in, a.dim(), name);
  Tensor src = a.dim() == 0 ? a.reshape({1}) : a;
  if (src.size(dim) == 0)
    throw ShapeError(std::string(name) + "(dim=" + std::to_string(dim_in) + "): dimension " + std::to_string(dim) +
                     " of shape " + shape_str(a.sizes()) + " is empty");
  Tensor values, indices;
  kernels::max_min_dim(src, dim, is_max, values, indices);
  Tensor idx_keep = indices;
  if (!keepdim || a.dim() == 0) {
    Shape s(a.sizes());
    if (a.dim() > 0) s.erase(static_cast<size_t>(dim));
    values = values.reshape(s);
    indices = indices.reshape(s);
  }
  record<ExtremeDimBackward>(
      values, {&a}, {},
      [&](ExtremeDimBackward& n) {
        n.shape = Shape(src.sizes());
        n.indices = idx_keep;
        n.dim = dim;
        n.keepdim = keepdim && a.dim() > 0;
      },
      is_max);
  return {values, indices};
}

std::tuple<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim) { return extreme_dim(a, dim, keepdim, true); }
std::tuple<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim) { return extreme_dim(a, dim, keepdim, false); }

Tensor argmax(const Tensor& a) {
  NoGradGuard g;
  return std::get<1>(max(a.reshape({-1}), 0, false));
}
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim) {
  NoGradGuard g;
  return std::get<1>(max(a, dim, keepdim));
}
Tensor argmin(const Tensor& a) {
  NoGradGuard g;
  return std::get<1>(min(a.reshape({-1}), 0, false));
}
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim) {
  NoGradGuard g;
  return std::get<1>(min(a, dim, keepdim));
}

// ---------------------------------------------------------- amax, amin
static Tensor extreme_dims(const Tensor& a, IntArrayRef dims_in, bool keepdim, bool is_max) {
  const char* name = is_max ? "amax" : "amin";
  detail::check_defined(a, name);
  const auto dims = reduce_dims(a, dims_in, name);
  for (int64_t d : dims)
    if (a.size(d) == 0)
      throw ShapeError(std::string(name) + ": dimension " + std::to_string(d) + " of shape " + shape_str(a.sizes()) +
                       " is empty; there is no " + (is_max ? "maximum" : "minimum") + " over it");
  Tensor y;  // reduced dims kept as size 1
  {
    NoGradGuard guard;
    y = a;
    // Each run of adjacent dims in one pass, the last run first (the reduced
    // dims stay as size 1, so the earlier dim numbers stay valid).
    size_t hi = dims.size();
    while (hi > 0) {
      size_t lo = hi - 1;
      while (lo > 0 && dims[lo - 1] == dims[lo] - 1) --lo;
      y = kernels::max_min_values(y, dims[lo], dims[hi - 1] + 1, is_max);
      hi = lo;
    }
    if (dims.empty()) y = kernels::contiguous_copy(a);  // a 0-d tensor is its own extreme
  }
  Tensor out = keepdim ? y : y.reshape(reduced_shape(a, dims, false));
  record<AmaxBackward>(
      out, {&a}, {},
      [&](AmaxBackward& n) {
        n.a = n.save(a);
        n.y = y.detach();
        n.dims = dims;
        n.keepdim = keepdim;
      },
      is_max);
  return out;
}

Tensor amax(const Tensor& a, IntArrayRef dims, bool keepdim) { return extreme_dims(a, dims, keepdim, true); }
Tensor amin(const Tensor& a, IntArrayRef dims, bool keepdim) { return extreme_dims(a, dims, keepdim, false); }

// ---------------------------------------------------------- logsumexp
Tensor logsumexp(const Tensor& a, IntArrayRef dims_in, bool keepdim) {
  detail::check_defined(a, "logsumexp");
  if (!a.is_floating_point())
    throw DTypeError(std::string("logsumexp: expected a floating-point tensor, got ") + dtype_name(a.dtype()) +
                     "; convert it first with .to(dg::kFloat32)");
  const auto dims = reduce_dims(a, dims_in, "logsumexp");
  Tensor y;  // reduced dims kept as size 1
  {
    NoGradGuard guard;
    if (reduced_count(a, dims) == 0) {
      y = full(reduced_shape(a, dims, true), -std::numeric_limits<double>::infinity(), a.dtype());  // log of an empty sum
    } else {
      // log Σ exp(A) = m + log Σ exp(A − m) with m the max: no exp overflows. An
      // infinite m (all −inf, or a +inf) is taken out as 0 so that A − m is not ∞ − ∞.
      Tensor m = amax(a, dims, true);
      m = where(isfinite(m), m, 0.0);
      y = sum(exp(a - m), dims, true).log() + m;
    }
  }
  Tensor out = keepdim ? y : y.reshape(reduced_shape(a, dims, false));
  record<LogSumExpBackward>(out, {&a}, {}, [&](LogSumExpBackward& n) {
    n.a = n.save(a);
    n.y = y.detach();
    n.dims = dims;
    n.keepdim = keepdim;
  });
  return out;
}

// ---------------------------------------------------------- prod
Tensor prod(const Tensor& a) {
  detail::check_defined(a, "prod");
  return prod(a.reshape({-1}), 0, false);
}

Tensor prod(const Tensor& a_in, int64_t dim_in, bool keepdim) {
  detail::check_defined(a_in, "prod");
  const int64_t dim = wrap_dim(dim_in, a_in.dim(), "prod");
  const Tensor a = kernels::as_contiguous(a_in.dim() == 0 ? a_in.reshape({1}) : a_in);
  Tensor y = kernels::prod_dim(a, dim);
  Shape out_shape(a_in.sizes());
  if (a_in.dim() > 0) {
    if (keepdim) out_shape[static_cast<size_t>(dim)] = 1;
    else out_shape.erase(static_cast<size_t>(dim));
  }
  Tensor out = y.reshape(out_shape);
  record<ProdBackward>(out, {&a_in}, {}, [&](ProdBackward& n) {
    n.a = n.save(a);
    n.dim = dim;
    n.keepdim = keepdim && a_in.dim() > 0;
  });
  return out;
}

}  // namespace dg
