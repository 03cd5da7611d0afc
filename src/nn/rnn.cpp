// nn::RNN, LSTM, RNNCell, LSTMCell, and the step functions they share.
//
// One layer, one direction, over a sequence x [T, N, I] with state h [N, H]:
//   XW [T·N × G·H] = X [T·N × I] · W_ihᵀ [I × G·H] + (b_ih + b_hh)   (every step's input share in one GEMM)
//   per step t:  A_t [N × G·H] = XW_t + h · W_hhᵀ [H × G·H]
//                RNN:  h = tanh(A_t) (or relu);   LSTM: (h, c) = lstm_cell_pointwise(A_t, c)
// Everything is a differentiable op (mm, add, unbind, stack, tanh, the LSTM
// pointwise op), so autograd derives backpropagation through time: dW_hh is the
// sum over steps of hᵀ_{t−1} · dA_t, and dh_{t−1} = dA_t · W_hh gets added to the
// gradient that h_{t−1} receives as an output (docs/derivations/lstm.md).
#include "dimgrad/nn/rnn.hpp"

#include <cmath>
#include <sstream>

#include "dimgrad/nn/linear.hpp"

namespace dg {

namespace {
Tensor cell_input_share(const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh,
                        const Tensor& b_ih, const Tensor& b_hh) {
  // A [N × G·H] = x [N × I] · W_ihᵀ [I × G·H] + b_ih + h [N × H] · W_hhᵀ [H × G·H] + b_hh (biases broadcast
  // over N): two linear ops, whose GEMMs add the biases as they write A's halves, and one sum.
  return nn::functional::linear(input, w_ih, b_ih) + nn::functional::linear(hx, w_hh, b_hh);
}
}  // namespace

std::tuple<Tensor, Tensor> lstm_cell(const Tensor& input, const std::tuple<Tensor, Tensor>& hx, const Tensor& w_ih,
                                     const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh) {
  return lstm_cell_pointwise(cell_input_share(input, std::get<0>(hx), w_ih, w_hh, b_ih, b_hh), std::get<1>(hx));
}

Tensor rnn_tanh_cell(const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                     const Tensor& b_hh) {
  return tanh(cell_input_share(input, hx, w_ih, w_hh, b_ih, b_hh));
}

Tensor rnn_relu_cell(const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih,
                     const Tensor& b_hh) {
  return relu(cell_input_share(input, hx, w_ih, w_hh, b_ih, b_hh));
}

namespace nn {
namespace {

// Inverted dropout between layers: kept values are scaled by 1/(1 − p).
Tensor layer_dropout(const Tensor& x, double p) {
  if (p >= 1.0) return x * 0.0;
  Tensor mask;
  {
    NoGradGuard g;
    mask = empty(x.sizes(), x.dtype()).bernoulli_(1.0 - p).div_(1.0 - p);
  }
  return x * mask;
}

struct LayerOut {
  Tensor out, h, c;  // out [T, N, H]; final h (and c) [N, H]
};

// One direction of one layer; `lstm` selects the cell, `relu` the RNN nonlinearity.
LayerOut run_layer(const Tensor& x, const Tensor& w_ih, const Tensor& w_hh, const Tensor& b_ih, const Tensor& b_hh,
                   Tensor h, Tensor c, bool lstm, bool relu_act, bool reverse) {
  const int64_t T = x.size(0), N = x.size(1), GH = w_ih.size(0);
  // XW [T·N × G·H] = X [T·N × I] · W_ihᵀ [I × G·H]: the input's share of every step in one GEMM
  // (+ b_ih + b_hh, both broadcast over the T·N rows: added by the GEMM as it writes XW, not as a second pass
  // over it, which took 7% of an LSTM's training step)
  Tensor xw = functional::linear(x.reshape({T * N, x.size(2)}), w_ih, b_ih.defined() ? b_ih + b_hh : Tensor{});
  std::vector<Tensor> steps = unbind(xw.reshape({T, N, GH}), 0);
  const Tensor whh_t = w_hh.t();  // [H × G·H]
  std::vector<Tensor> outs(static_cast<size_t>(T));
  for (int64_t s = 0; s < T; ++s) {
    const int64_t t = reverse ? T - 1 - s : s;
    Tensor a = steps[static_cast<size_t>(t)] + mm(h, whh_t);  // A_t [N × G·H] = XW_t + h · W_hhᵀ
    if (lstm) std::tie(h, c) = lstm_cell_pointwise(a, c);
    else h = relu_act ? relu(a) : tanh(a);
    outs[static_cast<size_t>(t)] = h;
  }
  return {stack(outs, 0), h, c};
}

std::string dims_str(std::initializer_list<std::string> parts) {
  std::string s = "[";
  for (const auto& p : parts) s += (s.size() > 1 ? ", " : "") + p;
  return s + "]";
}

}  // namespace

namespace detail {

RNNImplBase::RNNImplBase(std::string name, int64_t input_size, int64_t hidden_size, int64_t num_layers, bool bias,
                         bool batch_first, double dropout, bool bidirectional, int64_t gates)
    : Module(std::move(name)), input_size_(input_size), hidden_size_(hidden_size), num_layers_(num_layers),
      bias_(bias), batch_first_(batch_first), dropout_(dropout), bidirectional_(bidirectional), gates_(gates),
      dirs_(bidirectional ? 2 : 1) {}

void RNNImplBase::reset() {
  if (input_size_ <= 0 || hidden_size_ <= 0 || num_layers_ <= 0)
    throw Error(name() + ": input_size, hidden_size and num_layers must be positive, got " +
                std::to_string(input_size_) + ", " + std::to_string(hidden_size_) + ", " + std::to_string(num_layers_));
  if (!(dropout_ >= 0.0 && dropout_ <= 1.0))
    throw Error(name() + ": dropout must be in [0, 1], got " + std::to_string(dropout_));
  w_.clear();
  const int64_t GH = gates_ * hidden_size_;
  for (int64_t l = 0; l < num_layers_; ++l) {
    for (int64_t d = 0; d < dirs_; ++d) {
      const std::string sfx = "_l" + std::to_string(l) + (d == 1 ? "_reverse" : "");
      const int64_t in = l == 0 ? input_size_ : hidden_size_ * dirs_;
      Weights w;
      w.w_ih = register_parameter("weight_ih" + sfx, empty({GH, in}));
      w.w_hh = register_parameter("weight_hh" + sfx, empty({GH, hidden_size_}));
      if (bias_) {
        w.b_ih = register_parameter("bias_ih" + sfx, empty({GH}));
        w.b_hh = register_parameter("bias_hh" + sfx, empty({GH}));
      }
      w_.push_back(w);
    }
  }
  reset_parameters();
}

void RNNImplBase::reset_parameters() {
  NoGradGuard g;
  const double stdv = 1.0 / std::sqrt(static_cast<double>(hidden_size_));  // PyTorch: every parameter U(±1/√H)
  for (auto& p : parameters()) p.uniform_(-stdv, stdv);
}

Tensor RNNImplBase::seq_first(ForwardGuard& guard, const Tensor& input, bool& unbatched) const {
  const std::string I = std::to_string(input_size_);
  const std::string expected = batch_first_ ? dims_str({"N", "T", I}) : dims_str({"T", "N", I});
  if (!input.defined()) guard.shape_error(expected, "the input tensor is undefined");
  if (input.dim() != 3 && input.dim() != 2)
    guard.shape_error(expected, std::string("a batch of sequences") +
                                    (batch_first_ ? " (batch_first)" : " (sequence first; batch_first(true) for [N, T, " + I + "])") +
                                    ", or one sequence [T, " + I + "]");
  if (input.size(-1) != input_size_)
    guard.shape_error(expected, "the last dimension holds the " + std::to_string(input.size(-1)) +
                                    " features of each step; the layer takes " + I);
  if (!is_floating(input.dtype()) || input.dtype() != parameters()[0].dtype())
    throw DTypeError(display_name() + " has " + dtype_name(parameters()[0].dtype()) + " parameters but got a " +
                     dtype_name(input.dtype()) + " input");
  unbatched = input.dim() == 2;
  Tensor x = unbatched ? input.unsqueeze(1) : (batch_first_ ? input.transpose(0, 1) : input);
  if (x.size(0) == 0) guard.shape_error(expected, "the sequence is empty (T = 0)");
  return x;
}

Tensor RNNImplBase::state_or_zeros(const Tensor& s, const Tensor& x, bool unbatched, const char* what) const {
  const int64_t LD = num_layers_ * dirs_, N = x.size(1);
  if (!s.defined()) return zeros({LD, N, hidden_size_}, x.dtype());
  Shape want = unbatched ? Shape({LD, hidden_size_}) : Shape({LD, N, hidden_size_});
  if (Shape(s.sizes()) != want)
    throw ShapeError(display_name() + " expected " + what + " " + shape_str(want) + " ([num_layers·directions" +
                     (unbatched ? "" : ", N") + ", hidden_size]), got " + shape_str(s.sizes()));
  if (s.dtype() != x.dtype())
    throw DTypeError(display_name() + ": " + what + " is " + dtype_name(s.dtype()) + ", the input " +
                     dtype_name(x.dtype()));
  return unbatched ? s.unsqueeze(1) : s;
}

std::string RNNImplBase::describe(const char* kind) const {
  std::ostringstream o;
  o << kind << " " << input_size_ << "→" << hidden_size_;
  if (num_layers_ != 1) o << " layers=" << num_layers_;
  if (batch_first_) o << " batch_first";
  if (bidirectional_) o << " bidirectional";
  if (!bias_) o << " no bias";
  if (dropout_ > 0) o << " dropout=" << dropout_;
  return o.str();
}

}  // namespace detail

// ------------------------------------------------------------------------ RNN
RNNImpl::RNNImpl(const RNNOptions& o)
    : RNNImplBase("RNN", o.input_size(), o.hidden_size(), o.num_layers(), o.bias(), o.batch_first(), o.dropout(),
                  o.bidirectional(), 1),
      options(o) {
  reset();
}

void RNNImpl::pretty_print(std::ostream& os) const {
  std::string d = describe("RNN");
  const bool relu_act = std::holds_alternative<enumtype::kReLU>(options.nonlinearity());
  // "RNN 3→4 relu layers=2": the nonlinearity right after the sizes.
  auto pos = d.find(' ', d.find("→"));
  os << (pos == std::string::npos ? d + (relu_act ? " relu" : " tanh")
                                  : d.substr(0, pos) + (relu_act ? " relu" : " tanh") + d.substr(pos));
}

std::tuple<Tensor, Tensor> RNNImpl::forward(const Tensor& input, Tensor hx) {
  ForwardGuard guard(*this, input);
  bool unbatched = false;
  Tensor x = seq_first(guard, input, unbatched);
  Tensor h0 = state_or_zeros(hx, x, unbatched, "hx");
  const bool relu_act = std::holds_alternative<enumtype::kReLU>(options.nonlinearity());
  std::vector<Tensor> h_init = unbind(h0, 0), h_n;
  Tensor layer_in = x;
  for (int64_t l = 0; l < num_layers_; ++l) {
    std::vector<Tensor> outs;
    for (int64_t d = 0; d < dirs(); ++d) {
      const auto& w = weights(l, d);
      LayerOut r = run_layer(layer_in, w.w_ih, w.w_hh, w.b_ih, w.b_hh, h_init[static_cast<size_t>(l * dirs() + d)],
                             Tensor(), false, relu_act, d == 1);
      outs.push_back(r.out);
      h_n.push_back(r.h);
    }
    layer_in = outs.size() == 1 ? outs[0] : cat(outs, 2);  // [T, N, dirs·H]
    if (l + 1 < num_layers_ && dropout_ > 0 && is_training()) layer_in = layer_dropout(layer_in, dropout_);
  }
  Tensor output = unbatched ? layer_in.squeeze(1) : (batch_first_ ? layer_in.transpose(0, 1) : layer_in);
  Tensor hn = stack(h_n, 0);  // [layers·dirs, N, H]
  if (unbatched) hn = hn.squeeze(1);
  guard.done(output);
  return {output, hn};
}

// ----------------------------------------------------------------------- LSTM
LSTMImpl::LSTMImpl(const LSTMOptions& o)
    : RNNImplBase("LSTM", o.input_size(), o.hidden_size(), o.num_layers(), o.bias(), o.batch_first(), o.dropout(),
                  o.bidirectional(), 4),
      options(o) {
  if (o.proj_size() != 0)
    throw Error("LSTM: proj_size " + std::to_string(o.proj_size()) + " is not supported (only 0, no projection)");
  reset();
}

void LSTMImpl::pretty_print(std::ostream& os) const { os << describe("LSTM"); }

std::tuple<Tensor, std::tuple<Tensor, Tensor>> LSTMImpl::forward(const Tensor& input,
                                                                 std::optional<std::tuple<Tensor, Tensor>> hx_opt) {
  ForwardGuard guard(*this, input);
  bool unbatched = false;
  Tensor x = seq_first(guard, input, unbatched);
  Tensor h0 = state_or_zeros(hx_opt ? std::get<0>(*hx_opt) : Tensor(), x, unbatched, "h_0");
  Tensor c0 = state_or_zeros(hx_opt ? std::get<1>(*hx_opt) : Tensor(), x, unbatched, "c_0");
  std::vector<Tensor> h_init = unbind(h0, 0), c_init = unbind(c0, 0), h_n, c_n;
  Tensor layer_in = x;
  for (int64_t l = 0; l < num_layers_; ++l) {
    std::vector<Tensor> outs;
    for (int64_t d = 0; d < dirs(); ++d) {
      const auto& w = weights(l, d);
      const size_t k = static_cast<size_t>(l * dirs() + d);
      LayerOut r = run_layer(layer_in, w.w_ih, w.w_hh, w.b_ih, w.b_hh, h_init[k], c_init[k], true, false, d == 1);
      outs.push_back(r.out);
      h_n.push_back(r.h);
      c_n.push_back(r.c);
    }
    layer_in = outs.size() == 1 ? outs[0] : cat(outs, 2);  // [T, N, dirs·H]
    if (l + 1 < num_layers_ && dropout_ > 0 && is_training()) layer_in = layer_dropout(layer_in, dropout_);
  }
  Tensor output = unbatched ? layer_in.squeeze(1) : (batch_first_ ? layer_in.transpose(0, 1) : layer_in);
  Tensor hn = stack(h_n, 0), cn = stack(c_n, 0);  // [layers·dirs, N, H] each
  if (unbatched) {
    hn = hn.squeeze(1);
    cn = cn.squeeze(1);
  }
  guard.done(output);
  return {output, {hn, cn}};
}

// ---------------------------------------------------------------------- cells
namespace {
// input [N, I] or [I] → [N, I]; a state [N, H] (or [H]) checked, zeros if undefined.
Tensor cell_batch(ForwardGuard& guard, const Tensor& input, int64_t I, bool& unbatched) {
  const std::string expected = "[N, " + std::to_string(I) + "]";
  if (!input.defined()) guard.shape_error(expected, "the input tensor is undefined");
  if ((input.dim() != 2 && input.dim() != 1) || input.size(-1) != I) guard.shape_error(expected);
  unbatched = input.dim() == 1;
  return unbatched ? input.unsqueeze(0) : input;
}
Tensor cell_state(const Module& m, const Tensor& s, const Tensor& x, int64_t H, bool unbatched, const char* what) {
  if (!s.defined()) return zeros({x.size(0), H}, x.dtype());
  Shape want = unbatched ? Shape({H}) : Shape({x.size(0), H});
  if (Shape(s.sizes()) != want)
    throw ShapeError(m.display_name() + " expected " + what + " " + shape_str(want) + ", got " + shape_str(s.sizes()));
  return unbatched ? s.unsqueeze(0) : s;
}
void register_cell(Module& m, int64_t I, int64_t H, int64_t G, bool bias, Tensor& w_ih, Tensor& w_hh, Tensor& b_ih,
                   Tensor& b_hh) {
  if (I <= 0 || H <= 0)
    throw Error(m.name() + ": input_size and hidden_size must be positive, got " + std::to_string(I) + " and " +
                std::to_string(H));
  w_ih = m.register_parameter("weight_ih", empty({G * H, I}));
  w_hh = m.register_parameter("weight_hh", empty({G * H, H}));
  if (bias) {
    b_ih = m.register_parameter("bias_ih", empty({G * H}));
    b_hh = m.register_parameter("bias_hh", empty({G * H}));
  }
}
void init_uniform(Module& m, int64_t H) {
  NoGradGuard g;
  const double stdv = 1.0 / std::sqrt(static_cast<double>(H));
  for (auto& p : m.parameters()) p.uniform_(-stdv, stdv);
}
}  // namespace

RNNCellImpl::RNNCellImpl(const RNNCellOptions& o) : Module("RNNCell"), options(o) { reset(); }
void RNNCellImpl::reset() {
  register_cell(*this, options.input_size(), options.hidden_size(), 1, options.bias(), weight_ih, weight_hh, bias_ih,
                bias_hh);
  reset_parameters();
}
void RNNCellImpl::reset_parameters() { init_uniform(*this, options.hidden_size()); }
void RNNCellImpl::pretty_print(std::ostream& os) const {
  os << "RNNCell " << options.input_size() << "→" << options.hidden_size()
     << (std::holds_alternative<enumtype::kReLU>(options.nonlinearity()) ? " relu" : " tanh")
     << (options.bias() ? "" : " no bias");
}
Tensor RNNCellImpl::forward(const Tensor& input, Tensor hx) {
  ForwardGuard guard(*this, input);
  bool unbatched = false;
  Tensor x = cell_batch(guard, input, options.input_size(), unbatched);
  Tensor h = cell_state(*this, hx, x, options.hidden_size(), unbatched, "hx");
  Tensor y = std::holds_alternative<enumtype::kReLU>(options.nonlinearity())
                 ? rnn_relu_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh)
                 : rnn_tanh_cell(x, h, weight_ih, weight_hh, bias_ih, bias_hh);
  if (unbatched) y = y.squeeze(0);
  return guard.done(y);
}

LSTMCellImpl::LSTMCellImpl(const LSTMCellOptions& o) : Module("LSTMCell"), options(o) { reset(); }
void LSTMCellImpl::reset() {
  register_cell(*this, options.input_size(), options.hidden_size(), 4, options.bias(), weight_ih, weight_hh, bias_ih,
                bias_hh);
  reset_parameters();
}
void LSTMCellImpl::reset_parameters() { init_uniform(*this, options.hidden_size()); }
void LSTMCellImpl::pretty_print(std::ostream& os) const {
  os << "LSTMCell " << options.input_size() << "→" << options.hidden_size() << (options.bias() ? "" : " no bias");
}
std::tuple<Tensor, Tensor> LSTMCellImpl::forward(const Tensor& input, std::optional<std::tuple<Tensor, Tensor>> hx_opt) {
  ForwardGuard guard(*this, input);
  bool unbatched = false;
  Tensor x = cell_batch(guard, input, options.input_size(), unbatched);
  Tensor h = cell_state(*this, hx_opt ? std::get<0>(*hx_opt) : Tensor(), x, options.hidden_size(), unbatched, "h_0");
  Tensor c = cell_state(*this, hx_opt ? std::get<1>(*hx_opt) : Tensor(), x, options.hidden_size(), unbatched, "c_0");
  auto [h1, c1] = lstm_cell(x, {h, c}, weight_ih, weight_hh, bias_ih, bias_hh);
  if (unbatched) {
    h1 = h1.squeeze(0);
    c1 = c1.squeeze(0);
  }
  guard.done(h1);
  return {h1, c1};
}

}  // namespace nn
}  // namespace dg
