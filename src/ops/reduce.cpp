// Reductions: sum mean var std max min argmax argmin amax amin logsumexp prod norm.
//
// A reduction's backward undoes the shape change: Y lost the reduced dims, so
// dY is first given them back as size 1 (unsqueeze) and then broadcast to A's
// shape — each A element contributed once to its Y element.
#include <algorithm>
#include <cmath>
#include <limits>

#include "kernels/sum_of.hpp"
#include "kernels/vec_math.hpp"
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

// Whether the (sorted) reduced dims are the last dims of A, adjacent — A then
// reduces row by row as [outer, reduce]. No dims (a 0-d A) counts as trailing.
bool reduces_trailing_dims(const Tensor& a, const std::vector<int64_t>& dims) {
  return dims.empty() ||
         (dims.back() == a.dim() - 1 && dims.back() - dims.front() + 1 == static_cast<int64_t>(dims.size()));
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
    // One pass over A, dY and Y broadcast.
    Tensor da = make_tensor(a.sizes(), a.dtype());
    const Tensor gb = expand_back(g[0], a.sizes(), dims, keepdim), yb = y.expand(a.sizes());
    dispatch_floating(a.dtype(), "logsumexp backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      kernels::ternary_loop<T, T, T, T>(da, gb, a, yb, [](T gv, T x, T yv) { return gv * kernels::fast_exp(x - yv); });
    });
    return {da};
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
namespace ops {
namespace {
// max or min of A over dims (sorted), the reduced dims kept as size 1: each run
// of adjacent dims in one pass, the last run first (the reduced dims stay as
// size 1, so the earlier dim numbers stay valid).
Tensor extreme_values(const Tensor& a, const std::vector<int64_t>& dims, bool is_max) {
  Tensor y = a;
  size_t hi = dims.size();
  while (hi > 0) {
    size_t lo = hi - 1;
    while (lo > 0 && dims[lo - 1] == dims[lo] - 1) --lo;
    y = kernels::max_min_values(y, dims[lo], dims[hi - 1] + 1, is_max);
    hi = lo;
  }
  if (dims.empty()) y = kernels::contiguous_copy(a);  // a 0-d tensor is its own extreme
  return y;
}
}  // namespace
}  // namespace ops

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
    y = extreme_values(a, dims, is_max);
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
namespace ops {
namespace {
// log Σ exp(row[0..n)) = m + log Σ exp(row − m), m the row's max: two passes, no
// temporaries. An infinite m (all −inf, or a +inf) is taken out as 0 so that
// row − m is not ∞ − ∞; a NaN needs no flag: exp(NaN) makes the sum NaN.
template <class T> T logsumexp_row(const T* row, int64_t n) {
  constexpr int L = 32;  // lanes of the max (vector registers); NaN lanes are skipped by >
  T lane[L];
  for (int j = 0; j < L; ++j) lane[j] = -std::numeric_limits<T>::infinity();
  int64_t i = 0;
  for (; i + L <= n; i += L)
    for (int j = 0; j < L; ++j) lane[j] = row[i + j] > lane[j] ? row[i + j] : lane[j];
  for (int w = L / 2; w >= 1; w /= 2)
    for (int j = 0; j < w; ++j) lane[j] = lane[j + w] > lane[j] ? lane[j + w] : lane[j];
  T m = lane[0];
  for (; i < n; ++i) m = row[i] > m ? row[i] : m;
  if (!std::isfinite(m)) m = 0;
  const double s = kernels::lane_sum<T>(0, n, [row, m](int64_t k) { return kernels::fast_exp(row[k] - m); });
  return static_cast<T>(std::log(s) + static_cast<double>(m));
}
}  // namespace
}  // namespace ops

