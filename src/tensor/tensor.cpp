// Tensor metadata, factories, element access and printing.
#include <algorithm>
#include <cmath>
#include <cstring>
#include <iomanip>
#include <ostream>
#include <sstream>
#include <utility>

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
  // Without a dtype, LibTorch takes it from the value: full({2}, 7) is int64,
  // full({2}, 7.0) float32, full({2}, true) bool.
  o = resolve(o, value.is_floating_point() ? kFloat : value.is_boolean() ? kBool : kLong);
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

Tensor ones(IntArrayRef sizes, TensorOptions o) { return full(sizes, 1, resolve(o, kFloat)); }

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
// A port of LibTorch's formatter (ATen/core/Formatting.cpp) so that printed
// tensors read the same in both libraries, quirks included: one format per
// matrix chosen from the range of its values (integers, fixed with 4 decimals,
// a common "scale *" factor, or scientific), 80-column blocks headed
// "Columns a to b", and 1-based "(i,j,.,.) = " headers above each matrix of a
// tensor with more than 2 dims. tests/compat checks it against LibTorch's output.
namespace {

const char* type_label(ScalarType t) {
  switch (t) {
    case kFloat: return "CPUFloatType";
    case kDouble: return "CPUDoubleType";
    case kLong: return "CPULongType";
    case kBool: return "CPUBoolType";
    case kUInt8: return "CPUByteType";
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

// Saves and restores the stream's format, as LibTorch's FormatGuard.
struct FormatGuard {
  explicit FormatGuard(std::ostream& os) : os(os), saved(nullptr) { saved.copyfmt(os); }
  ~FormatGuard() { os.copyfmt(saved); }
  std::ostream& os;
  std::ios saved;
};

std::ostream& defaultfloat(std::ostream& os) {
  os.unsetf(std::ios_base::floatfield);
  return os;
}

// Chooses the number format for n values (sets it on the stream) and returns
// {scale, field width}.
std::pair<double, int> print_format(std::ostream& os, const double* p, int64_t n) {
  if (n == 0) return {1.0, 0};
  bool int_mode = true;
  for (int64_t i = 0; i < n; ++i)
    if (std::isfinite(p[i]) && p[i] != std::ceil(p[i])) {
      int_mode = false;
      break;
    }
  int64_t offset = 0;
  while (offset < n && !std::isfinite(p[offset])) ++offset;
  double exp_min = 1, exp_max = 1;
  if (offset < n) {
    exp_min = exp_max = std::fabs(p[offset]);
    for (int64_t i = offset; i < n; ++i) {
      double z = std::fabs(p[i]);
      if (std::isfinite(z)) {
        if (z < exp_min) exp_min = z;
        if (p[i] > exp_max) exp_max = z;  // LibTorch compares the signed value here
      }
    }
    exp_min = exp_min != 0 ? std::floor(std::log10(exp_min)) + 1 : 1;
    exp_max = exp_max != 0 ? std::floor(std::log10(exp_max)) + 1 : 1;
  }
  double scale = 1;
  int sz;
  if (int_mode) {
    if (exp_max > 9) {
      sz = 11;
      os << std::scientific << std::setprecision(4);
    } else {
      sz = static_cast<int>(exp_max) + 1;
      os << defaultfloat;
    }
  } else if (exp_max - exp_min > 4) {
    sz = 11;
    if (std::fabs(exp_max) > 99 || std::fabs(exp_min) > 99) ++sz;
    os << std::scientific << std::setprecision(4);
  } else {
    if (exp_max > 5 || exp_max < 0) {
      sz = 7;
      scale = std::pow(10.0, exp_max - 1);
    } else {
      sz = exp_max == 0 ? 7 : static_cast<int>(exp_max) + 6;
    }
    os << std::fixed << std::setprecision(4);
  }
  return {scale, sz};
}

void print_scale(std::ostream& os, double scale) {
  FormatGuard guard(os);
  os << defaultfloat << scale << " *" << std::endl;
}

void print_indent(std::ostream& os, int64_t indent) {
  for (int64_t i = 0; i < indent; ++i) os << " ";
}

// One rows×cols matrix (row-major at p), in blocks of columns that fit linesize.
void print_matrix(std::ostream& os, const double* p, int64_t rows, int64_t cols, int64_t linesize, int64_t indent) {
  auto [scale, sz] = print_format(os, p, rows * cols);
  print_indent(os, indent);
  const int64_t per_line = (linesize - indent) / (sz + 1);
  int64_t first = 0, last = -1;
  while (first < cols) {
    last = first + per_line <= cols ? first + per_line - 1 : cols - 1;
    if (per_line < cols) {
      if (first != 0) os << std::endl;
      os << "Columns " << first + 1 << " to " << last + 1;
      print_indent(os, indent);
    }
    if (scale != 1) {
      print_scale(os, scale);
      print_indent(os, indent);
    }
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t c = first; c <= last; ++c) {
        os << std::setw(sz) << p[r * cols + c] / scale;
        if (c == last) {
          os << std::endl;
          if (r != rows - 1) {
            print_indent(os, indent);
            if (scale != 1) os << " ";
          }
        } else {
          os << " ";
        }
      }
    }
    first = last + 1;
  }
}

}  // namespace

std::ostream& operator<<(std::ostream& os, const Tensor& t) {
  FormatGuard guard(os);
  if (!t.defined()) return os << "[ Tensor (undefined) ]";
  constexpr int64_t kLineSize = 80;
  auto v = values_of(t);
  const int64_t nd = t.dim();
  if (nd == 0) {
    os << defaultfloat << v[0] << std::endl;
  } else if (nd == 1) {
    if (!v.empty()) {
      auto [scale, sz] = print_format(os, v.data(), static_cast<int64_t>(v.size()));
      if (scale != 1) print_scale(os, scale);
      for (double x : v) os << std::setw(sz) << x / scale << std::endl;
    }
  } else if (nd == 2) {
    if (!v.empty()) print_matrix(os, v.data(), t.size(0), t.size(1), kLineSize, 0);
  } else if (!v.empty()) {
    // One matrix per index of the leading dims, headed by that index (1-based).
    const int64_t rows = t.size(-2), cols = t.size(-1);
    const int64_t mats = static_cast<int64_t>(v.size()) / (rows * cols);
    std::vector<int64_t> counter(static_cast<size_t>(nd - 2), 0);
    for (int64_t m = 0; m < mats; ++m) {
      if (m > 0) os << std::endl;
      os << "(";
      for (int64_t c : counter) os << c + 1 << ",";
      os << ".,.) = " << std::endl;
      print_matrix(os, v.data() + m * rows * cols, rows, cols, kLineSize, 1);
      for (int64_t d = nd - 3; d >= 0; --d) {
        if (++counter[static_cast<size_t>(d)] < t.size(d)) break;
        counter[static_cast<size_t>(d)] = 0;
      }
    }
  }
  os << "[ " << type_label(t.dtype()) << "{";
  for (int64_t i = 0; i < nd; ++i) os << (i ? "," : "") << t.size(i);
  os << "} ]";
  return os;
}

std::ostream& operator<<(std::ostream& os, const Scalar& s) {
  if (s.is_floating_point()) return os << s.to_double();
  if (s.is_boolean()) return os << (s.to<bool>() ? "true" : "false");
  return os << s.to_long();
}

// As LibTorch: the type's name ("CPUFloatType"), not the values (use operator<<).
std::string Tensor::toString() const { return defined() ? type_label(dtype()) : "UndefinedType"; }

}  // namespace dg
