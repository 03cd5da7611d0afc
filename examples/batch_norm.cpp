// Batch normalization (training mode), with the compact backward.
//
// x [N×D]; per feature d: μ = mean over N, σ² = biased variance over N,
//   x̂ = (x − μ)/√(σ² + ε),   y = γ ⊙ x̂ + β     with γ, β [D] broadcast over N.
// Gradients:
//   dβ[D] = Σ_N dy            (β was broadcast over N)
//   dγ[D] = Σ_N dy ⊙ x̂        (γ was broadcast over N)
//   dx̂[N×D] = dy ⊙ γ
// x reaches the loss three ways (directly, through μ, through σ²); summing the
// three paths (rule 2) and simplifying gives, per feature,
//   dx[N×D] = (1/N) · (1/√(σ²+ε)) · (N·dx̂ − Σ_N dx̂ − x̂ ⊙ Σ_N(dx̂ ⊙ x̂))
//
// Run: build/examples/batch_norm
#include <dimgrad/dimgrad.hpp>
#include <iostream>

using dg::autograd::AutogradContext;
using dg::autograd::tensor_list;

struct BatchNorm : dg::autograd::Function<BatchNorm> {
  static dg::Tensor forward(AutogradContext* ctx, dg::Tensor x, dg::Tensor gamma, dg::Tensor beta) {
    const double eps = 1e-5;
    dg::Tensor mu = x.mean({0}, true);                                  // [1×D]
    dg::Tensor var = (x - mu).pow(2).mean({0}, true);                   // [1×D]
    dg::Tensor inv_std = 1.0 / dg::sqrt(var + eps);                     // [1×D]
    dg::Tensor xhat = (x - mu) * inv_std;                               // [N×D]
    ctx->save_for_backward({xhat, inv_std, gamma});
    return xhat * gamma + beta;                                         // [N×D]
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto s = ctx->get_saved_variables();
    const dg::Tensor &xhat = s[0], &inv_std = s[1], &gamma = s[2], &dy = grads[0];
    const double N = static_cast<double>(xhat.size(0));
    dg::Tensor dbeta = dy.sum({0});                                     // [D]
    dg::Tensor dgamma = (dy * xhat).sum({0});                           // [D]
    dg::Tensor dxhat = dy * gamma;                                      // [N×D]
    dg::Tensor dx = inv_std / N *
                    (dxhat * N - dxhat.sum({0}, true) - xhat * (dxhat * xhat).sum({0}, true));  // [N×D]
    return {dx, dgamma, dbeta};
  }
};

int main() {
  dg::manual_seed(3);
  auto x = dg::randn({6, 3}, dg::kFloat64).requires_grad_().set_name("x");
  auto gamma = dg::rand({3}, dg::kFloat64).add_(0.5).requires_grad_().set_name("gamma");
  auto beta = dg::randn({3}, dg::kFloat64).requires_grad_().set_name("beta");
  // Weighted so that the loss is not trivially invariant to the normalization.
  auto weights = dg::randn({6, 3}, dg::kFloat64);
  bool ok = dg::gradcheck(
      [&](const dg::TensorList& in) { return (BatchNorm::apply(in[0], in[1], in[2]) * weights).sum(); }, {x, gamma, beta});
  std::cout << "gradcheck of the compact batch-norm backward: " << (ok ? "passed" : "FAILED") << "\n\n";
  auto mu = x.mean({0}, true);
  auto xc = x - mu;
  auto xhat = xc / dg::sqrt((xc * xc).mean({0}, true) + 1e-5);
  auto loss = ((xhat * gamma + beta) * weights).sum();
  std::cout << dg::explain(loss);
  return ok ? 0 : 1;
}
