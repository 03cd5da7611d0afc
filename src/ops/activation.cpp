// Parametrised and composite activations: leaky_relu, elu, gelu, softplus, silu.
// Each is elementwise, so its local Jacobian is diagonal and the backward is
// one elementwise product dA[A] = dY[A] ⊙ f'(A): same shape in, same shape out,
// no sum anywhere (nothing was broadcast).
//
// Each formula is written once for T = float and double: kernels::fast_* and
// kernels::select are vectorizable in float32 (vec_math.hpp; a ?: with computed
// branches and glibc's scalar exp/erf/tanh calls kept these loops one element
// at a time, 7-16x slower than LibTorch's) and std:: in float64, where
// gradcheck runs.
#include <cmath>
#include <type_traits>

#include "dimgrad/nn/activation.hpp"
#include "kernels/vec_math.hpp"
#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1/√(2π)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // √(2/π)
constexpr double kGeluCoef = 0.044715;

using kernels::select;

// GELU's derivative Φ(x) + x·φ(x) (Φ the standard normal CDF, φ its density), both
// from erfc: no cancellation in the left tail, where ½(1 + erf(x/√2)) loses every
// digit. float32 shares one e^{−x²/2} between the two (vec_math.hpp).
template <class T> T gelu_slope(T x) {
  if constexpr (std::is_same_v<T, float>) {
    float pdf;
    const float cdf = kernels::normal_cdf_pdf<true>(x, &pdf);
    return cdf + x * pdf;
  } else {
    return kernels::fast_normal_cdf(x) + x * (kInvSqrt2Pi * std::exp(-0.5 * x * x));
  }
}
// GELU's tanh form ½(1 + tanh u), u = √(2/π)(x + 0.044715x³), as σ(2u): the same
// value (tanh u = 2σ(2u) − 1) without cancellation for very negative x.
template <class T> T gelu_tanh_gate(T x) {
  return kernels::fast_sigmoid(T(2 * kSqrt2OverPi) * (x + T(kGeluCoef) * x * x * x));
}

struct LeakyReluBackward : Node {
  LeakyReluBackward() : Node(OpKind::LeakyRelu) {}
  Tensor a;
  double slope = 0.01;
  TensorList apply(TensorList&& g) override {
    // Y = A > 0 ? A : s·A        dA[A] = dY ⊙ (A > 0 ? 1 : s)
    const double s = slope;
    return {zip_floating(g[0], a, "leaky_relu backward", [s](auto d, auto x) {
      using T = decltype(d);
      return select(x > 0, d, d * static_cast<T>(s));
    })};
  }
};

struct EluBackward : Node {
  EluBackward() : Node(OpKind::Elu) {}
  Tensor a;
  double alpha = 1.0;
  TensorList apply(TensorList&& g) override {
    // Y = A > 0 ? A : α·(exp(A) - 1)     dA[A] = dY ⊙ (A > 0 ? 1 : α·exp(A))
    const double al = alpha;
    return {zip_floating(g[0], a, "elu backward", [al](auto d, auto x) {
      using T = decltype(d);
      return select(x > 0, d, d * static_cast<T>(al) * kernels::fast_exp(x));
    })};
  }
};

struct GeluBackward : Node {
  GeluBackward() : Node(OpKind::Gelu) {}
  Tensor a;
  bool tanh_approx = false;
  TensorList apply(TensorList&& g) override {
    if (!tanh_approx) {
      // Y = A·Φ(A)      dA[A] = dY ⊙ (Φ(A) + A·φ(A))   (product rule; Φ' = φ, the normal pdf)
      return {zip_floating(g[0], a, "gelu backward", [](auto d, auto x) { return d * gelu_slope(x); })};
    }
    // Y = ½A(1 + tanh u) = A·s, s = σ(2u), u = √(2/π)(A + 0.044715A³)
    // dA[A] = dY ⊙ (s + A·s' ) with s' = ds/dA = 2s(1 − s)·√(2/π)(1 + 3·0.044715A²)
    //       (the same as ½(1 + tanh u) + ½A(1 − tanh²u)·du/dA, since 1 − tanh²u = 4s(1 − s))
    return {zip_floating(g[0], a, "gelu backward", [](auto d, auto x) {
      using T = decltype(d);
      const T s = gelu_tanh_gate(x);
      const T du = T(kSqrt2OverPi) * (T(1) + T(3 * kGeluCoef) * x * x);
      return d * (s + x * (T(2) * s * (T(1) - s)) * du);
    })};
  }
};

