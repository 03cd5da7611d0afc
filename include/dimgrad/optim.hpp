// dimgrad — optimizers and learning-rate schedulers (LibTorch's dg::optim names,
// PyTorch 1.13's numbers). Gradient clipping is in dimgrad/nn/utils.hpp.
#pragma once

#include "dimgrad/optim/optimizer.hpp"
#include "dimgrad/optim/optimizers.hpp"
#include "dimgrad/optim/schedulers.hpp"
