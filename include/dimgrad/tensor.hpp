// dimgrad — tensors: Shape, ScalarType, Storage, Tensor (strided views), factories.
//
// A Tensor is a handle (shared pointer) to a TensorImpl: a Storage buffer plus
// sizes, strides and an element offset. View operations (reshape when possible,
// transpose, permute, narrow, select, unsqueeze, squeeze, expand) make a new
// TensorImpl over the same Storage; nothing is copied.
#pragma once

#include <cstdint>
#include <functional>
#include <initializer_list>
#include <iosfwd>
#include <memory>
#include <optional>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "dimgrad/errors.hpp"

namespace dg {

inline constexpr int kMaxDims = 8;

// ---------------------------------------------------------------- IntArrayRef
// A non-owning view of int64 values, as LibTorch's IntArrayRef: built from a
// braced list, a std::vector, a Shape or a single value.
class IntArrayRef {
 public:
  IntArrayRef() = default;
  IntArrayRef(const int64_t& single) : data_(&single), size_(1) {}  // NOLINT
  IntArrayRef(const int64_t* data, size_t n) : data_(data), size_(n) {}
  // The list lives until the end of the full expression: fine for an argument.
  // (GCC's -Winit-list-lifetime says otherwise; clang has no such warning.)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Winit-list-lifetime"
#endif
  IntArrayRef(std::initializer_list<int64_t> l) : data_(l.begin()), size_(l.size()) {}  // NOLINT
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
  IntArrayRef(const std::vector<int64_t>& v) : data_(v.data()), size_(v.size()) {}  // NOLINT

  const int64_t* data() const { return data_; }
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  const int64_t* begin() const { return data_; }
  const int64_t* end() const { return data_ + size_; }
  int64_t operator[](size_t i) const { return data_[i]; }
  int64_t front() const { return data_[0]; }
  int64_t back() const { return data_[size_ - 1]; }
  std::vector<int64_t> vec() const { return {begin(), end()}; }
  bool equals(IntArrayRef o) const;
  friend bool operator==(IntArrayRef a, IntArrayRef b) { return a.equals(b); }
  friend bool operator!=(IntArrayRef a, IntArrayRef b) { return !a.equals(b); }
  friend bool operator==(IntArrayRef a, const std::vector<int64_t>& b) { return a.equals(b); }

