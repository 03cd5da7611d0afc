// A registry of float64 gradcheck cases, shared by every test binary.
//
// Each case names the DG_OP_TABLE row it is about, builds its float64 leaf
// inputs and computes a tensor from them:
//
//   #include "ops/gradcheck_registry.hpp"
//   DG_GRADCHECK_CASE(conv2d_stride2, "conv2d",
//                     [] { return dg::TensorList{dg::test::leaf({2, 3, 5, 5}, 1), dg::test::leaf({4, 3, 3, 3}, 2)}; },
//                     [](const dg::TensorList& x) { return dg::nn::functional::conv2d(x[0], x[1], ...); });
//   DG_GRADCHECK_TESTS();   // once per test binary: one gtest per registered case
//
// For every case the generated test checks that (1) the named op really is a
// node of the case's graph (coverage is measured, not claimed) and (2) the
// analytic Jacobian matches central differences (dg::gradcheck, full Jacobian).
//
// Coverage rule (tests/ops/gradcheck_coverage_test.cpp): every row of
// DG_OP_TABLE must be named by at least one DG_GRADCHECK_CASE somewhere under
// tests/. Ops owned by other modules (conv, pooling, norms, losses...) register
// their cases in their own test directory; the coverage test finds them by
// reading the test sources, and the binary that compiles them proves them.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <dimgrad/dimgrad.hpp>

namespace dg::test {

struct GradcheckCase {
  std::string name;  // unique within a binary (a C++ identifier)
  std::string op;    // the DG_OP_TABLE row name this case exercises ("add", "max_dim", ...)
  std::function<TensorList()> inputs;
  std::function<Tensor(const TensorList&)> fn;
  GradcheckOptions options;
  std::string where;  // file:line of the registration
};

inline void PrintTo(const GradcheckCase& c, std::ostream* os) { *os << c.name << " (" << c.where << ")"; }

inline std::vector<GradcheckCase>& gradcheck_registry() {
  static std::vector<GradcheckCase> cases;
  return cases;
}

struct GradcheckRegistrar {
  GradcheckRegistrar(const char* name, const char* op, std::function<TensorList()> inputs,
                     std::function<Tensor(const TensorList&)> fn, GradcheckOptions options, const char* file,
                     int line) {
    gradcheck_registry().push_back(
        {name, op, std::move(inputs), std::move(fn), options, std::string(file) + ":" + std::to_string(line)});
  }
};

// Deterministic values in [lo, hi]; with away > 0 every |x| >= away (keeps
// relu/abs/clamp inputs off their kinks). Same seed → same numbers.
inline Tensor values(IntArrayRef shape, uint64_t seed, double lo = -2.0, double hi = 2.0, double away = 0.0) {
  std::mt19937_64 gen(seed * 7919 + 17);
  std::uniform_real_distribution<double> u(lo, hi);
  Tensor t = zeros(shape, kFloat64);
  double* p = t.data_ptr<double>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    double x = u(gen);
    if (away > 0 && x > -away && x < away) x = x < 0 ? x - away : x + away;
    p[i] = x;
  }
  return t;
}

// A float64 leaf that requires grad, filled by values().
inline Tensor leaf(IntArrayRef shape, uint64_t seed, double lo = -2.0, double hi = 2.0, double away = 0.0) {
  return values(shape, seed, lo, hi, away).requires_grad_();
}

// Row names (op_info(...).name) of every node in the graph behind t.
inline std::set<std::string> ops_in_graph(const Tensor& t) {
  std::set<std::string> names;
  autograd::visit_graph(t, [&](autograd::Node& n) { names.insert(op_info(n.op()).name); });
  return names;
}

inline std::string join(const std::set<std::string>& s) {
  std::string out;
  for (const auto& x : s) out += (out.empty() ? "" : ", ") + x;
  return out;
}

// The body of the generated test of one case.
inline void run_gradcheck_case(const GradcheckCase& c) {
  SCOPED_TRACE("gradcheck case " + c.name + " (" + c.where + ")");
  TensorList in = c.inputs();
  for (size_t i = 0; i < in.size(); ++i)
    if (in[i].defined() && in[i].requires_grad()) {
      ASSERT_EQ(in[i].dtype(), kFloat64) << "input " << i;
    }
  Tensor out = c.fn(in);
  ASSERT_TRUE(out.defined());
  std::set<std::string> ops = ops_in_graph(out);
  ASSERT_TRUE(ops.count(c.op)) << "case " << c.name << " claims op \"" << c.op
                               << "\" but its graph only has: " << join(ops);
  std::string message;
  bool ok = gradcheck(c.fn, in, c.options, /*raise=*/false, &message);
  EXPECT_TRUE(ok) << message;
}

}  // namespace dg::test

// (Each macro passes its arguments straight into a constructor call: lambdas with
// braces and commas inside stay intact.)
#define DG_GRADCHECK_CASE_OPT(id, op_name, inputs_fn, body_fn, opts) \
  static ::dg::test::GradcheckRegistrar dg_gradcheck_case_##id(#id, op_name, inputs_fn, body_fn, opts, __FILE__, __LINE__)
#define DG_GRADCHECK_CASE(id, op_name, inputs_fn, body_fn)                                                 \
  static ::dg::test::GradcheckRegistrar dg_gradcheck_case_##id(#id, op_name, inputs_fn, body_fn,           \
                                                               ::dg::GradcheckOptions{}, __FILE__, __LINE__)

// One parameterized gtest per registered case (GradcheckCases/Op.Gradcheck/<case name>).
#define DG_GRADCHECK_TESTS()                                                                                 \
  class Op : public ::testing::TestWithParam<::dg::test::GradcheckCase> {};                                  \
  TEST_P(Op, Gradcheck) { ::dg::test::run_gradcheck_case(GetParam()); }                                      \
  INSTANTIATE_TEST_SUITE_P(GradcheckCases, Op, ::testing::ValuesIn(::dg::test::gradcheck_registry()),        \
                           [](const ::testing::TestParamInfo<::dg::test::GradcheckCase>& i) { return i.param.name; })
