// IDX reader (raw and gzip): any bytes → an array or dg::IOError; arrays with
// the images or labels magic number convert to tensors or fail with IOError.
#include <dimgrad/data.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    // 64 MiB of decompressed data at most: the fuzzer's memory limit, not the reader's, is the point here.
    auto a = dg::data::parse_idx(data, size, "fuzz", uint64_t(1) << 26);
    size_t expected = 1;
    for (int64_t d : a.dims) expected *= static_cast<size_t>(d);
    if (a.data.size() != expected) dgfuzz::finding("data size differs from the dimensions");
    if (a.magic == 0x00000803) {
      dg::Tensor x = dg::data::idx_images(a, "fuzz");
      if (x.numel() != static_cast<int64_t>(expected)) dgfuzz::finding("image tensor size");
    } else if (a.magic == 0x00000801) {
      dg::data::idx_labels(a, "fuzz", size % 2 ? 10 : 0);
    }
  } catch (const dg::IOError&) {
  }
  return 0;
}