struct SoftplusBackward : Node {
  SoftplusBackward() : Node(OpKind::Softplus) {}
  Tensor a;
  double beta = 1.0, threshold = 20.0;
  TensorList apply(TensorList&& g) override {
    // Y = log(1 + exp(β·A)) / β     dA[A] = dY ⊙ σ(β·A)   (dY where β·A > threshold: Y = A there)
    const double b = beta, th = threshold;
    return {zip_floating(g[0], a, "softplus backward", [b, th](auto d, auto x) {
      using T = decltype(d);
      const T z = static_cast<T>(b) * x;
      return select(z > static_cast<T>(th), d, d * kernels::fast_sigmoid(z));
    })};
  }
};

struct SiluBackward : Node {
  SiluBackward() : Node(OpKind::Silu) {}
  Tensor a;
  TensorList apply(TensorList&& g) override {
    // Y = A·σ(A)      dA[A] = dY ⊙ (σ(A) + A·σ(A)(1 − σ(A)))   (product rule; σ' = σ(1 − σ))
    return {zip_floating(g[0], a, "silu backward", [](auto d, auto x) {
      using T = decltype(d);
      const T s = kernels::fast_sigmoid(x);
      return d * (s * (T(1) + x * (T(1) - s)));
    })};
  }
};

template <class N, class F, class Fill> Tensor activation(const Tensor& x, const char* name, F f, Fill fill) {
  detail::check_defined(x, name);
  if (!is_floating(x.dtype()))
    throw DTypeError(std::string(name) + ": expected a floating-point tensor, got " + dtype_name(x.dtype()));
  Tensor y = map_floating(x, name, f);
  record<N>(y, {&x}, {}, [&](N& n) {
    n.a = n.save(x);
    fill(n);
  });
  return y;
}

}  // namespace
}  // namespace ops

namespace nn::functional {

using namespace ops;

Tensor leaky_relu(const Tensor& input, const LeakyReLUFuncOptions& options) {
  const double s = options.negative_slope();
  return activation<LeakyReluBackward>(
      input, "leaky_relu", [s](auto x) { return select(x > 0, x, x * static_cast<decltype(x)>(s)); },
      [&](LeakyReluBackward& n) { n.slope = s; });
}

Tensor elu(const Tensor& input, const ELUFuncOptions& options) {
  const double al = options.alpha();
  return activation<EluBackward>(
      input, "elu",
      [al](auto x) { return select(x > 0, x, static_cast<decltype(x)>(al) * kernels::fast_expm1(x)); },
      [&](EluBackward& n) { n.alpha = al; });
}

Tensor gelu(const Tensor& input, const GELUFuncOptions& options) {
  const std::string& approx = options.approximate();
  if (approx != "none" && approx != "tanh")
    throw Error("gelu: approximate must be \"none\" or \"tanh\", got \"" + approx + "\"");
  if (approx == "tanh")
    return activation<GeluBackward>(
        input, "gelu", [](auto x) { return x * gelu_tanh_gate(x); }, [](GeluBackward& n) { n.tanh_approx = true; });
  return activation<GeluBackward>(
      input, "gelu", [](auto x) { return x * kernels::fast_normal_cdf(x); }, [](GeluBackward&) {});
}

Tensor softplus(const Tensor& input, const SoftplusFuncOptions& options) {
  const double b = options.beta(), th = options.threshold();
  return activation<SoftplusBackward>(
      input, "softplus",
      [b, th](auto x) {
        using T = decltype(x);
        const T z = static_cast<T>(b) * x;
        return select(z > static_cast<T>(th), x, kernels::fast_log1p(kernels::fast_exp(z)) / static_cast<T>(b));
      },
      [&](SoftplusBackward& n) {
        n.beta = b;
        n.threshold = th;
      });
}

Tensor silu(const Tensor& input) {
  return activation<SiluBackward>(
      input, "silu", [](auto x) { return x * kernels::fast_sigmoid(x); }, [](SiluBackward&) {});
}

}  // namespace nn::functional
}  // namespace dg
