// The reduction option of the fused losses (loss.cpp, loss_binary.cpp) as the
// three cases their kernels branch on.
#pragma once

#include <variant>

#include "dimgrad/nn/loss.hpp"

namespace dg::ops {

enum class Red { None, Mean, Sum };

inline Red to_red(const nn::reduction_t& r) {
  if (std::holds_alternative<enumtype::kNone>(r)) return Red::None;
  if (std::holds_alternative<enumtype::kSum>(r)) return Red::Sum;
  return Red::Mean;
}

}  // namespace dg::ops
