// Parametrised activations: leaky_relu, elu, gelu, softplus.
// Each is elementwise, so its local Jacobian is diagonal and the backward is
// one elementwise product dA[A] = dY[A] ⊙ f'(A): same shape in, same shape out,
// no sum anywhere (nothing was broadcast).
#include <cmath>

#include "dimgrad/nn/activation.hpp"
#include "ops/op_util.hpp"

namespace dg {
namespace ops {
namespace {

constexpr double kSqrt1_2 = 0.70710678118654752440;      // 1/√2
constexpr double kInvSqrt2Pi = 0.39894228040143267794;   // 1/√(2π)
constexpr double kSqrt2OverPi = 0.79788456080286535588;  // √(2/π)
constexpr double kGeluCoef = 0.044715;

struct LeakyReluBackward : Node {
  LeakyReluBackward() : Node(OpKind::LeakyRelu) {}
  Tensor a;
  double slope = 0.01;
  TensorList apply(TensorList&& g) override {
    // Y = A > 0 ? A : s·A        dA[A] = dY ⊙ (A > 0 ? 1 : s)
    const double s = slope;
    return {zip_floating(g[0], a, "leaky_relu backward", [s](auto d, auto x) {
      return x > 0 ? d : static_cast<decltype(d)>(d * s);
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
      return x > 0 ? d : static_cast<T>(d * al * std::exp(x));
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
      return {zip_floating(g[0], a, "gelu backward", [](auto d, auto x) {
        using T = decltype(d);
        const double xd = x;
        const double cdf = 0.5 * (1.0 + std::erf(xd * kSqrt1_2));
        const double pdf = kInvSqrt2Pi * std::exp(-0.5 * xd * xd);
        return static_cast<T>(d * (cdf + xd * pdf));
      })};
    }
    // Y = ½A(1 + tanh u), u = √(2/π)(A + 0.044715A³)
    // dA[A] = dY ⊙ (½(1 + tanh u) + ½A(1 - tanh²u)·√(2/π)(1 + 3·0.044715A²))
    return {zip_floating(g[0], a, "gelu backward", [](auto d, auto x) {
      using T = decltype(d);
      const double xd = x;
      const double t = std::tanh(kSqrt2OverPi * (xd + kGeluCoef * xd * xd * xd));
      const double du = kSqrt2OverPi * (1.0 + 3.0 * kGeluCoef * xd * xd);
      return static_cast<T>(d * (0.5 * (1.0 + t) + 0.5 * xd * (1.0 - t * t) * du));
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
      const double z = b * x;
      return z > th ? d : static_cast<T>(d / (1.0 + std::exp(-z)));
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
      input, "leaky_relu", [s](auto x) { return x > 0 ? x : static_cast<decltype(x)>(x * s); },
      [&](LeakyReluBackward& n) { n.slope = s; });
}

Tensor elu(const Tensor& input, const ELUFuncOptions& options) {
  const double al = options.alpha();
  return activation<EluBackward>(
      input, "elu", [al](auto x) { return x > 0 ? x : static_cast<decltype(x)>(al * std::expm1(x)); },
      [&](EluBackward& n) { n.alpha = al; });
}

Tensor gelu(const Tensor& input, const GELUFuncOptions& options) {
  const std::string& approx = options.approximate();
  if (approx != "none" && approx != "tanh")
    throw Error("gelu: approximate must be \"none\" or \"tanh\", got \"" + approx + "\"");
  if (approx == "tanh")
    return activation<GeluBackward>(
        input, "gelu",
        [](auto x) {
          const double xd = x;
          return static_cast<decltype(x)>(0.5 * xd * (1.0 + std::tanh(kSqrt2OverPi * (xd + kGeluCoef * xd * xd * xd))));
        },
        [](GeluBackward& n) { n.tanh_approx = true; });
  return activation<GeluBackward>(
      input, "gelu",
      [](auto x) {
        const double xd = x;
        return static_cast<decltype(x)>(0.5 * xd * (1.0 + std::erf(xd * kSqrt1_2)));
      },
      [](GeluBackward&) {});
}

Tensor softplus(const Tensor& input, const SoftplusFuncOptions& options) {
  const double b = options.beta(), th = options.threshold();
  return activation<SoftplusBackward>(
      input, "softplus",
      [b, th](auto x) {
        const double z = b * x;
        return z > th ? x : static_cast<decltype(x)>(std::log1p(std::exp(z)) / b);
      },
      [&](SoftplusBackward& n) {
        n.beta = b;
        n.threshold = th;
      });
}

}  // namespace nn::functional
}  // namespace dg
