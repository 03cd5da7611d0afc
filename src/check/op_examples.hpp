// The registry of worked examples behind explain_op (internal).
#pragma once

#include <functional>
#include <string>

#include "dimgrad/tensor.hpp"

namespace dg {
using OpExample = std::function<Tensor()>;
// Adds or replaces the example for an op (layers register theirs).
void register_op_example(const std::string& name, OpExample example);
// Runs the example of op_name and returns the summed (scalar) result.
Tensor run_op_example(const std::string& op_name);
}  // namespace dg