 private:
  const int64_t* data_ = nullptr;
  size_t size_ = 0;
};

// ---------------------------------------------------------------------- Shape
// An owning, fixed-capacity list of up to kMaxDims sizes (or strides).
class Shape {
 public:
  Shape() = default;
  Shape(IntArrayRef r);  // NOLINT (implicit, like a value type)
  Shape(std::initializer_list<int64_t> l) : Shape(IntArrayRef(l)) {}

  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  int64_t& operator[](size_t i) { return d_[i]; }
  int64_t operator[](size_t i) const { return d_[i]; }
  int64_t* begin() { return d_; }
  int64_t* end() { return d_ + n_; }
  const int64_t* begin() const { return d_; }
  const int64_t* end() const { return d_ + n_; }
  const int64_t* data() const { return d_; }
  int64_t back() const { return d_[n_ - 1]; }
  void push_back(int64_t v);
  void insert(size_t pos, int64_t v);
  void erase(size_t pos);
  void resize(size_t n, int64_t fill = 0);
  std::vector<int64_t> vec() const { return {begin(), end()}; }
  operator IntArrayRef() const { return {d_, n_}; }  // NOLINT
  friend bool operator==(const Shape& a, const Shape& b) { return IntArrayRef(a).equals(b); }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  int64_t d_[kMaxDims] = {};
  size_t n_ = 0;
};

// Product of sizes; throws dg::Error on int64 overflow or a negative size.
int64_t checked_numel(IntArrayRef sizes);
// "[2, 3]"
std::string shape_str(IntArrayRef sizes);
// Row-major (C-contiguous) strides for sizes.
Shape contiguous_strides(IntArrayRef sizes);
// NumPy broadcasting of two shapes; throws ShapeError naming op on mismatch.
Shape broadcast_shapes(IntArrayRef a, IntArrayRef b, const char* op);

// ----------------------------------------------------------------- ScalarType
enum class ScalarType : uint8_t { Float = 0, Double = 1, Long = 2, Bool = 3, Byte = 4 };
inline constexpr ScalarType kFloat32 = ScalarType::Float;
inline constexpr ScalarType kFloat = ScalarType::Float;
inline constexpr ScalarType kFloat64 = ScalarType::Double;
inline constexpr ScalarType kDouble = ScalarType::Double;
inline constexpr ScalarType kInt64 = ScalarType::Long;
inline constexpr ScalarType kLong = ScalarType::Long;
inline constexpr ScalarType kBool = ScalarType::Bool;
// Unsigned bytes (images as stored on disk): 4× smaller than float32 in memory.
inline constexpr ScalarType kUInt8 = ScalarType::Byte;
inline constexpr ScalarType kByte = ScalarType::Byte;

size_t element_size(ScalarType t);
const char* dtype_name(ScalarType t);  // "float32", "float64", "int64", "bool", "uint8"
inline bool is_floating(ScalarType t) { return t == kFloat || t == kDouble; }
// LibTorch's promotion lattice for two tensors: bool < uint8 < int64 < float32 < float64.
ScalarType promote_types(ScalarType a, ScalarType b);
std::ostream& operator<<(std::ostream& os, ScalarType t);

template <class T> struct CppTypeToScalarType;
template <> struct CppTypeToScalarType<float> { static constexpr ScalarType value = kFloat; };
template <> struct CppTypeToScalarType<double> { static constexpr ScalarType value = kDouble; };
template <> struct CppTypeToScalarType<int64_t> { static constexpr ScalarType value = kLong; };
template <> struct CppTypeToScalarType<bool> { static constexpr ScalarType value = kBool; };
template <> struct CppTypeToScalarType<uint8_t> { static constexpr ScalarType value = kUInt8; };

// --------------------------------------------------------------------- Scalar
// A number that keeps whether it was written as an integer, a float or a bool,
// so that `int_tensor + 1` stays int64 and `int_tensor + 0.5` becomes float.
class Scalar {
 public:
  Scalar(double v) : d_(v), kind_(kDouble) {}  // NOLINT
  Scalar(float v) : d_(v), kind_(kDouble) {}   // NOLINT
  Scalar(bool v) : d_(v), i_(v), kind_(kBool) {}  // NOLINT
  template <class I, std::enable_if_t<std::is_integral_v<I> && !std::is_same_v<I, bool>, int> = 0>
  Scalar(I v) : d_(static_cast<double>(v)), i_(static_cast<int64_t>(v)), kind_(kLong) {}  // NOLINT
  double to_double() const { return d_; }
  int64_t to_long() const { return kind_ == kDouble ? static_cast<int64_t>(d_) : i_; }
  bool is_floating_point() const { return kind_ == kDouble; }
  bool is_integral() const { return kind_ == kLong; }
  bool is_boolean() const { return kind_ == kBool; }
  ScalarType type() const { return kind_; }
  template <class T> T to() const {
    if constexpr (std::is_same_v<T, bool>) return d_ != 0.0;
    else if constexpr (std::is_integral_v<T>) return static_cast<T>(to_long());
    else return static_cast<T>(d_);
  }

 private:
  double d_ = 0;
  int64_t i_ = 0;
  ScalarType kind_;
};

// -------------------------------------------------------------- TensorOptions
class TensorOptions {
 public:
  TensorOptions() = default;
  TensorOptions(ScalarType t) : dtype_(t) {}  // NOLINT (bare dtype, as LibTorch)
  TensorOptions dtype(ScalarType t) const { auto o = *this; o.dtype_ = t; return o; }
  TensorOptions requires_grad(bool r) const { auto o = *this; o.requires_grad_ = r; return o; }
  ScalarType dtype() const { return dtype_.value_or(kFloat); }
  bool has_dtype() const { return dtype_.has_value(); }
  bool requires_grad() const { return requires_grad_; }

