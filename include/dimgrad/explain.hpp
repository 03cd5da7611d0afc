// dimgrad — explain: the backward pass of a loss printed in dimension-analysis form.
//
//   dg::Tensor loss = ...;
//   std::cout << dg::explain(loss);
//
// For every node, in the order backward runs: the op, its forward formula with
// the shape of every tensor, and for each input that needs a gradient the formula
// of that gradient with the shape of every factor. Formulas come from the op table
// (include/dimgrad/op_table.hpp), the same table the backward code is listed in.
#pragma once

#include <map>
#include <string>

#include "dimgrad/tensor.hpp"

namespace dg {

enum class ExplainFormat { Text, Markdown, Dot };

struct ExplainOptions {
  ExplainFormat format = ExplainFormat::Text;
  // Letters for sizes, e.g. {{64, "N"}, {784, "D"}}; other sizes get letters automatically
  // (the batch N, classes C, then D, H, K, M, ...).
  std::map<int64_t, std::string> dim_names;
};

std::string explain(const Tensor& loss, const ExplainOptions& options = {});

// The op names that explain_op() can demonstrate, and the demonstration: runs the
// op on small example inputs (float64), reduces the output to a scalar with sum,
// and returns explain() of it. Throws dg::Error for an unknown name.
std::vector<std::string> explainable_ops();
std::string explain_op(const std::string& op_name, const ExplainOptions& options = {});

// One structured line of an explanation (what tests check).
struct ExplainedGradient {
  std::string op;        // node name
  size_t input = 0;      // input index
  Shape shape;           // the gradient's shape as explained (= the input's shape)
  std::string formula;   // e.g. "dX[N×D] = dS[N×C] · Wᵀ[C×D]"
  uint64_t sequence_nr = 0;  // of the node (tells two nodes of one op apart)
};
std::vector<ExplainedGradient> explain_gradients(const Tensor& loss, const ExplainOptions& options = {});

}  // namespace dg
