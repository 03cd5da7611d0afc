// CIFAR-10 reader: any bytes → a data set or dg::IOError.
#include <dimgrad/data.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    auto ds = dg::data::parse_cifar10(data, size, "fuzz", size % 2 == 0);
    if (ds.size() * 3073 != static_cast<int64_t>(size)) dgfuzz::finding("record count");
    const int64_t* y = ds.targets.data_ptr<int64_t>();
    for (int64_t i = 0; i < ds.size(); ++i)
      if (y[i] < 0 || y[i] >= 10) dgfuzz::finding("label out of range accepted");
  } catch (const dg::IOError&) {
  }
  return 0;
}
