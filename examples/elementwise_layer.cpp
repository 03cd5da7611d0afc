// An elementwise layer, Y = sigmoid(A): its Jacobian is diagonal.
//
// Y_ij depends only on A_ij, so the local gradient is not a big 4-d tensor but
// one number per element: dY_ij/dA_ij = σ(A_ij)(1 − σ(A_ij)) = Y_ij(1 − Y_ij).
// The chain rule then multiplies elementwise:
//   dA[N×D] = dY[N×D] ⊙ Y[N×D] ⊙ (1 − Y[N×D])      (same shape as A, as it must be)
//
// Run: build/examples/elementwise_layer
#include <dimgrad/dimgrad.hpp>
#include <iostream>

using dg::autograd::AutogradContext;
using dg::autograd::tensor_list;

struct Sigmoid : dg::autograd::Function<Sigmoid> {
  static dg::Tensor forward(AutogradContext* ctx, dg::Tensor A) {
    dg::Tensor Y = 1.0 / (1.0 + dg::exp(-A));
    ctx->save_for_backward({Y});  // the output is all backward needs
    return Y;
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    dg::Tensor Y = ctx->get_saved_variables()[0];
    return {grads[0] * Y * (1.0 - Y)};  // dA = dY ⊙ Y ⊙ (1 − Y)
  }
};

int main() {
  dg::manual_seed(1);
  auto A = dg::randn({3, 4}, dg::kFloat64).requires_grad_().set_name("A");
  bool ok = dg::gradcheck([](const dg::TensorList& in) { return Sigmoid::apply(in[0]); }, {A});
  std::cout << "gradcheck of the hand-derived sigmoid backward: " << (ok ? "passed" : "FAILED") << "\n\n";
  auto loss = dg::sigmoid(A).sum();
  std::cout << dg::explain(loss);
  return ok ? 0 : 1;
}
