// Bad input: every error is an exception of the right dg:: type whose message
// names the op and the shapes, dtypes, indices or dims involved.
#include <gtest/gtest.h>

#include <functional>
#include <string>
#include <vector>

#include <dimgrad/dimgrad.hpp>

using dg::Tensor;

namespace {

template <class E> void expect_error(const std::function<void()>& f, const std::vector<std::string>& parts) {
  try {
    f();
    ADD_FAILURE() << "expected an exception containing \"" << parts.front() << "\"";
  } catch (const E& e) {
    std::string msg = e.what();
    for (const auto& p : parts) EXPECT_NE(msg.find(p), std::string::npos) << "\"" << p << "\" not in: " << msg;
  } catch (const std::exception& e) {
    ADD_FAILURE() << "wrong exception type for: " << e.what();
  }
}

}  // namespace

TEST(BadShapes, EveryBinaryOpNamesItselfAndBothShapes) {
  Tensor a = dg::ones({2, 3}), b = dg::ones({4});
  const std::vector<std::pair<std::string, std::function<Tensor(const Tensor&, const Tensor&)>>> ops = {
      {"add", [](const Tensor& x, const Tensor& y) { return x + y; }},
      {"sub", [](const Tensor& x, const Tensor& y) { return x - y; }},
      {"mul", [](const Tensor& x, const Tensor& y) { return x * y; }},
      {"div", [](const Tensor& x, const Tensor& y) { return x / y; }},
      {"maximum", [](const Tensor& x, const Tensor& y) { return dg::maximum(x, y); }},
      {"minimum", [](const Tensor& x, const Tensor& y) { return dg::minimum(x, y); }},
      {"gt", [](const Tensor& x, const Tensor& y) { return x > y; }},
      {"lt", [](const Tensor& x, const Tensor& y) { return x < y; }},
      {"ge", [](const Tensor& x, const Tensor& y) { return x >= y; }},
      {"le", [](const Tensor& x, const Tensor& y) { return x <= y; }},
      {"eq", [](const Tensor& x, const Tensor& y) { return x == y; }},
      {"ne", [](const Tensor& x, const Tensor& y) { return x != y; }},
      {"where", [](const Tensor& x, const Tensor& y) { return dg::where(x.gt(0), x, y); }},
  };
  for (const auto& [name, op] : ops) {
    SCOPED_TRACE(name);
    expect_error<dg::ShapeError>([&, op = op] { op(a, b); }, {name, "[2, 3]", "[4]"});
  }
  // In-place forms: the other operand must broadcast to self's shape.
  expect_error<dg::ShapeError>([&] { dg::ones({2, 3}).add_(b); }, {"add_", "[4]", "[2, 3]"});
  expect_error<dg::ShapeError>([&] { dg::ones({3}).mul_(dg::ones({2, 3})); }, {"mul_", "[2, 3]", "[3]"});
  expect_error<dg::ShapeError>([&] { dg::ones({2, 3}).copy_(b); }, {"copy_", "[4]", "[2, 3]"});
}

TEST(BadShapes, MatrixProducts) {
  expect_error<dg::ShapeError>([] { dg::mm(dg::ones({2, 3}), dg::ones({4, 5})); }, {"mm", "[2, 3]", "[4, 5]"});
  expect_error<dg::ShapeError>([] { dg::mm(dg::ones({2, 3, 1}), dg::ones({1, 5})); }, {"mm", "2-d", "[2, 3, 1]"});
  expect_error<dg::ShapeError>([] { dg::matmul(dg::ones({2, 3}), dg::ones({4})); }, {"matmul", "[2, 3]", "[4]"});
  expect_error<dg::ShapeError>([] { dg::matmul(dg::ones({3}), dg::ones({4})); }, {"matmul", "[3]", "[4]"});
  expect_error<dg::ShapeError>([] { dg::matmul(dg::ones({2, 2, 3}), dg::ones({2, 4, 5})); },
                               {"matmul", "[2, 2, 3]", "[2, 4, 5]"});
  expect_error<dg::ShapeError>([] { dg::matmul(dg::ones({2, 3, 4}), dg::ones({5, 4, 2})); },
                               {"matmul", "[2]", "[5]"});  // batch dims do not broadcast
  expect_error<dg::ShapeError>([] { dg::matmul(dg::ones({}), dg::ones({2})); }, {"matmul", "[]"});
  expect_error<dg::ShapeError>([] { dg::bmm(dg::ones({2, 3, 4}), dg::ones({3, 4, 5})); },
                               {"bmm", "[2, 3, 4]", "[3, 4, 5]"});
}

