// dimgrad — recurrent layers with LibTorch's names, options, parameter names,
// initialisation and return types: RNN (tanh or relu), LSTM, RNNCell, LSTMCell.
//
//   nn::LSTM lstm(nn::LSTMOptions(10, 20).num_layers(2).batch_first(true));
//   auto [output, state] = lstm->forward(x);           // x [N, T, 10] → output [N, T, 20]
//   auto [h_n, c_n] = state;                           // each [2, N, 20]
//
// They are built from differentiable ops (mm, add, sigmoid, tanh, mul, narrow,
// stack, cat), so autograd derives backpropagation through time; see
// docs/derivations/lstm.md for the gradients it computes, step by step.
#pragma once

#include <optional>
#include <tuple>
#include <variant>
#include <vector>

#include "dimgrad/nn/module.hpp"
#include "dimgrad/nn/options.hpp"

namespace dg {

// The steps of a sequence: unbind(a, dim)[t] = a.select(dim, t), as views, with
// one backward for all of them (stacks the step gradients; src/ops/rnn.cpp).
// A general op (torch::unbind), declared here because the RNNs are its user.
std::vector<Tensor> unbind(const Tensor& a, int64_t dim = 0);

// The fused pointwise part of one LSTM step. gates [N, 4H] are the
// pre-activations in PyTorch's order i, f, g, o; c is [N, H]. Returns
// (h', c') with c' = σ(f)⊙c + σ(i)⊙tanh(g) and h' = σ(o)⊙tanh(c'); the backward is
// hand-derived (src/ops/rnn.cpp, docs/derivations/lstm.md).
std::tuple<Tensor, Tensor> lstm_cell_pointwise(const Tensor& gates, const Tensor& c);

// One step of each cell with explicit weights, as ATen's functions of the same
// names: input [N, I], hx [N, H], w_ih [G·H, I], w_hh [G·H, H], biases [G·H] or undefined.
std::tuple<Tensor, Tensor> lstm_cell(const Tensor& input, const std::tuple<Tensor, Tensor>& hx, const Tensor& w_ih,
                                     const Tensor& w_hh, const Tensor& b_ih = {}, const Tensor& b_hh = {});
Tensor rnn_tanh_cell(const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh,
                     const Tensor& b_ih = {}, const Tensor& b_hh = {});
Tensor rnn_relu_cell(const Tensor& input, const Tensor& hx, const Tensor& w_ih, const Tensor& w_hh,
                     const Tensor& b_ih = {}, const Tensor& b_hh = {});

}  // namespace dg

namespace dg::nn {

struct RNNOptions {
  using nonlinearity_t = std::variant<enumtype::kTanh, enumtype::kReLU>;
  RNNOptions(int64_t input_size, int64_t hidden_size) : input_size_(input_size), hidden_size_(hidden_size) {}
  DG_ARG(int64_t, input_size);
  DG_ARG(int64_t, hidden_size);
  DG_ARG(int64_t, num_layers) = 1;
  DG_ARG(nonlinearity_t, nonlinearity) = enumtype::kTanh{};
  DG_ARG(bool, bias) = true;
  // Input and output as [N, T, features] instead of [T, N, features] (the state stays [layers, N, H]).
  DG_ARG(bool, batch_first) = false;
  // Dropout on the output of every layer but the last, in training mode.
  DG_ARG(double, dropout) = 0.0;
  DG_ARG(bool, bidirectional) = false;
};

struct LSTMOptions {
  LSTMOptions(int64_t input_size, int64_t hidden_size) : input_size_(input_size), hidden_size_(hidden_size) {}
  DG_ARG(int64_t, input_size);
  DG_ARG(int64_t, hidden_size);
  DG_ARG(int64_t, num_layers) = 1;
  DG_ARG(bool, bias) = true;
  DG_ARG(bool, batch_first) = false;
  DG_ARG(double, dropout) = 0.0;
  DG_ARG(bool, bidirectional) = false;
  // Projections (LSTMP) are not implemented: only 0 is accepted.
  DG_ARG(int64_t, proj_size) = 0;
};

struct RNNCellOptions {
  using nonlinearity_t = std::variant<enumtype::kTanh, enumtype::kReLU>;
  RNNCellOptions(int64_t input_size, int64_t hidden_size) : input_size_(input_size), hidden_size_(hidden_size) {}
  DG_ARG(int64_t, input_size);
  DG_ARG(int64_t, hidden_size);
  DG_ARG(bool, bias) = true;
  DG_ARG(nonlinearity_t, nonlinearity) = enumtype::kTanh{};
};

struct LSTMCellOptions {
  LSTMCellOptions(int64_t input_size, int64_t hidden_size) : input_size_(input_size), hidden_size_(hidden_size) {}
  DG_ARG(int64_t, input_size);
  DG_ARG(int64_t, hidden_size);
  DG_ARG(bool, bias) = true;
};

namespace detail {
// What RNN and LSTM share: per layer and direction the parameters weight_ih_l{k},
// weight_hh_l{k}, bias_ih_l{k}, bias_hh_l{k} (suffix "_reverse" for the backward
// direction), registered in PyTorch's order, all initialised U(±1/√hidden).
class RNNImplBase : public Module {
 public:
  // Every parameter, in registration order (as LibTorch's all_weights()).
  std::vector<Tensor> all_weights() const { return parameters(); }
  void reset_parameters();

