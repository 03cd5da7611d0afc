// Float64 gradchecks (central differences, full Jacobian) of every core op of
// DG_OP_TABLE: broadcast pairs (4×1×3 with 2×3, [3] with [2,3], 0-d operands),
// non-contiguous inputs (transposed, narrowed, expanded, permuted views), every
// matmul form, keepdim variants, unbiased var, max/min over a dim, cat/stack,
// index_select/gather with repeated indices, softmax/log_softmax on several dims.
// Inputs stay away from kinks: relu/abs/clamp inputs are not near 0 or the clamp
// bounds, maximum/minimum operands never tie, max/min values are distinct.
//
// Gradcheck needs contiguous leaves, so a non-contiguous input is made inside
// the function: `x[0].t() + x[1]` hands the op a transposed view of a leaf.
#include <cmath>

#include <dimgrad/autograd/function.hpp>

#include "ops/gradcheck_registry.hpp"

using dg::Tensor;
using dg::TensorList;
using dg::test::leaf;
using dg::test::values;

#define IN(...) [] { return TensorList{__VA_ARGS__}; }
#define FN(...) [](const TensorList& x) -> Tensor { return __VA_ARGS__; }

// ------------------------------------------------------------ arithmetic.cpp
DG_GRADCHECK_CASE(add_4x1x3_2x3, "add", IN(leaf({4, 1, 3}, 1), leaf({2, 3}, 2)), FN(x[0] + x[1]));
DG_GRADCHECK_CASE(add_3_2x3, "add", IN(leaf({3}, 3), leaf({2, 3}, 4)), FN(x[0] + x[1]));
DG_GRADCHECK_CASE(add_0d_2x3, "add", IN(leaf({}, 5), leaf({2, 3}, 6)), FN(x[0] + x[1]));
DG_GRADCHECK_CASE(add_2x3_1x1, "add", IN(leaf({2, 3}, 7), leaf({1, 1}, 8)), FN(x[0] + x[1]));
DG_GRADCHECK_CASE(add_transposed, "add", IN(leaf({3, 2}, 9), leaf({2, 3}, 10)), FN(x[0].t() + x[1]));
DG_GRADCHECK_CASE(add_narrowed, "add", IN(leaf({2, 5}, 11), leaf({2, 3}, 12)), FN(x[0].narrow(1, 1, 3) + x[1]));
DG_GRADCHECK_CASE(add_expanded, "add", IN(leaf({1, 3}, 13), leaf({2, 3}, 14)), FN(x[0].expand({2, 3}) + x[1]));
DG_GRADCHECK_CASE(add_alpha, "add", IN(leaf({2, 3}, 15), leaf({3}, 16)), FN(dg::add(x[0], x[1], -2.5)));
DG_GRADCHECK_CASE(add_same_tensor_twice, "add", IN(leaf({2, 3}, 17)), FN(x[0] + x[0]));
DG_GRADCHECK_CASE(sub_4x1x3_2x3, "sub", IN(leaf({4, 1, 3}, 18), leaf({2, 3}, 19)), FN(x[0] - x[1]));
DG_GRADCHECK_CASE(sub_3_2x3, "sub", IN(leaf({3}, 20), leaf({2, 3}, 21)), FN(x[0] - x[1]));
DG_GRADCHECK_CASE(sub_transposed_rhs, "sub", IN(leaf({2, 3}, 22), leaf({3, 2}, 23)), FN(x[0] - x[1].t()));
DG_GRADCHECK_CASE(sub_alpha, "sub", IN(leaf({2, 3}, 24), leaf({2, 1}, 25)), FN(dg::sub(x[0], x[1], 0.5)));
DG_GRADCHECK_CASE(mul_4x1x3_2x3, "mul", IN(leaf({4, 1, 3}, 26), leaf({2, 3}, 27)), FN(x[0] * x[1]));
DG_GRADCHECK_CASE(mul_3_2x3, "mul", IN(leaf({3}, 28), leaf({2, 3}, 29)), FN(x[0] * x[1]));
DG_GRADCHECK_CASE(mul_0d_2x3, "mul", IN(leaf({2, 3}, 30), leaf({}, 31)), FN(x[0] * x[1]));
DG_GRADCHECK_CASE(mul_transposed_both, "mul", IN(leaf({3, 2}, 32), leaf({3, 2}, 33)), FN(x[0].t() * x[1].t()));
DG_GRADCHECK_CASE(mul_self, "mul", IN(leaf({5}, 34)), FN(x[0] * x[0]));
DG_GRADCHECK_CASE(div_4x1x3_2x3, "div", IN(leaf({4, 1, 3}, 35), leaf({2, 3}, 36, -2, 2, 0.5)), FN(x[0] / x[1]));
DG_GRADCHECK_CASE(div_3_by_2x3, "div", IN(leaf({3}, 37), leaf({2, 3}, 38, -2, 2, 0.5)), FN(x[0] / x[1]));
DG_GRADCHECK_CASE(div_by_0d, "div", IN(leaf({2, 3}, 39), leaf({}, 40, -2, 2, 0.5)), FN(x[0] / x[1]));
DG_GRADCHECK_CASE(div_narrowed, "div", IN(leaf({4, 3}, 41, 0.5, 2), leaf({2, 3}, 42, 0.5, 2)),
                  FN(x[0].narrow(0, 1, 2) / x[1]));
