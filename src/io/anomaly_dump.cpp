// Installs the safetensors writer that anomaly mode uses to dump the tensors of
// a failing op (autograd cannot depend on io, so io hands it the writer).
#include "dimgrad/autograd/observer.hpp"
#include "dimgrad/io.hpp"

namespace dg::io {
namespace {

void write_anomaly(const std::string& path, const std::vector<std::pair<std::string, Tensor>>& tensors,
                   const std::string& note) {
  std::map<std::string, Tensor> m;
  for (const auto& [name, t] : tensors) m[name] = t.contiguous();
  save_safetensors(path, m, {{"dimgrad.anomaly", note}});
}

const bool installed = [] {
  autograd::set_anomaly_dump_writer(&write_anomaly);
  return true;
}();

}  // namespace
}  // namespace dg::io
