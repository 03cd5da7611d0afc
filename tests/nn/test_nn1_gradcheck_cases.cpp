// Float64 gradcheck cases (central differences, full Jacobian) of the nn rows of
// DG_OP_TABLE: linear, leaky_relu, elu, gelu, softplus, silu, batch_norm, layer_norm,
// group_norm, embedding, cross_entropy, nll_loss, multi_margin_loss,
// binary_cross_entropy, binary_cross_entropy_with_logits, mse_loss, l1_loss,
// huber_loss, smooth_l1_loss. Registered with the
// shared registry (tests/ops/gradcheck_registry.hpp); the test_nn binary
// instantiates them once (DG_GRADCHECK_TESTS in test_conv_gradcheck_cases.cpp).
// Odd shapes on purpose: batch 1, a single feature, 3-d inputs, non-contiguous
// inputs, every reduction, ignored rows, class weights, label smoothing.
#include "dimgrad/nn.hpp"
#include "ops/gradcheck_registry.hpp"

using dg::Tensor;
using dg::TensorList;
using dg::test::leaf;
using dg::test::values;
namespace F = dg::nn::functional;

#define IN(...) [] { return TensorList{__VA_ARGS__}; }
#define FN(...) [](const TensorList& x) -> Tensor { return __VA_ARGS__; }

namespace {
Tensor labels(std::vector<int64_t> v) { return dg::tensor(v); }
}  // namespace

// ------------------------------------------------------------------- linear
DG_GRADCHECK_CASE(linear_bias, "linear", IN(leaf({4, 5}, 501), leaf({3, 5}, 502), leaf({3}, 503)),
                  FN(F::linear(x[0], x[1], x[2])));
DG_GRADCHECK_CASE(linear_batch1_no_bias, "linear", IN(leaf({1, 6}, 504), leaf({2, 6}, 505)),
                  FN(F::linear(x[0], x[1])));
DG_GRADCHECK_CASE(linear_3d_input, "linear", IN(leaf({2, 3, 4}, 506), leaf({5, 4}, 507), leaf({5}, 508)),
                  FN(F::linear(x[0], x[1], x[2])));
DG_GRADCHECK_CASE(linear_1d_input_one_output, "linear", IN(leaf({3}, 509), leaf({1, 3}, 510), leaf({1}, 511)),
                  FN(F::linear(x[0], x[1], x[2])));
DG_GRADCHECK_CASE(linear_transposed_input_and_weight, "linear", IN(leaf({4, 3}, 512), leaf({4, 2}, 513)),
                  FN(F::linear(x[0].t(), x[1].t())));
DG_GRADCHECK_CASE(linear_same_input_twice, "linear", IN(leaf({3, 3}, 514)), FN(F::linear(x[0], x[0], x[0][0])));

// linear_relu: the affine op with the ReLU's mask on dY (Sequential's Linear → ReLU).
// (Fixed seeds: an output within the finite-difference step of the kink at 0 would fail the case.)
DG_GRADCHECK_CASE(linear_relu_bias, "linear_relu", IN(leaf({4, 5}, 515), leaf({3, 5}, 516), leaf({3}, 517)),
                  FN(F::detail::linear_relu(x[0], x[1], x[2])));
DG_GRADCHECK_CASE(linear_relu_3d_input_no_bias, "linear_relu", IN(leaf({2, 3, 4}, 518), leaf({5, 4}, 519)),
                  FN(F::detail::linear_relu(x[0], x[1])));

// -------------------------------------------------------------- activations
DG_GRADCHECK_CASE(leaky_relu_default, "leaky_relu", IN(leaf({3, 4}, 520, -2, 2, 0.1)), FN(F::leaky_relu(x[0])));
DG_GRADCHECK_CASE(leaky_relu_slope, "leaky_relu", IN(leaf({2, 3, 2}, 521, -2, 2, 0.1)),
                  FN(F::leaky_relu(x[0], F::LeakyReLUFuncOptions().negative_slope(0.3))));