 private:
  std::optional<ScalarType> dtype_;
  bool requires_grad_ = false;
};
inline TensorOptions dtype(ScalarType t) { return TensorOptions(t); }
inline TensorOptions requires_grad(bool r = true) { return TensorOptions().requires_grad(r); }

// -------------------------------------------------------------------- Storage
// A 64-byte aligned buffer from the caching allocator. `version` counts in-place
// writes, so that backward can tell when a saved tensor was changed under it.
class Storage {
 public:
  explicit Storage(size_t nbytes);
  ~Storage();
  Storage(const Storage&) = delete;
  Storage& operator=(const Storage&) = delete;
  void* data() const { return data_; }
  size_t nbytes() const { return nbytes_; }
  uint64_t version() const { return version_; }
  void bump_version() { ++version_; }

 private:
  void* data_ = nullptr;
  size_t nbytes_ = 0;
  uint64_t version_ = 0;
};

namespace autograd { class Node; }
class Tensor;
using TensorList = std::vector<Tensor>;
using GradHook = std::function<Tensor(const Tensor&)>;

struct TensorImpl {
  std::shared_ptr<Storage> storage;
  Shape sizes;
  Shape strides;
  int64_t offset = 0;  // in elements
  ScalarType dtype = kFloat;
  bool requires_grad = false;  // leaf flag; non-leaves require grad through grad_fn
  bool retains_grad = false;
  std::shared_ptr<TensorImpl> grad;
  std::shared_ptr<autograd::Node> grad_fn;
  uint32_t output_nr = 0;
  std::weak_ptr<autograd::Node> grad_accumulator;
  std::vector<GradHook> hooks;  // leaf only: run on its gradient before accumulation
  std::string name;             // optional: used by explain and error messages
};

enum class MemoryFormat { Contiguous };

// --------------------------------------------------------------------- Tensor
class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::shared_ptr<TensorImpl> impl) : impl_(std::move(impl)) {}

  bool defined() const { return impl_ != nullptr; }
  TensorImpl* impl() const { return impl_.get(); }
  const std::shared_ptr<TensorImpl>& impl_ptr() const { return impl_; }
  void reset() { impl_.reset(); }
  bool is_same(const Tensor& o) const { return impl_ == o.impl_; }

  // ---- metadata
  IntArrayRef sizes() const { return impl_->sizes; }
  IntArrayRef strides() const { return impl_->strides; }
  IntArrayRef shape() const { return impl_->sizes; }
  int64_t size(int64_t dim) const;
  int64_t stride(int64_t dim) const;
  int64_t dim() const { return static_cast<int64_t>(impl_->sizes.size()); }
  int64_t ndimension() const { return dim(); }
  int64_t numel() const;
  ScalarType dtype() const { return impl_->dtype; }
  ScalarType scalar_type() const { return impl_->dtype; }
  TensorOptions options() const { return TensorOptions(dtype()); }
  int64_t storage_offset() const { return impl_->offset; }
  bool is_contiguous() const;
  bool is_floating_point() const { return is_floating(dtype()); }
  size_t element_size() const { return dg::element_size(dtype()); }
  size_t nbytes() const { return static_cast<size_t>(numel()) * element_size(); }
  std::string toString() const;  // "CPUFloatType", as LibTorch (values: operator<<)

  template <class T> T* data_ptr() const;
  template <class T> T item() const;
  Scalar item() const;
  void* raw_data() const;  // pointer to the first element (offset applied)

  // ---- autograd
  bool requires_grad() const;
  Tensor& requires_grad_(bool r = true);
  bool is_leaf() const { return impl_->grad_fn == nullptr; }
  Tensor grad() const;
  void set_grad(const Tensor& g);
  const std::shared_ptr<autograd::Node>& grad_fn() const { return impl_->grad_fn; }
  void backward(const Tensor& gradient = Tensor(), bool retain_graph = false) const;
  Tensor detach() const;
  Tensor& detach_();
  void retain_grad() const;
  bool retains_grad() const { return impl_->retains_grad; }
  // hook: Tensor(const Tensor& grad) returning a replacement, or void(const Tensor&).
  template <class F> void register_hook(F&& f) const;
  // A hook that returns a defined tensor replaces the gradient flowing on.
  void add_hook(GradHook h) const;
  Tensor& set_name(const std::string& n);  // names a tensor for explain / errors
  const std::string& name() const { return impl_->name; }

  // ---- copies and conversions
  Tensor contiguous() const;
  Tensor clone() const;
  Tensor to(ScalarType t) const;
  Tensor to(TensorOptions o) const { return to(o.dtype()); }
  Tensor type_as(const Tensor& o) const { return to(o.dtype()); }

  // ---- in-place (refused on a leaf that requires grad while grad mode is on)
  Tensor& copy_(const Tensor& src);
  Tensor& fill_(Scalar v);
  Tensor& zero_();
  Tensor& add_(const Tensor& o, Scalar alpha = 1);
  Tensor& add_(Scalar o);
  Tensor& sub_(const Tensor& o, Scalar alpha = 1);
  Tensor& sub_(Scalar o);
  Tensor& mul_(const Tensor& o);
  Tensor& mul_(Scalar o);
  Tensor& div_(const Tensor& o);
  Tensor& div_(Scalar o);
  Tensor& clamp_(std::optional<Scalar> lo, std::optional<Scalar> hi = std::nullopt);
  Tensor& addcmul_(const Tensor& a, const Tensor& b, Scalar value = 1);
  Tensor& addcdiv_(const Tensor& a, const Tensor& b, Scalar value = 1);
  Tensor& sqrt_();
  Tensor& uniform_(double from = 0, double to = 1);
  Tensor& normal_(double mean = 0, double std = 1);
  Tensor& bernoulli_(double p);

  // ---- views and shape ops (differentiable)
  Tensor reshape(IntArrayRef shape) const;
  Tensor view(IntArrayRef shape) const;
  Tensor view_as(const Tensor& o) const { return view(o.sizes()); }
  Tensor reshape_as(const Tensor& o) const { return reshape(o.sizes()); }
  Tensor t() const;
  Tensor transpose(int64_t d0, int64_t d1) const;
  Tensor permute(IntArrayRef dims) const;
  Tensor unsqueeze(int64_t d) const;
  Tensor squeeze() const;
  Tensor squeeze(int64_t d) const;
  Tensor flatten(int64_t start_dim = 0, int64_t end_dim = -1) const;
  Tensor narrow(int64_t dim, int64_t start, int64_t length) const;
  Tensor select(int64_t dim, int64_t index) const;
  Tensor operator[](int64_t index) const { return select(0, index); }
  Tensor expand(IntArrayRef sizes) const;
  Tensor expand_as(const Tensor& o) const { return expand(o.sizes()); }
  Tensor index_select(int64_t dim, const Tensor& index) const;
  Tensor gather(int64_t dim, const Tensor& index) const;
  std::vector<Tensor> chunk(int64_t chunks, int64_t dim = 0) const;
  std::vector<Tensor> split(int64_t split_size, int64_t dim = 0) const;

  // ---- math (differentiable)
  Tensor add(const Tensor& o, Scalar alpha = 1) const;
  Tensor sub(const Tensor& o, Scalar alpha = 1) const;
  Tensor mul(const Tensor& o) const;
  Tensor div(const Tensor& o) const;
  Tensor neg() const;
  Tensor pow(Scalar e) const;
  Tensor exp() const;
  Tensor log() const;
  Tensor sqrt() const;
  Tensor rsqrt() const;
  Tensor abs() const;
  Tensor tanh() const;
  Tensor sigmoid() const;
  Tensor relu() const;
  Tensor square() const;
  Tensor sign() const;
  Tensor clamp(std::optional<Scalar> lo, std::optional<Scalar> hi = std::nullopt) const;
  Tensor clamp_min(Scalar lo) const { return clamp(lo, std::nullopt); }
  Tensor clamp_max(Scalar hi) const { return clamp(std::nullopt, hi); }
  Tensor matmul(const Tensor& o) const;
  Tensor mm(const Tensor& o) const;
  Tensor bmm(const Tensor& o) const;
  Tensor softmax(int64_t dim) const;
  Tensor log_softmax(int64_t dim) const;

  Tensor sum() const;
  Tensor sum(IntArrayRef dims, bool keepdim = false) const;
  Tensor mean() const;
  Tensor mean(IntArrayRef dims, bool keepdim = false) const;
  Tensor var(bool unbiased = true) const;
  Tensor var(IntArrayRef dims, bool unbiased = true, bool keepdim = false) const;
  Tensor std(bool unbiased = true) const;
  Tensor std(IntArrayRef dims, bool unbiased = true, bool keepdim = false) const;
  Tensor max() const;
  std::tuple<Tensor, Tensor> max(int64_t dim, bool keepdim = false) const;
  Tensor min() const;
  std::tuple<Tensor, Tensor> min(int64_t dim, bool keepdim = false) const;
  Tensor argmax() const;
  Tensor argmax(int64_t dim, bool keepdim = false) const;
  Tensor argmin() const;
  Tensor argmin(int64_t dim, bool keepdim = false) const;
  Tensor amax(IntArrayRef dims = {}, bool keepdim = false) const;
  Tensor amin(IntArrayRef dims = {}, bool keepdim = false) const;
  Tensor logsumexp(IntArrayRef dims, bool keepdim = false) const;
  Tensor prod() const;
  Tensor prod(int64_t dim, bool keepdim = false) const;
  Tensor cumsum(int64_t dim) const;
  Tensor norm(Scalar p = 2) const;
  Tensor norm(std::optional<Scalar> p, IntArrayRef dims, bool keepdim = false) const;

  Tensor gt(const Tensor& o) const;
  Tensor lt(const Tensor& o) const;
  Tensor ge(const Tensor& o) const;
  Tensor le(const Tensor& o) const;
  Tensor eq(const Tensor& o) const;
  Tensor ne(const Tensor& o) const;
  Tensor gt(Scalar o) const;
  Tensor lt(Scalar o) const;
  Tensor ge(Scalar o) const;
  Tensor le(Scalar o) const;
  Tensor eq(Scalar o) const;
  Tensor ne(Scalar o) const;
  bool equal(const Tensor& o) const;     // same shape and elements
  bool allclose(const Tensor& o, double rtol = 1e-5, double atol = 1e-8) const;
  Tensor any() const;
  Tensor all() const;

 private:
  void check_inplace(const char* op) const;
  std::shared_ptr<TensorImpl> impl_;
};

