// dimgrad CLI — the subcommands other than train. Each returns the exit code.
#pragma once

#include <string>
#include <vector>

#include "common.hpp"

namespace dgcli {

struct EvalArgs {
  std::string weights;  // model file or run folder
  std::string model;    // architecture override (weights without metadata)
  std::string data, data_dir;
  int64_t limit_test = 0;
  int64_t batch_size = 1000;
  bool json_output = false;
  int threads = 0;
};
int run_eval(const EvalArgs& a);

struct PredictArgs {
  std::string weights, model, data, data_dir;
  std::string indices;  // "0,5,17" test-set indices
  std::string npy;      // or an .npy file of images
  int64_t top = 3;
  bool json_output = false;
  int threads = 0;
};
int run_predict(const PredictArgs& a);

// Input shape and classes for commands that build a model without training.
struct ModelArgs {
  std::string model = "mlp";
  std::string data = "fashion-mnist";
  std::string input_shape;  // "1,28,28" overrides the data set's
  int64_t classes = 0;      // overrides the data set's
};

struct SummaryArgs {
  ModelArgs m;
  bool pytorch = false;
};
int run_summary(const SummaryArgs& a);

struct ExplainArgs {
  ModelArgs m;
  std::string op;
  std::string format = "text";
  int64_t batch_size = 16;
  bool list_ops = false;
  uint64_t seed = 0;
};
int run_explain(const ExplainArgs& a);

struct GradcheckArgs {
  ModelArgs m;
  int64_t batch_size = 2;
  int64_t elements = 12;  // checked per parameter tensor (all when it has fewer)
  double eps = 1e-6;
  double atol = 1e-7;
  double rtol = 1e-4;
  uint64_t seed = 0;
  int threads = 0;
};
int run_gradcheck(const GradcheckArgs& a);

}  // namespace dgcli