DG_GRADCHECK_CASE(elu_alpha, "elu", IN(leaf({3, 4}, 522, -2, 2, 0.1)), FN(F::elu(x[0], F::ELUFuncOptions().alpha(1.7))));
DG_GRADCHECK_CASE(gelu_exact, "gelu", IN(leaf({3, 4}, 523, -3, 3)), FN(F::gelu(x[0])));
DG_GRADCHECK_CASE(gelu_tanh, "gelu", IN(leaf({5}, 524, -3, 3)),
                  FN(F::gelu(x[0], F::GELUFuncOptions().approximate("tanh"))));
DG_GRADCHECK_CASE(softplus_default, "softplus", IN(leaf({3, 4}, 525, -4, 4)), FN(F::softplus(x[0])));
DG_GRADCHECK_CASE(softplus_beta_threshold, "softplus", IN(leaf({10}, 526, -4, 4, 0.2)),
                  FN(F::softplus(x[0], F::SoftplusFuncOptions().beta(2).threshold(3))));
DG_GRADCHECK_CASE(silu, "silu", IN(leaf({3, 4}, 527, -6, 6)), FN(F::silu(x[0])));
DG_GRADCHECK_CASE(silu_3d, "silu", IN(leaf({2, 3, 2}, 528, -2, 2)), FN(F::silu(x[0])));

// --------------------------------------------------------------- batch norm
DG_GRADCHECK_CASE(batch_norm_1d_train, "batch_norm", IN(leaf({5, 3}, 530), leaf({3}, 531), leaf({3}, 532)),
                  FN(F::batch_norm(x[0], Tensor(), Tensor(), F::BatchNormFuncOptions().weight(x[1]).bias(x[2]).training(true))));
DG_GRADCHECK_CASE(batch_norm_2d_train, "batch_norm", IN(leaf({2, 3, 2, 3}, 533), leaf({3}, 534), leaf({3}, 535)),
                  FN(F::batch_norm(x[0], Tensor(), Tensor(), F::BatchNormFuncOptions().weight(x[1]).bias(x[2]).training(true))));
DG_GRADCHECK_CASE(batch_norm_batch1_spatial_train, "batch_norm", IN(leaf({1, 2, 3, 2}, 536), leaf({2}, 537)),
                  FN(F::batch_norm(x[0], Tensor(), Tensor(), F::BatchNormFuncOptions().weight(x[1]).training(true))));
DG_GRADCHECK_CASE(batch_norm_no_affine_train, "batch_norm", IN(leaf({4, 2, 3}, 538)),
                  FN(F::batch_norm(x[0], Tensor(), Tensor(), F::BatchNormFuncOptions().training(true).eps(1e-3))));
DG_GRADCHECK_CASE(batch_norm_eval, "batch_norm", IN(leaf({3, 2, 2, 2}, 539), leaf({2}, 540), leaf({2}, 541)),
                  FN(F::batch_norm(x[0], values({2}, 542), values({2}, 543, 0.5, 2.0),
                                   F::BatchNormFuncOptions().weight(x[1]).bias(x[2]).training(false))));
DG_GRADCHECK_CASE(batch_norm_permuted_input, "batch_norm", IN(leaf({3, 4, 2}, 544), leaf({2}, 545), leaf({2}, 546)),
                  FN(F::batch_norm(x[0].permute({0, 2, 1}), Tensor(), Tensor(),
                                   F::BatchNormFuncOptions().weight(x[1]).bias(x[2]).training(true))));

// batch_norm_relu: batch norm with the ReLU's mask on dY (Sequential's BatchNorm → ReLU).
// (Fixed seeds: a normalised value within the finite-difference step of the kink at 0 would fail the case.)
DG_GRADCHECK_CASE(batch_norm_relu_1d_train, "batch_norm_relu", IN(leaf({6, 3}, 547), leaf({3}, 548), leaf({3}, 549)),
                  FN(F::detail::batch_norm_relu(x[0], Tensor(), Tensor(), x[1], x[2], true, 0.0, 1e-5)));
