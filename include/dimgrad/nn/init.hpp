// dimgrad — nn::init: in-place initialisers with LibTorch's names and formulas.
// Every one runs under no-grad and draws from dg::default_generator(), so
// dg::manual_seed(s) makes a model's initial weights reproducible.
#pragma once

#include <variant>

#include "dimgrad/nn/options.hpp"
#include "dimgrad/tensor.hpp"

namespace dg::nn::init {

using NonlinearityType =
    std::variant<enumtype::kLinear, enumtype::kConv1D, enumtype::kConv2D, enumtype::kConv3D,
                 enumtype::kConvTranspose1D, enumtype::kConvTranspose2D, enumtype::kConvTranspose3D,
                 enumtype::kSigmoid, enumtype::kTanh, enumtype::kReLU, enumtype::kLeakyReLU>;
using FanModeType = std::variant<enumtype::kFanIn, enumtype::kFanOut>;

// The gain that keeps activations' variance through a nonlinearity:
// linear/conv/sigmoid 1, tanh 5/3, relu √2, leaky_relu √(2 / (1 + slope²)).
double calculate_gain(NonlinearityType nonlinearity, double param = 0.01);

// fan_in = size(1)·receptive field, fan_out = size(0)·receptive field, for a
// weight [out, in, k...] (needs at least 2 dims).
std::tuple<int64_t, int64_t> _calculate_fan_in_and_fan_out(const Tensor& tensor);

Tensor constant_(Tensor tensor, Scalar value);
Tensor ones_(Tensor tensor);
Tensor zeros_(Tensor tensor);
Tensor eye_(Tensor matrix);
Tensor uniform_(Tensor tensor, double low = 0, double high = 1);
Tensor normal_(Tensor tensor, double mean = 0, double std = 1);
// U(-b, b) with b = gain·√(6 / (fan_in + fan_out)).
Tensor xavier_uniform_(Tensor tensor, double gain = 1.0);
// N(0, std²) with std = gain·√(2 / (fan_in + fan_out)).
Tensor xavier_normal_(Tensor tensor, double gain = 1.0);
// U(-b, b) with b = gain·√(3 / fan), gain = calculate_gain(nonlinearity, a).
Tensor kaiming_uniform_(Tensor tensor, double a = 0, FanModeType mode = kFanIn,
                        NonlinearityType nonlinearity = kLeakyReLU);
// N(0, std²) with std = gain / √fan.
Tensor kaiming_normal_(Tensor tensor, double a = 0, FanModeType mode = kFanIn,
                       NonlinearityType nonlinearity = kLeakyReLU);

}  // namespace dg::nn::init
