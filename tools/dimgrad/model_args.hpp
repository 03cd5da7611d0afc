// dimgrad CLI — the model named by --model/--data/--input-shape/--classes for the
// commands that build one without training (summary, explain, gradcheck).
#pragma once

#include "commands.hpp"
#include "dataset.hpp"
#include "model_spec.hpp"

namespace dgcli {

// The data set's example shape and class names: built in, or read from a csv file.
DataInfo data_info_from_args(const ModelArgs& a);
ModelSpec model_from_args(const ModelArgs& a);

}  // namespace dgcli
