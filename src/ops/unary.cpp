// Elementwise functions: exp log sqrt rsqrt abs tanh sigmoid relu sign clamp.
// Each local gradient is diagonal (Y_i depends on A_i only), so every backward
// is an elementwise product dA = dY ⊙ f'(A): no matrices needed.
// exp, log, tanh and sigmoid take kernels/vec_math.hpp's functions: in float32
// they vectorize (glibc's expf/logf/tanhf are one scalar call per element, which
// made these ops 3-12x slower than LibTorch's on 1M floats), within 1-3 ulp of
// the exact value; float64 keeps std:: (gradcheck runs there).
#include <cmath>
#include <limits>
#include <type_traits>

#include "kernels/vec_math.hpp"
#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

// Backward nodes that need the forward's input (a) or output (y).
struct ExpBackward : Node {
  ExpBackward() : Node(OpKind::Exp) {}
  Tensor y;
  TensorList apply(TensorList&& g) override {
    // Y = exp(A)     dA[A] = dY ⊙ Y       (exp is its own derivative)
    return {g[0] * y};
  }
};

struct LogBackward : Node {
  LogBackward() : Node(OpKind::Log) {}
  Tensor a;
  TensorList apply(TensorList&& g) override {
    // Y = log(A)     dA[A] = dY / A
    return {g[0] / a};
  }
};

struct SqrtBackward : Node {
  SqrtBackward() : Node(OpKind::Sqrt) {}
  Tensor y;
  TensorList apply(TensorList&& g) override {
    // Y = √A         dA[A] = dY / (2·Y)
    return {zip_floating(g[0], y, "sqrt backward", [](auto d, auto v) { return d / (v + v); })};
  }
};

struct AbsBackward : Node {
  AbsBackward() : Node(OpKind::Abs) {}
  Tensor a;
  TensorList apply(TensorList&& g) override {
    // Y = |A|        dA[A] = dY ⊙ sign(A)  (0 at A = 0, as LibTorch)
    return {g[0] * sign(a)};
  }
};

struct TanhBackward : Node {
  TanhBackward() : Node(OpKind::Tanh) {}
  Tensor y;
  TensorList apply(TensorList&& g) override {
    // Y = tanh(A)    dA[A] = dY ⊙ (1 - Y²)
    return {zip_floating(g[0], y, "tanh backward", [](auto d, auto v) { return d * (1 - v * v); })};
  }
};

struct SigmoidBackward : Node {
  SigmoidBackward() : Node(OpKind::Sigmoid) {}
  Tensor y;
  TensorList apply(TensorList&& g) override {
    // Y = σ(A)       dA[A] = dY ⊙ Y ⊙ (1 - Y)
    return {zip_floating(g[0], y, "sigmoid backward", [](auto d, auto v) { return d * v * (1 - v); })};
  }
};

struct ReluBackward : Node {
  ReluBackward() : Node(OpKind::Relu) {}
  Tensor y;
  TensorList apply(TensorList&& g) override {
    // Y = max(A, 0)  dA[A] = dY ⊙ [Y > 0]  (the gradient at A = 0 is taken as 0)
    return {zip_floating(g[0], y, "relu backward", [](auto d, auto v) { return v > 0 ? d : decltype(d)(0); })};
  }
};

struct ClampBackward : Node {
  ClampBackward() : Node(OpKind::Clamp) {}
  Tensor a;
  double lo = -std::numeric_limits<double>::infinity(), hi = std::numeric_limits<double>::infinity();
  TensorList apply(TensorList&& g) override {
    // Y = clamp(A, lo, hi)   dA[A] = dY ⊙ [lo ≤ A ≤ hi]
    double l = lo, h = hi;
    return {zip_floating(g[0], a, "clamp backward", [l, h](auto d, auto x) {
      return (x >= l && x <= h) ? d : decltype(d)(0);
    })};
  }
};

}  // namespace
}  // namespace ops

using namespace ops;

Tensor exp(const Tensor& a) {
  Tensor out = map_floating(a, "exp", [](auto x) { return kernels::fast_exp(x); });
  record<ExpBackward>(out, {&a}, {}, [&](ExpBackward& n) { n.y = n.save(out); });
  return out;
}