DG_GRADCHECK_CASE(batch_norm_relu_2d_train_no_affine, "batch_norm_relu", IN(leaf({2, 3, 2, 3}, 570)),
                  FN(F::detail::batch_norm_relu(x[0], Tensor(), Tensor(), Tensor(), Tensor(), true, 0.0, 1e-5)));
DG_GRADCHECK_CASE(batch_norm_relu_eval, "batch_norm_relu", IN(leaf({4, 2, 3}, 571), leaf({2}, 572), leaf({2}, 573)),
                  FN(F::detail::batch_norm_relu(x[0], values({2}, 574), values({2}, 575, 0.5, 2.0), x[1], x[2], false,
                                                0.0, 1e-5)));

// --------------------------------------------------------------- layer norm
DG_GRADCHECK_CASE(layer_norm_2dims, "layer_norm", IN(leaf({2, 3, 4}, 550), leaf({3, 4}, 551), leaf({3, 4}, 552)),
                  FN(F::layer_norm(x[0], F::LayerNormFuncOptions({3, 4}).weight(x[1]).bias(x[2]))));
DG_GRADCHECK_CASE(layer_norm_last_dim_no_affine, "layer_norm", IN(leaf({4, 5}, 553)),
                  FN(F::layer_norm(x[0], F::LayerNormFuncOptions({5}))));
DG_GRADCHECK_CASE(layer_norm_single_row_weight_only, "layer_norm", IN(leaf({1, 6}, 554), leaf({6}, 555)),
                  FN(F::layer_norm(x[0], F::LayerNormFuncOptions({6}).weight(x[1]).eps(1e-3))));

// --------------------------------------------------------------- group norm
DG_GRADCHECK_CASE(group_norm_spatial, "group_norm", IN(leaf({2, 6, 2, 2}, 560), leaf({6}, 561), leaf({6}, 562)),
                  FN(F::group_norm(x[0], F::GroupNormFuncOptions(3).weight(x[1]).bias(x[2]))));
DG_GRADCHECK_CASE(group_norm_one_group_no_affine, "group_norm", IN(leaf({3, 4}, 563)),
                  FN(F::group_norm(x[0], F::GroupNormFuncOptions(1))));
DG_GRADCHECK_CASE(group_norm_per_channel_batch1, "group_norm", IN(leaf({1, 3, 5}, 564), leaf({3}, 565), leaf({3}, 566)),
                  FN(F::group_norm(x[0], F::GroupNormFuncOptions(3).weight(x[1]).bias(x[2]))));

// ---------------------------------------------------------------- embedding
DG_GRADCHECK_CASE(embedding_repeated_indices, "embedding", IN(leaf({6, 3}, 570)),
                  FN(F::embedding(labels({1, 4, 1, 0, 5, 1}).reshape({2, 3}), x[0])));
// (padding_idx and scale_grad_by_freq change the gradient on purpose — no
// gradient to the padding row, rows scaled by 1/count — so they are checked
// against PyTorch in test_layers_golden.cpp, not by finite differences.)
DG_GRADCHECK_CASE(embedding_0d_and_1d_indices, "embedding", IN(leaf({4, 2}, 571)),
                  FN(F::embedding(labels({3, 3, 0}), x[0]) + F::embedding(labels({1}).reshape({}), x[0])));

// ------------------------------------------------------------ cross entropy
DG_GRADCHECK_CASE(cross_entropy_mean, "cross_entropy", IN(leaf({4, 5}, 580)),
                  FN(F::cross_entropy(x[0], labels({0, 4, 2, 2}))));
DG_GRADCHECK_CASE(cross_entropy_sum_batch1, "cross_entropy", IN(leaf({1, 3}, 581)),
                  FN(F::cross_entropy(x[0], labels({2}), F::CrossEntropyFuncOptions().reduction(dg::kSum))));
DG_GRADCHECK_CASE(cross_entropy_none_weight_ignore, "cross_entropy", IN(leaf({5, 4}, 582)),
                  FN(F::cross_entropy(x[0], labels({0, -100, 3, 1, 3}), F::CrossEntropyFuncOptions()
                                                                             .reduction(dg::kNone)
                                                                             .weight(values({4}, 583, 0.5, 2)))));
