// CSV reader: any text → a data set or dg::IOError. The first byte picks the
// options (delimiter, header mode, label column) so they are fuzzed too.
#include <dimgrad/data.hpp>

#include "fuzz_util.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  dg::data::CsvOptions o;
  const uint8_t k = data[0];
  o.delimiter = (k & 1) ? ';' : ',';
  o.header = static_cast<dg::data::CsvOptions::Header>((k >> 1) % 3);
  o.label_index = static_cast<int64_t>((k >> 3) % 5) - 2;
  if (k >> 7) o.label_name = "label";
  std::string_view text(reinterpret_cast<const char*>(data + 1), size - 1);
  try {
    auto ds = dg::data::parse_csv(text, o, "fuzz");
    if (ds.features.size(0) != ds.targets.size(0)) dgfuzz::finding("rows differ between features and labels");
    const int64_t* y = ds.targets.data_ptr<int64_t>();
    for (int64_t i = 0; i < ds.size(); ++i)
      if (y[i] < 0 || y[i] >= ds.num_classes) dgfuzz::finding("label outside [0, num_classes)");
  } catch (const dg::IOError&) {
  }
  return 0;
}
