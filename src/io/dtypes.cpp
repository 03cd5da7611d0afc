// On-disk element types shared by the safetensors and .npy readers, and their
// widening into dimgrad's dtypes.
#include "io/io_internal.hpp"

namespace dg::io::detail {
namespace {

// Each on-disk type: its size and what dimgrad loads it as.
const DiskType kDiskTypes[] = {
    {"F32", 4, kFloat},  {"F64", 8, kDouble}, {"I64", 8, kLong}, {"BOOL", 1, kBool}, {"F16", 2, kFloat},
    {"BF16", 2, kFloat}, {"U8", 1, kUInt8},   {"I8", 1, kLong},  {"I16", 2, kLong},  {"U16", 2, kLong},
    {"I32", 4, kLong},   {"U32", 4, kLong},
};

template <class From, class To, class F> void widen(const uint8_t* src, int64_t n, void* dst, F f) {
  auto* d = static_cast<To*>(dst);
  for (int64_t i = 0; i < n; ++i) d[i] = f(load_le<From>(src + sizeof(From) * i));
}

}  // namespace

const DiskType* find_disk_type(const std::string& name) {
  for (const auto& t : kDiskTypes)
    if (name == t.name) return &t;
  return nullptr;
}

const char* disk_name(ScalarType t) {
  switch (t) {
    case kFloat: return "F32";
    case kDouble: return "F64";
    case kLong: return "I64";
    case kBool: return "BOOL";
    case kUInt8: return "U8";
  }
  return "?";
}

void convert_into(const DiskType& dt, const uint8_t* src, int64_t n, void* dst) {
  const std::string_view name = dt.name;
  auto same = [](auto v) { return v; };
  // A bool object may only hold 0 or 1 (anything else is undefined behaviour): any nonzero byte is true.
  if (name == "BOOL") widen<uint8_t, bool>(src, n, dst, [](uint8_t v) { return v != 0; });
  else if (name == "F16") widen<uint16_t, float>(src, n, dst, half_to_float);
  else if (name == "BF16") widen<uint16_t, float>(src, n, dst, bfloat16_to_float);
  else if (name == "I8") widen<int8_t, int64_t>(src, n, dst, same);
  else if (name == "I16") widen<int16_t, int64_t>(src, n, dst, same);
  else if (name == "U16") widen<uint16_t, int64_t>(src, n, dst, same);
  else if (name == "I32") widen<int32_t, int64_t>(src, n, dst, same);
  else if (name == "U32") widen<uint32_t, int64_t>(src, n, dst, same);
  else std::memcpy(dst, src, static_cast<size_t>(n) * dt.size);  // same layout as the dtype it loads as
}

}  // namespace dg::io::detail