DG_GRADCHECK_CASE(add_scalar, "add_scalar", IN(leaf({2, 3}, 43)), FN(x[0] + 1.5));
DG_GRADCHECK_CASE(add_scalar_left, "add_scalar", IN(leaf({3}, 44)), FN(2 + x[0]));
DG_GRADCHECK_CASE(sub_scalar, "add_scalar", IN(leaf({3}, 45)), FN(x[0] - 3));
DG_GRADCHECK_CASE(rsub_scalar, "neg", IN(leaf({2, 2}, 46)), FN(1.0 - x[0]));
DG_GRADCHECK_CASE(mul_scalar, "mul_scalar", IN(leaf({2, 3}, 47)), FN(x[0] * 2.5));
DG_GRADCHECK_CASE(mul_scalar_left, "mul_scalar", IN(leaf({3}, 48)), FN(-3 * x[0]));
DG_GRADCHECK_CASE(div_scalar, "mul_scalar", IN(leaf({3}, 49)), FN(x[0] / 4));
DG_GRADCHECK_CASE(rdiv_scalar, "rdiv_scalar", IN(leaf({2, 3}, 50, -2, 2, 0.5)), FN(2.0 / x[0]));
DG_GRADCHECK_CASE(neg, "neg", IN(leaf({2, 3}, 51)), FN(-x[0]));
DG_GRADCHECK_CASE(neg_transposed, "neg", IN(leaf({2, 3}, 52)), FN(dg::neg(x[0].t())));
DG_GRADCHECK_CASE(pow_2, "pow", IN(leaf({2, 3}, 53)), FN(x[0].pow(2)));
DG_GRADCHECK_CASE(pow_3_negative_base, "pow", IN(leaf({2, 3}, 54)), FN(x[0].pow(3)));
DG_GRADCHECK_CASE(pow_half, "pow", IN(leaf({2, 3}, 55, 0.3, 2.5)), FN(x[0].pow(0.5)));
DG_GRADCHECK_CASE(pow_minus_1_5, "pow", IN(leaf({2, 3}, 56, 0.3, 2.5)), FN(x[0].pow(-1.5)));
DG_GRADCHECK_CASE(square, "pow", IN(leaf({4}, 57)), FN(x[0].square()));
DG_GRADCHECK_CASE(rsqrt, "pow", IN(leaf({4}, 58, 0.3, 2.5)), FN(x[0].rsqrt()));
DG_GRADCHECK_CASE(maximum_broadcast, "maximum", IN(leaf({2, 3}, 59), leaf({3}, 60)), FN(dg::maximum(x[0], x[1])));
DG_GRADCHECK_CASE(maximum_transposed, "maximum", IN(leaf({3, 2}, 61), leaf({2, 3}, 62)),
                  FN(dg::maximum(x[0].t(), x[1])));
