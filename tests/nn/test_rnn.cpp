// RNN, LSTM and their cells: golden values and gradients against PyTorch (same
// weights), float64 gradchecks of input, state and every parameter (1 and 2
// layers, batch_first both ways, with and without an initial state), the fused
// LSTM step against the autograd of its composition, parameter names, init,
// dropout and shape errors.
#include <cmath>

#include "dimgrad/nn/rnn.hpp"
#include "test_conv_fixture_util.hpp"

using namespace dg;
using nn2_test::close;
using nn2_test::from_json;

namespace {

// Copies the fixture's parameters into the module, checking that the names and
// their order are PyTorch's.
void load_params(nn::Module& m, const nlohmann::json& params, ScalarType dt) {
  auto named = m.named_parameters();
  std::vector<std::string> want;
  for (auto it = params.begin(); it != params.end(); ++it) want.push_back(it.key());
  std::vector<std::string> got = named.keys();
  std::sort(want.begin(), want.end());
  std::vector<std::string> sorted = got;
  std::sort(sorted.begin(), sorted.end());
  ASSERT_EQ(sorted, want);
  NoGradGuard g;
  for (auto& item : named) item.value().copy_(from_json(params.at(item.key()), dt));
}

void expect_param_grads(nn::Module& m, const nlohmann::json& grads, nn2_test::Tol tol) {
  for (auto& item : m.named_parameters()) {
    SCOPED_TRACE(item.key());
    EXPECT_TRUE(close(item.value().grad(), from_json(grads.at(item.key())), tol.atol, tol.rtol));
  }
}

TEST(Rnn, GoldenAgainstPyTorch) {
  for (ScalarType dt : {kFloat64, kFloat32}) {
    auto tol = nn2_test::tol_for(dt);
    for (const auto& c : nn2_test::load_cases("rnn_cases.json")) {
      const std::string kind = c.at("kind");
      SCOPED_TRACE(c.at("name").get<std::string>() + " " + dtype_name(dt));
      const int64_t I = c.at("input_size"), H = c.at("hidden_size");
      Tensor x = from_json(c.at("x"), dt).requires_grad_();
      Tensor h0 = c.contains("h0") ? from_json(c.at("h0"), dt).requires_grad_() : Tensor();
      Tensor c0 = c.contains("c0") ? from_json(c.at("c0"), dt).requires_grad_() : Tensor();
      std::shared_ptr<nn::Module> m;
      Tensor loss;
      if (kind == "rnn" || kind == "lstm") {
        const int64_t L = c.at("num_layers");
        const bool bf = c.at("batch_first"), bias = c.at("bias"), bi = c.at("bidirectional");
        Tensor out, hn, cn;
        if (kind == "lstm") {
          nn::LSTM lstm(nn::LSTMOptions(I, H).num_layers(L).batch_first(bf).bias(bias).bidirectional(bi));
          lstm->to(dt);
          load_params(*lstm, c.at("params"), dt);
          std::optional<std::tuple<Tensor, Tensor>> state;
          if (h0.defined()) state = std::make_tuple(h0, c0);
          auto r = lstm->forward(x, state);
          out = std::get<0>(r);
          std::tie(hn, cn) = std::get<1>(r);
          m = lstm.ptr();
        } else {
          auto o = nn::RNNOptions(I, H).num_layers(L).batch_first(bf).bias(bias).bidirectional(bi);
          if (c.at("nonlinearity") == "relu") o.nonlinearity(kReLU);
          nn::RNN rnn(o);
          rnn->to(dt);
          load_params(*rnn, c.at("params"), dt);
          std::tie(out, hn) = rnn->forward(x, h0);
          m = rnn.ptr();
        }
        EXPECT_TRUE(close(out, from_json(c.at("output")), tol.atol, tol.rtol));
        EXPECT_TRUE(close(hn, from_json(c.at("h_n")), tol.atol, tol.rtol));
        loss = (out * from_json(c.at("grad_output"), dt)).sum() + (hn * from_json(c.at("grad_h_n"), dt)).sum();
        if (cn.defined()) {
          EXPECT_TRUE(close(cn, from_json(c.at("c_n")), tol.atol, tol.rtol));
          loss = loss + (cn * from_json(c.at("grad_c_n"), dt)).sum();
        }
      } else {
        const bool bias = c.at("bias");
        if (kind == "lstm_cell") {
          nn::LSTMCell cell(nn::LSTMCellOptions(I, H).bias(bias));
          cell->to(dt);
          load_params(*cell, c.at("params"), dt);
          std::optional<std::tuple<Tensor, Tensor>> state;
          if (h0.defined()) state = std::make_tuple(h0, c0);
          auto [h, cc] = cell->forward(x, state);
          EXPECT_TRUE(close(h, from_json(c.at("h")), tol.atol, tol.rtol));
          EXPECT_TRUE(close(cc, from_json(c.at("c")), tol.atol, tol.rtol));
          loss = (h * from_json(c.at("grad_h"), dt)).sum() + (cc * from_json(c.at("grad_c"), dt)).sum();
          m = cell.ptr();
        } else {
          nn::RNNCell cell(nn::RNNCellOptions(I, H).bias(bias));
          cell->to(dt);
          load_params(*cell, c.at("params"), dt);
          Tensor h = cell->forward(x, h0);
          EXPECT_TRUE(close(h, from_json(c.at("h")), tol.atol, tol.rtol));
          loss = (h * from_json(c.at("grad_h"), dt)).sum();
          m = cell.ptr();
        }
      }
      loss.backward();
      EXPECT_TRUE(close(x.grad(), from_json(c.at("grad_x")), tol.atol, tol.rtol));
      if (h0.defined()) {
        EXPECT_TRUE(close(h0.grad(), from_json(c.at("grad_h0")), tol.atol, tol.rtol));
      }
      if (c0.defined()) {
        EXPECT_TRUE(close(c0.grad(), from_json(c.at("grad_c0")), tol.atol, tol.rtol));
      }
      expect_param_grads(*m, c.at("grad_params"), tol);
    }
  }
}

// Full-Jacobian float64 gradchecks of the input, the initial state and every parameter.
struct GcCase {
  const char* name;
  bool lstm;
  int64_t layers;
  bool batch_first, init_state, relu, bidirectional;
};

class RnnGradcheck : public ::testing::TestWithParam<GcCase> {};

TEST_P(RnnGradcheck, InputStateAndParameters) {
  const GcCase& g = GetParam();
  manual_seed(17);
  const int64_t I = 2, H = 3, T = 3, N = 2, S = g.layers * (g.bidirectional ? 2 : 1);
  Tensor x = (g.batch_first ? randn({N, T, I}, kFloat64) : randn({T, N, I}, kFloat64)).requires_grad_();
  Tensor h0 = randn({S, N, H}, kFloat64).requires_grad_(), c0 = randn({S, N, H}, kFloat64).requires_grad_();
  TensorList inputs{x};
  if (g.init_state) {
    inputs.push_back(h0);
    if (g.lstm) inputs.push_back(c0);
  }
  std::shared_ptr<nn::Module> m;
  std::function<Tensor(const TensorList&)> fn;
  if (g.lstm) {
    nn::LSTM lstm(nn::LSTMOptions(I, H).num_layers(g.layers).batch_first(g.batch_first).bidirectional(g.bidirectional));
    lstm->to(kFloat64);
    fn = [lstm, g](const TensorList& in) {
      std::optional<std::tuple<Tensor, Tensor>> st;
      if (g.init_state) st = std::make_tuple(in[1], in[2]);
      auto [out, state] = lstm->forward(in[0], st);
      // Every output takes part: the sequence, h_n and c_n.
      return cat({out.reshape({-1}), std::get<0>(state).reshape({-1}), std::get<1>(state).reshape({-1})}, 0);
    };
    m = lstm.ptr();
  } else {
    auto o = nn::RNNOptions(I, H).num_layers(g.layers).batch_first(g.batch_first).bidirectional(g.bidirectional);
    if (g.relu) o.nonlinearity(kReLU);
    nn::RNN rnn(o);
    rnn->to(kFloat64);
    fn = [rnn, g](const TensorList& in) {
      auto [out, hn] = rnn->forward(in[0], g.init_state ? in[1] : Tensor());
      return cat({out.reshape({-1}), hn.reshape({-1})}, 0);
    };
    m = rnn.ptr();
  }
  for (auto& p : m->parameters()) inputs.push_back(p);
  EXPECT_TRUE(gradcheck(fn, inputs, 1e-6, 1e-7, 1e-6)) << g.name;
}

const GcCase kGcCases[] = {
    {"rnn_1layer", false, 1, false, false, false, false},
    {"rnn_2layer_batch_first_h0", false, 2, true, true, false, false},
    {"rnn_relu_2layer_h0", false, 2, false, true, true, false},
    {"lstm_1layer_h0c0", true, 1, false, true, false, false},
    {"lstm_1layer_batch_first", true, 1, true, false, false, false},
    {"lstm_2layer", true, 2, false, false, false, false},
    {"lstm_2layer_batch_first_h0c0", true, 2, true, true, false, false},
    {"lstm_bidirectional_2layer", true, 2, false, true, false, true},
};
INSTANTIATE_TEST_SUITE_P(Configs, RnnGradcheck, ::testing::ValuesIn(kGcCases),
                         [](const auto& info) { return std::string(info.param.name); });

// The fused pointwise step against the same step composed from sigmoid, tanh,
// mul and add (autograd derives that one), values and gradients.
TEST(Rnn, FusedLstmStepMatchesComposition) {
  manual_seed(23);
  const int64_t N = 3, H = 4;
  Tensor a = randn({N, 4 * H}, kFloat64).requires_grad_(), c = randn({N, H}, kFloat64).requires_grad_();
  auto [h1, c1] = lstm_cell_pointwise(a, c);
  Tensor i = sigmoid(a.narrow(1, 0, H)), f = sigmoid(a.narrow(1, H, H)), g = tanh(a.narrow(1, 2 * H, H)),
         o = sigmoid(a.narrow(1, 3 * H, H));
  Tensor c2 = f * c + i * g, h2 = o * tanh(c2);
  EXPECT_TRUE(close(h1, h2, 1e-15, 1e-14));
  EXPECT_TRUE(close(c1, c2, 1e-15, 1e-14));
  Tensor gh = randn({N, H}, kFloat64), gc = randn({N, H}, kFloat64);
  for (int which = 0; which < 3; ++which) {  // gradient into h' only, c' only, both
    TensorList roots, seeds;
    TensorList roots2, seeds2;
    if (which != 1) {
      roots = {h1};
      seeds = {gh};
      roots2 = {h2};
      seeds2 = {gh};
    }
    if (which != 0) {
      roots.push_back(c1);
      seeds.push_back(gc);
      roots2.push_back(c2);
      seeds2.push_back(gc);
    }
    TensorList fused = autograd::grad(roots, {a, c}, seeds, true);
    TensorList composed = autograd::grad(roots2, {a, c}, seeds2, true);
    for (int k = 0; k < 2; ++k) EXPECT_TRUE(close(fused[k], composed[k], 1e-14, 1e-12)) << which << " " << k;
  }
}

TEST(Rnn, UnbindGradientStacksSteps) {
  Tensor a = arange(12, kFloat64).reshape({3, 4}).requires_grad_();
  auto steps = unbind(a, 0);
  ASSERT_EQ(steps.size(), 3u);
  EXPECT_TRUE(close(steps[1], tensor({4.0, 5.0, 6.0, 7.0}, kFloat64), 0, 0));
  // Only steps 0 and 2 are used; step 1 gets zeros.
  (steps[0] * 2.0 + steps[2] * 3.0).sum().backward();
  EXPECT_TRUE(close(a.grad(), tensor({2.0, 2, 2, 2, 0, 0, 0, 0, 3, 3, 3, 3}, kFloat64).reshape({3, 4}), 0, 0));
  auto cols = unbind(a, 1);
  EXPECT_EQ(cols.size(), 4u);
  EXPECT_TRUE(close(cols[3], tensor({3.0, 7.0, 11.0}, kFloat64), 0, 0));
}

// ------------------------------------------------------------------ modules
TEST(RnnModules, ParameterNamesShapesInit) {
  manual_seed(9);
  nn::LSTM lstm(nn::LSTMOptions(10, 20).num_layers(2));
  std::vector<std::string> want{"weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0",
                                "weight_ih_l1", "weight_hh_l1", "bias_ih_l1", "bias_hh_l1"};
  EXPECT_EQ(lstm->named_parameters().keys(), want);
  EXPECT_EQ(lstm->named_parameters()["weight_ih_l0"].sizes(), IntArrayRef({80, 10}));
  EXPECT_EQ(lstm->named_parameters()["weight_ih_l1"].sizes(), IntArrayRef({80, 20}));
  const double bound = 1.0 / std::sqrt(20.0);
  for (auto& p : lstm->parameters()) {
    EXPECT_LE(p.abs().max().item<double>(), bound);
    EXPECT_GT(p.abs().max().item<double>(), 0.8 * bound);
  }
  nn::RNN rnn(nn::RNNOptions(3, 4).bidirectional(true).bias(false));
  EXPECT_EQ(rnn->named_parameters().keys(),
            (std::vector<std::string>{"weight_ih_l0", "weight_hh_l0", "weight_ih_l0_reverse", "weight_hh_l0_reverse"}));
  nn::LSTMCell cell(5, 6);
  EXPECT_EQ(cell->named_parameters().keys(),
            (std::vector<std::string>{"weight_ih", "weight_hh", "bias_ih", "bias_hh"}));
  EXPECT_EQ(cell->weight_ih.sizes(), IntArrayRef({24, 5}));

  // Output shapes, unbatched input, batch_first.
  auto [out, state] = lstm->forward(randn({7, 3, 10}));
  EXPECT_EQ(out.sizes(), IntArrayRef({7, 3, 20}));
  EXPECT_EQ(std::get<1>(state).sizes(), IntArrayRef({2, 3, 20}));
  auto [o1, s1] = lstm->forward(randn({7, 10}));
  EXPECT_EQ(o1.sizes(), IntArrayRef({7, 20}));
  EXPECT_EQ(std::get<0>(s1).sizes(), IntArrayRef({2, 20}));
  nn::RNN rb(nn::RNNOptions(3, 4).batch_first(true).bidirectional(true));
  auto [ro, rh] = rb->forward(randn({2, 5, 3}));
  EXPECT_EQ(ro.sizes(), IntArrayRef({2, 5, 8}));
  EXPECT_EQ(rh.sizes(), IntArrayRef({2, 2, 4}));
  std::ostringstream d;
  rb->pretty_print(d);
  EXPECT_EQ(d.str(), "RNN 3→4 tanh batch_first bidirectional");
}

TEST(RnnModules, DropoutOnlyBetweenLayersInTraining) {
  manual_seed(4);
  nn::LSTM lstm(nn::LSTMOptions(3, 5).num_layers(2).dropout(0.5));
  Tensor x = randn({4, 2, 3});
  lstm->eval();
  Tensor e1 = std::get<0>(lstm->forward(x)), e2 = std::get<0>(lstm->forward(x));
  EXPECT_TRUE(close(e1, e2, 0, 0));  // eval: deterministic
  lstm->train();
  Tensor t1 = std::get<0>(lstm->forward(x));
  EXPECT_FALSE(t1.allclose(e1, 1e-6, 1e-6));  // train: the first layer's output was dropped out
  // One layer: nothing to drop between layers, train equals eval.
  nn::LSTM one(nn::LSTMOptions(3, 5).dropout(0.5));
  Tensor a = std::get<0>(one->forward(x));
  one->eval();
  EXPECT_TRUE(close(a, std::get<0>(one->forward(x)), 0, 0));
}

TEST(RnnModules, BadInputNamesPathAndShapes) {
  struct Net : nn::Module {
    nn::LSTM rnn{nullptr};
    Net() { rnn = register_module("encoder", nn::LSTM(nn::LSTMOptions(10, 20).batch_first(true))); }
  };
  auto net = std::make_shared<Net>();
  std::string msg = nn2_test::shape_error_of([&] { net->rnn->forward(randn({4, 7, 12})); });
  EXPECT_NE(msg.find("encoder (LSTM 10→20 batch_first) expected input [N, T, 10], got [4, 7, 12]"), std::string::npos)
      << msg;
  msg = nn2_test::shape_error_of([&] { net->rnn->forward(randn({4, 7, 10, 1})); });
  EXPECT_NE(msg.find("expected input [N, T, 10], got [4, 7, 10, 1]"), std::string::npos) << msg;
  msg = nn2_test::shape_error_of(
      [&] { net->rnn->forward(randn({4, 7, 10}), std::make_tuple(zeros({1, 3, 20}), zeros({1, 4, 20}))); });
  EXPECT_NE(msg.find("encoder (LSTM 10→20 batch_first) expected h_0 [1, 4, 20]"), std::string::npos) << msg;
  EXPECT_NE(msg.find("got [1, 3, 20]"), std::string::npos) << msg;
  nn::RNN rnn(3, 4);
  msg = nn2_test::shape_error_of([&] { rnn->forward(randn({5, 2, 4})); });
  EXPECT_NE(msg.find("RNN 3→4 tanh expected input [T, N, 3], got [5, 2, 4]"), std::string::npos) << msg;
  nn::LSTMCell cell(3, 4);
  msg = nn2_test::shape_error_of([&] { cell->forward(randn({2, 5})); });
  EXPECT_NE(msg.find("LSTMCell 3→4 expected input [N, 3], got [2, 5]"), std::string::npos) << msg;
  EXPECT_THROW(nn::LSTM(nn::LSTMOptions(3, 4).proj_size(2)), Error);
  // A single-tensor call through the Module base names the layer.
  EXPECT_THROW(static_cast<nn::Module&>(*rnn).forward(randn({5, 2, 3})), Error);
}

}  // namespace
