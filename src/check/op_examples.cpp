// Small worked examples of each op in the op table, for `explain_op` and
// `dimgrad explain --op NAME`: float64 inputs named A, B, C (requiring grad),
// the op applied, the result summed to a scalar loss and explained.
#include <functional>
#include <map>

#include "dimgrad/autograd/function.hpp"
#include "dimgrad/explain.hpp"
#include "dimgrad/ops.hpp"
#include "check/op_examples.hpp"

namespace dg {
namespace {

Tensor input(IntArrayRef shape, const char* name, double shift = 0.0) {
  Tensor t = randn(shape, kDouble);
  if (shift != 0.0) t = t.abs() + shift;
  t.requires_grad_(true);
  t.set_name(name);
  return t;
}

// A user-defined op, to show that custom ops explain like built-ins.
struct Square : autograd::Function<Square> {
  static Tensor forward(autograd::AutogradContext* ctx, Tensor a) {
    ctx->save_for_backward({a});
    return a * a;
  }
  static autograd::tensor_list backward(autograd::AutogradContext* ctx, autograd::tensor_list g) {
    return {g[0] * ctx->get_saved_variables()[0] * 2.0};  // dA[A] = 2·A ⊙ dY
  }
};

std::map<std::string, OpExample>& registry() {
  static std::map<std::string, OpExample> r = {
      {"add", [] { return input({4, 3}, "A") + input({3}, "b"); }},
      {"sub", [] { return input({4, 3}, "A") - input({4, 1}, "B"); }},
      {"mul", [] { return input({4, 3}, "A") * input({3}, "B"); }},
      {"div", [] { return input({4, 3}, "A") / input({4, 3}, "B", 0.5); }},
      {"add_scalar", [] { return input({2, 3}, "A") + 1.5; }},
      {"mul_scalar", [] { return input({2, 3}, "A") * 3.0; }},
      {"rdiv_scalar", [] { return 2.0 / input({2, 3}, "A", 0.5); }},
      {"neg", [] { return -input({2, 3}, "A"); }},
      {"pow", [] { return pow(input({2, 3}, "A", 0.5), 3); }},
      {"maximum", [] { return maximum(input({4, 3}, "A"), input({4, 3}, "B")); }},
      {"minimum", [] { return minimum(input({4, 3}, "A"), input({4, 3}, "B")); }},
      {"where", [] {
         Tensor a = input({4, 3}, "A"), b = input({4, 3}, "B");
         return where(a.detach() > 0, a, b);
       }},
      {"exp", [] { return exp(input({2, 3}, "A")); }},
      {"log", [] { return log(input({2, 3}, "A", 0.5)); }},
      {"sqrt", [] { return sqrt(input({2, 3}, "A", 0.5)); }},
      {"abs", [] { return abs(input({2, 3}, "A", 0.5)); }},
      {"tanh", [] { return tanh(input({2, 3}, "A")); }},
      {"sigmoid", [] { return sigmoid(input({2, 3}, "A")); }},
      {"relu", [] { return relu(input({2, 3}, "A")); }},
      {"clamp", [] { return clamp(input({2, 3}, "A"), -0.5, 0.5); }},
      {"sum", [] { return sum(input({4, 3}, "A"), {0}); }},
      {"mean", [] { return mean(input({4, 3}, "A"), {1}); }},
      {"var", [] { return var(input({4, 3}, "A"), {0}); }},
      {"max", [] { return max(input({4, 3}, "A")); }},
      {"min", [] { return min(input({4, 3}, "A")); }},
      {"max_dim", [] { return std::get<0>(max(input({4, 3}, "A"), 1)); }},
      {"min_dim", [] { return std::get<0>(min(input({4, 3}, "A"), 1)); }},
      {"amax", [] { return amax(input({4, 3}, "A"), {1}); }},
      {"amin", [] { return amin(input({4, 3}, "A"), {1}); }},
      {"logsumexp", [] { return logsumexp(input({4, 3}, "A"), {1}); }},
      {"prod", [] { return prod(input({4, 3}, "A"), 1); }},
      {"cumsum", [] { return cumsum(input({4, 3}, "A"), 1); }},
      {"norm", [] { return norm(input({4, 3}, "A"), 2, {1}); }},
      {"mm", [] { return mm(input({4, 5}, "X"), input({5, 3}, "W")); }},
      {"bmm", [] { return bmm(input({2, 4, 5}, "A"), input({2, 5, 3}, "B")); }},
      {"reshape", [] { return input({4, 3}, "A").reshape({2, 6}); }},
      {"permute", [] { return input({2, 3, 4}, "A").permute({2, 0, 1}); }},
      {"expand", [] { return input({3, 1}, "A").expand({3, 4}); }},
      {"narrow", [] { return input({5, 3}, "A").narrow(0, 1, 2); }},
      {"select", [] { return input({5, 3}, "A").select(0, 2); }},
      {"contiguous", [] { return input({3, 4}, "A").t().contiguous(); }},
      {"to", [] { return input({3, 4}, "A").to(kFloat32); }},
      {"index_select", [] { return input({5, 3}, "A").index_select(0, tensor(std::vector<int64_t>{0, 2, 2})); }},
      {"gather", [] { return input({4, 3}, "A").gather(1, tensor(std::vector<int64_t>{0, 2, 1, 1}).reshape({4, 1})); }},
      {"cat", [] { return cat({input({2, 3}, "A"), input({4, 3}, "B")}, 0); }},
      {"stack", [] { return stack({input({2, 3}, "A"), input({2, 3}, "B")}, 0); }},
      {"softmax", [] { return softmax(input({4, 3}, "A"), 1); }},
      {"log_softmax", [] { return log_softmax(input({4, 3}, "A"), 1); }},
      {"custom", [] { return Square::apply(input({2, 3}, "A")); }},
  };
  return r;
}

}  // namespace

void register_op_example(const std::string& name, OpExample example) { registry()[name] = std::move(example); }

std::vector<std::string> explainable_ops() {
  std::vector<std::string> out;
  for (const auto& [name, f] : registry()) out.push_back(name);
  return out;
}

Tensor run_op_example(const std::string& op_name) {
  auto it = registry().find(op_name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& [name, f] : registry()) known += (known.empty() ? "" : ", ") + name;
    throw Error("explain: no example for op '" + op_name + "'; known ops: " + known);
  }
  manual_seed(0);
  Tensor y = it->second();
  return y.sum();
}

std::string explain_op(const std::string& op_name, const ExplainOptions& options) {
  return explain(run_op_example(op_name), options);
}

}  // namespace dg
