// Internal helpers shared by the library's sources (not installed).
#pragma once

#include "dimgrad/tensor.hpp"

namespace dg::detail {

// A new contiguous tensor with fresh (uninitialized) storage.
Tensor make_tensor(IntArrayRef sizes, ScalarType dtype);
// A view over base's storage with the given geometry (no autograd history).
Tensor make_view(const Tensor& base, IntArrayRef sizes, IntArrayRef strides, int64_t offset);
// Throws a clear error when t is undefined.
void check_defined(const Tensor& t, const char* op);

}  // namespace dg::detail