DG_GRADCHECK_CASE(minimum_broadcast, "minimum", IN(leaf({4, 1}, 63), leaf({2, 4, 3}, 64)),
                  FN(dg::minimum(x[0], x[1])));
DG_GRADCHECK_CASE(where_broadcast, "where", IN(leaf({2, 3}, 65), leaf({3}, 66)),
                  FN(dg::where(values({2, 3}, 67).gt(0), x[0], x[1])));
DG_GRADCHECK_CASE(where_cond_broadcast, "where", IN(leaf({2, 3}, 68), leaf({2, 3}, 69)),
                  FN(dg::where(values({3}, 70).gt(0), x[0], x[1])));
DG_GRADCHECK_CASE(where_scalar_other, "where", IN(leaf({2, 3}, 71)), FN(dg::where(x[0].gt(0), x[0], 0.5)));

// ----------------------------------------------------------------- unary.cpp
DG_GRADCHECK_CASE(exp, "exp", IN(leaf({2, 3}, 72)), FN(x[0].exp()));
DG_GRADCHECK_CASE(exp_transposed, "exp", IN(leaf({3, 2}, 73)), FN(dg::exp(x[0].t())));
DG_GRADCHECK_CASE(log, "log", IN(leaf({2, 3}, 74, 0.3, 3)), FN(x[0].log()));
DG_GRADCHECK_CASE(sqrt, "sqrt", IN(leaf({2, 3}, 75, 0.3, 3)), FN(x[0].sqrt()));
DG_GRADCHECK_CASE(abs, "abs", IN(leaf({2, 3}, 76, -2, 2, 0.2)), FN(x[0].abs()));
DG_GRADCHECK_CASE(tanh, "tanh", IN(leaf({2, 3}, 77)), FN(x[0].tanh()));
DG_GRADCHECK_CASE(sigmoid, "sigmoid", IN(leaf({2, 3}, 78, -5, 5)), FN(x[0].sigmoid()));
DG_GRADCHECK_CASE(relu, "relu", IN(leaf({3, 3}, 79, -2, 2, 0.2)), FN(x[0].relu()));
DG_GRADCHECK_CASE(relu_expanded, "relu", IN(leaf({3}, 80, -2, 2, 0.2)), FN(dg::relu(x[0].expand({2, 3}))));
DG_GRADCHECK_CASE(clamp_both, "clamp",
                  IN(dg::tensor({-2.5, -1.5, -0.5, 0.3, 0.9, 1.7, 2.4, -0.2}, dg::kFloat64).reshape({2, 4}).requires_grad_()),
                  FN(x[0].clamp(-1.0, 1.0)));
DG_GRADCHECK_CASE(clamp_min, "clamp", IN(leaf({2, 3}, 81, -2, 2, 0.2)), FN(x[0].clamp_min(0.0)));
DG_GRADCHECK_CASE(clamp_max, "clamp", IN(leaf({2, 3}, 82, -2, 2, 0.2)), FN(dg::clamp_max(x[0], 0.0)));

