// CPU feature detection for simd_for (see simd.hpp).
#include "kernels/simd.hpp"

#include <cstdlib>
#include <cstring>

namespace dg::kernels {

namespace isa_detail {
Isa g_active_isa = Isa::Generic;
}  // namespace isa_detail

namespace {

Isa detect() {
#if DG_SIMD_DISPATCH
  __builtin_cpu_init();  // needed when called from a static initializer
  // GCC's checks include the OS support bits (XCR0) for the wider registers.
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
      __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("bmi2"))
    return Isa::Avx512;
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("bmi2"))
    return Isa::Avx2;
#endif
  return Isa::Generic;
}

// What DG_ISA asks for, or the CPU's best.
Isa requested(Isa best) {
  const char* e = std::getenv("DG_ISA");
  if (!e) return best;
  if (!std::strcmp(e, "generic")) return Isa::Generic;
  if (!std::strcmp(e, "avx2")) return Isa::Avx2;
  return best;
}

}  // namespace

Isa cpu_isa() {
  static const Isa isa = detect();
  return isa;
}

Isa set_isa(Isa isa) {
  const Isa best = cpu_isa();
  isa_detail::g_active_isa = static_cast<uint8_t>(isa) <= static_cast<uint8_t>(best) ? isa : best;
  return isa_detail::g_active_isa;
}

namespace {
// Runs at load time: from here on simd_for uses the best available copy.
[[maybe_unused]] const bool kInitialized = [] {
  set_isa(requested(cpu_isa()));
  return true;
}();
}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::Avx512: return "avx512";
    case Isa::Avx2: return "avx2";
    case Isa::Generic: break;
  }
  return "generic";
}

}  // namespace dg::kernels
