// A program written against LibTorch's C++ API, for the subset of DESIGN.md:
// factories with options, Tensor methods, operators and broadcasting, dtype
// promotion, reductions, max with (values, indices), shape ops, indexing,
// cat/stack, softmax, matmul, in-place ops, autograd (backward, hooks,
// retain_grad, NoGradGuard, detach, autograd::grad). Compiled against dimgrad
// it must print exactly what LibTorch printed (tests/fixtures/core/compat_program.txt).
//
// Random numbers differ between the libraries by design (different generators),
// so only their shapes and seeded reproducibility are printed.
#include <cmath>
#include <tuple>
#include <vector>

#include "compat/compat_namespace.hpp"

namespace {

void section(std::ostream& out, const char* name) { out << "### " << name << "\n"; }

void factories(std::ostream& out) {
  section(out, "factories");
  out << T::zeros({2, 3}) << "\n";
  out << T::ones({2}, T::kFloat64) << "\n";
  out << T::full({2, 2}, 7) << "\n";
  out << T::full({2, 2}, 2.5) << "\n";
  out << T::eye(3) << "\n";
  out << T::arange(0, 10, 3) << "\n";
  out << T::arange(0.0, 1.0, 0.25) << "\n";
  out << T::tensor({1.0, 2.0, 3.0}, T::TensorOptions().dtype(T::kFloat64)) << "\n";
  out << T::tensor(std::vector<double>{0.5, 1.5}) << "\n";
  out << T::tensor(std::vector<int64_t>{4, 5, 6}) << "\n";
  auto r = T::randn({3, 4});
  out << r.sizes() << " " << r.dim() << " " << r.numel() << " " << (r.dtype() == T::kFloat32) << "\n";
  auto ri = T::randint(0, 5, {6});
  out << ri.sizes() << " " << (ri.dtype() == T::kInt64) << " " << (ri.min().item<int64_t>() >= 0) << " "
      << (ri.max().item<int64_t>() < 5) << "\n";
  T::manual_seed(7);
  auto u1 = T::rand({5});
  T::manual_seed(7);
  auto u2 = T::rand({5});
  out << "seeded rand equal: " << u1.equal(u2) << "\n";
}

void arithmetic(std::ostream& out) {
  section(out, "arithmetic");
  auto a = T::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}).reshape({2, 3});
  auto b = T::tensor({10.0, 20.0, 30.0});
  out << a + b << "\n" << a - b << "\n" << a * b << "\n" << a / b << "\n";
  out << a + 1 << "\n" << 1 - a << "\n" << 2 * a << "\n" << a / 4 << "\n" << 1 / a << "\n" << -a << "\n";
  auto col = T::tensor({1.0, -1.0}).reshape({2, 1});
  out << a * col << "\n";
  auto c = T::arange(12, T::kFloat32).reshape({4, 1, 3});
  auto d = T::ones({2, 3});
  out << (c + d).sizes() << "\n";
  out << a.pow(2) << "\n" << a.sqrt() << "\n" << a.exp() << "\n" << a.log() << "\n";
  out << (a - 3).abs() << "\n" << (a - 3.5).relu() << "\n" << (a / 4).tanh() << "\n" << (a - 3).sigmoid() << "\n";
  out << a.clamp(2, 5) << "\n" << a.clamp(2.5) << "\n";
  out << T::maximum(a, T::full({2, 3}, 3.5)) << "\n" << T::minimum(a, T::full({2, 3}, 3.5)) << "\n";
  out << T::where(a > 3, a, T::zeros({2, 3})) << "\n";
  out << T::exp(b / 10) << "\n" << T::log(b) << "\n" << T::relu(b - 15) << "\n" << T::sigmoid(b / 10) << "\n"
      << T::tanh(b / 30) << "\n";
}

void promotion(std::ostream& out) {
  section(out, "promotion");
  auto i = T::tensor({1, 2, 3}, T::kInt64);
  auto f = T::tensor({0.5, 0.5, 0.5});
  auto d = T::tensor({0.25, 0.25, 0.25}, T::kFloat64);
  out << i + f << "\n" << f + d << "\n" << i + 1 << "\n" << i + 0.5 << "\n" << i / 2 << "\n" << i * 2 << "\n";
  // (dtypes print differently: LibTorch's TypeMeta says "float", dimgrad "float32"; compare instead)
  out << ((i + f).dtype() == T::kFloat32) << " " << ((f + d).dtype() == T::kFloat64) << " "
      << ((i / 2).dtype() == T::kFloat32) << " " << ((i * 2).dtype() == T::kInt64) << "\n";
  out << i.to(T::kFloat64) << "\n" << f.to(T::kInt64) << "\n";
}

void comparisons(std::ostream& out) {
  section(out, "comparisons");
  auto a = T::tensor({1.0, 2.0, 3.0});
  auto b = T::tensor({3.0, 2.0, 1.0});
  out << a.gt(b) << "\n" << a.lt(b) << "\n" << a.ge(b) << "\n" << a.le(b) << "\n" << a.eq(b) << "\n" << a.ne(b) << "\n";
  out << (a > 1.5) << "\n" << (a == b) << "\n" << (a != 2) << "\n";
}