// ------------------------------------------------------------------ factories
Tensor empty(IntArrayRef sizes, TensorOptions o = {});
Tensor zeros(IntArrayRef sizes, TensorOptions o = {});
Tensor ones(IntArrayRef sizes, TensorOptions o = {});
Tensor full(IntArrayRef sizes, Scalar value, TensorOptions o = {});
Tensor eye(int64_t n, TensorOptions o = {});
Tensor eye(int64_t n, int64_t m, TensorOptions o = {});
Tensor arange(Scalar end, TensorOptions o = {});
Tensor arange(Scalar start, Scalar end, Scalar step = 1, TensorOptions o = {});
Tensor linspace(double start, double end, int64_t steps, TensorOptions o = {});
Tensor randn(IntArrayRef sizes, TensorOptions o = {});
Tensor rand(IntArrayRef sizes, TensorOptions o = {});
Tensor randint(int64_t low, int64_t high, IntArrayRef sizes, TensorOptions o = kLong);
Tensor randint(int64_t high, IntArrayRef sizes, TensorOptions o = kLong);
Tensor randperm(int64_t n, TensorOptions o = kLong);
Tensor empty_like(const Tensor& t, std::optional<TensorOptions> o = std::nullopt);
Tensor zeros_like(const Tensor& t, std::optional<TensorOptions> o = std::nullopt);
Tensor ones_like(const Tensor& t, std::optional<TensorOptions> o = std::nullopt);
Tensor full_like(const Tensor& t, Scalar v, std::optional<TensorOptions> o = std::nullopt);
Tensor randn_like(const Tensor& t);
Tensor rand_like(const Tensor& t);
Tensor scalar_tensor(Scalar v, TensorOptions o = {});

