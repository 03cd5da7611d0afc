// .npy reader: any bytes → a tensor or dg::IOError; a tensor that loads writes
// back and reloads unchanged.
#include <dimgrad/io.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  dg::Tensor t;
  try {
    t = dg::io::parse_npy(data, size, "fuzz");
  } catch (const dg::IOError&) {
    return 0;
  }
  auto bytes = dg::io::serialize_npy(t);
  try {
    if (!dgfuzz::same(t, dg::io::parse_npy(bytes.data(), bytes.size(), "fuzz round trip")))
      dgfuzz::finding("round trip changed the tensor");
  } catch (const dg::IOError& e) {
    dgfuzz::finding(e.what());
  }
  return 0;
}