DG_GRADCHECK_CASE(cross_entropy_mean_weight_smooth_ignore, "cross_entropy", IN(leaf({5, 4}, 584)),
                  FN(F::cross_entropy(x[0], labels({0, 2, 3, -1, 3}), F::CrossEntropyFuncOptions()
                                                                          .ignore_index(-1)
                                                                          .label_smoothing(0.2)
                                                                          .weight(values({4}, 585, 0.5, 2)))));
DG_GRADCHECK_CASE(cross_entropy_smooth_unweighted_ignore, "cross_entropy", IN(leaf({4, 3}, 586)),
                  FN(F::cross_entropy(x[0], labels({0, -100, 2, 1}), F::CrossEntropyFuncOptions().label_smoothing(0.3))));
DG_GRADCHECK_CASE(cross_entropy_kdim, "cross_entropy", IN(leaf({2, 3, 2, 2}, 587)),
                  FN(F::cross_entropy(x[0], labels({0, 1, 2, 2, 1, 0, 0, 2}).reshape({2, 2, 2}),
                                      F::CrossEntropyFuncOptions().label_smoothing(0.1))));
DG_GRADCHECK_CASE(cross_entropy_unbatched, "cross_entropy", IN(leaf({4}, 588)),
                  FN(F::cross_entropy(x[0], dg::tensor(std::vector<int64_t>{3}).reshape({}))));
DG_GRADCHECK_CASE(cross_entropy_probabilities, "cross_entropy", IN(leaf({3, 4}, 589)),
                  FN(F::cross_entropy(x[0], dg::softmax(values({3, 4}, 590), 1), F::CrossEntropyFuncOptions()
                                                                                      .label_smoothing(0.1)
                                                                                      .weight(values({4}, 591, 0.5, 2)))));
DG_GRADCHECK_CASE(cross_entropy_transposed_scores, "cross_entropy", IN(leaf({3, 4}, 592)),
                  FN(F::cross_entropy(x[0].t(), labels({0, 2, 1, 1}))));

// ----------------------------------------------------------------- nll loss
DG_GRADCHECK_CASE(nll_loss_weight_ignore_mean, "nll_loss", IN(leaf({5, 3}, 600)),
                  FN(F::nll_loss(dg::log_softmax(x[0], 1), labels({0, 2, -100, 1, 2}),
                                 F::NLLLossFuncOptions().weight(values({3}, 601, 0.5, 2)))));
DG_GRADCHECK_CASE(nll_loss_none_kdim, "nll_loss", IN(leaf({2, 3, 2}, 602)),
                  FN(F::nll_loss(x[0], labels({0, 2, 1, 1}).reshape({2, 2}), F::NLLLossFuncOptions().reduction(dg::kNone))));

// ---------------------------------------------------------- multi-margin (SVM)
DG_GRADCHECK_CASE(multi_margin_svm, "multi_margin_loss", IN(leaf({4, 5}, 610)),
                  FN(F::multi_margin_loss(x[0], labels({1, 0, 4, 4}))));
DG_GRADCHECK_CASE(multi_margin_p2_weight_sum, "multi_margin_loss", IN(leaf({3, 4}, 611)),
                  FN(F::multi_margin_loss(x[0], labels({3, 1, 0}), F::MultiMarginLossFuncOptions()
                                                                       .p(2)
                                                                       .margin(0.8)
                                                                       .weight(values({4}, 612, 0.5, 2))
                                                                       .reduction(dg::kSum))));
DG_GRADCHECK_CASE(multi_margin_unbatched_none, "multi_margin_loss", IN(leaf({5}, 613)),
                  FN(F::multi_margin_loss(x[0], dg::tensor(std::vector<int64_t>{2}).reshape({}),
                                          F::MultiMarginLossFuncOptions().reduction(dg::kNone))));

// ------------------------------------------ mse, l1, Huber and smooth L1
DG_GRADCHECK_CASE(mse_mean, "mse_loss", IN(leaf({3, 4}, 648, -3, 3), leaf({3, 4}, 649, -3, 3)),
                  FN(F::mse_loss(x[0], x[1])));