 protected:
  RNNImplBase(std::string name, int64_t input_size, int64_t hidden_size, int64_t num_layers, bool bias,
              bool batch_first, double dropout, bool bidirectional, int64_t gates);
  void reset();
  // Checks input ([T, N, I], [N, T, I] or unbatched [T, I]) and returns it as [T, N, I].
  Tensor seq_first(ForwardGuard& guard, const Tensor& input, bool& unbatched) const;
  // A state [layers·dirs, N, H] (zeros if undefined), checked against the input.
  Tensor state_or_zeros(const Tensor& s, const Tensor& x_seq_first, bool unbatched, const char* what) const;
  std::string describe(const char* kind) const;

  struct Weights {
    Tensor w_ih, w_hh, b_ih, b_hh;
  };
  // layer l, direction d (0 forward, 1 reverse)
  const Weights& weights(int64_t l, int64_t d) const { return w_[static_cast<size_t>(l * dirs_ + d)]; }
  int64_t dirs() const { return dirs_; }

  int64_t input_size_, hidden_size_, num_layers_;
  bool bias_, batch_first_;
  double dropout_;
  bool bidirectional_;
  int64_t gates_;  // 1 for RNN, 4 for LSTM

 private:
  int64_t dirs_;
  std::vector<Weights> w_;
};
}  // namespace detail

class RNNImpl : public detail::RNNImplBase {
 public:
  RNNImpl(int64_t input_size, int64_t hidden_size) : RNNImpl(RNNOptions(input_size, hidden_size)) {}
  explicit RNNImpl(const RNNOptions& options);
  // input [T, N, I] ([N, T, I] with batch_first, or unbatched [T, I]); hx
  // [layers·dirs, N, H] (zeros if undefined). Returns (output [T, N, dirs·H], h_n).
  std::tuple<Tensor, Tensor> forward(const Tensor& input, Tensor hx = {});
  void reset() { detail::RNNImplBase::reset(); }
  void pretty_print(std::ostream& os) const override;  // "RNN 10→20 tanh"
  RNNOptions options;
};
DG_MODULE(RNN);

class LSTMImpl : public detail::RNNImplBase {
 public:
  LSTMImpl(int64_t input_size, int64_t hidden_size) : LSTMImpl(LSTMOptions(input_size, hidden_size)) {}
  explicit LSTMImpl(const LSTMOptions& options);
  // Returns (output, (h_n, c_n)); gates in PyTorch's order i, f, g, o:
  //   [i f g o] = x·W_ihᵀ + b_ih + h·W_hhᵀ + b_hh,  c' = σ(f)⊙c + σ(i)⊙tanh(g),  h' = σ(o)⊙tanh(c')
  std::tuple<Tensor, std::tuple<Tensor, Tensor>> forward(const Tensor& input,
                                                         std::optional<std::tuple<Tensor, Tensor>> hx_opt = {});
  void reset() { detail::RNNImplBase::reset(); }
  void pretty_print(std::ostream& os) const override;  // "LSTM 10→20 layers=2 batch_first"
  LSTMOptions options;
};
DG_MODULE(LSTM);

class RNNCellImpl : public Module {
 public:
  RNNCellImpl(int64_t input_size, int64_t hidden_size) : RNNCellImpl(RNNCellOptions(input_size, hidden_size)) {}
  explicit RNNCellImpl(const RNNCellOptions& options);
  // input [N, I] (or [I]), hx [N, H] (zeros if undefined) → h' [N, H]
  Tensor forward(const Tensor& input, Tensor hx = {});
  void reset();
  void reset_parameters();
  void pretty_print(std::ostream& os) const override;
  RNNCellOptions options;
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;
};
DG_MODULE(RNNCell);

class LSTMCellImpl : public Module {
 public:
  LSTMCellImpl(int64_t input_size, int64_t hidden_size) : LSTMCellImpl(LSTMCellOptions(input_size, hidden_size)) {}
  explicit LSTMCellImpl(const LSTMCellOptions& options);
  // input [N, I] (or [I]), (h, c) each [N, H] (zeros if absent) → (h', c')
  std::tuple<Tensor, Tensor> forward(const Tensor& input, std::optional<std::tuple<Tensor, Tensor>> hx_opt = {});
  void reset();
  void reset_parameters();
  void pretty_print(std::ostream& os) const override;
  LSTMCellOptions options;
  Tensor weight_ih, weight_hh, bias_ih, bias_hh;
};
DG_MODULE(LSTMCell);

}  // namespace dg::nn
