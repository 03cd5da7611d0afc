// Uses the installed headers and library: a tiny forward and backward pass.
#include <dimgrad/dimgrad.hpp>

#include <iostream>

int main() {
  dg::Tensor w = dg::tensor({1.0, -2.0, 3.0}, dg::requires_grad());
  dg::Tensor x = dg::ones({2, 3});
  dg::Tensor loss = (x.matmul(w) * 0.5).sum() + (w * w).sum();  // dL/dw = 1 + 2w
  loss.backward();
  std::cout << "loss " << loss.item<float>() << " grad " << w.grad()[1].item<float>() << "\n";
  return loss.item<float>() == 16.0f ? 0 : 1;
}