Tensor log(const Tensor& a) {
  Tensor out = map_floating(a, "log", [](auto x) { return kernels::fast_log(x); });
  record<LogBackward>(out, {&a}, {}, [&](LogBackward& n) { n.a = n.save(a); });
  return out;
}

Tensor sqrt(const Tensor& a) {
  Tensor out = map_floating(a, "sqrt", [](auto x) { return std::sqrt(x); });
  record<SqrtBackward>(out, {&a}, {}, [&](SqrtBackward& n) { n.y = n.save(out); });
  return out;
}

Tensor rsqrt(const Tensor& a) { return pow(a, -0.5); }

Tensor abs(const Tensor& a) {
  detail::check_defined(a, "abs");
  Tensor out = dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return map(a, a.dtype(), [](T x) {
      if constexpr (std::is_same_v<T, bool>) return x;
      else return x < T(0) ? T(-x) : x;
    });
  });
  record<AbsBackward>(out, {&a}, {}, [&](AbsBackward& n) { n.a = n.save(a); });
  return out;
}

Tensor tanh(const Tensor& a) {
  Tensor out = map_floating(a, "tanh", [](auto x) { return kernels::fast_tanh(x); });
  record<TanhBackward>(out, {&a}, {}, [&](TanhBackward& n) { n.y = n.save(out); });
  return out;
}

Tensor sigmoid(const Tensor& a) {
  Tensor out = map_floating(a, "sigmoid", [](auto x) { return kernels::fast_sigmoid(x); });
  record<SigmoidBackward>(out, {&a}, {}, [&](SigmoidBackward& n) { n.y = n.save(out); });
  return out;
}

Tensor relu(const Tensor& a) {
  detail::check_defined(a, "relu");
  if (a.dtype() == kBool) throw DTypeError("relu: not defined for bool tensors");
  Tensor out = dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    // !(x <= 0) rather than x > 0: NaN stays NaN, as LibTorch's relu.
    return map(a, a.dtype(), [](T x) { return !(x <= T(0)) ? x : T(0); });
  });
  record<ReluBackward>(out, {&a}, {}, [&](ReluBackward& n) { n.y = n.save(out); });
  return out;
}

Tensor sign(const Tensor& a) {
  detail::check_defined(a, "sign");
  return dispatch_dtype(a.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    return map(a, a.dtype(), [](T x) {
      if constexpr (std::is_same_v<T, bool>) return x;
      else return static_cast<T>((T(0) < x) - (x < T(0)));
    });
  });
}

Tensor clamp(const Tensor& a, std::optional<Scalar> lo, std::optional<Scalar> hi) {
  detail::check_defined(a, "clamp");
  if (!lo && !hi) throw Error("clamp: at least one of min and max must be given");
  double l = lo ? lo->to_double() : -std::numeric_limits<double>::infinity();
  double h = hi ? hi->to_double() : std::numeric_limits<double>::infinity();
  ScalarType t = a.dtype();
  if (lo) t = scalar_result_type(a, *lo);
  if (hi && !is_floating(t)) t = scalar_result_type(a, *hi);
  Tensor out = dispatch_dtype(t, [&](auto tag) {
    using T = typename decltype(tag)::type;
    if constexpr (std::is_floating_point_v<T>) {
      // In T, with masks: vectorizes (a branch per element through float64 ran
      // 25x slower than LibTorch's). NaN stays NaN: both comparisons are false.
      // Comparing with the bound rounded to T picks the same side as comparing in
      // float64 would; a bound beyond T's range becomes ±inf.
      const T lt = static_cast<T>(l), ht = static_cast<T>(h);
      return map(a, t, [lt, ht](T x) {
        const T y = kernels::select(x < lt, lt, x);
        return kernels::select(y > ht, ht, y);
      });
    } else {
      return map(a, t, [l, h](T x) {
        double v = static_cast<double>(x);
        return static_cast<T>(v < l ? l : (v > h ? h : v));
      });
    }
  });
  record<ClampBackward>(out, {&a}, {}, [&](ClampBackward& n) {
    n.a = n.save(a);
    n.lo = l;
    n.hi = h;
  });
  return out;
}

Tensor clamp_min(const Tensor& a, Scalar lo) { return clamp(a, lo, std::nullopt); }
Tensor clamp_max(const Tensor& a, Scalar hi) { return clamp(a, std::nullopt, hi); }

}  // namespace dg
