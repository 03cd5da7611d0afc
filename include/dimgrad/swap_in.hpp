// dimgrad — swap-in check: run a learner's own backward beside the library's.
//
//   dg::BackwardSwapIn check;
//   check.add("linear", [](const dg::SwapInContext& c) -> dg::TensorList {
//     const auto &X = c.inputs[0], &W = c.inputs[1];     // Y[N×C] = X[N×D]·Wᵀ + b
//     const auto& dY = c.grad_outputs[0];
//     return {dY.mm(W), dY.t().mm(X), dY.sum({0})};      // dX, dW, db
//   });
//   ... train as usual; check.report() lists, per layer and step, the largest relative error.
//
// The learner's gradients are only compared, never used: training is unchanged.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "dimgrad/autograd/observer.hpp"

namespace dg {

struct SwapInContext {
  const TensorList& inputs;        // the op's forward inputs (detached)
  const TensorList& outputs;       // its forward outputs (detached)
  const TensorList& grad_outputs;  // dL/d(outputs), as the engine passes them
  const std::string& module_path;
};
using UserBackward = std::function<TensorList(const SwapInContext&)>;

class BackwardSwapIn : public autograd::GraphObserver {
 public:
  BackwardSwapIn();
  ~BackwardSwapIn() override;
  BackwardSwapIn(const BackwardSwapIn&) = delete;
  BackwardSwapIn& operator=(const BackwardSwapIn&) = delete;

  // Watch op `op_name` (a name from the op table, e.g. "linear", "batch_norm", "mm").
  void add(const std::string& op_name, UserBackward backward);
  void set_step(int64_t step) { step_ = step; }

  struct Record {
    int64_t step;
    std::string module_path, op;
    size_t input;
    double max_rel_error;  // max |yours − library| / max |library| over the tensor
    std::string problem;   // a shape mismatch or an exception from your backward
  };
  const std::vector<Record>& records() const { return records_; }
  double worst_error() const;
  // A table: step, layer, op, input, largest relative error (and problems).
  std::string report() const;

  void on_record(autograd::Node& node, const std::vector<const Tensor*>& inputs,
                 const std::vector<Tensor*>& outputs) override;
  void on_backward(autograd::Node& node, const TensorList& grad_outputs, const TensorList& grad_inputs) override;

 private:
  struct Pending {
    std::weak_ptr<autograd::Node> node;
    TensorList inputs, outputs;
  };
  std::map<std::string, UserBackward> user_;
  std::map<const autograd::Node*, Pending> pending_;
  std::vector<Record> records_;
  int64_t step_ = 0;
};

}  // namespace dg
