#include "model_args.hpp"

namespace dgcli {

DataInfo data_info_from_args(const ModelArgs& a) {
  DataInfo info;
  if (auto b = builtin_data_info(a.data)) {
    info = *b;
  } else if (a.data.rfind("csv:", 0) == 0) {
    DataRequest req;
    req.name = a.data;
    info = load_dataset(req).info;
  } else if (a.input_shape.empty() || a.classes <= 0) {
    throw UsageError("--data: unknown data set '" + a.data + "' (fashion-mnist, mnist, cifar10 or csv:PATH)");
  }
  if (!a.input_shape.empty()) {
    info.example_shape = parse_int_list(a.input_shape, "--input-shape");
    for (auto v : info.example_shape)
      if (v < 1) throw UsageError("--input-shape: sizes must be positive");
    const size_t groups = size_t(info.example_shape[0]);
    info.mean.assign(groups, 0.0), info.std.assign(groups, 1.0);
  }
  if (a.classes < 0) throw UsageError("--classes must be positive");
  if (a.classes > 0) {
    info.class_names.clear();
    for (int64_t c = 0; c < a.classes; ++c) info.class_names.push_back(std::to_string(c));
  }
  return info;
}

ModelSpec model_from_args(const ModelArgs& a) {
  DataInfo info = data_info_from_args(a);
  return load_model_spec(a.model, info.example_shape, info.num_classes());
}

}  // namespace dgcli
