// Tensor's member functions: the method spelling of the free functions, and the
// in-place operations (which never record a graph).
#include <cmath>

#include "ops/op_util.hpp"

namespace dg {
using namespace ops;

// ------------------------------------------------------------------ in-place
void Tensor::check_inplace(const char* op) const {
  detail::check_defined(*this, op);
  if (!autograd::GradMode::is_enabled() || !requires_grad()) return;
  if (is_leaf())
    throw AutogradError(std::string(op) + ": a leaf tensor that requires grad (shape " + shape_str(sizes()) +
                        ") cannot be changed in place while gradients are recorded; wrap the update in "
                        "dg::NoGradGuard (as an optimizer step does)");
  throw AutogradError(std::string(op) + ": in-place change of a tensor that is part of the autograd graph (made by " +
                      grad_fn()->name() + ") is not supported; use the out-of-place form");
}

namespace {
// self = f(self, other) with other broadcast to self's shape, computed in self's dtype.
template <class F> Tensor& inplace_binary(Tensor& self, const Tensor& other_in, const char* op, F f) {
  if (!is_expandable_to(other_in.sizes(), self.sizes()))
    throw ShapeError(std::string(op) + ": cannot apply a tensor of shape " + shape_str(other_in.sizes()) +
                     " in place to a tensor of shape " + shape_str(self.sizes()));
  Tensor other = cast_to(other_in, self.dtype());
  dispatch_dtype(self.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::binary_loop<T, T, T>(self, self, other, f);
  });
  self.impl()->storage->bump_version();
  return self;
}
template <class F> Tensor& inplace_unary(Tensor& self, F f) {
  dispatch_dtype(self.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::unary_loop<T, T>(self, self, [&](T x) { return static_cast<T>(f(x)); });
  });
  self.impl()->storage->bump_version();
  return self;
}
}  // namespace

Tensor& Tensor::copy_(const Tensor& src) {
  check_inplace("copy_");
  detail::check_defined(src, "copy_");
  if (!is_expandable_to(src.sizes(), sizes()))
    throw ShapeError("copy_: source of shape " + shape_str(src.sizes()) + " does not fit destination of shape " +
                     shape_str(sizes()));
  kernels::copy(*this, src);
  impl_->storage->bump_version();
  return *this;
}

Tensor& Tensor::fill_(Scalar v) {
  check_inplace("fill_");
  kernels::fill(*this, v);
  impl_->storage->bump_version();
  return *this;
}

Tensor& Tensor::zero_() { return fill_(0); }

Tensor& Tensor::add_(const Tensor& o, Scalar alpha) {
  check_inplace("add_");
  const double al = alpha.to_double();
  if (al == 1.0) return inplace_binary(*this, o, "add_", [](auto x, auto y) { return x + y; });
  return inplace_binary(*this, o, "add_", [al](auto x, auto y) { return static_cast<decltype(x)>(x + al * y); });
}
Tensor& Tensor::add_(Scalar o) { return add_(scalar_tensor(o, dtype())); }
Tensor& Tensor::sub_(const Tensor& o, Scalar alpha) { return add_(o, Scalar(-alpha.to_double())); }
Tensor& Tensor::sub_(Scalar o) { return add_(scalar_tensor(Scalar(-o.to_double()), dtype())); }
Tensor& Tensor::mul_(const Tensor& o) {
  check_inplace("mul_");
  return inplace_binary(*this, o, "mul_", [](auto x, auto y) { return x * y; });
}
Tensor& Tensor::mul_(Scalar o) { return mul_(scalar_tensor(o, dtype())); }
Tensor& Tensor::div_(const Tensor& o) {
  check_inplace("div_");
  return inplace_binary(*this, o, "div_", [](auto x, auto y) { return x / y; });
}
Tensor& Tensor::div_(Scalar o) { return div_(scalar_tensor(o, dtype())); }

Tensor& Tensor::clamp_(std::optional<Scalar> lo, std::optional<Scalar> hi) {
  check_inplace("clamp_");
  double l = lo ? lo->to_double() : -INFINITY, h = hi ? hi->to_double() : INFINITY;
  return inplace_unary(*this, [l, h](auto x) {
    double v = static_cast<double>(x);
    return v != v ? v : (v < l ? l : (v > h ? h : v));
  });
}

Tensor& Tensor::sqrt_() {
  check_inplace("sqrt_");
  return inplace_unary(*this, [](auto x) { return std::sqrt(static_cast<double>(x)); });
}

Tensor& Tensor::addcmul_(const Tensor& a, const Tensor& b, Scalar value) {
  NoGradGuard g;
  check_inplace("addcmul_");
  return add_(a * b, value);
}

Tensor& Tensor::addcdiv_(const Tensor& a, const Tensor& b, Scalar value) {
  NoGradGuard g;
  check_inplace("addcdiv_");
  return add_(a / b, value);
}

