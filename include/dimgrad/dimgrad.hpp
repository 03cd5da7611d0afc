// dimgrad — umbrella header. `#include <dimgrad/dimgrad.hpp>` and use namespace dg
// (LibTorch's names: torch:: → dg::).
#pragma once

#include "dimgrad/autograd.hpp"
#include "dimgrad/autograd/function.hpp"
#include "dimgrad/check.hpp"
#include "dimgrad/errors.hpp"
#include "dimgrad/explain.hpp"
#include "dimgrad/nn.hpp"
#include "dimgrad/op_table.hpp"
#include "dimgrad/ops.hpp"
#include "dimgrad/tensor.hpp"
#if __has_include("dimgrad/optim.hpp")
#include "dimgrad/optim.hpp"
#endif
#if __has_include("dimgrad/data.hpp")
#include "dimgrad/data.hpp"
#endif
#if __has_include("dimgrad/io.hpp")
#include "dimgrad/io.hpp"
#endif
