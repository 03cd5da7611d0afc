// Softmax cross-entropy, fused: dS = (P − Y)/N.
//
// Scores S [N×C], labels y (N class indices), Y [N×C] their one-hot matrix.
//   P = softmax(S) row by row,  L = −(1/N) Σ_n log P[n, y_n]
// Per row, ∂L/∂S[n, c] = (P[n, c] − Y[n, c])/N: the softmax Jacobian
// diag(P) − P·Pᵀ multiplied by −Y/P collapses to P − Y. So
//   dS[N×C] = (P[N×C] − Y[N×C]) / N        (times the incoming dL, a scalar)
// No C×C Jacobian is ever built.
//
// Run: build/examples/softmax_loss
#include <dimgrad/dimgrad.hpp>
#include <iostream>

using dg::autograd::AutogradContext;
using dg::autograd::tensor_list;

struct SoftmaxCrossEntropy : dg::autograd::Function<SoftmaxCrossEntropy> {
  static dg::Tensor forward(AutogradContext* ctx, dg::Tensor S, dg::Tensor labels) {
    dg::Tensor logP = dg::log_softmax(S, 1);
    dg::Tensor P = dg::exp(logP);
    dg::Tensor Y = dg::one_hot(labels, S.size(1)).to(S.dtype());
    ctx->save_for_backward({P, Y});
    return -(logP * Y).sum() / static_cast<double>(S.size(0));
  }
  static tensor_list backward(AutogradContext* ctx, tensor_list grads) {
    auto s = ctx->get_saved_variables();
    const dg::Tensor &P = s[0], &Y = s[1];
    const double N = static_cast<double>(P.size(0));
    return {(P - Y) / N * grads[0], dg::Tensor()};  // dS = (P − Y)/N · dL; labels get none
  }
};

int main() {
  dg::manual_seed(2);
  auto S = dg::randn({5, 4}, dg::kFloat64).requires_grad_().set_name("S");
  auto y = dg::tensor(std::vector<int64_t>{0, 3, 1, 1, 2});
  bool ok = dg::gradcheck([&](const dg::TensorList& in) { return SoftmaxCrossEntropy::apply(in[0], y); }, {S});
  std::cout << "gradcheck of dS = (P − Y)/N: " << (ok ? "passed" : "FAILED") << "\n\n";
  // The same loss from primitives: the chain of small steps that the fused form collapses.
  auto loss = -dg::log_softmax(S, 1).gather(1, y.unsqueeze(1)).mean();
  std::cout << dg::explain(loss);
  return ok ? 0 : 1;
}