TEST(BadShapes, JoinAndShapeOps) {
  expect_error<dg::ShapeError>([] { dg::cat({dg::ones({2, 3}), dg::ones({2, 4})}, 0); }, {"cat", "[2, 3]", "[2, 4]"});
  expect_error<dg::ShapeError>([] { dg::cat({dg::ones({2, 3}), dg::ones({3})}, 0); }, {"cat", "[2, 3]", "[3]"});
  expect_error<dg::ShapeError>([] { dg::stack({dg::ones({2, 3}), dg::ones({3, 2})}); }, {"stack", "[2, 3]", "[3, 2]"});
  expect_error<dg::ShapeError>([] { dg::ones({2, 3}).reshape({4, 2}); }, {"reshape", "[4, 2]", "[2, 3]"});
  expect_error<dg::ShapeError>([] { dg::ones({2, 3}).view({-1, -1}); }, {"view", "-1"});
  expect_error<dg::ShapeError>([] { dg::ones({2, 3}).expand({2, 4}); }, {"expand", "[2, 3]", "[2, 4]"});
  expect_error<dg::ShapeError>([] { dg::ones({2, 3}).permute({1}); }, {"permute", "[2, 3]", "[1]"});
  expect_error<dg::ShapeError>([] { dg::ones({2, 3, 4}).t(); }, {"t", "[2, 3, 4]"});
  expect_error<dg::ShapeError>([] { dg::ones({2, 2}).gather(1, dg::zeros({2}, dg::kInt64)); }, {"gather", "[2]", "[2, 2]"});
  expect_error<dg::ShapeError>([] { dg::ones({3}).index_select(0, dg::zeros({2, 2}, dg::kInt64)); },
                               {"index_select", "[2, 2]"});
  expect_error<dg::Error>([] { dg::cat({}, 0); }, {"cat", "non-empty"});
}

TEST(BadShapes, ViewOfNonViewableStrides) {
  Tensor t = dg::ones({2, 3}).t();
  expect_error<dg::ShapeError>([&] { t.view({6}); }, {"view", "[6]", "[3, 2]", "strides [1, 3]", "reshape"});
}

TEST(BadShapes, MoreThanEightDims) {
  expect_error<dg::ShapeError>([] { dg::zeros({1, 1, 1, 1, 1, 1, 1, 1, 1}); }, {"at most 8", "9"});
  Tensor eight = dg::zeros({1, 1, 1, 1, 1, 1, 1, 2});
  expect_error<dg::ShapeError>([&] { eight.unsqueeze(0); }, {"at most 8"});
  expect_error<dg::ShapeError>([&] { eight.reshape({1, 1, 1, 1, 1, 1, 1, 1, 2}); }, {"at most 8"});
}

TEST(BadShapes, ItemOnANonScalar) {
  expect_error<dg::ShapeError>([] { dg::ones({2, 3}).item<float>(); }, {"item()", "[2, 3]", "6 elements"});
  expect_error<dg::ShapeError>([] { dg::zeros({0}).max(); }, {"max", "empty", "[0]"});
}

