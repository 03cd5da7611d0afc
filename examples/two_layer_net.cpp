// A two-layer net trained on Fashion-MNIST from primitives only: matrices,
// broadcasting, the autograd engine and a hand-written SGD step.
//
//   H[N×K] = relu(X[N×D]·W1[D×K] + b1[K])      D = 784 pixels, K = 100 hidden units
//   S[N×C] = H[N×K]·W2[K×C] + b2[C]            C = 10 classes
//   L = −(1/N) Σ_n log softmax(S)[n, y_n]
// backward() gives dW1[D×K], db1[K], dW2[K×C], db2[C] — each the shape of its parameter.
//
// Run: build/examples/two_layer_net [epochs]
#include <dimgrad/data.hpp>
#include <dimgrad/dimgrad.hpp>

#include <chrono>
#include <cmath>
#include <iomanip>
#include <iostream>

int main(int argc, char** argv) {
  try {
    const int epochs = argc > 1 ? std::atoi(argv[1]) : 5;
    dg::manual_seed(0);
    auto train = dg::data::load_fashion_mnist(dg::data::kFashionMnistDir, true);
    auto test = dg::data::load_fashion_mnist(dg::data::kFashionMnistDir, false);
    const int64_t D = 784, K = 100, C = 10;

    // He initialisation for the ReLU layer, Xavier-like for the output layer.
    auto W1 = (dg::randn({D, K}) * std::sqrt(2.0 / D)).requires_grad_();
    auto b1 = dg::zeros({K}).requires_grad_();
    auto W2 = (dg::randn({K, C}) * std::sqrt(1.0 / K)).requires_grad_();
    auto b2 = dg::zeros({C}).requires_grad_();
    std::vector<dg::Tensor> params{W1, b1, W2, b2};
    std::vector<dg::Tensor> velocity;
    for (auto& p : params) velocity.push_back(dg::zeros_like(p));

    auto forward = [&](const dg::Tensor& X) { return dg::relu(X.mm(W1) + b1).mm(W2) + b2; };

    dg::data::DataLoader loader(train, dg::data::DataLoaderOptions().with_batch_size(64).with_seed(0));
    const double lr = 0.05, momentum = 0.9;
    for (int epoch = 0; epoch < epochs; ++epoch) {
      auto t0 = std::chrono::steady_clock::now();
      double loss_sum = 0;
      int64_t seen = 0, correct = 0;
      for (dg::data::Batch& batch : loader.epoch(epoch)) {
        auto X = batch.data.reshape({-1, D});
        auto S = forward(X);
        auto loss = -dg::log_softmax(S, 1).gather(1, batch.target.unsqueeze(1)).mean();
        for (auto& p : params) p.set_grad(dg::Tensor());
        loss.backward();
        {
          dg::NoGradGuard no_grad;  // the update is not part of the graph
          for (size_t i = 0; i < params.size(); ++i) {
            velocity[i].mul_(momentum).add_(params[i].grad());
            params[i].sub_(velocity[i], lr);
          }
          loss_sum += loss.item<double>() * static_cast<double>(X.size(0));
          correct += S.argmax(1).eq(batch.target).sum().item<int64_t>();
          seen += X.size(0);
        }
      }
      dg::NoGradGuard no_grad;
      auto test_pred = forward(test.features.reshape({-1, D})).argmax(1);
      double test_acc = test_pred.eq(test.targets).to(dg::kFloat64).mean().item<double>();
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      std::cout << "epoch " << epoch + 1 << "/" << epochs << "  loss " << std::fixed << std::setprecision(4)
                << loss_sum / double(seen) << "  train acc " << std::setprecision(2)
                << 100.0 * double(correct) / double(seen) << "%  test acc " << 100.0 * test_acc << "%  ("
                << std::setprecision(1) << secs << " s)" << std::endl;
    }
    return 0;
  } catch (const std::exception& e) {
    std::cerr << "two_layer_net: " << e.what() << "\n";
    return 1;
  }
}
