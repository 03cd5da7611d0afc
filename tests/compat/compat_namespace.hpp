// Selects the library a compat source is compiled against: LibTorch when
// DG_COMPAT_TORCH is defined (tests/compat/libtorch/, built by hand once to
// capture the expected output), dimgrad otherwise (the test_compat binary).
// The sources below this header spell every call `T::...`: the only change
// between the two builds is this namespace alias.
#pragma once

#ifdef DG_COMPAT_TORCH
#include <torch/torch.h>
namespace T = torch;
#else
#include <dimgrad/dimgrad.hpp>
namespace T = dg;
#endif

#include <ostream>

// Tensors printed with operator<< in many layouts (fixture: print_samples.txt).
void compat_print_samples(std::ostream& out);
// A small program using the LibTorch subset of DESIGN.md (fixture: compat_program.txt).
void compat_program(std::ostream& out);
