// CIFAR-10, binary version (https://www.cs.toronto.edu/~kriz/cifar.html):
// each record is 1 label byte and 3072 pixel bytes (1024 red, then green, then
// blue, each 32×32 row-major), which is already the [3, 32, 32] layout.
#include <filesystem>
#include <type_traits>

#include "dimgrad/data.hpp"
#include "dimgrad/io.hpp"
#include "tensor/internal.hpp"

namespace dg::data {
namespace {

constexpr int64_t kPixels = 3 * 32 * 32, kRecord = 1 + kPixels;

const std::vector<std::string> kClassNames = {"airplane", "automobile", "bird",  "cat",  "deer",
                                              "dog",      "frog",       "horse", "ship", "truck"};

// Checks a file's size and returns its record count.
int64_t count_records(size_t size, const std::string& what) {
  if (size == 0) throw IOError(what + ": the file is empty");
  if (size % kRecord != 0)
    throw IOError(what + ": " + std::to_string(size) + " bytes is not a whole number of " + std::to_string(kRecord) +
                  "-byte records (1 label + 3072 pixels): " + std::to_string(size / kRecord) + " records and " +
                  std::to_string(size % kRecord) + " bytes left over (truncated file?)");
  return static_cast<int64_t>(size / kRecord);
}

// Decodes n records into x (n × 3072 pixels: floats, scaled by 1/255 when
// `scale`, or the bytes themselves) and y (n labels).
template <class P>
void decode(const uint8_t* data, int64_t n, const std::string& what, bool scale, P* x, int64_t* y) {
  P lut[256];
  for (int i = 0; i < 256; ++i)
    lut[i] = std::is_same_v<P, uint8_t> ? static_cast<P>(i) : scale ? static_cast<P>(static_cast<float>(i) / 255.0f)
                                                                     : static_cast<P>(i);
  for (int64_t r = 0; r < n; ++r) {
    const uint8_t* rec = data + r * kRecord;
    if (rec[0] >= 10)
      throw IOError(what + ": label " + std::to_string(rec[0]) + " of record " + std::to_string(r) +
                    " is out of range for 10 classes (0 to 9)");
    y[r] = rec[0];
    for (int64_t i = 0; i < kPixels; ++i) x[r * kPixels + i] = lut[rec[1 + i]];
  }
}

Dataset make_dataset(int64_t n, const std::string& name, ScalarType pixels = kFloat) {
  Dataset ds;
  ds.features = dg::detail::make_tensor({n, 3, 32, 32}, pixels);
  ds.targets = dg::detail::make_tensor({n}, kLong);
  ds.num_classes = 10;
  ds.class_names = kClassNames;
  ds.name = name;
  return ds;
}

std::vector<uint8_t> read_bytes(const std::string& path) {
  try {
    return io::read_file(path);
  } catch (const IOError& e) {
    throw IOError(std::string("cannot read CIFAR-10 file: ") + e.what());
  }
}

}  // namespace

Dataset parse_cifar10(const uint8_t* data, size_t size, const std::string& source_name, bool scale) {
  const std::string what = "CIFAR-10 file '" + source_name + "'";
  const int64_t n = count_records(size, what);
  Dataset ds = make_dataset(n, "cifar10");
  decode(data, n, what, scale, ds.features.data_ptr<float>(), ds.targets.data_ptr<int64_t>());
  return ds;
}

Dataset read_cifar10_file(const std::string& path, bool scale) {
  std::vector<uint8_t> bytes = read_bytes(path);
  return parse_cifar10(bytes.data(), bytes.size(), path, scale);
}

Dataset load_cifar10(const std::string& dir, bool train, ScalarType pixels) {
  if (pixels != kFloat && pixels != kUInt8)
    throw DTypeError(std::string("load_cifar10: pixels must be float32 or uint8, got ") + dtype_name(pixels));
  namespace fs = std::filesystem;
  std::string base = dir;
  if (!fs::exists(base + "/test_batch.bin") && fs::exists(base + "/cifar-10-batches-bin"))
    base += "/cifar-10-batches-bin";
  std::vector<std::string> files;
  if (train)
    for (int i = 1; i <= 5; ++i) files.push_back(base + "/data_batch_" + std::to_string(i) + ".bin");
  else
    files.push_back(base + "/test_batch.bin");
  // Sizes first, so the whole set is decoded straight into one tensor.
  int64_t total = 0;
  for (const auto& f : files) {
    if (!fs::exists(f))
      throw IOError("CIFAR-10 not found: '" + f + "' is missing (expected data_batch_1..5.bin and test_batch.bin " +
                    "of the binary version in '" + dir + "'; pass --data-dir)");
    total += count_records(fs::file_size(f), "CIFAR-10 file '" + f + "'");
  }
  Dataset ds = make_dataset(total, train ? "cifar10 train" : "cifar10 test", pixels);
  int64_t at = 0;
  for (const auto& f : files) {
    std::vector<uint8_t> bytes = read_bytes(f);
    const std::string what = "CIFAR-10 file '" + f + "'";
    const int64_t n = count_records(bytes.size(), what);
    if (at + n > total) throw IOError(what + ": the file grew while reading");
    int64_t* y = ds.targets.data_ptr<int64_t>() + at;
    if (pixels == kUInt8) decode(bytes.data(), n, what, false, ds.features.data_ptr<uint8_t>() + at * kPixels, y);
    else decode(bytes.data(), n, what, true, ds.features.data_ptr<float>() + at * kPixels, y);
    at += n;
  }
  if (at != total) throw IOError("CIFAR-10 files in '" + base + "' changed while reading");
  return ds;
}

}  // namespace dg::data
