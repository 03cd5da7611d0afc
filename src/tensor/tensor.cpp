// Tensor metadata, factories, element access and printing.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>

#include "dimgrad/autograd.hpp"
#include "tensor/internal.hpp"

namespace dg {
namespace detail {

Tensor make_tensor(IntArrayRef sizes, ScalarType dtype) {
  auto impl = std::make_shared<TensorImpl>();
  int64_t n = checked_numel(sizes);
  size_t bytes;
  if (__builtin_mul_overflow(static_cast<size_t>(n), element_size(dtype), &bytes))
    throw Error("tensor of shape " + shape_str(sizes) + " is too large to allocate");
  impl->storage = std::make_shared<Storage>(bytes);
  impl->sizes = Shape(sizes);
  impl->strides = contiguous_strides(sizes);
  impl->dtype = dtype;
  return Tensor(std::move(impl));
}

Tensor make_view(const Tensor& base, IntArrayRef sizes, IntArrayRef strides, int64_t offset) {
  auto impl = std::make_shared<TensorImpl>();
  impl->storage = base.impl()->storage;
  impl->sizes = Shape(sizes);
  impl->strides = Shape(strides);
  impl->offset = offset;
  impl->dtype = base.dtype();
  return Tensor(std::move(impl));
}

void check_defined(const Tensor& t, const char* op) {
  if (!t.defined()) throw Error(std::string(op) + ": got an undefined tensor");
}

}  // namespace detail

using detail::make_tensor;

// ------------------------------------------------------------------ metadata
int64_t Tensor::size(int64_t d) const {
  int64_t n = dim();
  if (d < -n || d >= n)
    throw IndexError("size(" + std::to_string(d) + "): dimension out of range for a " + std::to_string(n) +
                     "-d tensor of shape " + shape_str(sizes()));
  return impl_->sizes[d < 0 ? d + n : d];
}

int64_t Tensor::stride(int64_t d) const {
  int64_t n = dim();
  if (d < -n || d >= n)
    throw IndexError("stride(" + std::to_string(d) + "): dimension out of range for a " + std::to_string(n) +
                     "-d tensor");
  return impl_->strides[d < 0 ? d + n : d];
}

int64_t Tensor::numel() const {
  int64_t n = 1;
  for (int64_t s : impl_->sizes) n *= s;
  return n;
}

bool Tensor::is_contiguous() const {
  int64_t expected = 1;
  for (size_t i = impl_->sizes.size(); i-- > 0;) {
    int64_t s = impl_->sizes[i];
    if (s == 1) continue;
    if (s == 0) return true;
    if (impl_->strides[i] != expected) return false;
    expected *= s;
  }
  return true;
}

void* Tensor::raw_data() const {
  return static_cast<char*>(impl_->storage->data()) + impl_->offset * static_cast<int64_t>(element_size());
}

Scalar Tensor::item() const {
  if (!defined()) throw Error("item(): the tensor is undefined");
  if (numel() != 1)
    throw ShapeError("item(): only a tensor with one element can be converted to a number, got shape " +
                     shape_str(sizes()) + " with " + std::to_string(numel()) + " elements");
  return dispatch_dtype(dtype(), [&](auto tag) -> Scalar {
    using T = typename decltype(tag)::type;
    return Scalar(*static_cast<const T*>(raw_data()));
  });
}

Tensor& Tensor::set_name(const std::string& n) {
  impl_->name = n;
  return *this;
}

// ----------------------------------------------------------------- factories
namespace {

TensorOptions resolve(TensorOptions o, ScalarType fallback) { return o.has_dtype() ? o : o.dtype(fallback); }

template <class T> void fill_contiguous(Tensor& t, T v) {
  T* p = static_cast<T*>(t.raw_data());
  std::fill(p, p + t.numel(), v);
}

Tensor finish(Tensor t, const TensorOptions& o) {
  if (o.requires_grad()) t.requires_grad_(true);
  return t;
}

}  // namespace

Tensor empty(IntArrayRef sizes, TensorOptions o) { return finish(make_tensor(sizes, o.dtype()), o); }

Tensor full(IntArrayRef sizes, Scalar value, TensorOptions o) {
  Tensor t = make_tensor(sizes, o.dtype());
  dispatch_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    fill_contiguous<T>(t, value.to<T>());
  });
  return finish(t, o);
}

Tensor zeros(IntArrayRef sizes, TensorOptions o) {
  Tensor t = make_tensor(sizes, o.dtype());
  std::memset(t.raw_data(), 0, t.nbytes());
  return finish(t, o);
}

Tensor ones(IntArrayRef sizes, TensorOptions o) { return full(sizes, 1, o); }

Tensor eye(int64_t n, TensorOptions o) { return eye(n, n, o); }

