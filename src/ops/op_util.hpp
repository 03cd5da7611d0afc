// Helpers shared by the op families (not installed).
#pragma once

#include <memory>

#include "dimgrad/autograd.hpp"
#include "dimgrad/ops.hpp"
#include "kernels/kernels.hpp"
#include "tensor/internal.hpp"

namespace dg::ops {

using autograd::Node;
using detail::make_tensor;

// Make a backward node of type N (constructed from args) when any input needs a
// gradient, wire it to the inputs and the output, then hand it to `fill` to save
// what backward needs (fill may ask node.needs_grad(i) to skip unneeded saves).
template <class N, class Fill, class... Args>
void record(Tensor& out, std::initializer_list<const Tensor*> inputs, std::initializer_list<bool> broadcast, Fill&& fill,
            Args&&... args) {
  if (!autograd::any_requires_grad(inputs)) return;
  auto node = std::make_shared<N>(std::forward<Args>(args)...);
  autograd::set_history(node, inputs, {&out}, broadcast);
  fill(*node);
}

// The dtype that arithmetic between a tensor and a number computes in: the
// tensor's, unless a float number meets an integer tensor (then float32).
inline ScalarType scalar_result_type(const Tensor& a, const Scalar& s) {
  if (!is_floating(a.dtype()) && s.is_floating_point()) return kFloat;
  if (a.dtype() == kBool && s.is_integral()) return kLong;
  return a.dtype();
}

inline Tensor cast_to(const Tensor& t, ScalarType dt) { return t.dtype() == dt ? t : t.to(dt); }
// t itself when it already has dtype dt, else its conversion kept alive in `tmp`:
// no handle copy (two atomic reference-count updates) on the common path.
inline const Tensor& cast_ref(const Tensor& t, ScalarType dt, Tensor& tmp) {
  if (t.dtype() == dt) return t;
  tmp = t.to(dt);
  return tmp;
}

// out[shape of broadcast(a, b)] = f(a, b) computed in `compute` type, stored as `out_t`.
// kFloatingOnly: f is instantiated for float32 and float64 only (it may use
// floating-point-only helpers), and another `compute` type is a DTypeError.
template <bool kFloatingOnly = false, class F>
Tensor elementwise(const Tensor& a_in, const Tensor& b_in, const char* name, ScalarType compute, ScalarType out_t, F f) {
  detail::check_defined(a_in, name);
  detail::check_defined(b_in, name);
  Tensor a_tmp, b_tmp;
  const Tensor& a = cast_ref(a_in, compute, a_tmp);
  const Tensor& b = cast_ref(b_in, compute, b_tmp);
  Shape shape = a.sizes() == b.sizes() ? Shape(a.sizes()) : broadcast_shapes(a.sizes(), b.sizes(), name);
  Tensor out = make_tensor(shape, out_t);
  auto run = [&](auto tag) {
    using T = typename decltype(tag)::type;
    if (out_t == kBool) kernels::binary_loop<bool, T, T>(out, a, b, f);
    else kernels::binary_loop<T, T, T>(out, a, b, f);
  };
  if constexpr (kFloatingOnly) dispatch_floating(compute, name, run);
  else dispatch_dtype(compute, run);
  return out;
}

// out = f(a) computed and stored in `dt`.
template <class F> Tensor map(const Tensor& a_in, ScalarType dt, F f) {
  Tensor tmp;
  const Tensor& a = cast_ref(a_in, dt, tmp);
  Tensor out = make_tensor(a.sizes(), dt);
  dispatch_dtype(dt, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::unary_loop<T, T>(out, a, [&](T x) { return static_cast<T>(f(x)); });
  });
  return out;
}

// Floating-point only version of map, for functions like exp (ints promote to float32).
template <class F> Tensor map_floating(const Tensor& a, const char* name, F f) {
  detail::check_defined(a, name);
  ScalarType dt = is_floating(a.dtype()) ? a.dtype() : kFloat;
  Tensor tmp;
  const Tensor& ac = cast_ref(a, dt, tmp);
  Tensor out = make_tensor(ac.sizes(), dt);
  dispatch_floating(dt, name, [&](auto tag) {
    using T = typename decltype(tag)::type;
    kernels::unary_loop<T, T>(out, ac, [&](T x) { return static_cast<T>(f(x)); });
  });
  return out;
}

// out = f(a, b) for two floating tensors, broadcast (used by backward formulas).
// Only float32 and float64 are instantiated, so f may use floating-point-only
// helpers (kernels::fast_exp, kernels::select); another dtype is a DTypeError.
template <class F> Tensor zip_floating(const Tensor& a, const Tensor& b, const char* name, F f) {
  const ScalarType t = promote_types(a.dtype(), b.dtype());
  return elementwise<true>(a, b, name, t, t, f);
}

}  // namespace dg::ops