namespace {
// Fill t (any strides) in element order from draw(buffer, k), which writes the
// next k values as doubles: blocks of draws from the generator, each block then
// converted in one loop (a generator call per element cost more than the numbers).
// Blocks of 16K: long enough for the generator to share a block's normals
// among the threads.
template <class Draw> void fill_random(Tensor& t, Draw draw) {
  Tensor tmp = t.is_contiguous() ? t : detail::make_tensor(t.sizes(), t.dtype());
  dispatch_floating(t.dtype(), "random fill", [&](auto tag) {
    using T = typename decltype(tag)::type;
    const int64_t kBlock = std::min<int64_t>(tmp.numel(), 16384);
    std::vector<double> block(static_cast<size_t>(kBlock));
    double* buf = block.data();
    T* p = tmp.data_ptr<T>();
    for (int64_t b = 0; b < tmp.numel(); b += kBlock) {
      const int64_t k = std::min(kBlock, tmp.numel() - b);
      draw(buf, k);
      for (int64_t i = 0; i < k; ++i) p[b + i] = static_cast<T>(buf[i]);
    }
  });
  if (!tmp.is_same(t)) kernels::copy(t, tmp);
  t.impl()->storage->bump_version();
}
}  // namespace

Tensor& Tensor::uniform_(double from, double to) {
  check_inplace("uniform_");
  auto& g = default_generator();
  fill_random(*this, [&](double* u, int64_t k) {
    g.next_uniforms(u, k);
    for (int64_t i = 0; i < k; ++i) u[i] = from + (to - from) * u[i];
  });
  return *this;
}

Tensor& Tensor::normal_(double mean, double std) {
  check_inplace("normal_");
  auto& g = default_generator();
  fill_random(*this, [&](double* z, int64_t k) {
    g.next_normals(z, k);
    for (int64_t i = 0; i < k; ++i) z[i] = mean + std * z[i];
  });
  return *this;
}

Tensor& Tensor::bernoulli_(double p) {
  check_inplace("bernoulli_");
  auto& g = default_generator();
  fill_random(*this, [&](double* u, int64_t k) {
    g.next_uniforms(u, k);
    for (int64_t i = 0; i < k; ++i) u[i] = static_cast<double>(u[i] < p);  // no branch to mispredict
  });
  return *this;
}

// ------------------------------------------------------------ method forms
Tensor Tensor::reshape(IntArrayRef s) const { return dg::reshape(*this, s); }
Tensor Tensor::view(IntArrayRef s) const { return dg::view(*this, s); }
Tensor Tensor::t() const { return dg::t(*this); }
Tensor Tensor::transpose(int64_t a, int64_t b) const { return dg::transpose(*this, a, b); }
Tensor Tensor::permute(IntArrayRef d) const { return dg::permute(*this, d); }
Tensor Tensor::unsqueeze(int64_t d) const { return dg::unsqueeze(*this, d); }
Tensor Tensor::squeeze() const { return dg::squeeze(*this); }
Tensor Tensor::squeeze(int64_t d) const { return dg::squeeze(*this, d); }
Tensor Tensor::flatten(int64_t s, int64_t e) const { return dg::flatten(*this, s, e); }
Tensor Tensor::narrow(int64_t d, int64_t s, int64_t l) const { return dg::narrow(*this, d, s, l); }
Tensor Tensor::select(int64_t d, int64_t i) const { return dg::select(*this, d, i); }
Tensor Tensor::expand(IntArrayRef s) const { return dg::expand(*this, s); }
Tensor Tensor::index_select(int64_t d, const Tensor& i) const { return dg::index_select(*this, d, i); }
Tensor Tensor::gather(int64_t d, const Tensor& i) const { return dg::gather(*this, d, i); }
std::vector<Tensor> Tensor::chunk(int64_t c, int64_t d) const { return dg::chunk(*this, c, d); }
std::vector<Tensor> Tensor::split(int64_t s, int64_t d) const { return dg::split(*this, s, d); }

Tensor Tensor::add(const Tensor& o, Scalar alpha) const { return dg::add(*this, o, alpha); }
Tensor Tensor::sub(const Tensor& o, Scalar alpha) const { return dg::sub(*this, o, alpha); }
Tensor Tensor::mul(const Tensor& o) const { return dg::mul(*this, o); }
Tensor Tensor::div(const Tensor& o) const { return dg::div(*this, o); }
Tensor Tensor::neg() const { return dg::neg(*this); }
Tensor Tensor::pow(Scalar e) const { return dg::pow(*this, e); }
Tensor Tensor::exp() const { return dg::exp(*this); }
Tensor Tensor::log() const { return dg::log(*this); }
Tensor Tensor::sqrt() const { return dg::sqrt(*this); }
Tensor Tensor::rsqrt() const { return dg::rsqrt(*this); }
Tensor Tensor::abs() const { return dg::abs(*this); }
Tensor Tensor::tanh() const { return dg::tanh(*this); }
Tensor Tensor::sigmoid() const { return dg::sigmoid(*this); }
Tensor Tensor::relu() const { return dg::relu(*this); }
Tensor Tensor::square() const { return dg::square(*this); }
Tensor Tensor::sign() const { return dg::sign(*this); }
Tensor Tensor::clamp(std::optional<Scalar> lo, std::optional<Scalar> hi) const { return dg::clamp(*this, lo, hi); }
Tensor Tensor::matmul(const Tensor& o) const { return dg::matmul(*this, o); }
Tensor Tensor::mm(const Tensor& o) const { return dg::mm(*this, o); }
Tensor Tensor::bmm(const Tensor& o) const { return dg::bmm(*this, o); }
Tensor Tensor::softmax(int64_t d) const { return dg::softmax(*this, d); }
Tensor Tensor::log_softmax(int64_t d) const { return dg::log_softmax(*this, d); }

