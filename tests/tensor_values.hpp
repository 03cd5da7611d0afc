// Test helper shared by the test modules: a tensor's elements as a flat vector
// (row-major, any dtype and strides), for EXPECT_EQ against a literal list.
#pragma once

#include <vector>

#include "dimgrad/dimgrad.hpp"

namespace dg_test {

// Every element converted to double (exact for float32, int64 below 2^53, bool).
inline std::vector<double> values(const dg::Tensor& t) {
  dg::Tensor c = t.to(dg::kFloat64).contiguous();
  return {c.data_ptr<double>(), c.data_ptr<double>() + c.numel()};
}

}  // namespace dg_test