// ---------------------------------------------------------------- reduce.cpp
DG_GRADCHECK_CASE(sum_all, "sum", IN(leaf({2, 3, 4}, 83)), FN(x[0].sum()));
DG_GRADCHECK_CASE(sum_dim1, "sum", IN(leaf({2, 3, 4}, 84)), FN(x[0].sum({1})));
DG_GRADCHECK_CASE(sum_dims_keepdim, "sum", IN(leaf({2, 3, 4}, 85)), FN(x[0].sum({0, 2}, true)));
DG_GRADCHECK_CASE(sum_negative_dim, "sum", IN(leaf({2, 3}, 86)), FN(x[0].sum({-1}, true)));
DG_GRADCHECK_CASE(sum_permuted, "sum", IN(leaf({2, 3, 4}, 87)), FN(x[0].permute({2, 0, 1}).sum({0})));
DG_GRADCHECK_CASE(mean_all, "mean", IN(leaf({3, 5}, 88)), FN(x[0].mean()));
DG_GRADCHECK_CASE(mean_dim_keepdim, "mean", IN(leaf({2, 3, 4}, 89)), FN(x[0].mean({1}, true)));
DG_GRADCHECK_CASE(mean_dims, "mean", IN(leaf({2, 3, 4}, 90)), FN(x[0].mean({0, 2})));
DG_GRADCHECK_CASE(var_all_unbiased, "var", IN(leaf({3, 5}, 91)), FN(x[0].var()));
DG_GRADCHECK_CASE(var_all_biased, "var", IN(leaf({3, 5}, 92)), FN(x[0].var(false)));
DG_GRADCHECK_CASE(var_dim_keepdim, "var", IN(leaf({2, 3, 4}, 93)), FN(x[0].var({1}, true, true)));
DG_GRADCHECK_CASE(var_dims, "var", IN(leaf({2, 3, 4}, 94)), FN(x[0].var({0, 2}, true, false)));
DG_GRADCHECK_CASE(var_transposed, "var", IN(leaf({4, 3}, 95)), FN(x[0].t().var({1}, false, false)));
DG_GRADCHECK_CASE(std_all, "var", IN(leaf({3, 4}, 96)), FN(x[0].std()));
DG_GRADCHECK_CASE(max_all, "max", IN(leaf({3, 4}, 97)), FN(x[0].max()));
DG_GRADCHECK_CASE(min_all, "min", IN(leaf({3, 4}, 98)), FN(x[0].min()));
DG_GRADCHECK_CASE(max_dim0, "max_dim", IN(leaf({3, 4}, 99)), FN(std::get<0>(x[0].max(0))));
DG_GRADCHECK_CASE(max_dim1_keepdim, "max_dim", IN(leaf({2, 3, 4}, 100)), FN(std::get<0>(x[0].max(1, true))));
DG_GRADCHECK_CASE(max_dim_last, "max_dim", IN(leaf({2, 3, 4}, 101)), FN(std::get<0>(dg::max(x[0], -1))));
DG_GRADCHECK_CASE(max_dim_transposed, "max_dim", IN(leaf({4, 3}, 102)), FN(std::get<0>(x[0].t().max(1))));
DG_GRADCHECK_CASE(min_dim0_keepdim, "min_dim", IN(leaf({3, 4}, 103)), FN(std::get<0>(x[0].min(0, true))));
DG_GRADCHECK_CASE(min_dim2, "min_dim", IN(leaf({2, 3, 4}, 104)), FN(std::get<0>(dg::min(x[0], 2))));
DG_GRADCHECK_CASE(amax_all, "amax", IN(leaf({3, 4}, 2001)), FN(x[0].amax()));
DG_GRADCHECK_CASE(amax_dims_keepdim, "amax", IN(leaf({2, 3, 4}, 2002)), FN(x[0].amax({0, 2}, true)));
DG_GRADCHECK_CASE(amax_transposed, "amax", IN(leaf({4, 3}, 2003)), FN(dg::amax(x[0].t(), {-1})));
DG_GRADCHECK_CASE(amin_dim, "amin", IN(leaf({2, 3, 4}, 2004)), FN(x[0].amin({1})));
DG_GRADCHECK_CASE(logsumexp_dim, "logsumexp", IN(leaf({3, 5}, 2005, -4, 4)), FN(x[0].logsumexp({1})));
DG_GRADCHECK_CASE(logsumexp_dims_keepdim, "logsumexp", IN(leaf({2, 3, 4}, 2006, -4, 4)),
                  FN(dg::logsumexp(x[0], {0, 2}, true)));
