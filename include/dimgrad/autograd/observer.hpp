// dimgrad — watching the graph: anomaly detection and backward swap-in checks.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dimgrad/autograd.hpp"

namespace dg::autograd {

// Sees every Node as it is recorded (with the op's inputs and outputs) and as its
// backward runs (with the incoming and the returned gradients). Observers only
// look: they never change what the graph computes. Thread-local; set by guards.
class GraphObserver {
 public:
  virtual ~GraphObserver() = default;
  virtual void on_record(Node& node, const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) = 0;
  virtual void on_backward(Node& node, const TensorList& grad_outputs, const TensorList& grad_inputs) = 0;
};

// Adds/removes an observer for this thread (observers are called in order added).
void add_observer(GraphObserver* o);
void remove_observer(GraphObserver* o);
bool has_observers();
void notify_record(Node& node, const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs);
void notify_backward(Node& node, const TensorList& grad_outputs, const TensorList& grad_inputs);

// ----------------------------------------------------------------- anomaly mode
// Thrown at the first NaN or Inf: names the op, the module path, the step, the
// statistics of the op's inputs, and where the offending tensors were written.
class AnomalyError : public Error {
 public:
  using Error::Error;
};

// Writes tensors to a file (the io layer installs a safetensors writer).
using AnomalyDumpWriter = void (*)(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                                   const std::string& note);
void set_anomaly_dump_writer(AnomalyDumpWriter w);

struct AnomalyOptions {
  // Where the op's inputs (and `extra` tensors, e.g. the model's parameters) are
  // written when an anomaly is found; empty: nothing is written.
  std::string dump_path = "anomaly.safetensors";
  std::vector<std::pair<std::string, Tensor>> extra;
};

// Checks every op output in forward and every gradient in backward for NaN/Inf
// while alive (LibTorch's name). set_step() tells it the training step for messages.
class DetectAnomalyGuard : public GraphObserver {
 public:
  explicit DetectAnomalyGuard(AnomalyOptions options = {});
  ~DetectAnomalyGuard() override;
  DetectAnomalyGuard(const DetectAnomalyGuard&) = delete;
  DetectAnomalyGuard& operator=(const DetectAnomalyGuard&) = delete;
  void set_step(int64_t step) { step_ = step; }
  void on_record(Node& node, const std::vector<const Tensor*>& inputs, const std::vector<Tensor*>& outputs) override;
  void on_backward(Node& node, const TensorList& grad_outputs, const TensorList& grad_inputs) override;

 private:
  [[noreturn]] void report(Node& node, const char* phase, const std::string& what,
                           const std::vector<std::pair<std::string, Tensor>>& inputs);
  AnomalyOptions options_;
  int64_t step_ = -1;
};

// min, max, mean and the count of non-finite values of a tensor: "min -1.2 max 3.4 mean 0.1 non-finite 0/12".
std::string tensor_stats(const Tensor& t);

}  // namespace dg::autograd
