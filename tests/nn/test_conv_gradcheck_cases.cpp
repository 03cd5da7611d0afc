// Float64 gradcheck cases of the conv and pooling rows of DG_OP_TABLE (conv2d,
// conv2d_max_pool2d, max_pool2d, avg_pool2d, adaptive_avg_pool2d), registered for the coverage test
// (tests/ops/gradcheck_registry.hpp). This file also instantiates the cases of
// the whole test_nn binary (DG_GRADCHECK_TESTS, once per binary).
#include "dimgrad/nn/conv.hpp"
#include "dimgrad/nn/pooling.hpp"
#include "ops/gradcheck_registry.hpp"

using dg::Tensor;
using dg::TensorList;
using dg::test::leaf;
namespace F = dg::nn::functional;

namespace {

// Distinct values 0.1 apart in a scrambled order (a multiplicative permutation
// of 0..n-1): the argmax of a max-pool window never flips under the
// finite-difference step.
Tensor distinct_leaf(dg::IntArrayRef shape, int64_t mult) {
  const int64_t n = dg::checked_numel(shape);
  Tensor t = dg::zeros(shape, dg::kFloat64);
  double* p = t.data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) p[i] = static_cast<double>((i * mult) % n) * 0.1 - 0.05 * static_cast<double>(n);
  return t.requires_grad_();
}

}  // namespace

#define IN(...) [] { return TensorList{__VA_ARGS__}; }
#define FN(...) [](const TensorList& x) -> Tensor { return __VA_ARGS__; }

// ------------------------------------------------------------------- conv2d
DG_GRADCHECK_CASE(conv2d_k3_p1_bias, "conv2d", IN(leaf({2, 2, 5, 4}, 301), leaf({3, 2, 3, 3}, 302), leaf({3}, 303)),
                  FN(dg::conv2d(x[0], x[1], x[2], 1, 1)));
DG_GRADCHECK_CASE(conv2d_batch1_nonsquare_s2_p1, "conv2d",
                  IN(leaf({1, 2, 6, 5}, 304), leaf({2, 2, 2, 3}, 305), leaf({2}, 306)),
                  FN(dg::conv2d(x[0], x[1], x[2], 2, 1)));
DG_GRADCHECK_CASE(conv2d_dilation2_no_bias, "conv2d", IN(leaf({2, 1, 6, 6}, 307), leaf({2, 1, 3, 3}, 308)),
                  FN(dg::conv2d(x[0], x[1], Tensor(), 1, {2, 1}, 2)));
DG_GRADCHECK_CASE(conv2d_groups2_stride2x1, "conv2d",
                  IN(leaf({2, 4, 5, 5}, 309), leaf({6, 2, 3, 2}, 310), leaf({6}, 311)),
                  FN(dg::conv2d(x[0], x[1], x[2], {2, 1}, {1, 0}, 1, 2)));
DG_GRADCHECK_CASE(conv2d_pointwise, "conv2d", IN(leaf({2, 3, 3, 4}, 312), leaf({2, 3, 1, 1}, 313), leaf({2}, 314)),
                  FN(dg::conv2d(x[0], x[1], x[2])));
DG_GRADCHECK_CASE(conv2d_functional_same, "conv2d", IN(leaf({1, 2, 5, 4}, 315), leaf({2, 2, 4, 4}, 316)),
                  FN(dg::nn::functional::conv2d(x[0], x[1], dg::nn::functional::Conv2dFuncOptions().padding(dg::kSame))));
DG_GRADCHECK_CASE(conv2d_transposed_input, "conv2d", IN(leaf({1, 2, 4, 5}, 317), leaf({2, 2, 2, 2}, 318)),
                  FN(dg::conv2d(x[0].transpose(2, 3), x[1])));

