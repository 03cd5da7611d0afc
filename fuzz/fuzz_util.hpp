// Shared by the fuzz targets: the property every parser must have is "returns
// a valid result or throws dg::IOError"; any other exception, a sanitizer
// report or a crash is a finding. Where a writer exists, a parsed result must
// also survive a write/read round trip unchanged.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <dimgrad/dimgrad.hpp>
#include <dimgrad/errors.hpp>

namespace dgfuzz {

// Bitwise equality of two tensors (same dtype, shape and bytes).
inline bool same(const dg::Tensor& a, const dg::Tensor& b) {
  if (a.dtype() != b.dtype() || a.sizes().vec() != b.sizes().vec()) return false;
  dg::Tensor ca = a.contiguous(), cb = b.contiguous();
  return ca.nbytes() == 0 || std::memcmp(ca.raw_data(), cb.raw_data(), ca.nbytes()) == 0;
}

[[noreturn]] inline void finding(const char* what) {
  std::fprintf(stderr, "FUZZ FINDING: %s\n", what);
  std::abort();
}

}  // namespace dgfuzz
