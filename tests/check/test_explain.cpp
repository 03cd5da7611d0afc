// explain: formulas for every op in the table, shapes that agree with the
// engine, golden traces for the affine layer, softmax loss and batch norm.
#include <gtest/gtest.h>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <dimgrad/dimgrad.hpp>
#include <dimgrad/explain.hpp>

#include "check/op_examples.hpp"

namespace {

std::string read_file(const std::string& path) {
  std::ifstream f(path);
  std::stringstream s;
  s << f.rdbuf();
  return s.str();
}

// Compares with tests/fixtures/explain/<name>.txt; DG_UPDATE_GOLDEN=1 rewrites it.
void expect_golden(const std::string& name, const std::string& text) {
  std::string path = std::string(DG_SOURCE_DIR) + "/tests/fixtures/explain/" + name + ".txt";
  if (std::getenv("DG_UPDATE_GOLDEN")) {
    std::ofstream(path) << text;
    return;
  }
  EXPECT_EQ(read_file(path), text) << "explain output for " << name << " changed; if intended, rerun with DG_UPDATE_GOLDEN=1";
}

// "[N×D]" → {"N", "D"}
std::vector<std::string> dims_of(const std::string& bracket) {
  std::vector<std::string> out;
  std::string cur;
  for (size_t i = 1; i + 1 < bracket.size();) {
    if (bracket.compare(i, 2, "×") == 0) {
      out.push_back(cur);
      cur.clear();
      i += 2;
    } else {
      cur += bracket[i++];
    }
  }
  if (!cur.empty()) out.push_back(cur);
  return out;
}

}  // namespace

TEST(Explain, EveryTableOpHasFormulasForEachInput) {
  for (const dg::OpInfo* op = dg::op_table_begin(); op != dg::op_table_end(); ++op) {
    SCOPED_TRACE(op->name);
    ASSERT_NE(std::string(op->forward_formula), "");
    ASSERT_NE(std::string(op->gradient_formulas), "");
    if (op->arity > 0) {
      int count = 1;
      for (const char* c = op->gradient_formulas; *c; ++c) count += *c == ';';
      EXPECT_EQ(count, op->arity) << "one gradient formula per input, separated by ';'";
    }
  }
}

TEST(Explain, EveryTableOpHasAWorkedExample) {
  auto ops = dg::explainable_ops();
  std::set<std::string> known(ops.begin(), ops.end());
  for (const dg::OpInfo* op = dg::op_table_begin(); op != dg::op_table_end(); ++op)
    EXPECT_TRUE(known.count(op->name)) << "op '" << op->name << "' has no example in src/check/op_examples.cpp";
}

// For each op: the shape explain gives each gradient is the shape the engine
// delivers, and in a product "P · Q" the inner letters match and the outer ones
// give the left-hand side.
TEST(Explain, ExplainedShapesAgreeWithTheEngine) {
  std::regex term(R"(d?[A-Za-z_][A-Za-z_0-9.]*(ᵀ)?(\[[^\]]*\]))");
  for (const std::string& name : dg::explainable_ops()) {
    SCOPED_TRACE(name);
    dg::Tensor loss = dg::run_op_example(name);
    auto grads = dg::explain_gradients(loss);
    ASSERT_FALSE(grads.empty());
    // The leaves' real gradients, by input position of the op under test.
    // run_op_example sums the op's result: the op under test feeds the root.
    dg::autograd::Node* op_node = loss.grad_fn()->next_edges.at(0).node.get();
    ASSERT_NE(op_node, nullptr);
    std::vector<std::shared_ptr<dg::TensorImpl>> leaves(op_node->next_edges.size());
    for (size_t i = 0; i < op_node->next_edges.size(); ++i) {
      auto& e = op_node->next_edges[i];
      if (e.node && e.node->op() == dg::OpKind::AccumulateGrad)
        leaves[i] = static_cast<dg::autograd::AccumulateGrad*>(e.node.get())->leaf();
    }
    loss.backward();
    int checked = 0;
    for (const auto& g : grads) {
      if (g.sequence_nr != op_node->sequence_nr()) continue;
      if (leaves[g.input]) {
        ASSERT_TRUE(leaves[g.input]->grad) << g.formula;
        EXPECT_EQ(dg::Shape(leaves[g.input]->grad->sizes), g.shape) << g.formula;
        ++checked;
      }
      // Left side: dA[...] has the input's dims.
      std::smatch m;
      ASSERT_TRUE(std::regex_search(g.formula, m, term)) << g.formula;
      auto lhs = dims_of(m[2].str());
      EXPECT_EQ(lhs.size(), g.shape.size()) << g.formula;
      // A single matrix product on the right: inner dims agree, outer dims give the left side.
      auto eq = g.formula.find(" = ");
      std::string rhs = g.formula.substr(eq + 3);
      // (Formulas with a function around the product, like conv's col2im(Wᵀ·dY), are not plain products.)
      if (rhs.find(" · ") != std::string::npos && rhs.find("then") == std::string::npos &&
          rhs.find('(') == std::string::npos) {
        std::vector<std::vector<std::string>> factors;
        for (std::sregex_iterator it(rhs.begin(), rhs.end(), term), end; it != end; ++it) factors.push_back(dims_of((*it)[2].str()));
        if (factors.size() != 2) continue;  // a factor without a shape (e.g. conv's cols)
        EXPECT_EQ(factors[0].back(), factors[1][factors[1].size() - 2]) << "inner dims differ: " << g.formula;
        EXPECT_EQ(factors[0][factors[0].size() - 2], lhs[lhs.size() - 2]) << g.formula;
        EXPECT_EQ(factors[1].back(), lhs.back()) << g.formula;
      }
    }
    bool any_leaf = false;
    for (auto& l : leaves) any_leaf = any_leaf || l != nullptr;
    if (any_leaf) {
      EXPECT_GT(checked, 0) << "no explained gradient was compared with the engine's";
    }
  }
}