TEST(BadDtypes, MismatchesAndUnsupported) {
  expect_error<dg::DTypeError>([] { dg::mm(dg::ones({2, 2}), dg::ones({2, 2}, dg::kFloat64)); },
                               {"mm", "float32", "float64"});
  expect_error<dg::DTypeError>([] { dg::matmul(dg::ones({2, 2}), dg::ones({2}, dg::kFloat64)); }, {"float64"});
  expect_error<dg::DTypeError>([] { dg::mm(dg::ones({2, 2}, dg::kInt64), dg::ones({2, 2}, dg::kInt64)); },
                               {"mm", "int64"});
  expect_error<dg::DTypeError>([] { dg::bmm(dg::ones({1, 2, 2}), dg::ones({1, 2, 2}, dg::kFloat64)); }, {"bmm"});
  expect_error<dg::DTypeError>([] { dg::ones({3}).index_select(0, dg::zeros({1})); }, {"index_select", "int64", "float32"});
  expect_error<dg::DTypeError>([] { dg::ones({3}).gather(0, dg::zeros({1})); }, {"gather", "int64"});
  expect_error<dg::DTypeError>([] { dg::where(dg::ones({2}), dg::ones({2}), dg::ones({2})); }, {"where", "bool", "float32"});
  expect_error<dg::DTypeError>([] { dg::arange(3).mean(); }, {"mean", "int64"});
  expect_error<dg::DTypeError>([] { dg::arange(3).var(); }, {"var", "int64"});
  expect_error<dg::DTypeError>([] { dg::ones({2}).data_ptr<int64_t>(); }, {"data_ptr", "int64", "float32"});
  expect_error<dg::DTypeError>([] { dg::ones({2}, dg::kBool).neg(); }, {"neg", "bool"});
  expect_error<dg::DTypeError>([] { dg::ones({2}, dg::kBool) - dg::ones({2}, dg::kBool); }, {"sub", "bool"});
}

TEST(BadIndices, OutOfRangeIndicesAndDims) {
  Tensor a = dg::ones({2, 3});
  expect_error<dg::IndexError>([&] { a.select(1, 3); }, {"select", "index 3", "size 3", "[2, 3]"});
  expect_error<dg::IndexError>([&] { a.select(0, -3); }, {"select", "-3"});
  expect_error<dg::IndexError>([&] { a[2]; }, {"select", "index 2"});
  expect_error<dg::IndexError>([&] { a.narrow(1, 2, 2); }, {"narrow", "[2, 4)", "size 3"});
  expect_error<dg::IndexError>([&] { a.index_select(1, dg::tensor({0, 3}, dg::kInt64)); },
                               {"index_select", "index 3", "size 3"});
  expect_error<dg::IndexError>([&] { a.gather(1, dg::tensor({0, 5}, dg::kInt64).reshape({2, 1})); },
                               {"gather", "index 5", "size 3"});
  expect_error<dg::IndexError>([&] { a.size(2); }, {"size(2)", "2-d", "[2, 3]"});
  expect_error<dg::IndexError>([&] { a.size(-3); }, {"size(-3)"});
  expect_error<dg::IndexError>([&] { a.stride(5); }, {"stride(5)"});
  expect_error<dg::IndexError>([] { dg::wrap_dim(2, 2, "myop"); }, {"myop", "dimension 2", "[-2, 1]"});
  expect_error<dg::IndexError>([&] { a.sum({2}); }, {"sum", "dimension 2"});
  expect_error<dg::IndexError>([&] { a.sum({1, -1}); }, {"sum", "twice"});
  expect_error<dg::IndexError>([&] { a.mean({-3}); }, {"mean", "-3"});
  expect_error<dg::IndexError>([&] { a.max(2); }, {"max", "dimension 2"});
  expect_error<dg::IndexError>([&] { a.softmax(3); }, {"softmax", "dimension 3"});
  expect_error<dg::IndexError>([&] { a.transpose(0, 2); }, {"transpose", "dimension 2"});
  expect_error<dg::IndexError>([&] { a.unsqueeze(4); }, {"unsqueeze", "dimension 4"});
  expect_error<dg::IndexError>([&] { a.permute({0, 0}); }, {"permute", "twice"});
  expect_error<dg::IndexError>([&] { dg::cat({a, a}, 2); }, {"cat", "dimension 2"});
  expect_error<dg::IndexError>([&] { dg::stack({a, a}, 3); }, {"stack", "dimension 3"});
  expect_error<dg::IndexError>([&] { a.flatten(1, 0); }, {"flatten", "start_dim"});
  expect_error<dg::IndexError>([] { dg::one_hot(dg::tensor({0, 3}, dg::kInt64), 3); }, {"one_hot", "label 3"});
}