DG_GRADCHECK_CASE(logsumexp_large, "logsumexp", IN(leaf({2, 3}, 2007, 500, 510)), FN(x[0].logsumexp({0})));
DG_GRADCHECK_CASE(prod_all, "prod", IN(leaf({2, 3}, 2008, 0.5, 1.5)), FN(x[0].prod()));
DG_GRADCHECK_CASE(prod_dim, "prod", IN(leaf({3, 4, 2}, 2009)), FN(x[0].prod(1)));
DG_GRADCHECK_CASE(prod_dim_keepdim_transposed, "prod", IN(leaf({4, 3}, 2010)), FN(x[0].t().prod(-1, true)));
// a zero in the product: the others' product, not Y / A
DG_GRADCHECK_CASE(prod_with_zero, "prod", IN(leaf({2, 4}, 2011)),
                  FN(dg::prod(x[0] * dg::tensor({1.0, 0.0, 1.0, 1.0}, dg::kFloat64), 1)));
DG_GRADCHECK_CASE(norm_all, "norm", IN(leaf({3, 4}, 2016)), FN(x[0].norm()));
DG_GRADCHECK_CASE(norm_rows_keepdim, "norm", IN(leaf({3, 5}, 2017)), FN(x[0].norm(2, {1}, true)));
DG_GRADCHECK_CASE(norm_dims_l1, "norm", IN(leaf({2, 3, 4}, 2018)), FN(x[0].norm(1, {0, 2})));
DG_GRADCHECK_CASE(norm_p3_transposed, "norm", IN(leaf({4, 3}, 2019)), FN(dg::norm(x[0].t(), 3, {-1})));
DG_GRADCHECK_CASE(norm_p_half, "norm", IN(leaf({2, 3}, 2020)), FN(x[0].norm(0.5, {0})));
DG_GRADCHECK_CASE(norm_p_negative, "norm", IN(leaf({2, 3}, 2021)), FN(x[0].norm(-2.5, {1})));
DG_GRADCHECK_CASE(norm_inf, "norm", IN(leaf({3, 4}, 2022)), FN(dg::linalg::vector_norm(x[0], INFINITY, {1})));
DG_GRADCHECK_CASE(norm_neg_inf, "norm", IN(leaf({2, 3, 2}, 2023)), FN(x[0].norm(-INFINITY, {0, 2}, true)));
DG_GRADCHECK_CASE(norm_middle_dim, "norm", IN(leaf({2, 4, 3}, 2024)), FN(x[0].norm(1.5, {1})));

// ------------------------------------------------------------------ scan.cpp
DG_GRADCHECK_CASE(cumsum_dim0, "cumsum", IN(leaf({4, 3}, 2012)), FN(x[0].cumsum(0)));
DG_GRADCHECK_CASE(cumsum_last, "cumsum", IN(leaf({2, 3, 5}, 2013)), FN(dg::cumsum(x[0], -1)));
DG_GRADCHECK_CASE(cumsum_transposed, "cumsum", IN(leaf({3, 4}, 2014)), FN(x[0].t().cumsum(1)));
DG_GRADCHECK_CASE(cumsum_twice, "cumsum", IN(leaf({5}, 2015)), FN(x[0].cumsum(0).cumsum(0)));

// ---------------------------------------------------------------- linalg.cpp
// matmul is composed of mm / bmm (and views), so its cases name those rows.
DG_GRADCHECK_CASE(mm, "mm", IN(leaf({3, 4}, 105), leaf({4, 2}, 106)), FN(dg::mm(x[0], x[1])));
DG_GRADCHECK_CASE(mm_transposed_a, "mm", IN(leaf({4, 3}, 107), leaf({4, 2}, 108)), FN(x[0].t().mm(x[1])));
DG_GRADCHECK_CASE(mm_transposed_b, "mm", IN(leaf({3, 4}, 109), leaf({2, 4}, 110)), FN(x[0].mm(x[1].t())));
DG_GRADCHECK_CASE(mm_narrowed, "mm", IN(leaf({3, 6}, 111), leaf({4, 2}, 112)), FN(x[0].narrow(1, 1, 4).mm(x[1])));
DG_GRADCHECK_CASE(matmul_1d_1d, "mm", IN(leaf({4}, 113), leaf({4}, 114)), FN(dg::matmul(x[0], x[1])));
DG_GRADCHECK_CASE(matmul_2d_1d, "mm", IN(leaf({3, 4}, 115), leaf({4}, 116)), FN(dg::matmul(x[0], x[1])));
DG_GRADCHECK_CASE(matmul_1d_2d, "mm", IN(leaf({4}, 117), leaf({4, 2}, 118)), FN(dg::matmul(x[0], x[1])));
DG_GRADCHECK_CASE(matmul_3d_2d, "mm", IN(leaf({2, 3, 4}, 119), leaf({4, 5}, 120)), FN(x[0].matmul(x[1])));
DG_GRADCHECK_CASE(matmul_3d_1d, "mm", IN(leaf({2, 3, 4}, 121), leaf({4}, 122)), FN(x[0].matmul(x[1])));
DG_GRADCHECK_CASE(bmm, "bmm", IN(leaf({2, 3, 4}, 123), leaf({2, 4, 5}, 124)), FN(dg::bmm(x[0], x[1])));
DG_GRADCHECK_CASE(bmm_transposed, "bmm", IN(leaf({2, 4, 3}, 125), leaf({2, 4, 5}, 126)),
                  FN(dg::bmm(x[0].transpose(1, 2), x[1])));