Tensor eye(int64_t n, int64_t m, TensorOptions o) {
  Tensor t = zeros({n, m}, o.requires_grad(false));
  dispatch_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data_ptr<T>();
    for (int64_t i = 0; i < std::min(n, m); ++i) p[i * m + i] = T(1);
  });
  return finish(t, o);
}

Tensor arange(Scalar end, TensorOptions o) { return arange(0, end, 1, o); }

Tensor arange(Scalar start, Scalar end, Scalar step, TensorOptions o) {
  bool integral = !start.is_floating_point() && !end.is_floating_point() && !step.is_floating_point();
  o = resolve(o, integral ? kLong : kFloat);
  double s = start.to_double(), e = end.to_double(), st = step.to_double();
  if (st == 0) throw Error("arange: step must be non-zero");
  if ((e - s) / st < 0) throw Error("arange: the step's sign does not lead from start to end");
  auto n = static_cast<int64_t>(std::ceil((e - s) / st));
  Tensor t = make_tensor({n}, o.dtype());
  dispatch_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data_ptr<T>();
    for (int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(s + static_cast<double>(i) * st);
  });
  return finish(t, o);
}

Tensor linspace(double start, double end, int64_t steps, TensorOptions o) {
  Tensor t = make_tensor({steps}, o.dtype());
  dispatch_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data_ptr<T>();
    for (int64_t i = 0; i < steps; ++i)
      p[i] = static_cast<T>(steps == 1 ? start : start + (end - start) * static_cast<double>(i) / double(steps - 1));
  });
  return finish(t, o);
}

Tensor randn(IntArrayRef sizes, TensorOptions o) {
  Tensor t = make_tensor(sizes, o.dtype());
  t.normal_();
  return finish(t, o);
}

Tensor rand(IntArrayRef sizes, TensorOptions o) {
  Tensor t = make_tensor(sizes, o.dtype());
  t.uniform_();
  return finish(t, o);
}

Tensor randint(int64_t low, int64_t high, IntArrayRef sizes, TensorOptions o) {
  if (high <= low) throw Error("randint: high (" + std::to_string(high) + ") must be > low (" + std::to_string(low) + ")");
  Tensor t = make_tensor(sizes, o.dtype());
  auto& g = default_generator();
  auto range = static_cast<uint64_t>(high - low);
  dispatch_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = static_cast<T*>(t.raw_data());
    for (int64_t i = 0; i < t.numel(); ++i) p[i] = static_cast<T>(low + static_cast<int64_t>(g.next_u64() % range));
  });
  return finish(t, o);
}

Tensor randint(int64_t high, IntArrayRef sizes, TensorOptions o) { return randint(0, high, sizes, o); }

Tensor randperm(int64_t n, TensorOptions o) {
  Tensor t = arange(0, n, 1, kLong);
  int64_t* p = t.data_ptr<int64_t>();
  auto& g = default_generator();
  for (int64_t i = n - 1; i > 0; --i) std::swap(p[i], p[g.next_u64() % static_cast<uint64_t>(i + 1)]);
  return o.dtype() == kLong ? t : t.to(o.dtype());
}

Tensor empty_like(const Tensor& t, std::optional<TensorOptions> o) { return empty(t.sizes(), o.value_or(t.dtype())); }
Tensor zeros_like(const Tensor& t, std::optional<TensorOptions> o) { return zeros(t.sizes(), o.value_or(t.dtype())); }
Tensor ones_like(const Tensor& t, std::optional<TensorOptions> o) { return ones(t.sizes(), o.value_or(t.dtype())); }
Tensor full_like(const Tensor& t, Scalar v, std::optional<TensorOptions> o) {
  return full(t.sizes(), v, o.value_or(t.dtype()));
}
Tensor randn_like(const Tensor& t) { return randn(t.sizes(), t.dtype()); }
Tensor rand_like(const Tensor& t) { return rand(t.sizes(), t.dtype()); }

Tensor scalar_tensor(Scalar v, TensorOptions o) {
  o = resolve(o, v.is_floating_point() ? kFloat : v.is_boolean() ? kBool : kLong);
  return full({}, v, o);
}

namespace {
template <class T, class V> Tensor tensor_from(const V& v, TensorOptions o, ScalarType natural) {
  o = resolve(o, natural);
  Tensor t = make_tensor({static_cast<int64_t>(v.size())}, o.dtype());
  dispatch_dtype(t.dtype(), [&](auto tag) {
    using U = typename decltype(tag)::type;
    U* p = static_cast<U*>(t.raw_data());
    size_t i = 0;
    for (auto x : v) p[i++] = static_cast<U>(static_cast<T>(x));
  });
  return finish(t, o);
}
}  // namespace