// dg::tensor(values[, options]): a 1-d tensor. Floating values default to
// float32 (LibTorch's default dtype), integers to int64, bools to bool.
Tensor tensor(const std::vector<float>& v, TensorOptions o = {});
Tensor tensor(const std::vector<double>& v, TensorOptions o = {});
Tensor tensor(const std::vector<int64_t>& v, TensorOptions o = {});
Tensor tensor(const std::vector<int>& v, TensorOptions o = {});
Tensor tensor(const std::vector<bool>& v, TensorOptions o = {});
Tensor tensor(std::initializer_list<double> v, TensorOptions o = {});
Tensor tensor(double v, TensorOptions o = {});
Tensor from_blob(void* data, IntArrayRef sizes, TensorOptions o = {});  // copies

std::ostream& operator<<(std::ostream& os, const Tensor& t);
std::ostream& operator<<(std::ostream& os, IntArrayRef s);
// As LibTorch: a float prints as a double, an integer as int64, a bool as true/false.
std::ostream& operator<<(std::ostream& os, const Scalar& s);

// ------------------------------------------------------------ random numbers
// One process-wide generator (mt19937_64): manual_seed(s) makes every later
// random factory, init and dropout mask reproducible.
class Generator {
 public:
  explicit Generator(uint64_t seed = 67280421310721ULL);
  void manual_seed(uint64_t seed);
  uint64_t seed() const { return seed_; }
  uint64_t next_u64();
  double next_uniform();  // [0, 1)
  double next_normal();   // standard normal
  // out[0..n): the same numbers as n calls of next_uniform / next_normal, drawn in
  // one loop (the random fills and dropout masks: no call per element).
  void next_uniforms(double* out, int64_t n);
  void next_normals(double* out, int64_t n);
  // Full state as text (for checkpoints) and back.
  std::string get_state() const;
  void set_state(const std::string& s);

