// dimgrad — differentiable functions (LibTorch's names). Each is defined in
// src/ops/<family>.cpp next to its backward.
#pragma once

#include <optional>
#include <tuple>
#include <vector>

#include "dimgrad/tensor.hpp"

namespace dg {

// arithmetic.cpp — NumPy broadcasting, LibTorch dtype promotion
Tensor add(const Tensor& a, const Tensor& b, Scalar alpha = 1);
Tensor sub(const Tensor& a, const Tensor& b, Scalar alpha = 1);
Tensor mul(const Tensor& a, const Tensor& b);
Tensor div(const Tensor& a, const Tensor& b);
Tensor add(const Tensor& a, Scalar b);
Tensor sub(const Tensor& a, Scalar b);
Tensor mul(const Tensor& a, Scalar b);
Tensor div(const Tensor& a, Scalar b);
Tensor rsub(const Tensor& a, Scalar b);  // b - a
Tensor rdiv(const Tensor& a, Scalar b);  // b / a
Tensor neg(const Tensor& a);
Tensor pow(const Tensor& a, Scalar exponent);
Tensor square(const Tensor& a);
Tensor maximum(const Tensor& a, const Tensor& b);
Tensor minimum(const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, const Tensor& b);
Tensor where(const Tensor& cond, const Tensor& a, Scalar b);

Tensor operator+(const Tensor& a, const Tensor& b);
Tensor operator-(const Tensor& a, const Tensor& b);
Tensor operator*(const Tensor& a, const Tensor& b);
Tensor operator/(const Tensor& a, const Tensor& b);
Tensor operator+(const Tensor& a, Scalar b);
Tensor operator-(const Tensor& a, Scalar b);
Tensor operator*(const Tensor& a, Scalar b);
Tensor operator/(const Tensor& a, Scalar b);
Tensor operator+(Scalar a, const Tensor& b);
Tensor operator-(Scalar a, const Tensor& b);
Tensor operator*(Scalar a, const Tensor& b);
Tensor operator/(Scalar a, const Tensor& b);
Tensor operator-(const Tensor& a);
Tensor& operator+=(Tensor& a, const Tensor& b);
Tensor& operator-=(Tensor& a, const Tensor& b);
Tensor& operator*=(Tensor& a, const Tensor& b);
Tensor& operator/=(Tensor& a, const Tensor& b);
Tensor& operator+=(Tensor& a, Scalar b);
Tensor& operator-=(Tensor& a, Scalar b);
Tensor& operator*=(Tensor& a, Scalar b);
Tensor& operator/=(Tensor& a, Scalar b);

// unary.cpp
Tensor exp(const Tensor& a);
Tensor log(const Tensor& a);
Tensor sqrt(const Tensor& a);
Tensor rsqrt(const Tensor& a);
Tensor abs(const Tensor& a);
Tensor tanh(const Tensor& a);
Tensor sigmoid(const Tensor& a);
Tensor relu(const Tensor& a);
Tensor sign(const Tensor& a);  // not differentiable (gradient zero), like LibTorch
Tensor clamp(const Tensor& a, std::optional<Scalar> lo, std::optional<Scalar> hi = std::nullopt);
Tensor clamp_min(const Tensor& a, Scalar lo);
Tensor clamp_max(const Tensor& a, Scalar hi);

// compare.cpp — results are bool, never differentiable
Tensor gt(const Tensor& a, const Tensor& b);
Tensor lt(const Tensor& a, const Tensor& b);
Tensor ge(const Tensor& a, const Tensor& b);
Tensor le(const Tensor& a, const Tensor& b);
Tensor eq(const Tensor& a, const Tensor& b);
Tensor ne(const Tensor& a, const Tensor& b);
Tensor gt(const Tensor& a, Scalar b);
Tensor lt(const Tensor& a, Scalar b);
Tensor ge(const Tensor& a, Scalar b);
Tensor le(const Tensor& a, Scalar b);
Tensor eq(const Tensor& a, Scalar b);
Tensor ne(const Tensor& a, Scalar b);
Tensor logical_not(const Tensor& a);
Tensor operator>(const Tensor& a, const Tensor& b);
Tensor operator<(const Tensor& a, const Tensor& b);
Tensor operator>=(const Tensor& a, const Tensor& b);
Tensor operator<=(const Tensor& a, const Tensor& b);
Tensor operator==(const Tensor& a, const Tensor& b);
Tensor operator!=(const Tensor& a, const Tensor& b);
Tensor operator>(const Tensor& a, Scalar b);
Tensor operator<(const Tensor& a, Scalar b);
Tensor operator>=(const Tensor& a, Scalar b);
Tensor operator<=(const Tensor& a, Scalar b);
Tensor operator==(const Tensor& a, Scalar b);
Tensor operator!=(const Tensor& a, Scalar b);
bool equal(const Tensor& a, const Tensor& b);
bool allclose(const Tensor& a, const Tensor& b, double rtol = 1e-5, double atol = 1e-8);
Tensor isfinite(const Tensor& a);

// reduce.cpp — dims may be negative; keepdim keeps reduced dims as size 1
Tensor sum(const Tensor& a);
Tensor sum(const Tensor& a, IntArrayRef dims, bool keepdim = false);
Tensor mean(const Tensor& a);
Tensor mean(const Tensor& a, IntArrayRef dims, bool keepdim = false);
Tensor var(const Tensor& a, bool unbiased = true);
Tensor var(const Tensor& a, IntArrayRef dims, bool unbiased = true, bool keepdim = false);
Tensor std(const Tensor& a, bool unbiased = true);
Tensor std(const Tensor& a, IntArrayRef dims, bool unbiased = true, bool keepdim = false);
Tensor max(const Tensor& a);
Tensor min(const Tensor& a);
std::tuple<Tensor, Tensor> max(const Tensor& a, int64_t dim, bool keepdim = false);
std::tuple<Tensor, Tensor> min(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor argmax(const Tensor& a);
Tensor argmax(const Tensor& a, int64_t dim, bool keepdim = false);
Tensor argmin(const Tensor& a);
Tensor argmin(const Tensor& a, int64_t dim, bool keepdim = false);
// max/min values over dims (all when empty); the gradient is split between ties
Tensor amax(const Tensor& a, IntArrayRef dims = {}, bool keepdim = false);
Tensor amin(const Tensor& a, IntArrayRef dims = {}, bool keepdim = false);
// log Σ exp(a) over dims, stable for any magnitude (the max is taken out first)
Tensor logsumexp(const Tensor& a, IntArrayRef dims, bool keepdim = false);
// the product of everything or along one dim (integers and bool give int64)
Tensor prod(const Tensor& a);
Tensor prod(const Tensor& a, int64_t dim, bool keepdim = false);
// the p-norm (Σ |a|^p)^(1/p) of everything or over dims: p = 2 (Euclidean),
// 1, any p > 0, inf (max |a|), -inf (min |a|), 0 (the count of non-zeros)
Tensor norm(const Tensor& a, Scalar p = 2);
Tensor norm(const Tensor& a, std::optional<Scalar> p, IntArrayRef dims, bool keepdim = false);
namespace linalg {
// LibTorch's torch::linalg::vector_norm: the same reduction over dims (all when
// absent or empty), computed in dtype when one is given (the input cast first)
Tensor vector_norm(const Tensor& a, Scalar ord = 2, IntArrayRef dims = {}, bool keepdim = false,
                   std::optional<ScalarType> dtype = std::nullopt);
// dims = std::nullopt (LibTorch's OptionalIntArrayRef): every dim. Not one
// std::optional<IntArrayRef> parameter: optional's converting constructor would
// take {1} as an int and leave the IntArrayRef pointing at a dead temporary.
Tensor vector_norm(const Tensor& a, Scalar ord, std::nullopt_t dims, bool keepdim = false,
                   std::optional<ScalarType> dtype = std::nullopt);
}  // namespace linalg

// scan.cpp — running sum along dim, A's shape (integers and bool give int64)
Tensor cumsum(const Tensor& a, int64_t dim);

// linalg.cpp
Tensor mm(const Tensor& a, const Tensor& b);
Tensor bmm(const Tensor& a, const Tensor& b);
Tensor matmul(const Tensor& a, const Tensor& b);

// shape.cpp — views where the strides allow, copies otherwise
Tensor reshape(const Tensor& a, IntArrayRef shape);
Tensor view(const Tensor& a, IntArrayRef shape);
Tensor t(const Tensor& a);
Tensor transpose(const Tensor& a, int64_t d0, int64_t d1);
Tensor permute(const Tensor& a, IntArrayRef dims);
Tensor unsqueeze(const Tensor& a, int64_t dim);
Tensor squeeze(const Tensor& a);
Tensor squeeze(const Tensor& a, int64_t dim);
Tensor flatten(const Tensor& a, int64_t start_dim = 0, int64_t end_dim = -1);
Tensor narrow(const Tensor& a, int64_t dim, int64_t start, int64_t length);
Tensor select(const Tensor& a, int64_t dim, int64_t index);
Tensor expand(const Tensor& a, IntArrayRef sizes);
Tensor contiguous(const Tensor& a);

// index.cpp
Tensor index_select(const Tensor& a, int64_t dim, const Tensor& index);
Tensor gather(const Tensor& a, int64_t dim, const Tensor& index);
Tensor cat(const TensorList& ts, int64_t dim = 0);
Tensor stack(const TensorList& ts, int64_t dim = 0);
std::vector<Tensor> chunk(const Tensor& a, int64_t chunks, int64_t dim = 0);
std::vector<Tensor> split(const Tensor& a, int64_t split_size, int64_t dim = 0);
Tensor one_hot(const Tensor& labels, int64_t num_classes);  // int64 in, int64 out

// softmax.cpp — numerically stable (max subtracted)
Tensor softmax(const Tensor& a, int64_t dim);
Tensor log_softmax(const Tensor& a, int64_t dim);

// Normalizes a possibly negative dim against ndim; throws IndexError naming op.
int64_t wrap_dim(int64_t dim, int64_t ndim, const char* op);

}  // namespace dg