void reductions(std::ostream& out) {
  section(out, "reductions");
  auto a = T::tensor({3.0, 1.0, 4.0, 1.0, 5.0, 9.0, 2.0, 6.0, 5.0, 3.0, 5.0, 8.0}).reshape({3, 4});
  out << a.sum() << "\n" << a.sum({0}) << "\n" << a.sum({1}, true) << "\n";
  out << a.mean() << "\n" << a.mean({1}) << "\n" << a.var() << "\n" << a.var({0}, true, false) << "\n";
  out << a.max() << "\n" << a.min() << "\n" << a.argmax() << "\n" << a.argmax(1) << "\n";
  T::Tensor values, indices;
  std::tie(values, indices) = a.max(1);
  out << values << "\n" << indices << "\n";
  auto [mv, mi] = T::min(a, 0, true);
  out << mv << "\n" << mi << "\n";
  out << a.sum().item<float>() << " " << a.mean().item<double>() << "\n";
  // item() without a type gives a Scalar that prints as its kind of number.
  out << a.sum().item() << " " << a.argmax().item() << " " << a.gt(8).any().item() << " " << a.gt(9).any().item()
      << "\n";
}

void shapes(std::ostream& out) {
  section(out, "shapes");
  auto a = T::arange(24, T::kFloat32).reshape({2, 3, 4});
  out << a.view({6, 4}).sizes() << " " << a.flatten().sizes() << " " << a.flatten(1).sizes() << "\n";
  out << a.transpose(0, 2).sizes() << " " << a.permute({2, 0, 1}).sizes() << " " << a.unsqueeze(1).sizes() << "\n";
  out << a.unsqueeze(-1).squeeze().sizes() << " " << a.narrow(2, 1, 2).sizes() << " " << a.select(1, 2).sizes() << "\n";
  out << a.permute({2, 0, 1}).is_contiguous() << " " << a.permute({2, 0, 1}).contiguous().is_contiguous() << "\n";
  out << a.narrow(2, 1, 2) << "\n" << a.select(1, 2) << "\n" << a[1][2] << "\n";
  auto m = T::arange(6, T::kFloat32).reshape({2, 3});
  out << m.t() << "\n" << m.t().contiguous().view({-1}) << "\n";
  out << T::tensor({1.0, 2.0}).reshape({2, 1}).expand({2, 3}) << "\n";
  out << m.reshape({3, 2}) << "\n" << m.clone() << "\n" << m.size(1) << " " << m.size(-1) << "\n";
}

void indexing(std::ostream& out) {
  section(out, "indexing");
  auto a = T::arange(12, T::kFloat32).reshape({3, 4});
  auto idx = T::tensor({2, 0, 2}, T::kInt64);
  out << a.index_select(0, idx) << "\n" << a.index_select(1, idx) << "\n";
  auto g = T::tensor({0, 3, 1, 1, 2, 0}, T::kInt64).reshape({3, 2});
  out << a.gather(1, g) << "\n";
  auto b = T::ones({1, 4});
  out << T::cat({a, b}, 0) << "\n" << T::cat({a, a}, 1).sizes() << "\n";
  out << T::stack({a[0], a[1]}, 0) << "\n" << T::stack({a[0], a[1]}, 1) << "\n";
  auto s = T::tensor({1.0, 2.0, 3.0, 0.5, 0.5, 0.5}).reshape({2, 3});
  out << T::softmax(s, 1) << "\n" << T::log_softmax(s, 1) << "\n" << s.softmax(0) << "\n";
}

void linalg(std::ostream& out) {
  section(out, "linalg");
  auto a = T::arange(6, T::kFloat32).reshape({2, 3});
  auto b = T::arange(12, T::kFloat32).reshape({3, 4}) / 2;
  auto v = T::tensor({1.0, -1.0, 2.0});
  out << T::mm(a, b) << "\n" << a.matmul(b) << "\n" << T::matmul(a, v) << "\n" << T::matmul(v, v) << "\n";
  out << T::matmul(v, b) << "\n";
  auto p = T::arange(24, T::kFloat32).reshape({2, 3, 4});
  auto q = T::arange(8, T::kFloat32).reshape({4, 2});
  out << T::matmul(p, q) << "\n";
  auto x = T::ones({2, 1, 3, 4});
  auto y = T::ones({5, 4, 2});
  out << T::matmul(x, y).sizes() << "\n";
}

void inplace(std::ostream& out) {
  section(out, "inplace");
  auto a = T::zeros({2, 3});
  a.fill_(2);
  a.add_(T::ones({3}));
  a.mul_(2);
  out << a << "\n";
  a.copy_(T::arange(6, T::kFloat32).reshape({2, 3}));
  a.add_(1);
  out << a << "\n";
  a.zero_();
  out << a << "\n";
  auto v = T::arange(6, T::kFloat32).reshape({2, 3});
  v.select(0, 1).fill_(-1);
  out << v << "\n";
  auto p = v.data_ptr<float>();
  out << p[0] << " " << p[5] << "\n";
}

