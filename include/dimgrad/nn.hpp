// dimgrad — the nn library: modules, layers, losses, functional forms, init.
// `namespace F = dg::nn::functional;` as with LibTorch.
#pragma once

#include "dimgrad/nn/module.hpp"
// Each part of the catalogue has its own header (module classes and their
// functional forms side by side).
#if __has_include("dimgrad/nn/options.hpp")
#include "dimgrad/nn/options.hpp"
#endif
#if __has_include("dimgrad/nn/init.hpp")
#include "dimgrad/nn/init.hpp"
#endif
#if __has_include("dimgrad/nn/linear.hpp")
#include "dimgrad/nn/linear.hpp"
#endif
#if __has_include("dimgrad/nn/activation.hpp")
#include "dimgrad/nn/activation.hpp"
#endif
#if __has_include("dimgrad/nn/dropout.hpp")
#include "dimgrad/nn/dropout.hpp"
#endif
#if __has_include("dimgrad/nn/embedding.hpp")
#include "dimgrad/nn/embedding.hpp"
#endif
#if __has_include("dimgrad/nn/normalization.hpp")
#include "dimgrad/nn/normalization.hpp"
#endif
#if __has_include("dimgrad/nn/distance.hpp")
#include "dimgrad/nn/distance.hpp"
#endif
#if __has_include("dimgrad/nn/loss.hpp")
#include "dimgrad/nn/loss.hpp"
#endif
#if __has_include("dimgrad/nn/conv.hpp")
#include "dimgrad/nn/conv.hpp"
#endif
#if __has_include("dimgrad/nn/pooling.hpp")
#include "dimgrad/nn/pooling.hpp"
#endif
#if __has_include("dimgrad/nn/rnn.hpp")
#include "dimgrad/nn/rnn.hpp"
#endif
#if __has_include("dimgrad/nn/utils.hpp")
#include "dimgrad/nn/utils.hpp"
#endif