// --------------------------------------------------------------- max_pool2d
DG_GRADCHECK_CASE(max_pool2d_k2, "max_pool2d", IN(distinct_leaf({2, 2, 4, 6}, 37)), FN(dg::max_pool2d(x[0], 2)));
DG_GRADCHECK_CASE(max_pool2d_k3_s2_p1_overlap, "max_pool2d", IN(distinct_leaf({1, 2, 7, 6}, 41)),
                  FN(dg::max_pool2d(x[0], 3, 2, 1)));
DG_GRADCHECK_CASE(max_pool2d_nonsquare_dilation_ceil, "max_pool2d", IN(distinct_leaf({2, 1, 7, 8}, 43)),
                  FN(dg::max_pool2d(x[0], {2, 3}, {2, 2}, {1, 0}, {2, 1}, true)));
DG_GRADCHECK_CASE(max_pool2d_unbatched, "max_pool2d", IN(distinct_leaf({3, 5, 5}, 47)),
                  FN(dg::max_pool2d(x[0], 2, 1)));

// -------------------------------------------------------- conv2d_max_pool2d
// Sequential's Conv2d → MaxPool2d as one op; float64 runs the NCHW kernels (the
// NHWC path is float32 only and is tested bit for bit against the composition in
// test_conv_pool.cpp). A 2×2 window tiling the output (window codes), and an
// overlapping padded one (int64 argmax), with and without bias. (Fixed seeds: two
// outputs of a window within the finite-difference step of each other would fail.)
DG_GRADCHECK_CASE(conv2d_max_pool2d_k2_tiles, "conv2d_max_pool2d",
                  IN(leaf({2, 3, 6, 4}, 61), leaf({4, 3, 3, 3}, 62), leaf({4}, 63)),
                  FN(F::detail::conv2d_max_pool2d(x[0], x[1], x[2], 1, 1, 1, 1, 2)));
DG_GRADCHECK_CASE(conv2d_max_pool2d_stride2_overlap_no_bias, "conv2d_max_pool2d",
                  IN(leaf({1, 2, 9, 8}, 64), leaf({3, 2, 2, 3}, 65)),
                  FN(F::detail::conv2d_max_pool2d(x[0], x[1], Tensor(), {2, 1}, {0, 1}, 1, 1, 3, 2, 1)));

// --------------------------------------------------------------- avg_pool2d
DG_GRADCHECK_CASE(avg_pool2d_k2, "avg_pool2d", IN(leaf({2, 2, 4, 6}, 321)), FN(dg::avg_pool2d(x[0], 2)));
DG_GRADCHECK_CASE(avg_pool2d_k3_s2_p1_exclude_pad_ceil, "avg_pool2d", IN(leaf({1, 2, 6, 7}, 322)),
                  FN(dg::avg_pool2d(x[0], 3, 2, 1, true, false)));
DG_GRADCHECK_CASE(avg_pool2d_nonsquare_divisor, "avg_pool2d", IN(leaf({2, 1, 5, 6}, 323)),
                  FN(dg::avg_pool2d(x[0], {2, 3}, {1, 2}, 0, false, true, 4)));

// ------------------------------------------------------ adaptive_avg_pool2d
DG_GRADCHECK_CASE(adaptive_avg_pool2d_7to3, "adaptive_avg_pool2d", IN(leaf({2, 2, 7, 7}, 331)),
                  FN(dg::adaptive_avg_pool2d(x[0], 3)));
DG_GRADCHECK_CASE(adaptive_avg_pool2d_5x9to2x4, "adaptive_avg_pool2d", IN(leaf({1, 3, 5, 9}, 332)),
                  FN(dg::adaptive_avg_pool2d(x[0], {2, 4})));
DG_GRADCHECK_CASE(adaptive_avg_pool2d_upsample, "adaptive_avg_pool2d", IN(leaf({1, 1, 3, 2}, 333)),
                  FN(dg::adaptive_avg_pool2d(x[0], {5, 3})));

DG_GRADCHECK_TESTS();