void autograd(std::ostream& out) {
  section(out, "autograd");
  auto x = T::tensor({1.0, 2.0, 3.0}, T::requires_grad());
  auto w = T::tensor({0.5, -1.0, 2.0}, T::TensorOptions().requires_grad(true));
  auto y = (x * w + x.pow(2)).sum();
  y.backward();
  out << y << "\n" << x.grad() << "\n" << w.grad() << "\n";
  out << x.is_leaf() << " " << y.is_leaf() << " " << x.requires_grad() << " " << y.requires_grad() << "\n";

  // Gradients accumulate across backward calls until zeroed.
  auto z = (x * 3).sum();
  z.backward();
  out << x.grad() << "\n";
  x.grad().zero_();
  out << x.grad() << "\n";

  // Non-scalar backward with an explicit gradient; broadcasting.
  auto m = T::tensor({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, T::kFloat64).reshape({2, 3}).requires_grad_();
  auto bias = T::zeros({3}, T::kFloat64).requires_grad_();
  auto out2 = m * 2 + bias;
  out2.backward(T::ones({2, 3}, T::kFloat64));
  out << m.grad() << "\n" << bias.grad() << "\n";

  // retain_grad and hooks.
  auto a = T::tensor({1.0, -2.0}, T::requires_grad());
  auto h = a * a;
  h.retain_grad();
  h.register_hook([](T::Tensor g) { return g * 10; });
  auto loss = h.sum();
  loss.backward();
  out << h.grad() << "\n" << a.grad() << "\n";

  // NoGradGuard and detach.
  {
    T::NoGradGuard guard;
    auto n = a * 2;
    out << n.requires_grad() << "\n";
  }
  out << a.detach().requires_grad() << " " << (a * 2).requires_grad() << "\n";

  // autograd::grad returns gradients instead of accumulating them.
  auto p = T::tensor({2.0, 3.0}, T::requires_grad());
  auto q = (p * p * p).sum();
  auto grads = T::autograd::grad({q}, {p});
  out << grads[0] << "\n" << p.grad().defined() << "\n";

  // Softmax + log for a small classifier step, gradient through matmul.
  auto X = T::tensor({1.0, 2.0, -1.0, 0.5, 0.0, 1.0}).reshape({2, 3});
  auto W = T::tensor({0.1, -0.2, 0.3, 0.4, -0.5, 0.6}).reshape({3, 2}).requires_grad_();
  auto logp = T::log_softmax(X.matmul(W), 1);
  auto target = T::tensor({1, 0}, T::kInt64).reshape({2, 1});
  auto nll = -logp.gather(1, target).mean();
  nll.backward();
  out << nll << "\n" << W.grad() << "\n";

  // Max's gradient goes to the argmax; cat and stack route slices back.
  auto r = T::tensor({1.0, 5.0, 3.0, 2.0}, T::requires_grad());
  std::get<0>(r.reshape({2, 2}).max(1)).sum().backward();
  out << r.grad() << "\n";
  auto c1 = T::ones({2}, T::requires_grad());
  auto c2 = T::ones({3}, T::requires_grad());
  (T::cat({c1, c2}) * T::arange(5, T::kFloat32)).sum().backward();
  out << c1.grad() << "\n" << c2.grad() << "\n";
  auto s1 = T::ones({2}, T::requires_grad());
  (T::stack({s1, s1 * 2}) * T::tensor({1.0, 2.0, 3.0, 4.0}).reshape({2, 2})).sum().backward();
  out << s1.grad() << "\n";
}

void norms(std::ostream& out) {
  section(out, "norms");
  namespace F = T::nn::functional;
  auto x = T::tensor({3.0, -4.0, 0.0, 1.0, 2.0, -2.0}).reshape({2, 3});
  out << x.norm() << "\n";
  out << x.norm(1) << "\n";
  out << x.norm(3, {1}) << "\n";
  out << x.norm(2, {0}, true) << "\n";
  out << x.norm(INFINITY, {1}) << "\n";
  out << x.norm(0) << "\n";
  out << T::norm(x, 2) << "\n";
  out << T::linalg::vector_norm(x, 1, {1}, false, T::kFloat64) << "\n";
  out << F::normalize(x, F::NormalizeFuncOptions().p(1).dim(0)) << "\n";
  out << F::cosine_similarity(x, x * T::tensor({1.0, -1.0, 2.0}) + 1) << "\n";
  out << F::pairwise_distance(x, T::ones({3}), F::PairwiseDistanceFuncOptions().p(1).keepdim(true)) << "\n";
  T::nn::CosineSimilarity cosine(T::nn::CosineSimilarityOptions().dim(0));
  out << cosine(x, x * x) << "\n";
  auto w = x.clone().requires_grad_(true);
  (w.norm(2, {1}).sum() + F::normalize(w).pow(3).sum()).backward();
  out << w.grad() << "\n";
}

}  // namespace

void compat_program(std::ostream& out) {
  factories(out);
  arithmetic(out);
  promotion(out);
  comparisons(out);
  reductions(out);
  shapes(out);
  indexing(out);
  linalg(out);
  inplace(out);
  autograd(out);
  norms(out);
}
