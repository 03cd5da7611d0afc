// The MLP preset trained the way `dimgrad train` trains it (784-512-512-10,
// batch 128, SGD with momentum, cross-entropy, a shuffling DataLoader with a
// background thread), shared by the memory and determinism tests.
#pragma once

#include <dimgrad/data.hpp>
#include <dimgrad/dimgrad.hpp>
#include <dimgrad/nn.hpp>
#include <dimgrad/optim.hpp>
#include <filesystem>
#include <functional>

namespace reltest {

// The first n Fashion-MNIST training images when the Debian data set is
// installed, otherwise n seeded random images of the same shape (so the tests
// run anywhere; the training path is the same).
inline dg::data::Dataset mlp_training_data(int64_t n) {
  if (std::filesystem::exists(std::string(dg::data::kFashionMnistDir) + "/train-images-idx3-ubyte.gz"))
    return dg::data::load_fashion_mnist().head(n);
  dg::manual_seed(12345);
  dg::data::Dataset ds;
  ds.features = dg::rand({n, 1, 28, 28});
  ds.targets = dg::randint(0, 10, {n});
  ds.num_classes = 10;
  ds.name = "synthetic";
  return ds;
}

inline dg::nn::Sequential make_mlp() {
  return dg::nn::Sequential(dg::nn::Flatten(), dg::nn::Linear(784, 512), dg::nn::ReLU(), dg::nn::Linear(512, 512),
                            dg::nn::ReLU(), dg::nn::Linear(512, 10));
}

// Seeds the generator, builds the MLP and trains it for `steps` optimizer steps
// (epochs of the data loader follow one another); on_step(step) runs after each.
inline dg::nn::Sequential train_mlp(const dg::data::Dataset& ds, int64_t steps, uint64_t seed,
                                    const std::function<void(int64_t)>& on_step = nullptr) {
  dg::manual_seed(seed);
  dg::nn::Sequential model = make_mlp();
  dg::optim::SGD opt(model->parameters(), dg::optim::SGDOptions(0.05).momentum(0.9));
  dg::data::DataLoader loader(ds, dg::data::DataLoaderOptions().with_batch_size(128).with_seed(seed).with_prefetch(2));
  int64_t step = 0;
  for (int64_t epoch = 0; step < steps; ++epoch) {
    loader.start(epoch);
    while (step < steps) {
      std::optional<dg::data::Batch> b = loader.next();
      if (!b) break;
      dg::Tensor loss = dg::nn::functional::cross_entropy(model->forward(b->data), b->target);
      opt.zero_grad();
      loss.backward();
      opt.step();
      ++step;
      if (on_step) on_step(step);
    }
  }
  return model;
}

}  // namespace reltest
