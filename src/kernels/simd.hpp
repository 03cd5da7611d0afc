// Run-time choice of the instruction set for the hot contiguous loops.
//
// The library is compiled for baseline x86-64 (SSE2), so it runs on any 64-bit
// x86 CPU. The innermost contiguous loops are compiled three times — for
// AVX-512, for AVX2+FMA and for the baseline — and simd_for picks one at run
// time from what this CPU reports (cpuid), checked once at start-up.
//
// All three copies compute exactly the same floating-point operations in the
// same order: floating-point contraction (a·b+c → fma) is switched off in them,
// so an elementwise result does not depend on the machine it ran on. (Explicit
// fmas — vec_math.hpp's madd — are exactly rounded on every ISA, so they keep
// that; in baseline code they are a call to libm's fmaf, which is why even the
// strided loops in kernels.hpp run through simd_for.)
#pragma once

#include <cstdint>

namespace dg::kernels {

enum class Isa : uint8_t { Generic = 0, Avx2 = 1, Avx512 = 2 };

namespace isa_detail {
// The ISA the loops use now. Constant-initialized to Generic, so a loop that runs
// during static initialization (before the CPU was asked) takes the safe path.
extern Isa g_active_isa;
}  // namespace isa_detail

// The best instruction set this CPU (and OS) supports.
Isa cpu_isa();
// The instruction set simd_for uses: cpu_isa(), or lower when the environment
// variable DG_ISA=generic|avx2|avx512 or set_isa() asked for less.
inline Isa active_isa() { return isa_detail::g_active_isa; }
// Use `isa` (clamped to what the CPU supports) from now on; returns what is used.
// For tests and benchmarks of the portable paths; not thread-safe against running loops.
Isa set_isa(Isa isa);
const char* isa_name(Isa isa);

// ISA-specific copies of a loop: GCC/Clang target attributes on templates.
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define DG_SIMD_DISPATCH 1
#define DG_TARGET_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma,bmi,bmi2,popcnt,f16c")))
#define DG_TARGET_AVX2 __attribute__((target("avx2,fma,bmi,bmi2,popcnt,f16c")))
#else
#define DG_SIMD_DISPATCH 0
#endif

namespace simd_detail {
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif
// flatten: everything body calls is inlined into the loop, whatever GCC's inliner
// would have decided, so that the loop can vectorize and all of it is compiled for
// that ISA (GELU's step, Φ with its exp two calls deep, was otherwise left as a
// call to a baseline copy per element: 10-20x slower).
template <class Body> __attribute__((flatten)) void for_generic(int64_t begin, int64_t end, const Body& body) {
  for (int64_t i = begin; i < end; ++i) body(i);
}
#if DG_SIMD_DISPATCH
template <class Body> DG_TARGET_AVX2 __attribute__((flatten)) void for_avx2(int64_t begin, int64_t end, const Body& body) {
  for (int64_t i = begin; i < end; ++i) body(i);
}
template <class Body>
DG_TARGET_AVX512 __attribute__((flatten)) void for_avx512(int64_t begin, int64_t end, const Body& body) {
  for (int64_t i = begin; i < end; ++i) body(i);
}
// flatten: everything f calls is inlined into the copy, so it is all compiled for that ISA.
template <class F> DG_TARGET_AVX2 __attribute__((flatten)) void run_avx2(const F& f) { f(); }
template <class F> DG_TARGET_AVX512 __attribute__((flatten)) void run_avx512(const F& f) { f(); }
#endif
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC pop_options
#endif
}  // namespace simd_detail

// for i in [begin, end): body(i), compiled for the active ISA. body must be an
// independent per-index step (like `o[i] = f(x[i])`) for the loop to vectorize;
// anything else still runs correctly, one index at a time.
template <class Body> inline void simd_for(int64_t begin, int64_t end, const Body& body) {
#if DG_SIMD_DISPATCH
  switch (active_isa()) {
    case Isa::Avx512: simd_detail::for_avx512(begin, end, body); return;
    case Isa::Avx2: simd_detail::for_avx2(begin, end, body); return;
    case Isa::Generic: break;
  }
#endif
  simd_detail::for_generic(begin, end, body);
}

// f() compiled for the active ISA, with everything it calls inlined into it (a
// whole small kernel, e.g. a reduction with its own loop structure). f must not
// contain an OpenMP region.
template <class F> inline void simd_run(const F& f) {
#if DG_SIMD_DISPATCH
  switch (active_isa()) {
    case Isa::Avx512: simd_detail::run_avx512(f); return;
    case Isa::Avx2: simd_detail::run_avx2(f); return;
    case Isa::Generic: break;
  }
#endif
  f();
}

}  // namespace dg::kernels
