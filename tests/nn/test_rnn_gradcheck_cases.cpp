// Float64 gradcheck cases of the recurrent rows of DG_OP_TABLE (unbind,
// lstm_cell), registered for the coverage test (tests/ops/gradcheck_registry.hpp);
// the binary's DG_GRADCHECK_TESTS() is in test_conv_gradcheck_cases.cpp.
#include "dimgrad/nn/rnn.hpp"
#include "ops/gradcheck_registry.hpp"

using dg::Tensor;
using dg::TensorList;
using dg::test::leaf;

#define IN(...) [] { return TensorList{__VA_ARGS__}; }
#define FN(...) [](const TensorList& x) -> Tensor { return __VA_ARGS__; }

namespace {
// Weighted sum of the steps, so that each step's gradient differs.
Tensor weigh_steps(const std::vector<Tensor>& steps) {
  Tensor acc = steps[0];
  for (size_t t = 1; t < steps.size(); ++t) acc = acc + steps[t] * static_cast<double>(t + 1);
  return acc;
}
}  // namespace

// ------------------------------------------------------------------- unbind
DG_GRADCHECK_CASE(unbind_dim0, "unbind", IN(leaf({3, 2, 2}, 401)), FN(weigh_steps(dg::unbind(x[0], 0))));
DG_GRADCHECK_CASE(unbind_dim1_some_unused, "unbind", IN(leaf({2, 4}, 402)),
                  FN(dg::unbind(x[0], 1)[1] * 2.0 + dg::unbind(x[0], -1)[3]));
DG_GRADCHECK_CASE(unbind_then_stack, "unbind", IN(leaf({4, 3}, 403)),
                  FN(dg::stack({dg::unbind(x[0], 0)[3], dg::unbind(x[0], 0)[0]}, 1)));

// ---------------------------------------------------------------- lstm_cell
// Both outputs take part: h' and c' side by side.
DG_GRADCHECK_CASE(lstm_cell_pointwise_h_and_c, "lstm_cell", IN(leaf({3, 8}, 411), leaf({3, 2}, 412)),
                  FN(dg::cat({std::get<0>(dg::lstm_cell_pointwise(x[0], x[1])),
                              std::get<1>(dg::lstm_cell_pointwise(x[0], x[1]))}, 1)));
DG_GRADCHECK_CASE(lstm_cell_pointwise_h_only, "lstm_cell", IN(leaf({2, 12}, 413), leaf({2, 3}, 414)),
                  FN(std::get<0>(dg::lstm_cell_pointwise(x[0], x[1]))));
DG_GRADCHECK_CASE(lstm_cell_full_step, "lstm_cell",
                  IN(leaf({2, 3}, 415), leaf({2, 2}, 416), leaf({2, 2}, 417), leaf({8, 3}, 418, -0.5, 0.5),
                     leaf({8, 2}, 419, -0.5, 0.5), leaf({8}, 420), leaf({8}, 421)),
                  FN(std::get<1>(dg::lstm_cell(x[0], {x[1], x[2]}, x[3], x[4], x[5], x[6]))));
DG_GRADCHECK_CASE(lstm_two_steps_bptt, "lstm_cell",
                  IN(leaf({3, 2, 3}, 422), leaf({8, 3}, 423, -0.5, 0.5), leaf({8, 2}, 424, -0.5, 0.5)),
                  FN(([](const TensorList& x) {
                    auto steps = dg::unbind(x[0], 0);
                    Tensor h = dg::zeros({2, 2}, dg::kFloat64), c = dg::zeros({2, 2}, dg::kFloat64);
                    for (const Tensor& s : steps) std::tie(h, c) = dg::lstm_cell(s, {h, c}, x[1], x[2]);
                    return h;
                  })(x)));
