// The dimgrad CLI's JSON model-file loader (--model FILE): any bytes → a resolved
// ModelSpec or dg::Error. Each input is tried against three data shapes (images
// of Fashion-MNIST and CIFAR-10, a 4-feature CSV), so one file meets the shape
// checks of every layer type without spending input bytes on the choice. A
// resolved model is described, built and run forward on a batch of zeros; its
// resolved form (what config.json stores) must resolve again to itself.
#include "fuzz_cli_util.hpp"

namespace {

struct DataShape {
  std::vector<int64_t> example;
  int64_t classes;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const DataShape shapes[] = {{{1, 28, 28}, 10}, {{3, 32, 32}, 10}, {{4}, 3}};
  const std::string text(reinterpret_cast<const char*>(data), size);
  for (const auto& s : shapes) {
    dgcli::ModelSpec spec;
    try {
      spec = dgcli::parse_model_file(text, "fuzz", s.example, s.classes);
    } catch (const dg::Error&) {
      continue;
    }
    try {
      dgcli::ModelSpec again = dgcli::ModelSpec::from_json(spec.to_json(), "fuzz round trip");
      if (again.layers != spec.layers) dgfuzz::finding("a resolved model resolves to something else");
    } catch (const dg::Error& e) {
      dgfuzz::finding(e.what());
    }
    if (dgcli::describe_layers(spec).size() != spec.layers.size()) dgfuzz::finding("describe_layers lost layers");
    (void)dgcli::pytorch_definition(spec);
    if (!dgfuzz::fits_fuzz_budget(spec)) continue;
    try {
      dgfuzz::forward_zeros(dgcli::build_model(spec), spec);
    } catch (const dg::Error& e) {
      // Resolving promised these sizes fit together: a library error here is a finding.
      dgfuzz::finding(e.what());
    }
  }
  return 0;
}