Tensor tensor(const std::vector<float>& v, TensorOptions o) { return tensor_from<float>(v, o, kFloat); }
Tensor tensor(const std::vector<double>& v, TensorOptions o) { return tensor_from<double>(v, o, kFloat); }
Tensor tensor(const std::vector<int64_t>& v, TensorOptions o) { return tensor_from<int64_t>(v, o, kLong); }
Tensor tensor(const std::vector<int>& v, TensorOptions o) { return tensor_from<int64_t>(v, o, kLong); }
Tensor tensor(const std::vector<bool>& v, TensorOptions o) { return tensor_from<bool>(v, o, kBool); }
Tensor tensor(std::initializer_list<double> v, TensorOptions o) { return tensor_from<double>(v, o, kFloat); }
Tensor tensor(double v, TensorOptions o) { return scalar_tensor(v, resolve(o, kFloat)); }

Tensor from_blob(void* data, IntArrayRef sizes, TensorOptions o) {
  Tensor t = make_tensor(sizes, o.dtype());
  std::memcpy(t.raw_data(), data, t.nbytes());
  return finish(t, o);
}

// ------------------------------------------------------------------ printing
// LibTorch style: values, then "[ CPUFloatType{2,3} ]".
namespace {

const char* type_label(ScalarType t) {
  switch (t) {
    case kFloat: return "CPUFloatType";
    case kDouble: return "CPUDoubleType";
    case kLong: return "CPULongType";
    case kBool: return "CPUBoolType";
  }
  return "?";
}

std::vector<double> values_of(const Tensor& t) {
  Tensor c = t.contiguous();
  std::vector<double> v(static_cast<size_t>(c.numel()));
  dispatch_dtype(c.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    const T* p = static_cast<const T*>(c.raw_data());
    for (size_t i = 0; i < v.size(); ++i) v[i] = static_cast<double>(p[i]);
  });
  return v;
}

void print_matrix(std::ostream& os, const double* p, int64_t rows, int64_t cols, bool floating, int width,
                  int precision, double scale) {
  for (int64_t r = 0; r < rows; ++r) {
    for (int64_t c = 0; c < cols; ++c) {
      os << std::setw(width);
      double x = p[r * cols + c] / scale;
      if (floating)
        os << std::fixed << std::setprecision(precision) << x;
      else
        os << static_cast<int64_t>(x);
    }
    os << "\n";
  }
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  if (!t.defined()) return os << "[ Tensor (undefined) ]";
  std::ios_base::fmtflags flags(os.flags());
  auto v = values_of(t);
  bool floating = t.is_floating_point();
  double amax = 0;
  bool all_int = true;
  for (double x : v) {
    if (std::isfinite(x)) amax = std::max(amax, std::abs(x));
    if (x != std::floor(x)) all_int = false;
  }
  // A common scale factor for very large or small values, as LibTorch prints.
  double scale = 1;
  if (floating && amax > 0 && (amax >= 1e5 || amax < 1e-4)) scale = std::pow(10.0, std::floor(std::log10(amax)));
  int precision = (floating && !(all_int && scale == 1)) ? 4 : 0;
  int width = 1 + std::max(1, static_cast<int>(std::floor(std::log10(std::max(amax / scale, 1.0)))) + 1) +
              (precision ? precision + 1 : 0) + 1;
  if (t.dim() == 0) {
    if (floating) os << std::fixed << std::setprecision(precision) << v[0] / scale;
    else os << static_cast<int64_t>(v[0]);
    os << "\n";
  } else {
    if (scale != 1) os << std::scientific << std::setprecision(0) << " " << scale << " *\n";
    // A 1-d tensor prints as a column, as LibTorch does.
    int64_t cols = t.dim() >= 2 ? t.size(-1) : 1;
    int64_t rows = t.dim() >= 2 ? t.size(-2) : t.size(0);
    int64_t mats = cols * rows == 0 ? 0 : t.numel() / (cols * rows);
    Shape outer(t.sizes());
    for (int64_t m = 0; m < mats; ++m) {
      if (t.dim() > 2) {
        os << "(";
        int64_t rem = m;
        std::vector<int64_t> idx(static_cast<size_t>(t.dim() - 2));
        for (int64_t d = t.dim() - 3; d >= 0; --d) {
          idx[static_cast<size_t>(d)] = rem % outer[static_cast<size_t>(d)];
          rem /= outer[static_cast<size_t>(d)];
        }
        for (int64_t i : idx) os << i << ",";
        os << ".,.) = \n";
      }
      print_matrix(os, v.data() + m * rows * cols, rows, cols, floating, width, precision, scale);
      if (t.dim() > 2 && m + 1 < mats) os << "\n";
    }
  }
  os << "[ " << type_label(t.dtype()) << "{";
  for (int64_t i = 0; i < t.dim(); ++i) os << (i ? "," : "") << t.size(i);
  os << "} ]";
  os.flags(flags);
  return os;
}

std::string Tensor::toString() const {
  std::ostringstream s;
  s << *this;
  return s.str();
}

}  // namespace dg
