// Internal helpers shared by the file readers and writers (not installed).
#pragma once

#include <bit>
#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "dimgrad/io.hpp"

namespace dg::io::detail {

static_assert(std::endian::native == std::endian::little, "dimgrad's file formats assume a little-endian host");

// ---- safetensors header (safetensors_header.cpp)
struct StEntry {
  std::string name;
  std::string dtype;
  std::vector<uint64_t> shape;
  uint64_t begin = 0, end = 0;
  bool has_dtype = false, has_shape = false, has_offsets = false;
};
struct StHeader {
  std::vector<StEntry> entries;
  std::map<std::string, std::string> metadata;
};
// Parses and checks the structure of a safetensors JSON header: an object of
// tensor entries (dtype, shape, data_offsets) and an optional "__metadata__"
// object of strings. Rejects invalid JSON or UTF-8, duplicate keys, nesting or
// arrays where none belong, non-integer or negative numbers. Sizes and offsets
// are checked by the caller. Error messages start with `what` (e.g. "safetensors file 'x'").
StHeader parse_safetensors_header(std::string_view json, const std::string& what);

// ---- on-disk element types (dtypes.cpp), named as safetensors names them
struct DiskType {
  const char* name;
  size_t size;
  ScalarType loads_as;
};
const DiskType* find_disk_type(const std::string& name);  // nullptr when unknown
const char* disk_name(ScalarType t);                        // "F32", "F64", "I64", "BOOL"
// Widens n elements of type dt at src (little-endian) into dst, a buffer of dt.loads_as.
void convert_into(const DiskType& dt, const uint8_t* src, int64_t n, void* dst);

// True when the contiguous strides of `shape` would overflow int64: the product
// of its sizes, zeros counted as 1 (a zero size makes numel 0 but the strides
// of the other dimensions still have to exist).
inline bool strides_overflow(const std::vector<int64_t>& shape) {
  int64_t acc = 1;
  for (int64_t d : shape)
    if (__builtin_mul_overflow(acc, d > 1 ? d : 1, &acc)) return true;
  return false;
}

// ---- number conversions for narrower on-disk types
inline float half_to_float(uint16_t h) {
  const uint32_t sign = uint32_t(h >> 15) << 31, exp = (h >> 10) & 0x1f, mant = h & 0x3ffu;
  uint32_t bits;
  if (exp == 0) {
    // Zero or subnormal: mant · 2^-24, exact in float.
    float v = static_cast<float>(mant) * 5.9604644775390625e-8f;
    bits = std::bit_cast<uint32_t>(v) | sign;
  } else if (exp == 31) {
    bits = sign | 0x7f800000u | (mant << 13);  // inf / nan
  } else {
    bits = sign | ((exp + 112) << 23) | (mant << 13);  // rebias 15 → 127
  }
  return std::bit_cast<float>(bits);
}
inline float bfloat16_to_float(uint16_t h) { return std::bit_cast<float>(uint32_t(h) << 16); }

template <class T> T load_le(const uint8_t* p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  return v;  // little-endian host (asserted above)
}

// "crc32:0a1b2c3d" of a byte range, chained like zlib's crc32.
uint32_t crc32_update(uint32_t crc, const void* data, size_t n);
std::string checksum_text(uint32_t crc);

}  // namespace dg::io::detail
