// Comparisons: bool results, never differentiable (a step function has zero
// gradient almost everywhere, so no Node is recorded).
#include <cmath>

#include "ops/op_util.hpp"

namespace dg {
using namespace ops;

namespace {
template <class F> Tensor compare(const Tensor& a, const Tensor& b, const char* name, F f) {
  return elementwise(a, b, name, promote_types(a.dtype(), b.dtype()), kBool, f);
}
Tensor scalar_like(const Tensor& a, Scalar s) { return scalar_tensor(s, ops::scalar_result_type(a, s)); }
}  // namespace

Tensor gt(const Tensor& a, const Tensor& b) { return compare(a, b, "gt", [](auto x, auto y) { return x > y; }); }
Tensor lt(const Tensor& a, const Tensor& b) { return compare(a, b, "lt", [](auto x, auto y) { return x < y; }); }
Tensor ge(const Tensor& a, const Tensor& b) { return compare(a, b, "ge", [](auto x, auto y) { return x >= y; }); }
Tensor le(const Tensor& a, const Tensor& b) { return compare(a, b, "le", [](auto x, auto y) { return x <= y; }); }
Tensor eq(const Tensor& a, const Tensor& b) { return compare(a, b, "eq", [](auto x, auto y) { return x == y; }); }
Tensor ne(const Tensor& a, const Tensor& b) { return compare(a, b, "ne", [](auto x, auto y) { return x != y; }); }
Tensor gt(const Tensor& a, Scalar b) { return gt(a, scalar_like(a, b)); }
Tensor lt(const Tensor& a, Scalar b) { return lt(a, scalar_like(a, b)); }
Tensor ge(const Tensor& a, Scalar b) { return ge(a, scalar_like(a, b)); }
Tensor le(const Tensor& a, Scalar b) { return le(a, scalar_like(a, b)); }
Tensor eq(const Tensor& a, Scalar b) { return eq(a, scalar_like(a, b)); }
Tensor ne(const Tensor& a, Scalar b) { return ne(a, scalar_like(a, b)); }

Tensor operator>(const Tensor& a, const Tensor& b) { return gt(a, b); }
Tensor operator<(const Tensor& a, const Tensor& b) { return lt(a, b); }
Tensor operator>=(const Tensor& a, const Tensor& b) { return ge(a, b); }
Tensor operator<=(const Tensor& a, const Tensor& b) { return le(a, b); }
Tensor operator==(const Tensor& a, const Tensor& b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, const Tensor& b) { return ne(a, b); }
Tensor operator>(const Tensor& a, Scalar b) { return gt(a, b); }
Tensor operator<(const Tensor& a, Scalar b) { return lt(a, b); }
Tensor operator>=(const Tensor& a, Scalar b) { return ge(a, b); }
Tensor operator<=(const Tensor& a, Scalar b) { return le(a, b); }
Tensor operator==(const Tensor& a, Scalar b) { return eq(a, b); }
Tensor operator!=(const Tensor& a, Scalar b) { return ne(a, b); }

Tensor logical_not(const Tensor& a) {
  Tensor out = make_tensor(a.sizes(), kBool);
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::unary_loop<bool, T>(out, a, [](T x) { return x == T(0); });
  });
  return out;
}

Tensor isfinite(const Tensor& a) {
  Tensor out = make_tensor(a.sizes(), kBool);
  dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::unary_loop<bool, T>(out, a, [](T x) {
      if constexpr (std::is_floating_point_v<T>) return std::isfinite(x);
      else return true;
    });
  });
  return out;
}

bool equal(const Tensor& a, const Tensor& b) {
  if (a.sizes() != b.sizes()) return false;
  NoGradGuard g;
  return eq(a, b).all().item<bool>();
}

bool allclose(const Tensor& a, const Tensor& b, double rtol, double atol) {
  NoGradGuard g;
  Tensor ad = a.to(kDouble), bd = b.to(kDouble);
  // (both operands are float64 here; the lambda is still instantiated for every
  // dtype the dispatch knows, so it converts rather than take abs of a bool)
  Tensor close = elementwise(ad, bd, "allclose", kDouble, kBool, [rtol, atol](auto x, auto y) {
    const double xd = static_cast<double>(x), yd = static_cast<double>(y);
    if (xd == yd) return true;  // equal infinities
    return std::abs(xd - yd) <= atol + rtol * std::abs(yd);
  });
  return close.all().item<bool>();
}

}  // namespace dg