TEST(Explain, AffineLayerGolden) {
  dg::manual_seed(1);
  auto X = dg::randn({64, 784}).set_name("X");
  auto W = dg::randn({784, 10}).requires_grad_().set_name("W");
  auto b = dg::zeros({10}).requires_grad_().set_name("b");
  auto S = dg::mm(X, W) + b;
  auto loss = S.sum();
  std::string text = dg::explain(loss);
  EXPECT_NE(text.find("dW[D×C] = Xᵀ[D×N] · dS[N×C]"), std::string::npos) << text;
  EXPECT_NE(text.find("N=64"), std::string::npos) << text;
  EXPECT_NE(text.find("b was broadcast over N, so its gradient sums over N"), std::string::npos) << text;
  expect_golden("affine", text);
}

TEST(Explain, SoftmaxLossGolden) {
  dg::manual_seed(2);
  auto S = dg::randn({5, 3}, dg::kFloat64).requires_grad_().set_name("S");
  auto y = dg::tensor(std::vector<int64_t>{0, 2, 1, 1, 0});
  auto logp = dg::log_softmax(S, 1);
  auto loss = -logp.gather(1, y.unsqueeze(1)).mean();
  std::string text = dg::explain(loss);
  EXPECT_NE(text.find("log_softmax"), std::string::npos);
  expect_golden("softmax_loss", text);
}

TEST(Explain, BatchNormGolden) {
  dg::manual_seed(3);
  auto x = dg::randn({8, 4}, dg::kFloat64).requires_grad_().set_name("x");
  auto gamma = dg::ones({4}, dg::kFloat64).requires_grad_().set_name("gamma");
  auto beta = dg::zeros({4}, dg::kFloat64).requires_grad_().set_name("beta");
  auto mu = x.mean({0}, true);
  auto xc = x - mu;  // x is used twice: its gradient is the sum of both paths
  auto var = (xc * xc).mean({0}, true);
  auto xhat = xc / dg::sqrt(var + 1e-5);
  auto y = xhat * gamma + beta;
  auto loss = (y * y).sum();
  std::string text = dg::explain(loss);
  EXPECT_NE(text.find("is the sum of the gradients"), std::string::npos) << text;
  expect_golden("batch_norm", text);
}

TEST(Explain, UserNamedDimensionsAndFormats) {
  auto X = dg::randn({6, 4}).set_name("X");
  auto W = dg::randn({4, 3}).requires_grad_().set_name("W");
  auto loss = dg::mm(X, W).sum();
  dg::ExplainOptions o;
  o.dim_names = {{6, "B"}, {4, "F"}, {3, "K"}};
  std::string text = dg::explain(loss, o);
  EXPECT_NE(text.find("dW[F×K] = Xᵀ[F×B] · dS[B×K]"), std::string::npos) << text;
  o.format = dg::ExplainFormat::Dot;
  std::string dot = dg::explain(loss, o);
  EXPECT_EQ(dot.rfind("digraph backward {", 0), 0u);
  EXPECT_NE(dot.find("->"), std::string::npos);
  o.format = dg::ExplainFormat::Markdown;
  EXPECT_NE(dg::explain(loss, o).find("| step | op |"), std::string::npos);
}

TEST(Explain, RejectsATensorWithoutGraph) {
  auto x = dg::randn({2});
  EXPECT_THROW(dg::explain(x), dg::Error);
  EXPECT_THROW(dg::explain_op("no_such_op"), dg::Error);
}
