// dimgrad — gradient checking by central finite differences in float64.
#pragma once

#include <functional>
#include <string>

#include "dimgrad/tensor.hpp"

namespace dg {

// Thrown by gradcheck when an analytic gradient disagrees with the numeric one.
class GradcheckError : public Error {
 public:
  using Error::Error;
};

struct GradcheckOptions {
  double eps = 1e-6;
  double atol = 1e-5;
  double rtol = 1e-3;
  // Check at most this many elements per input (chosen evenly); 0 = all (full Jacobian).
  int64_t max_elements_per_input = 0;
};

// Compares the full Jacobian of fn (any output shape) at `inputs` computed by
// autograd with central differences (f(x+eps) - f(x-eps)) / 2eps. Inputs that
// require grad are checked; they must be float64. Returns true, or throws
// GradcheckError naming the input, the element, both values and the relative
// error (raise=false: returns false and writes the message to *message).
bool gradcheck(const std::function<Tensor(const TensorList&)>& fn, const TensorList& inputs, double eps = 1e-6,
               double atol = 1e-5, double rtol = 1e-3, bool raise = true, std::string* message = nullptr);
bool gradcheck(const std::function<Tensor(const TensorList&)>& fn, const TensorList& inputs,
               const GradcheckOptions& options, bool raise = true, std::string* message = nullptr);

}  // namespace dg