DG_GRADCHECK_CASE(matmul_3d_3d, "bmm", IN(leaf({2, 3, 4}, 127), leaf({2, 4, 5}, 128)), FN(x[0].matmul(x[1])));
DG_GRADCHECK_CASE(matmul_1d_3d, "bmm", IN(leaf({4}, 129), leaf({2, 4, 5}, 130)), FN(dg::matmul(x[0], x[1])));
DG_GRADCHECK_CASE(matmul_2d_3d, "bmm", IN(leaf({3, 4}, 131), leaf({2, 4, 5}, 132)), FN(dg::matmul(x[0], x[1])));
DG_GRADCHECK_CASE(matmul_broadcast_batch, "bmm", IN(leaf({2, 1, 3, 4}, 133), leaf({5, 4, 2}, 134)),
                  FN(dg::matmul(x[0], x[1])));

// ----------------------------------------------------------------- shape.cpp
DG_GRADCHECK_CASE(reshape, "reshape", IN(leaf({2, 3, 4}, 135)), FN(x[0].reshape({4, -1}) * values({4, 6}, 136)));
DG_GRADCHECK_CASE(reshape_copy, "reshape", IN(leaf({3, 4}, 137)), FN(x[0].t().reshape({-1}) * values({12}, 138)));
DG_GRADCHECK_CASE(view, "reshape", IN(leaf({2, 6}, 139)), FN(x[0].view({3, 4}) * values({3, 4}, 140)));
DG_GRADCHECK_CASE(flatten, "reshape", IN(leaf({2, 3, 2}, 141)), FN(x[0].flatten(1) * values({2, 6}, 142)));
DG_GRADCHECK_CASE(unsqueeze, "reshape", IN(leaf({2, 3}, 143)), FN(x[0].unsqueeze(1) * values({2, 4, 3}, 144)));
DG_GRADCHECK_CASE(squeeze, "reshape", IN(leaf({2, 1, 3, 1}, 145)), FN(x[0].squeeze() * values({3}, 146)));
DG_GRADCHECK_CASE(squeeze_dim, "reshape", IN(leaf({2, 1, 3}, 147)), FN(x[0].squeeze(1) * values({2, 3}, 148)));
DG_GRADCHECK_CASE(permute, "permute", IN(leaf({2, 3, 4}, 149)), FN(x[0].permute({2, 0, 1}) * values({4, 2, 3}, 150)));
DG_GRADCHECK_CASE(transpose, "permute", IN(leaf({2, 3, 4}, 151)), FN(x[0].transpose(0, 2) * values({4, 3, 2}, 152)));
DG_GRADCHECK_CASE(t, "permute", IN(leaf({2, 3}, 153)), FN(x[0].t() * values({3, 2}, 154)));
DG_GRADCHECK_CASE(expand, "expand", IN(leaf({3, 1}, 155)), FN(x[0].expand({2, 3, 4}) * values({2, 3, 4}, 156)));
DG_GRADCHECK_CASE(expand_as, "expand", IN(leaf({1, 4}, 157)), FN(x[0].expand_as(values({3, 4}, 0)) * values({3, 4}, 158)));
DG_GRADCHECK_CASE(narrow, "narrow", IN(leaf({2, 3, 4}, 159)), FN(x[0].narrow(2, 1, 2) * values({2, 3, 2}, 160)));
DG_GRADCHECK_CASE(narrow_negative_start, "narrow", IN(leaf({5, 2}, 161)), FN(x[0].narrow(0, -3, 2) * 1.5));
DG_GRADCHECK_CASE(narrow_of_transposed, "narrow", IN(leaf({4, 3}, 162)), FN(x[0].t().narrow(1, 1, 2) * 2.0));
DG_GRADCHECK_CASE(select, "select", IN(leaf({2, 3, 4}, 163)), FN(x[0].select(1, -1) * values({2, 4}, 164)));
DG_GRADCHECK_CASE(select_index_op, "select", IN(leaf({3, 2}, 165)), FN(x[0][1] * values({2}, 166)));
DG_GRADCHECK_CASE(contiguous, "contiguous", IN(leaf({3, 4}, 167)), FN(x[0].t().contiguous() * values({4, 3}, 168)));
DG_GRADCHECK_CASE(clone, "contiguous", IN(leaf({3, 4}, 169)), FN(x[0].clone() * values({3, 4}, 170)));
// float64 → float32 → float64 rounds to float32, so the differences need a larger eps.
DG_GRADCHECK_CASE_OPT(to_dtype_round_trip, "to", IN(leaf({2, 3}, 171)), FN(x[0].to(dg::kFloat32).to(dg::kFloat64) * 3.0),
                      (dg::GradcheckOptions{1e-3, 1e-3, 1e-3, 0}));

