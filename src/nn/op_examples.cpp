// Worked examples of the nn ops, for explain_op / `dimgrad explain --op NAME`
// (the core ops' examples are in src/check/op_examples.cpp).
#include "check/op_examples.hpp"
#include "dimgrad/nn.hpp"

namespace dg::nn {
namespace {

namespace F = functional;

Tensor input(IntArrayRef shape, const char* name, double shift = 0.0) {
  Tensor t = randn(shape, kDouble);
  if (shift != 0.0) t = t.abs() + shift;
  t.requires_grad_(true);
  t.set_name(name);
  return t;
}

Tensor labels(std::vector<int64_t> v) { return tensor(v); }

const bool registered = [] {
  register_op_example("linear", [] { return F::linear(input({4, 5}, "X"), input({3, 5}, "W"), input({3}, "b")); });
  register_op_example("linear_relu", [] {
    return F::detail::linear_relu(input({4, 5}, "X"), input({3, 5}, "W"), input({3}, "b"));
  });
  register_op_example("leaky_relu", [] { return F::leaky_relu(input({2, 3}, "A"), F::LeakyReLUFuncOptions().negative_slope(0.1)); });
  register_op_example("elu", [] { return F::elu(input({2, 3}, "A")); });
  register_op_example("gelu", [] { return F::gelu(input({2, 3}, "A")); });
  register_op_example("softplus", [] { return F::softplus(input({2, 3}, "A")); });
  register_op_example("silu", [] { return F::silu(input({2, 3}, "A")); });
  register_op_example("batch_norm", [] {
    return F::batch_norm(input({6, 4}, "X"), Tensor(), Tensor(),
                         F::BatchNormFuncOptions().weight(input({4}, "gamma")).bias(input({4}, "beta")).training(true));
  });
  register_op_example("batch_norm_relu", [] {
    return F::detail::batch_norm_relu(input({6, 4}, "X"), Tensor(), Tensor(), input({4}, "gamma"), input({4}, "beta"),
                                      true, 0.0, 1e-5);
  });
  register_op_example("layer_norm", [] {
    return F::layer_norm(input({3, 5}, "X"), F::LayerNormFuncOptions({5}).weight(input({5}, "gamma")).bias(input({5}, "beta")));
  });
  register_op_example("group_norm", [] {
    return F::group_norm(input({2, 4, 3}, "X"), F::GroupNormFuncOptions(2).weight(input({4}, "gamma")).bias(input({4}, "beta")));
  });
  register_op_example("embedding", [] { return F::embedding(labels({1, 3, 3, 0}), input({5, 2}, "E")); });
  register_op_example("cross_entropy", [] { return F::cross_entropy(input({4, 3}, "S"), labels({0, 2, 1, 2})); });
  register_op_example("nll_loss", [] { return F::nll_loss(F::log_softmax(input({4, 3}, "S"), 1), labels({0, 2, 1, 2})); });
  register_op_example("multi_margin_loss", [] { return F::multi_margin_loss(input({4, 3}, "S"), labels({0, 2, 1, 2})); });
  register_op_example("binary_cross_entropy", [] {
    return F::binary_cross_entropy(sigmoid(input({4}, "A")), rand({4}, kDouble));
  });
  register_op_example("binary_cross_entropy_with_logits", [] {
    return F::binary_cross_entropy_with_logits(input({4}, "A"), rand({4}, kDouble));
  });
  register_op_example("mse_loss", [] { return F::mse_loss(input({2, 3}, "A"), input({2, 3}, "B")); });
  register_op_example("l1_loss", [] { return F::l1_loss(input({2, 3}, "A"), input({2, 3}, "B")); });
  register_op_example("huber_loss", [] { return F::huber_loss(input({2, 3}, "A"), input({2, 3}, "B")); });
  register_op_example("smooth_l1_loss", [] { return F::smooth_l1_loss(input({2, 3}, "A"), input({2, 3}, "B")); });
  register_op_example("conv2d", [] {
    return F::conv2d(input({2, 3, 7, 7}, "X"), input({4, 3, 5, 5}, "W"), F::Conv2dFuncOptions().bias(input({4}, "b")).padding(2));
  });
  register_op_example("conv2d_max_pool2d", [] {
    // (sizes all different, so that each dimension gets a letter of its own)
    return F::detail::conv2d_max_pool2d(input({2, 4, 10, 10}, "X"), input({6, 4, 3, 3}, "W"), input({6}, "b"), 1, 1, 1,
                                        1, 2);
  });
  register_op_example("max_pool2d", [] { return F::max_pool2d(input({2, 3, 4, 4}, "X"), F::MaxPool2dFuncOptions(2)); });
  register_op_example("avg_pool2d", [] { return F::avg_pool2d(input({2, 3, 4, 4}, "X"), F::AvgPool2dFuncOptions(2)); });
  register_op_example("adaptive_avg_pool2d", [] {
    return F::adaptive_avg_pool2d(input({2, 3, 5, 5}, "X"), F::AdaptiveAvgPool2dFuncOptions(2));
  });
  register_op_example("unbind", [] { return unbind(input({3, 2}, "A"), 0)[1]; });
  register_op_example("lstm_cell", [] {
    auto x = input({2, 3}, "X"), h = input({2, 4}, "H"), c = input({2, 4}, "C");
    auto [h1, c1] = lstm_cell(x, {h, c}, input({16, 3}, "W_ih"), input({16, 4}, "W_hh"), input({16}, "b_ih"), input({16}, "b_hh"));
    return h1 + c1;
  });
  return true;
}();

}  // namespace
}  // namespace dg::nn