Tensor Tensor::sum() const { return dg::sum(*this); }
Tensor Tensor::sum(IntArrayRef d, bool k) const { return dg::sum(*this, d, k); }
Tensor Tensor::mean() const { return dg::mean(*this); }
Tensor Tensor::mean(IntArrayRef d, bool k) const { return dg::mean(*this, d, k); }
Tensor Tensor::var(bool u) const { return dg::var(*this, u); }
Tensor Tensor::var(IntArrayRef d, bool u, bool k) const { return dg::var(*this, d, u, k); }
Tensor Tensor::std(bool u) const { return dg::std(*this, u); }
Tensor Tensor::std(IntArrayRef d, bool u, bool k) const { return dg::std(*this, d, u, k); }
Tensor Tensor::max() const { return dg::max(*this); }
std::tuple<Tensor, Tensor> Tensor::max(int64_t d, bool k) const { return dg::max(*this, d, k); }
Tensor Tensor::min() const { return dg::min(*this); }
std::tuple<Tensor, Tensor> Tensor::min(int64_t d, bool k) const { return dg::min(*this, d, k); }
Tensor Tensor::argmax() const { return dg::argmax(*this); }
Tensor Tensor::argmax(int64_t d, bool k) const { return dg::argmax(*this, d, k); }
Tensor Tensor::argmin() const { return dg::argmin(*this); }
Tensor Tensor::argmin(int64_t d, bool k) const { return dg::argmin(*this, d, k); }
Tensor Tensor::amax(IntArrayRef d, bool k) const { return dg::amax(*this, d, k); }
Tensor Tensor::amin(IntArrayRef d, bool k) const { return dg::amin(*this, d, k); }
Tensor Tensor::logsumexp(IntArrayRef d, bool k) const { return dg::logsumexp(*this, d, k); }
Tensor Tensor::prod() const { return dg::prod(*this); }
Tensor Tensor::prod(int64_t d, bool k) const { return dg::prod(*this, d, k); }
Tensor Tensor::cumsum(int64_t d) const { return dg::cumsum(*this, d); }
Tensor Tensor::norm(Scalar p) const { return dg::norm(*this, p); }
Tensor Tensor::norm(std::optional<Scalar> p, IntArrayRef d, bool k) const { return dg::norm(*this, p, d, k); }

Tensor Tensor::gt(const Tensor& o) const { return dg::gt(*this, o); }
Tensor Tensor::lt(const Tensor& o) const { return dg::lt(*this, o); }
Tensor Tensor::ge(const Tensor& o) const { return dg::ge(*this, o); }
Tensor Tensor::le(const Tensor& o) const { return dg::le(*this, o); }
Tensor Tensor::eq(const Tensor& o) const { return dg::eq(*this, o); }
Tensor Tensor::ne(const Tensor& o) const { return dg::ne(*this, o); }
Tensor Tensor::gt(Scalar o) const { return dg::gt(*this, o); }
Tensor Tensor::lt(Scalar o) const { return dg::lt(*this, o); }
Tensor Tensor::ge(Scalar o) const { return dg::ge(*this, o); }
Tensor Tensor::le(Scalar o) const { return dg::le(*this, o); }
Tensor Tensor::eq(Scalar o) const { return dg::eq(*this, o); }
Tensor Tensor::ne(Scalar o) const { return dg::ne(*this, o); }
bool Tensor::equal(const Tensor& o) const { return dg::equal(*this, o); }
bool Tensor::allclose(const Tensor& o, double rtol, double atol) const { return dg::allclose(*this, o, rtol, atol); }

Tensor Tensor::any() const {
  NoGradGuard g;
  return ne(0).to(kLong).sum().gt(0);
}
Tensor Tensor::all() const {
  NoGradGuard g;
  return eq(0).to(kLong).sum().eq(0);
}

// ------------------------------------------------------------------- threads
void set_num_threads(int n) {
  if (n < 1) throw Error("set_num_threads: expected a positive thread count, got " + std::to_string(n));
  omp_set_num_threads(n);
}
int get_num_threads() { return omp_get_max_threads(); }

}  // namespace dg