Tensor logsumexp(const Tensor& a, IntArrayRef dims_in, bool keepdim) {
  detail::check_defined(a, "logsumexp");
  if (!a.is_floating_point())
    throw DTypeError(std::string("logsumexp: expected a floating-point tensor, got ") + dtype_name(a.dtype()) +
                     "; convert it first with .to(dg::kFloat32)");
  const auto dims = reduce_dims(a, dims_in, "logsumexp");
  Tensor y;  // reduced dims kept as size 1
  {
    NoGradGuard guard;
    const bool rows = a.dim() > 0 && reduces_trailing_dims(a, dims);
    if (reduced_count(a, dims) == 0) {
      y = full(reduced_shape(a, dims, true), -std::numeric_limits<double>::infinity(), a.dtype());  // log of an empty sum
    } else if (rows && reduced_count(a, dims) < a.numel()) {
      // Reduced dims at the end, several rows: each row in two passes (its max,
      // then Σ exp) on the threads, with no A-sized temporaries.
      const Tensor ac = kernels::as_contiguous(a);
      y = make_tensor(reduced_shape(a, dims, true), a.dtype());
      const int64_t R = reduced_count(a, dims), O = a.numel() / R;
      dispatch_floating(a.dtype(), "logsumexp", [&](auto tag) {
        using T = typename decltype(tag)::type;
        const T* x = ac.data_ptr<T>();
        T* out = y.data_ptr<T>();
        auto some_rows = [&](int64_t b, int64_t e) {
          kernels::simd_run([&] {
            for (int64_t o = b; o < e; ++o) out[o] = logsumexp_row(x + o * R, R);
          });
        };
        if (kernels::use_threads(O * R / 4)) kernels::split_among_threads(O, some_rows);
        else some_rows(0, O);
      });
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

// ---------------------------------------------------------- norm
// ‖A‖_p over dims = (Σ |A|^p)^(1/p), one op: the sum of |A|^p is taken in one
// pass (no |A|^p tensor for a norm of everything or along the last dims), the
// root on the reduced result. Composed as sqrt(sum(A ⊙ A)) it was three ops, three
// passes forward and three back.
//
// Dimension analysis: Y has A's shape less the reduced dims; every A element
// feeds one Y element, so dA[A] = dY (broadcast back) ⊙ ∂Y/∂A, where
//   ∂Y/∂A = sign(A) ⊙ |A|^(p-1) / Y^(p-1)        (p = 2: A / Y;  p = 1: sign(A))
// p = ±∞ is max/min |A|: the gradient goes to the elements where |A| = Y, split
// between ties, as amax's. p = 0 counts the non-zeros: a step function, no gradient.
// Where Y = 0 LibTorch takes the gradient as 0 for p ≥ 1 (a subgradient), and
// where A = 0 for p < 1 (|A|^(p-1) is infinite there); so do we.
namespace ops {
namespace {

enum class NormOrder { Zero, One, Two, Pow, Inf, NegInf };

NormOrder norm_order(double p) {
  if (p == 0) return NormOrder::Zero;
  if (p == 1) return NormOrder::One;
  if (p == 2) return NormOrder::Two;
  if (std::isinf(p)) return p > 0 ? NormOrder::Inf : NormOrder::NegInf;
  return NormOrder::Pow;
}

// The summed term |a|^p of each finite order, as its own type so that each sum
// is compiled (and vectorized) for one formula.
template <class T> struct NonzeroTerm {
  T operator()(T v) const { return kernels::select(v != T(0), T(1), T(0)); }  // NaN counts, as LibTorch
};
template <class T> struct AbsTerm {
  T operator()(T v) const { return std::abs(v); }
};
template <class T> struct SquareTerm {
  T operator()(T v) const { return v * v; }
};
template <class T> struct PowTerm {
  T p;
  T operator()(T v) const { return std::pow(std::abs(v), p); }
};

template <class T, class Fn> void with_term(NormOrder order, double p, Fn&& fn) {
  switch (order) {
    case NormOrder::Zero: fn(NonzeroTerm<T>{}); return;
    case NormOrder::One: fn(AbsTerm<T>{}); return;
    case NormOrder::Two: fn(SquareTerm<T>{}); return;
    default: fn(PowTerm<T>{static_cast<T>(p)}); return;
  }
}

// (Σ)^(1/p) for the finite orders.
double norm_root(double s, NormOrder order, double p) {
  switch (order) {
    case NormOrder::Zero:
    case NormOrder::One: return s;
    case NormOrder::Two: return std::sqrt(s);
    default: return std::pow(s, 1.0 / p);
  }
}

// Σ term(A) over dims (the reduced dims kept as size 1), rooted; A contiguous.
// Everything, or the last dims (rows), in one pass accumulated as sum() does
// (sum_of / lane_sum); other dims through a term tensor and kernels::sum.
template <class T, class Term>
Tensor finite_norm(const Tensor& a, const std::vector<int64_t>& dims, NormOrder order, double p, const Term& term) {
  const Shape kept = reduced_shape(a, dims, true);
  Tensor y = make_tensor(kept, a.dtype());
  T* out = y.data_ptr<T>();
  const T* x = a.data_ptr<T>();
  if (reduces_trailing_dims(a, dims)) {
    const int64_t d0 = dims.empty() ? a.dim() : dims.front();
    const kernels::ReduceGeometry geo = kernels::reduce_geometry(a.sizes(), d0, a.dim());
    const int64_t O = geo.outer, R = geo.reduce;
    auto row = [&](int64_t o) {
      const T* r = x + o * R;
      return kernels::lane_sum<T>(0, R, [r, term](int64_t i) { return term(r[i]); });
    };
    if (O == 1) {
      out[0] = static_cast<T>(norm_root(kernels::sum_of<T>(R, R, [x, term](int64_t i) { return term(x[i]); }), order, p));
    } else {
      auto rows = [&](int64_t b, int64_t e) {
        kernels::simd_run([&] {
          for (int64_t o = b; o < e; ++o) out[o] = static_cast<T>(norm_root(row(o), order, p));
        });
      };
      if (kernels::use_threads(O * R / 3)) kernels::split_among_threads(O, rows);
      else rows(0, O);
    }
    return y;
  }
  NoGradGuard guard;
  Tensor terms = make_tensor(a.sizes(), a.dtype());
  kernels::unary_loop<T, T>(terms, a, term);
  Tensor s = kernels::sum(terms, dims, true);
  const T* sp = s.data_ptr<T>();
  for (int64_t i = 0; i < y.numel(); ++i) out[i] = static_cast<T>(norm_root(static_cast<double>(sp[i]), order, p));
  return y;
}

struct NormBackward : Node {
  NormBackward() : Node(OpKind::Norm) {}
  Tensor a, y;  // y with the reduced dims kept as size 1
  std::vector<int64_t> dims;
  bool keepdim = false;
  double p = 2;
  TensorList apply(TensorList&& g) override {
    const NormOrder order = norm_order(p);
    if (order == NormOrder::Zero) return {Tensor()};  // no gradient (LibTorch's is undefined too)
    Tensor gy = keepdim ? g[0] : g[0].reshape(y.sizes());  // dY with the reduced dims as size 1 (small)
    if (order == NormOrder::Inf || order == NormOrder::NegInf) {
      // dA = sign(A) ⊙ dY ⊙ [|A| = Y] / #ties   (a NaN element takes the gradient, as LibTorch)
      Tensor abs_a = abs(a);
      Tensor mask = eq(abs_a, y).to(a.dtype()) + ne(abs_a, abs_a).to(a.dtype());  // never both
      return {sign(a) * mask * expand_back(gy / mask.sum(dims, true), a.sizes(), dims, true)};
    }
    // The per-Y factor first (small), then one pass over A.
    Tensor scale;  // dY / Y^(p-1), 0 where Y = 0 (p ≥ 1)
    if (order == NormOrder::One) scale = gy;
    else if (order == NormOrder::Two) scale = where(y != 0.0, gy / y, 0.0);
    else if (p > 1) scale = where(y != 0.0, gy / pow(y, p - 1), 0.0);
    else scale = gy * pow(y, 1 - p);
    Tensor da = make_tensor(a.sizes(), a.dtype());
    const Tensor scale_b = scale.expand(a.sizes());
    dispatch_floating(a.dtype(), "norm backward", [&](auto tag) {
      using T = typename decltype(tag)::type;
      using kernels::select;
      switch (order) {
        case NormOrder::One:  // sign(A) · dY  (0 at A = 0, as LibTorch's sgn)
          kernels::binary_loop<T, T, T>(da, a, scale_b, [](T v, T s) {
            return (select(v > T(0), T(1), T(0)) - select(v < T(0), T(1), T(0))) * s;
          });
          return;
        case NormOrder::Two:  // A · dY / Y
          kernels::binary_loop<T, T, T>(da, a, scale_b, [](T v, T s) { return v * s; });
          return;
        default: {  // sign(A) |A|^(p-1) · dY / Y^(p-1), 0 at A = 0
          const T pm1 = static_cast<T>(p - 1);
          kernels::binary_loop<T, T, T>(da, a, scale_b, [pm1](T v, T s) {
            const T sgn = select(v > T(0), T(1), T(0)) - select(v < T(0), T(1), T(0));
            return select(v == T(0), T(0), sgn * std::pow(std::abs(v), pm1) * s);
          });
          return;
        }
      }
    });
    return {da};
  }
};

}  // namespace
}  // namespace ops

Tensor norm(const Tensor& a, Scalar p) { return norm(a, p, {}, false); }

Tensor norm(const Tensor& a_in, std::optional<Scalar> p_in, IntArrayRef dims_in, bool keepdim) {
  detail::check_defined(a_in, "norm");
  if (!a_in.is_floating_point())
    throw DTypeError(std::string("norm: expected a floating-point tensor, got ") + dtype_name(a_in.dtype()) +
                     "; convert it first with .to(dg::kFloat32)");
  const double p = p_in ? p_in->to_double() : 2.0;
  if (std::isnan(p)) throw Error("norm: the order p is NaN");
  const NormOrder order = norm_order(p);
  const auto dims = reduce_dims(a_in, dims_in, "norm");
  if ((order == NormOrder::Inf || order == NormOrder::NegInf) && reduced_count(a_in, dims) == 0)
    throw ShapeError("norm: the " + std::string(p > 0 ? "inf" : "-inf") + "-norm of shape " + shape_str(a_in.sizes()) +
                     " over dims " + shape_str(dims) + " reduces empty dims; " + (p > 0 ? "max" : "min") +
                     " |A| of nothing is undefined");
  const Tensor a = kernels::as_contiguous(a_in);
  Tensor y;  // reduced dims kept as size 1
  {
    NoGradGuard guard;
    if (order == NormOrder::Inf || order == NormOrder::NegInf) {
      y = extreme_values(abs(a), dims, order == NormOrder::Inf);
    } else {
      dispatch_floating(a.dtype(), "norm", [&](auto tag) {
        using T = typename decltype(tag)::type;
        with_term<T>(order, p, [&](auto term) { y = finite_norm<T>(a, dims, order, p, term); });
      });
    }
  }
  Tensor out = keepdim ? y : y.reshape(reduced_shape(a_in, dims, false));
  record<NormBackward>(out, {&a_in}, {}, [&](NormBackward& n) {
    n.a = n.save(a_in);
    n.y = y.detach();
    n.dims = dims;
    n.keepdim = keepdim;
    n.p = p;
  });
  return out;
}

Tensor linalg::vector_norm(const Tensor& a, Scalar ord, IntArrayRef dims, bool keepdim,
                           std::optional<ScalarType> dtype) {
  detail::check_defined(a, "linalg::vector_norm");
  if (dtype && !is_floating(*dtype))
    throw DTypeError(std::string("linalg::vector_norm: dtype must be floating point, got ") + dtype_name(*dtype));
  return norm(dtype ? a.to(*dtype) : a, ord, dims, keepdim);
}

Tensor linalg::vector_norm(const Tensor& a, Scalar ord, std::nullopt_t, bool keepdim, std::optional<ScalarType> dtype) {
  return vector_norm(a, ord, IntArrayRef{}, keepdim, dtype);
}

}  // namespace dg