// ----------------------------------------------------------------- index.cpp
DG_GRADCHECK_CASE(index_select_repeats, "index_select", IN(leaf({4, 3}, 172)),
                  FN(x[0].index_select(0, dg::tensor({3, 0, 3, 1}, dg::kInt64))));
DG_GRADCHECK_CASE(index_select_dim1, "index_select", IN(leaf({2, 4, 3}, 173)),
                  FN(x[0].index_select(1, dg::tensor({2, 2, 0}, dg::kInt64))));
DG_GRADCHECK_CASE(index_select_1d, "index_select", IN(leaf({5}, 174)),
                  FN(dg::index_select(x[0], 0, dg::tensor({4, 4, 4, 0}, dg::kInt64))));
DG_GRADCHECK_CASE(index_select_transposed, "index_select", IN(leaf({3, 4}, 175)),
                  FN(x[0].t().index_select(1, dg::tensor({2, 0}, dg::kInt64))));
DG_GRADCHECK_CASE(gather_dim1, "gather", IN(leaf({3, 4}, 176)),
                  FN(x[0].gather(1, dg::tensor({0, 3, 1, 1, 2, 0}, dg::kInt64).reshape({3, 2}))));
DG_GRADCHECK_CASE(gather_dim0, "gather", IN(leaf({3, 4}, 177)),
                  FN(x[0].gather(0, dg::tensor({2, 0, 1, 1, 0, 0, 2, 1}, dg::kInt64).reshape({2, 4}))));
DG_GRADCHECK_CASE(gather_3d_last, "gather", IN(leaf({2, 3, 4}, 178)),
                  FN(x[0].gather(-1, dg::tensor({3, 3, 0, 1, 2, 2}, dg::kInt64).reshape({2, 3, 1}))));
DG_GRADCHECK_CASE(cat_dim0_three, "cat", IN(leaf({2, 3}, 179), leaf({1, 3}, 180), leaf({3, 3}, 181)),
                  FN(dg::cat({x[0], x[1], x[2]}, 0)));
DG_GRADCHECK_CASE(cat_last_dim, "cat", IN(leaf({2, 3}, 182), leaf({2, 1}, 183)), FN(dg::cat({x[0], x[1]}, -1)));
DG_GRADCHECK_CASE(cat_transposed_input, "cat", IN(leaf({3, 2}, 184), leaf({2, 2}, 185)),
                  FN(dg::cat({x[0].t(), x[1]}, 1)));