DG_GRADCHECK_CASE(mse_sum_strided, "mse_loss", IN(leaf({4, 3}, 650, -3, 3), leaf({3, 4}, 651, -3, 3)),
                  FN(F::mse_loss(x[0].t(), x[1], F::MSELossFuncOptions().reduction(dg::kSum))));
DG_GRADCHECK_CASE(mse_none, "mse_loss", IN(leaf({2, 5}, 652, -2, 2), leaf({2, 5}, 653, -2, 2)),
                  FN(F::mse_loss(x[0], x[1], F::MSELossFuncOptions().reduction(dg::kNone))));
DG_GRADCHECK_CASE(l1_mean, "l1_loss", IN(leaf({3, 4}, 654, -3, 3), leaf({3, 4}, 655, -3, 3)),
                  FN(F::l1_loss(x[0], x[1])));
DG_GRADCHECK_CASE(l1_none, "l1_loss", IN(leaf({7}, 656, -2, 2), leaf({7}, 657, -2, 2)),
                  FN(F::l1_loss(x[0], x[1], F::L1LossFuncOptions().reduction(dg::kNone))));
DG_GRADCHECK_CASE(huber_mean, "huber_loss", IN(leaf({3, 4}, 640, -3, 3), leaf({3, 4}, 641, -3, 3)),
                  FN(F::huber_loss(x[0], x[1])));
DG_GRADCHECK_CASE(huber_delta_none, "huber_loss", IN(leaf({2, 5}, 642, -2, 2), leaf({2, 5}, 643, -2, 2)),
                  FN(F::huber_loss(x[0], x[1], F::HuberLossFuncOptions().delta(0.5).reduction(dg::kNone))));
DG_GRADCHECK_CASE(smooth_l1_mean, "smooth_l1_loss", IN(leaf({3, 4}, 644, -3, 3), leaf({3, 4}, 645, -3, 3)),
                  FN(F::smooth_l1_loss(x[0], x[1])));
DG_GRADCHECK_CASE(smooth_l1_beta_sum, "smooth_l1_loss", IN(leaf({7}, 646, -2, 2), leaf({7}, 647, -2, 2)),
                  FN(F::smooth_l1_loss(x[0], x[1], F::SmoothL1LossFuncOptions().beta(0.7).reduction(dg::kSum))));

// ------------------------------------------------------------------- BCE
DG_GRADCHECK_CASE(bce_mean, "binary_cross_entropy", IN(leaf({3, 4}, 620, 0.1, 0.9), leaf({3, 4}, 621, 0, 1)),
                  FN(F::binary_cross_entropy(x[0], x[1])));
DG_GRADCHECK_CASE(bce_weight_none, "binary_cross_entropy", IN(leaf({2, 3}, 622, 0.1, 0.9), leaf({2, 3}, 623, 0, 1)),
                  FN(F::binary_cross_entropy(x[0], x[1], F::BinaryCrossEntropyFuncOptions()
                                                             .weight(values({3}, 624, 0.5, 2))
                                                             .reduction(dg::kNone))));
DG_GRADCHECK_CASE(bce_logits_mean, "binary_cross_entropy_with_logits", IN(leaf({3, 4}, 630, -4, 4), leaf({3, 4}, 631, 0, 1)),
                  FN(F::binary_cross_entropy_with_logits(x[0], x[1])));
DG_GRADCHECK_CASE(bce_logits_pos_weight_weight_sum, "binary_cross_entropy_with_logits",
                  IN(leaf({2, 3}, 632, -4, 4), leaf({2, 3}, 633, 0, 1)),
                  FN(F::binary_cross_entropy_with_logits(x[0], x[1], F::BinaryCrossEntropyWithLogitsFuncOptions()
                                                                         .pos_weight(values({3}, 634, 0.5, 3))
                                                                         .weight(values({2, 1}, 635, 0.5, 2))
                                                                         .reduction(dg::kSum))));
