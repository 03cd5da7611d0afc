// The affine layer S = X·W + b, its backward derived by dimension analysis.
//
// Shapes: X [N×D] (a batch of N inputs with D features), W [D×C], b [C], S [N×C].
// The loss L is a scalar, so each dL/dT has the shape of T.
//
//   dX must be [N×D]. The only product of dS [N×C] and W [D×C] that is [N×D]
//   is dS·Wᵀ                                            → dX[N×D] = dS[N×C]·Wᵀ[C×D]
//   dW must be [D×C]. The only product of X and dS that is [D×C] is Xᵀ·dS
//                                                       → dW[D×C] = Xᵀ[D×N]·dS[N×C]
//   b [C] was broadcast over the N rows (each row used the same b), so its
//   gradient is the sum over those rows                 → db[C] = Σ_N dS[N×C]
//
// Run: build/examples/affine_layer
#include <dimgrad/dimgrad.hpp>
#include <iostream>

using dg::autograd::AutogradContext;
using dg::autograd::tensor_list;

struct Affine : dg::autograd::Function<Affine> {
  static dg::Tensor forward(AutogradContext* ctx, dg::Tensor X, dg::Tensor W, dg::Tensor b) {
    ctx->save_for_backward({X, W});
    return X.mm(W) + b;  // S[N×C]
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto saved = ctx->get_saved_variables();
    const dg::Tensor &X = saved[0], &W = saved[1], &dS = grads[0];
    dg::Tensor dX = dS.mm(W.t());   // [N×C]·[C×D] = [N×D]
    dg::Tensor dW = X.t().mm(dS);   // [D×N]·[N×C] = [D×C]
    dg::Tensor db = dS.sum({0});    // Σ over N: [C]
    return {dX, dW, db};
  }
};

int main() {
  dg::manual_seed(0);
  const int64_t N = 4, D = 5, C = 3;
  auto X = dg::randn({N, D}, dg::kFloat64).requires_grad_().set_name("X");
  auto W = dg::randn({D, C}, dg::kFloat64).requires_grad_().set_name("W");
  auto b = dg::randn({C}, dg::kFloat64).requires_grad_().set_name("b");

  // 1. Our hand-derived backward agrees with finite differences.
  bool ok = dg::gradcheck([](const dg::TensorList& in) { return Affine::apply(in[0], in[1], in[2]); }, {X, W, b});
  std::cout << "gradcheck of the hand-derived affine backward: " << (ok ? "passed" : "FAILED") << "\n\n";

  // 2. The same layer built from library ops, explained step by step.
  auto S = X.mm(W) + b;
  auto loss = (S * S).sum();
  std::cout << dg::explain(loss, {dg::ExplainFormat::Text, {{N, "N"}, {D, "D"}, {C, "C"}}}) << "\n";

  // 3. And both give the same numbers.
  loss.backward();
  auto X2 = X.detach().requires_grad_(), W2 = W.detach().requires_grad_(), b2 = b.detach().requires_grad_();
  auto S2 = Affine::apply(X2, W2, b2);
  (S2 * S2).sum().backward();
  std::cout << "library vs hand-derived dW equal: " << std::boolalpha << W.grad().allclose(W2.grad()) << "\n";
  return ok ? 0 : 1;
}