DG_GRADCHECK_CASE(cat_same_tensor_twice, "cat", IN(leaf({2, 2}, 186)), FN(dg::cat({x[0], x[0] * 2.0}, 0)));
DG_GRADCHECK_CASE(stack_dim0, "stack", IN(leaf({2, 3}, 187), leaf({2, 3}, 188)), FN(dg::stack({x[0], x[1]}, 0)));
DG_GRADCHECK_CASE(stack_dim1, "stack", IN(leaf({2, 3}, 189), leaf({2, 3}, 190), leaf({2, 3}, 191)),
                  FN(dg::stack({x[0], x[1], x[2]}, 1)));
DG_GRADCHECK_CASE(stack_last, "stack", IN(leaf({2, 3}, 192), leaf({3, 2}, 193)), FN(dg::stack({x[0], x[1].t()}, -1)));

// --------------------------------------------------------------- softmax.cpp
// Weighted so that the gradient is not the (trivial) gradient of a sum.
DG_GRADCHECK_CASE(softmax_dim0, "softmax", IN(leaf({3, 4, 2}, 194)), FN(x[0].softmax(0) * values({3, 4, 2}, 195)));
DG_GRADCHECK_CASE(softmax_dim1, "softmax", IN(leaf({3, 4, 2}, 196)), FN(dg::softmax(x[0], 1) * values({3, 4, 2}, 197)));
DG_GRADCHECK_CASE(softmax_last, "softmax", IN(leaf({3, 4}, 198)), FN(x[0].softmax(-1)));
DG_GRADCHECK_CASE(softmax_transposed, "softmax", IN(leaf({4, 3}, 199)), FN(x[0].t().softmax(1) * values({3, 4}, 200)));
DG_GRADCHECK_CASE(log_softmax_dim0, "log_softmax", IN(leaf({3, 4, 2}, 201)), FN(x[0].log_softmax(0)));
DG_GRADCHECK_CASE(log_softmax_dim1, "log_softmax", IN(leaf({3, 4, 2}, 202)),
                  FN(dg::log_softmax(x[0], 1) * values({3, 4, 2}, 203)));
DG_GRADCHECK_CASE(log_softmax_last, "log_softmax", IN(leaf({2, 5}, 204, -6, 6)), FN(x[0].log_softmax(-1)));

// ---------------------------------------------------- compositions (reuse)
// micrograd's reuse test: one value feeding many ops; its gradient is the sum.
DG_GRADCHECK_CASE(reuse_cubic, "mul", IN(leaf({3}, 205)), FN(x[0] * x[0] * x[0] + x[0]));
DG_GRADCHECK_CASE(reuse_chain, "add", IN(leaf({2, 2}, 206)),
                  FN([](const Tensor& a) {
                    Tensor b = a + a;
                    Tensor c = b * a + b.tanh() - a.exp() / (b * b + 1.0);
                    return c.sum({0}) * a.mean();
                  }(x[0])));

// ------------------------------------------- autograd/function.cpp (custom)
// A user-defined op: Y = A ⊙ B + A with a hand-written backward.
struct MulAddFunction : dg::autograd::Function<MulAddFunction> {
  static Tensor forward(dg::autograd::AutogradContext* ctx, const Tensor& a, const Tensor& b) {
    ctx->save_for_backward({a, b});
    return a * b + a;
  }
  static dg::autograd::tensor_list backward(dg::autograd::AutogradContext* ctx, dg::autograd::tensor_list g) {
    auto s = ctx->get_saved_variables();
    // dA[A] = dY ⊙ (B + 1);  dB[B] = dY ⊙ A
    return {g[0] * (s[1] + 1.0), g[0] * s[0]};
  }
};
DG_GRADCHECK_CASE(custom_function, "custom", IN(leaf({2, 3}, 207), leaf({2, 3}, 208)),
                  FN(MulAddFunction::apply(x[0], x[1]) * 2.0));

DG_GRADCHECK_TESTS();
