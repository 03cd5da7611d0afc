// Bad input gives errors that name the module path, the expected and the
// received shape (and how the input got its shape); bad labels and dtypes say
// what was expected; load_state_dict lists missing keys.
#include "nn1_test_util.hpp"

using namespace dg::nn;
namespace F = dg::nn::functional;
using dg::Tensor;
using nn1_test::error_of;

namespace {

// The classic MNIST CNN mistake: the conv stack's flattened size is not fc1's in_features.
struct Net : Module {
  Net() : Module("Net") {
    features = register_module("features", Sequential(Flatten(), Linear(784, 5408), ReLU()));
    fc1 = register_module("fc1", Linear(3136, 128));
    fc2 = register_module("fc2", Linear(128, 10));
  }
  Tensor forward(const Tensor& x) override { return fc2->forward(dg::relu(fc1->forward(features->forward(x)))); }
  Sequential features{nullptr};
  Linear fc1{nullptr}, fc2{nullptr};
};

TEST(NnErrors, LinearFeatureMismatchNamesPathLayerAndShapes) {
  auto net = std::make_shared<Net>();
  std::string msg = error_of<dg::ShapeError>([&] { net->forward(dg::zeros({64, 1, 28, 28})); });
  EXPECT_CONTAINS(msg, "fc1 (Linear 3136→128) expected input [*, 3136], got [64, 5408]");
  // the shape trail shows where [64, 5408] came from
  EXPECT_CONTAINS(msg, "input [64, 1, 28, 28] → features.0 [64, 784] → features.1 [64, 5408]");
  EXPECT_CONTAINS(msg, "hint:");
}

TEST(NnErrors, LinearInsideSequentialNamesItsIndex) {
  Sequential seq(Linear(4, 3), ReLU(), Linear(5, 2));
  std::string msg = error_of<dg::ShapeError>([&] { seq->forward(dg::zeros({2, 4})); });
  EXPECT_CONTAINS(msg, "2 (Linear 5→2) expected input [*, 5], got [2, 3]");
}

TEST(NnErrors, UnflattenedImageIntoLinearSuggestsFlatten) {
  Linear fc(784, 10);
  std::string msg = error_of<dg::ShapeError>([&] { fc->forward(dg::zeros({8, 1, 28, 28})); });
  EXPECT_CONTAINS(msg, "Linear 784→10 expected input [*, 784], got [8, 1, 28, 28]");
  EXPECT_CONTAINS(msg, "flatten");
}

TEST(NnErrors, BatchNormChannelCountAndRank) {
  Sequential seq;
  seq->push_back("bn1", BatchNorm2d(32));
  std::string msg = error_of<dg::ShapeError>([&] { seq->forward(dg::zeros({8, 16, 5, 5})); });
  EXPECT_CONTAINS(msg, "bn1 (BatchNorm2d 32) expected input [N, 32, H, W], got [8, 16, 5, 5]");
  msg = error_of<dg::ShapeError>([&] { seq->forward(dg::zeros({8, 32})); });
  EXPECT_CONTAINS(msg, "bn1 (BatchNorm2d 32) expected input [N, 32, H, W], got [8, 32]");
  BatchNorm1d bn(4);
  msg = error_of<dg::ShapeError>([&] { bn->forward(dg::zeros({8, 4, 2, 2})); });
  EXPECT_CONTAINS(msg, "BatchNorm1d 4 expected input [N, 4] or [N, 4, L], got [8, 4, 2, 2]");
  // one value per channel cannot be normalised in training
  msg = error_of<dg::ShapeError>([&] { bn->forward(dg::zeros({1, 4})); });
  EXPECT_CONTAINS(msg, "expected more than 1 value per channel when training");
}

TEST(NnErrors, LayerNormAndGroupNormShapes) {
  LayerNorm ln(LayerNormOptions({4, 5}));
  EXPECT_CONTAINS(error_of<dg::ShapeError>([&] { ln->forward(dg::zeros({3, 5, 4})); }), "LayerNorm [4, 5] expected input [*, 4, 5], got [3, 5, 4]");
  GroupNorm gn(GroupNormOptions(2, 6));
  EXPECT_CONTAINS(error_of<dg::ShapeError>([&] { gn->forward(dg::zeros({3, 4, 2})); }), "expected input [N, 6, *], got [3, 4, 2]");
  EXPECT_CONTAINS(error_of([&] { GroupNorm(GroupNormOptions(4, 6)); }), "must be divisible by num_groups");
}

TEST(NnErrors, CrossEntropyLabelsOutOfRange) {
  Tensor x = dg::zeros({4, 10});
  std::string msg = error_of<dg::IndexError>([&] { F::cross_entropy(x, nn1_test::longs({3, 9, 10, 0})); });
  EXPECT_CONTAINS(msg, "target 10 at index [2] is out of range for 10 classes");
  EXPECT_CONTAINS(msg, "ignore_index -100");
  msg = error_of<dg::IndexError>([&] { F::cross_entropy(x, nn1_test::longs({3, -1, 1, 0})); });
  EXPECT_CONTAINS(msg, "target -1 at index [1]");
  msg = error_of<dg::IndexError>([&] { F::nll_loss(x, nn1_test::longs({3, 1, 1, 12})); });
  EXPECT_CONTAINS(msg, "nll_loss: target 12 at index [3] is out of range for 10 classes");
  msg = error_of<dg::IndexError>([&] { F::multi_margin_loss(x, nn1_test::longs({-100, 1, 1, 2})); });
  EXPECT_CONTAINS(msg, "multi_margin_loss: target -100 at index [0] is out of range for 10 classes");
}

TEST(NnErrors, CrossEntropyLabelsOfTheWrongDtypeOrShape) {
  Tensor x = dg::zeros({4, 10});
  std::string msg = error_of<dg::DTypeError>([&] { F::cross_entropy(x, dg::tensor({3.0, 1.0, 2.0, 0.0})); });
  EXPECT_CONTAINS(msg, "expected class indices of dtype int64 with shape [4]");
  EXPECT_CONTAINS(msg, "got a float32 target of shape [4]");
  msg = error_of<dg::ShapeError>([&] { F::cross_entropy(x, nn1_test::longs({3, 1, 2, 0}).reshape({4, 1})); });
  EXPECT_CONTAINS(msg, "expected a target of shape [4] (the input [4, 10] without its class dim), got [4, 1]");
  msg = error_of<dg::DTypeError>([&] { F::cross_entropy(dg::zeros({4, 10}, dg::kLong), nn1_test::longs({3, 1, 2, 0})); });
  EXPECT_CONTAINS(msg, "expected floating-point scores");
}

TEST(NnErrors, OtherLossInputs) {
  EXPECT_CONTAINS(error_of<dg::ShapeError>([&] { F::mse_loss(dg::zeros({64, 1}), dg::zeros({64})); }), "mse_loss: input [64, 1] and target [64] must have the same shape");
  EXPECT_CONTAINS(error_of([&] { F::binary_cross_entropy(dg::full({2}, 1.5), dg::zeros({2})); }), "must be probabilities in [0, 1]");
  EXPECT_CONTAINS(error_of<dg::ShapeError>([&] {
                F::cross_entropy(dg::zeros({4, 3}), nn1_test::longs({0, 1, 2, 0}),
                                 F::CrossEntropyFuncOptions().weight(dg::ones({4})));
              }), "expected a class weight of shape [3], got [4]");
  EXPECT_CONTAINS(error_of([&] { F::multi_margin_loss(dg::zeros({2, 3}), nn1_test::longs({0, 1}), F::MultiMarginLossFuncOptions().p(3)); }), "only p = 1 and p = 2");
}

TEST(NnErrors, EmbeddingIndices) {
  Embedding emb(10, 3);
  EXPECT_CONTAINS(error_of<dg::IndexError>([&] { emb->forward(nn1_test::longs({1, 10})); }), "index 10 (element 1 of indices [2]) is out of range for 10 embeddings");
  EXPECT_CONTAINS(error_of<dg::DTypeError>([&] { emb->forward(dg::tensor({1.0, 2.0})); }), "embedding: expected int64 indices, got float32");
}

TEST(NnErrors, OptionsOutOfRange) {
  EXPECT_CONTAINS(error_of([&] { Dropout(1.5); }), "between 0 and 1");
  EXPECT_CONTAINS(error_of([&] { F::dropout(dg::zeros({2}), F::DropoutFuncOptions().p(-0.1)); }), "between 0 and 1");
  EXPECT_CONTAINS(error_of([&] { F::gelu(dg::zeros({2}), F::GELUFuncOptions().approximate("fast")); }), "\"none\" or \"tanh\"");
}

TEST(NnErrors, LoadStateDictListsMissingUnexpectedAndMisshapedKeys) {
  Sequential a(Linear(4, 3), BatchNorm1d(3));
  auto state = a->state_dict();
  std::map<std::string, Tensor> partial;
  for (const auto& item : state)
    if (item.key() != "1.running_var") partial[item.key()] = item.value();
  std::string msg = error_of([&] { a->load_state_dict(partial); });
  EXPECT_CONTAINS(msg, "missing keys (1)");
  EXPECT_CONTAINS(msg, "1.running_var");
  partial["1.running_var"] = dg::ones({3});
  partial["2.weight"] = dg::ones({3});
  partial["0.bias"] = dg::ones({4});
  msg = error_of([&] { a->load_state_dict(partial); });
  EXPECT_CONTAINS(msg, "unexpected keys (1)");
  EXPECT_CONTAINS(msg, "2.weight");
  EXPECT_CONTAINS(msg, "0.bias: checkpoint [4], model [3]");
}

// A float tensor for an integer buffer (num_batches_tracked stored as F64 1e300, a
// fuzz finding with a damaged checkpoint) is refused, not cast (undefined behaviour).
TEST(NnErrors, LoadStateDictRefusesFloatsForIntegerBuffers) {
  Sequential a(Linear(4, 3), BatchNorm1d(3));
  std::map<std::string, Tensor> state;
  for (const auto& item : a->state_dict()) state[item.key()] = item.value();
  state["1.num_batches_tracked"] = dg::scalar_tensor(1e300, dg::kFloat64);
  std::string msg = error_of([&] { a->load_state_dict(state); });
  EXPECT_CONTAINS(msg, "1.num_batches_tracked: checkpoint float64, model int64");
  // Integers into floating-point parameters still convert.
  state["1.num_batches_tracked"] = dg::scalar_tensor(int64_t{5}, dg::kInt64);
  state["1.weight"] = dg::tensor(std::vector<int64_t>{1, 2, 3});
  a->load_state_dict(state);
  EXPECT_EQ(a->state_dict()["1.weight"].sum().item<double>(), 6.0);
}

}  // namespace
