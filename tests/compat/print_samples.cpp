// operator<< on tensors of every dtype, rank and value range that changes
// LibTorch's format (integer mode, fixed, common scale factor, scientific,
// column blocks for wide matrices, non-finite values, empty tensors).
#include <cmath>
#include <limits>
#include <vector>

#include "compat/compat_namespace.hpp"

namespace {
void show(std::ostream& out, const char* title, const T::Tensor& t) { out << "== " << title << "\n" << t << "\n"; }
}  // namespace

void compat_print_samples(std::ostream& out) {
  const double inf = std::numeric_limits<double>::infinity();
  const double nan = std::numeric_limits<double>::quiet_NaN();
  show(out, "0-d float", T::tensor(3.5));
  show(out, "0-d float fraction", T::tensor(0.1));
  show(out, "0-d double", T::tensor({2.0 / 3.0}, T::kFloat64).reshape({}));
  show(out, "0-d int64", T::tensor({42}, T::kInt64).reshape({}));
  show(out, "1-d float ints", T::tensor({1.0, -2.0, 3.0}));
  show(out, "1-d float", T::tensor({1.5, -2.25, 3.0}));
  show(out, "1-d int64", T::tensor({1, -20, 300}, T::kInt64));
  show(out, "1-d bool", T::tensor({1.0, 0.0, 2.0}).gt(0.5));
  show(out, "1-d double", T::tensor({0.125, 1.0 / 3.0, -7.0}, T::kFloat64));
  show(out, "2-d arange", T::arange(6, T::kFloat32).reshape({2, 3}));
  show(out, "2-d fractions", T::tensor({0.5, -1.25, 2.0, 3.75, -0.001, 10.5}).reshape({3, 2}));
  show(out, "2-d int64", T::arange(-3, 3, 1, T::kInt64).reshape({2, 3}));
  show(out, "3-d", T::arange(24, T::kFloat32).reshape({2, 3, 4}) / 8);
  show(out, "4-d", T::arange(8, T::kFloat32).reshape({2, 1, 2, 2}));
  show(out, "large scale", T::tensor({1e6, 2.5e6, -3.25e5}));
  show(out, "large 2-d", T::tensor({123456.0, 2.0, 3.5, 4.0}).reshape({2, 2}));
  show(out, "small scale", T::tensor({1e-5, 3e-5, -2.5e-5}));
  show(out, "wide range", T::tensor({1e-3, 1e4, 5.0}));
  show(out, "big ints", T::tensor(std::vector<int64_t>{1, 2000000000000}, T::kInt64));
  show(out, "big float ints", T::tensor({1e10, 2.0}, T::kFloat64));
  show(out, "negatives", T::tensor({-0.5, -1.5, -100.25}));
  show(out, "below one", T::tensor({0.5, 0.25, 0.75}));
  show(out, "zeros", T::zeros({2, 2}));
  show(out, "non-finite", T::tensor({1.5, inf, -inf, nan}));
  show(out, "all non-finite", T::tensor({inf, nan}));
  show(out, "wide 2x20", T::arange(40, T::kFloat32).reshape({2, 20}) * 1.5);
  show(out, "wide int 3x30", T::arange(90, T::kInt64).reshape({3, 30}));
  show(out, "wide 3-d", T::arange(2 * 2 * 14, T::kFloat32).reshape({2, 2, 14}) / 3);
  show(out, "transposed view", T::arange(6, T::kFloat32).reshape({2, 3}).t() * 0.5);
  show(out, "empty 1-d", T::zeros({0}));
  show(out, "empty 2-d", T::zeros({2, 0}));
  show(out, "empty 3-d", T::zeros({0, 2, 3}));
  show(out, "requires grad", T::ones({2}, T::TensorOptions().dtype(T::kFloat64).requires_grad(true)));
  show(out, "0-d big", T::tensor(1e10));
  show(out, "0-d small", T::tensor(1.5e-7));
  show(out, "0-d bool", T::tensor({1.0}).gt(0).reshape({}));
  show(out, "int column", T::tensor({7, 8}, T::kInt64).reshape({2, 1}));
  show(out, "2-d small scale", T::tensor({1.5e-4, -2e-4, 3.25e-4, 4e-5}).reshape({2, 2}));
  show(out, "2-d large scale", T::tensor({123456.5, 234567.25, -345678.0, 99999.5}).reshape({2, 2}));
  show(out, "3-d large scale", T::tensor({1.5e6, 2.25e6, 3e6, 4e6, 5.5e6, 6e6, 7e6, 8.125e6}).reshape({2, 2, 2}));
  show(out, "wide scaled", T::arange(24, T::kFloat64).reshape({2, 12}) * 1.5e-6);
  show(out, "1-d big int", T::tensor(std::vector<int64_t>{12345678, -3}));
  show(out, "2-d big float ints", T::tensor({1234567.0, 2.0}).reshape({1, 2}));
  show(out, "negative first", T::tensor({-5.5, 0.25, 3.0}));
  show(out, "tiny and zero", T::tensor({0.0, 1e-8, 2e-8}));
  show(out, "2-d non-finite", T::tensor({1.5, std::numeric_limits<double>::infinity(), nan, -2.25}).reshape({2, 2}));
  show(out, "column 1-d ints", T::arange(12, T::kInt64));
  out << "== undefined\n" << T::Tensor() << "\n";
}