 private:
  struct State;
  std::shared_ptr<State> state_;
  uint64_t seed_;
};
Generator& default_generator();
void manual_seed(uint64_t seed);

// Threads for every parallel loop and for GEMM (one OpenMP pool).
void set_num_threads(int n);
int get_num_threads();

// ------------------------------------------------------------- dtype dispatch
template <class T> struct TypeTag { using type = T; };
template <class F> decltype(auto) dispatch_dtype(ScalarType t, F&& f) {
  switch (t) {
    case kFloat: return f(TypeTag<float>{});
    case kDouble: return f(TypeTag<double>{});
    case kLong: return f(TypeTag<int64_t>{});
    case kBool: return f(TypeTag<bool>{});
    case kUInt8: return f(TypeTag<uint8_t>{});
  }
  throw Error("unknown dtype");
}
template <class F> decltype(auto) dispatch_floating(ScalarType t, const char* op, F&& f) {
  switch (t) {
    case kFloat: return f(TypeTag<float>{});
    case kDouble: return f(TypeTag<double>{});
    default: break;
  }
  throw DTypeError(std::string(op) + ": expected a floating-point tensor (float32 or float64), got " +
                   dtype_name(t));
}

// ------------------------------------------------------- template definitions
template <class T> T* Tensor::data_ptr() const {
  if (!defined()) throw Error("data_ptr() called on an undefined tensor");
  if (CppTypeToScalarType<std::remove_const_t<T>>::value != dtype())
    throw DTypeError(std::string("data_ptr<") + dtype_name(CppTypeToScalarType<std::remove_const_t<T>>::value) +
                     ">() called on a tensor of dtype " + dtype_name(dtype()));
  return static_cast<T*>(raw_data());
}

template <class T> T Tensor::item() const { return item().to<T>(); }

template <class F> void Tensor::register_hook(F&& f) const {
  if constexpr (!std::is_void_v<std::invoke_result_t<F, const Tensor&>>) {
    add_hook(GradHook(std::forward<F>(f)));
  } else {
    add_hook([g = std::forward<F>(f)](const Tensor& grad) { g(grad); return Tensor(); });
  }
}

}  // namespace dg
