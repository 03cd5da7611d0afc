// Golden tests against PyTorch 1.13 (tests/fixtures/nn/layers.json, written by
// tools/make_nn_fixtures.py): every layer and loss of the first half of dg::nn —
// its output and the gradient of each input for a seeded upstream gradient —
// with the same weights; batch norm's running statistics after several training
// steps; the state-dict names of a small model.
#include <functional>
#include <map>

#include "nn1_test_util.hpp"

namespace F = dg::nn::functional;
using dg::Tensor;
using dg::TensorList;
using nn1_test::close;
using nn1_test::fixtures;
using nn1_test::from_json;
using nn1_test::json;

namespace {

dg::nn::reduction_t reduction(const json& a) {
  const std::string r = a.value("reduction", "mean");
  if (r == "sum") return dg::kSum;
  if (r == "none") return dg::kNone;
  return dg::kMean;
}

Tensor opt(const TensorList& x, size_t i) { return i < x.size() ? x[i] : Tensor(); }

using OpFn = std::function<Tensor(const TensorList&, const json&)>;

// The same table as OPS in tools/make_nn_fixtures.py.
const std::map<std::string, OpFn>& ops() {
  static const std::map<std::string, OpFn> m = {
      {"linear", [](const TensorList& x, const json&) { return F::linear(x[0], x[1], opt(x, 2)); }},
      {"relu", [](const TensorList& x, const json&) { return F::relu(x[0]); }},
      {"leaky_relu",
       [](const TensorList& x, const json& a) {
         return F::leaky_relu(x[0], F::LeakyReLUFuncOptions().negative_slope(a["slope"]));
       }},
      {"elu", [](const TensorList& x, const json& a) { return F::elu(x[0], F::ELUFuncOptions().alpha(a["alpha"])); }},
      {"gelu",
       [](const TensorList& x, const json& a) {
         return F::gelu(x[0], F::GELUFuncOptions().approximate(a["approximate"].get<std::string>()));
       }},
      {"softplus",
       [](const TensorList& x, const json& a) {
         return F::softplus(x[0], F::SoftplusFuncOptions().beta(a["beta"]).threshold(a["threshold"]));
       }},
      {"silu", [](const TensorList& x, const json&) { return F::silu(x[0]); }},
      {"cosine_similarity",
       [](const TensorList& x, const json& a) {
         return F::cosine_similarity(x[0], x[1], F::CosineSimilarityFuncOptions().dim(a["dim"]).eps(a["eps"]));
       }},
      {"pairwise_distance",
       [](const TensorList& x, const json& a) {
         return F::pairwise_distance(
             x[0], x[1], F::PairwiseDistanceFuncOptions().p(a["p"]).eps(a["eps"]).keepdim(a["keepdim"]));
       }},
      {"normalize",
       [](const TensorList& x, const json& a) {
         return F::normalize(x[0], F::NormalizeFuncOptions().p(a["p"]).dim(a["dim"]).eps(a["eps"]));
       }},
      {"sigmoid", [](const TensorList& x, const json&) { return F::sigmoid(x[0]); }},
      {"tanh", [](const TensorList& x, const json&) { return F::tanh(x[0]); }},
      {"softmax", [](const TensorList& x, const json& a) { return F::softmax(x[0], a["dim"].get<int64_t>()); }},
      {"log_softmax",
       [](const TensorList& x, const json& a) { return F::log_softmax(x[0], a["dim"].get<int64_t>()); }},
      {"batch_norm",
       [](const TensorList& x, const json& a) {
         return F::batch_norm(x[0], opt(x, 3), opt(x, 4),
                              F::BatchNormFuncOptions()
                                  .weight(opt(x, 1))
                                  .bias(opt(x, 2))
                                  .training(a["training"])
                                  .momentum(a["momentum"].get<double>())
                                  .eps(a["eps"]));
       }},
      {"layer_norm",
       [](const TensorList& x, const json& a) {
         return F::layer_norm(x[0], F::LayerNormFuncOptions(a["shape"].get<std::vector<int64_t>>())
                                        .weight(opt(x, 1))
                                        .bias(opt(x, 2))
                                        .eps(a["eps"]));
       }},
      {"group_norm",
       [](const TensorList& x, const json& a) {
         return F::group_norm(
             x[0], F::GroupNormFuncOptions(a["groups"]).weight(opt(x, 1)).bias(opt(x, 2)).eps(a["eps"]));
       }},
      {"embedding",
       [](const TensorList& x, const json& a) {
         F::EmbeddingFuncOptions o;
         if (a.contains("padding_idx")) o.padding_idx(a["padding_idx"].get<int64_t>());
         o.scale_grad_by_freq(a.value("scale_grad_by_freq", false));
         return F::embedding(x[1], x[0], o);
       }},
      {"flatten", [](const TensorList& x, const json& a) { return x[0].flatten(a["start"], a["end"]); }},
      {"cross_entropy",
       [](const TensorList& x, const json& a) {
         return F::cross_entropy(x[0], x[1],
                                 F::CrossEntropyFuncOptions()
                                     .weight(opt(x, 2))
                                     .reduction(reduction(a))
                                     .ignore_index(a.value("ignore_index", int64_t(-100)))
                                     .label_smoothing(a.value("label_smoothing", 0.0)));
       }},
      {"nll_loss",
       [](const TensorList& x, const json& a) {
         return F::nll_loss(x[0], x[1],
                            F::NLLLossFuncOptions().weight(opt(x, 2)).reduction(reduction(a)).ignore_index(
                                a.value("ignore_index", int64_t(-100))));
       }},
      {"multi_margin_loss",
       [](const TensorList& x, const json& a) {
         return F::multi_margin_loss(
             x[0], x[1],
             F::MultiMarginLossFuncOptions().p(a["p"]).margin(a["margin"]).weight(opt(x, 2)).reduction(reduction(a)));
       }},
      {"mse_loss",
       [](const TensorList& x, const json& a) {
         return F::mse_loss(x[0], x[1], F::MSELossFuncOptions().reduction(reduction(a)));
       }},
      {"l1_loss",
       [](const TensorList& x, const json& a) {
         return F::l1_loss(x[0], x[1], F::L1LossFuncOptions().reduction(reduction(a)));
       }},
      {"smooth_l1_loss",
       [](const TensorList& x, const json& a) {
         return F::smooth_l1_loss(x[0], x[1], F::SmoothL1LossFuncOptions().reduction(reduction(a)).beta(a["beta"]));
       }},
      {"huber_loss",
       [](const TensorList& x, const json& a) {
         return F::huber_loss(x[0], x[1], F::HuberLossFuncOptions().reduction(reduction(a)).delta(a["delta"]));
       }},
      {"binary_cross_entropy",
       [](const TensorList& x, const json& a) {
         return F::binary_cross_entropy(x[0], x[1],
                                        F::BinaryCrossEntropyFuncOptions().weight(opt(x, 2)).reduction(reduction(a)));
       }},
      {"binary_cross_entropy_with_logits",
       [](const TensorList& x, const json& a) {
         return F::binary_cross_entropy_with_logits(
             x[0], x[1],
             F::BinaryCrossEntropyWithLogitsFuncOptions().weight(opt(x, 2)).pos_weight(opt(x, 3)).reduction(
                 reduction(a)));
       }},
      {"kl_div",
       [](const TensorList& x, const json& a) {
         F::KLDivFuncOptions o;
         const std::string r = a.value("reduction", "mean");
         if (r == "batchmean") o.reduction(dg::kBatchMean);
         else if (r == "sum") o.reduction(dg::kSum);
         else if (r == "none") o.reduction(dg::kNone);
         return F::kl_div(x[0], x[1], o.log_target(a.value("log_target", false)));
       }},
  };
  return m;
}

// One fixture case (printed by name only).
struct Case {
  json j;
};
void PrintTo(const Case& c, std::ostream* os) { *os << c.j["name"].get<std::string>(); }

std::vector<Case> all_cases() {
  std::vector<Case> v;
  for (const auto& c : fixtures().at("cases")) v.push_back({c});
  return v;
}

class Golden : public ::testing::TestWithParam<Case> {};

TEST_P(Golden, OutputAndGradientsMatchPyTorch) {
  const json& c = GetParam().j;
  SCOPED_TRACE(c["name"].get<std::string>());
  auto it = ops().find(c["op"]);
  ASSERT_NE(it, ops().end()) << "no dimgrad function for op " << c["op"];
  const auto grad_idx = c["requires_grad"].get<std::vector<size_t>>();
  TensorList x;
  for (size_t i = 0; i < c["inputs"].size(); ++i) {
    Tensor t = from_json(c["inputs"][i]);
    if (t.defined() && std::find(grad_idx.begin(), grad_idx.end(), i) != grad_idx.end()) t.requires_grad_();
    x.push_back(t);
  }
  Tensor y = it->second(x, c["args"]);
  EXPECT_TRUE(close(y, from_json(c["outputs"][0]))) << "output";
  // Tensors the op changed in place (batch norm's running statistics).
  for (size_t i = 0; i < x.size(); ++i)
    if (!c["after"][i].is_null() && x[i].defined() && x[i].is_floating_point()) {
      EXPECT_TRUE(close(x[i], from_json(c["after"][i]))) << "input " << i << " after the call";
    }
  if (grad_idx.empty()) return;
  TensorList wrt;
  for (size_t i : grad_idx) wrt.push_back(x[i]);
  TensorList g = dg::autograd::grad({y}, wrt, {from_json(c["grad_output"])}, false, false, /*allow_unused=*/true);
  for (size_t k = 0; k < grad_idx.size(); ++k) {
    if (c["grads"][k].is_null()) continue;
    EXPECT_TRUE(close(g[k], from_json(c["grads"][k]))) << "gradient of input " << grad_idx[k];
  }
}

INSTANTIATE_TEST_SUITE_P(NnLayers, Golden, ::testing::ValuesIn(all_cases()),
                         [](const ::testing::TestParamInfo<Case>& i) { return i.param.j["name"].get<std::string>(); });

// BatchNorm modules trained for several steps: running_mean, running_var and
// num_batches_tracked match PyTorch's, and so does the eval-mode output.
TEST(GoldenBatchNorm, RunningStatisticsAfterTrainingSteps) {
  for (const auto& r : fixtures().at("batchnorm_runs")) {
    SCOPED_TRACE(r["name"].get<std::string>());
    dg::nn::BatchNormOptions o(r["num_features"].get<int64_t>());
    o.eps(r["eps"]);
    if (r["momentum"].is_null()) o.momentum(std::nullopt);
    else o.momentum(r["momentum"].get<double>());
    std::shared_ptr<dg::nn::BatchNormImplBase> bn;
    if (r["dims"] == 4) bn = dg::nn::BatchNorm2d(o).ptr();
    else bn = dg::nn::BatchNorm1d(o).ptr();
    bn->to(dg::kFloat64);
    bn->train();
    for (const auto& b : r["batches"]) bn->forward(from_json(b).requires_grad_()).sum().backward();
    bn->eval();
    EXPECT_TRUE(close(bn->forward(from_json(r["probe"])), from_json(r["probe_out"]))) << "eval output";
    auto state = bn->state_dict();
    for (const auto& [key, value] : r["state"].items()) {
      ASSERT_TRUE(state.contains(key)) << "missing state key " << key;
      Tensor want = from_json(value);
      if (want.dtype() == dg::kInt64) {
        EXPECT_EQ(state[key].item<int64_t>(), want.item<int64_t>()) << key;
      } else {
        EXPECT_TRUE(close(state[key], want)) << key;
      }
    }
    EXPECT_EQ(state.size(), r["state"].size());
  }
}

// A model built from the same layers has PyTorch's state-dict keys, in order.
TEST(GoldenStateDict, KeysMatchPyTorch) {
  using namespace dg::nn;
  Sequential model(Linear(4, 3), BatchNorm1d(3), ReLU(), Linear(3, 2), LayerNorm(LayerNormOptions({2})),
                   Embedding(5, 2));
  std::vector<std::string> keys = model->state_dict().keys();
  EXPECT_EQ(keys, fixtures().at("state_dict_keys").get<std::vector<std::string>>());
}

}  // namespace
