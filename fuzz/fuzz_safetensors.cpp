// safetensors reader: any bytes → tensors or dg::IOError; a file that loads
// writes back and reloads to the same tensors and metadata.
#include <dimgrad/io.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dg::io::SafetensorsFile f;
  try {
    f = dg::io::parse_safetensors(data, size, "fuzz");
  } catch (const dg::IOError&) {
    return 0;
  }
  auto bytes = dg::io::serialize_safetensors(f.tensors, f.metadata);
  dg::io::SafetensorsFile g;
  try {
    g = dg::io::parse_safetensors(bytes.data(), bytes.size(), "fuzz round trip");
  } catch (const dg::IOError& e) {
    dgfuzz::finding(e.what());
  }
  if (g.tensors.size() != f.tensors.size()) dgfuzz::finding("round trip changed the number of tensors");
  for (const auto& [name, t] : f.tensors)
    if (!g.tensors.count(name) || !dgfuzz::same(t, g.tensors.at(name))) dgfuzz::finding("round trip changed a tensor");
  for (const auto& [k, v] : f.metadata)
    if (k.rfind("dimgrad.", 0) != 0 && (!g.metadata.count(k) || g.metadata.at(k) != v))
      dgfuzz::finding("round trip changed the metadata");
  return 0;
}
