// IDX reader: raw and gzip files, Fashion-MNIST itself, and every bad file.
#include <chrono>
#include <cstring>

#include "data/data_test_util.hpp"
#include "each_isa.hpp"

using namespace datatest;
using dg::Tensor;

namespace {

void expect_bad_idx(const std::vector<uint8_t>& b, std::initializer_list<std::string> parts) {
  expect_io_error([&] { dg::data::parse_idx(b.data(), b.size(), "bad.idx"); }, parts);
}

}  // namespace

TEST(Idx, RawImagesAndLabels) {
  TempDir dir;
  write_bytes(dir.file("img"), idx_bytes(0x08, {3, 4, 5}, tiny_pixels()));
  write_bytes(dir.file("lab"), idx_bytes(0x08, {3}, {7, 0, 3}));
  Tensor x = dg::data::read_idx_images(dir.file("img"));
  EXPECT_EQ(x.sizes().vec(), (std::vector<int64_t>{3, 1, 4, 5}));
  EXPECT_EQ(x.dtype(), dg::kFloat32);
  // pixel (n=2, y=3, x=4) = 100 + 15 + 4 = 119 → 119/255.
  EXPECT_FLOAT_EQ(x.data_ptr<float>()[2 * 20 + 3 * 5 + 4], 119.0f / 255.0f);
  Tensor raw = dg::data::read_idx_images(dir.file("img"), /*scale=*/false);
  EXPECT_EQ(raw.data_ptr<float>()[2 * 20 + 3 * 5 + 4], 119.0f);
  EXPECT_EQ(int_values(dg::data::read_idx_labels(dir.file("lab"))), (std::vector<int64_t>{7, 0, 3}));
}

TEST(Idx, GzipFilesGiveTheSameArrays) {
  auto a = dg::data::read_idx(data_fixture("tiny-images-idx3-ubyte.gz"));
  EXPECT_EQ(a.magic, 0x00000803u);
  EXPECT_EQ(a.dims, (std::vector<int64_t>{3, 4, 5}));
  EXPECT_EQ(a.data, tiny_pixels());
  auto m = dg::data::read_idx(data_fixture("tiny-images-multimember.gz"));
  EXPECT_EQ(m.data, tiny_pixels()) << "a stream of two gzip members reads as one";
  auto ds = dg::data::load_idx_dataset(data_fixture("tiny-images-idx3-ubyte.gz"),
                                       data_fixture("tiny-labels-idx1-ubyte.gz"), 10, "tiny");
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(int_values(ds.targets), (std::vector<int64_t>{7, 0, 3}));
  EXPECT_EQ(ds.num_classes, 10);
}

TEST(IdxBad, MissingTruncatedOrLongerRawFiles) {
  expect_io_error([&] { dg::data::read_idx_images("/nonexistent/train-images-idx3-ubyte"); },
                  {"cannot read IDX file", "/nonexistent/train-images-idx3-ubyte", "No such file"});
  auto pixels = tiny_pixels();
  auto shorter = idx_bytes(0x08, {3, 4, 5}, std::vector<uint8_t>(pixels.begin(), pixels.end() - 1));
  expect_bad_idx(shorter, {"bad.idx", "[3, 4, 5] need 60 data bytes", "has 59", "truncated"});
  auto longer = idx_bytes(0x08, {3, 4, 5}, pixels);
  longer.push_back(0);
  expect_bad_idx(longer, {"need 60 data bytes", "has 61", "extra bytes"});
  expect_bad_idx({0, 0}, {"too short for the 4-byte IDX magic"});
  expect_bad_idx({0, 0, 8, 3, 0, 0}, {"truncated in the header"});
}

TEST(IdxBad, WrongMagicNumbers) {
  TempDir dir;
  write_bytes(dir.file("labels"), idx_bytes(0x08, {3}, {1, 2, 3}));
  expect_io_error([&] { dg::data::read_idx_images(dir.file("labels")); },
                  {"wrong magic number 0x00000801 for images", "expected 0x00000803", "this is a labels file"});
  write_bytes(dir.file("images"), idx_bytes(0x08, {3, 4, 5}, tiny_pixels()));
  expect_io_error([&] { dg::data::read_idx_labels(dir.file("images")); },
                  {"wrong magic number 0x00000803 for labels", "this is an images file"});
  expect_bad_idx({0x1f, 0x00, 8, 1, 0, 0, 0, 0}, {"wrong magic number 0x1f000801", "two zero bytes"});
  expect_bad_idx(idx_bytes(0x0d, {1}, {0, 0, 0, 0}), {"element type 0x0d", "not supported"});
  expect_bad_idx({0, 0, 8, 0}, {"announces 0 dimensions"});
  expect_bad_idx({0, 0, 8, 9}, {"announces 9 dimensions"});
  // A PNG is not an IDX file.
  expect_bad_idx({0x89, 'P', 'N', 'G', 0x0d, 0x0a, 0x1a, 0x0a}, {"wrong magic number 0x89504e47"});
}

TEST(IdxBad, ZeroImagesOfAnAbsurdSize) {
  // Fuzz finding: 0 images of 4294967295 × 4294967295 is an empty payload, but the
  // tensor's strides would overflow int64 (undefined behaviour before the fix).
  expect_bad_idx(idx_bytes(0x08, {0, 0xffffffffu, 0xffffffffu}, {}), {"[0, 4294967295, 4294967295]", "too large"});
}

TEST(IdxBad, LabelOutOfRangeAndCountMismatch) {
  TempDir dir;
  write_bytes(dir.file("lab"), idx_bytes(0x08, {4}, {1, 9, 10, 2}));
  expect_io_error([&] { dg::data::read_idx_labels(dir.file("lab"), 10); },
                  {"label 10 of example 2 is out of range for 10 classes (0 to 9)"});
  EXPECT_EQ(dg::data::read_idx_labels(dir.file("lab"), 11).size(0), 4);
  write_bytes(dir.file("img"), idx_bytes(0x08, {3, 4, 5}, tiny_pixels()));
  write_bytes(dir.file("lab2"), idx_bytes(0x08, {2}, {1, 2}));
  expect_io_error([&] { dg::data::load_idx_dataset(dir.file("img"), dir.file("lab2")); },
                  {"do not match", "has 3 images", "has 2 labels"});
}

TEST(IdxBad, BrokenGzipStreams) {
  expect_io_error([&] { dg::data::read_idx(data_fixture("truncated.gz")); }, {"truncated.gz", "gzip stream is truncated"});
  expect_io_error([&] { dg::data::read_idx(data_fixture("corrupt.gz")); }, {"corrupt.gz", "corrupt gzip data"});
  expect_io_error([&] { dg::data::read_idx(data_fixture("longer.gz")); },
                  {"longer than the 2 bytes its dimensions [2] announce"});
}

TEST(IdxBad, LyingHeaderInGzipDoesNotAllocateWhatItClaims) {
  // 4 GB announced, 1 MB present: fails on the data, quickly, without a 4 GB allocation.
  auto t0 = std::chrono::steady_clock::now();
  expect_io_error([&] { dg::data::read_idx(data_fixture("bomb.gz")); },
                  {"need 4096000000 data bytes", "has only 1048576", "truncated"});
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 2.0);
  auto bytes = dg::io::read_file(data_fixture("bomb.gz"));
  expect_io_error([&] { dg::data::parse_idx(bytes.data(), bytes.size(), "b", 1 << 20); },
                  {"more than the limit of 1048576 bytes"});
}

// Every byte value v becomes exactly v / 255 in float32 (the division, as
// torchvision's ToTensor), on every instruction set and thread count: the
// vector copies compute it with a multiply and an FMA correction instead of a
// division, which is exact for these 256 values — each is checked here, at
// every position of a vector (the byte at i is (i + i / 256) mod 256), in a
// tensor long enough to be shared by 2 threads and with a tail shorter than
// a vector.
TEST(Idx, UnitFloatIsTheDivisionBy255ForEveryByte) {
  const int64_t n = 256 * 160 + 7;
  dg::Tensor bytes = dg::empty({n}, dg::kUInt8);
  uint8_t* b = bytes.data_ptr<uint8_t>();
  for (int64_t i = 0; i < n; ++i) b[i] = static_cast<uint8_t>((i + i / 256) % 256);
  dg_test::on_every_isa_and_thread_count({1, 2}, [&](int, const std::string& where) {
    const dg::Tensor f = dg::data::to_unit_float(bytes);
    const float* p = f.data_ptr<float>();
    for (int64_t i = 0; i < n; ++i) {
      const float want = static_cast<float>(b[i]) / 255.0f;
      ASSERT_EQ(std::memcmp(&p[i], &want, sizeof(float)), 0)
          << "byte " << int(b[i]) << " at " << i << ": " << p[i] << " against " << want << " (" << where << ")";
    }
  });
}

// Images kept as uint8: the file's bytes; batches of them through
// to_unit_float and the DataLoader are bit for bit the float32 loader's values
// (with the same augmentation), and no other pixel type is accepted.
TEST(Idx, ImagesAsBytesGiveTheSameFloatBatches) {
  TempDir dir;
  std::vector<uint8_t> pixels(6 * 4 * 5);
  for (size_t i = 0; i < pixels.size(); ++i) pixels[i] = static_cast<uint8_t>((i * 37 + 11) % 256);
  pixels[0] = 0;
  pixels[1] = 255;
  write_bytes(dir.file("train-images-idx3-ubyte"), idx_bytes(0x08, {6, 4, 5}, pixels));
  write_bytes(dir.file("train-labels-idx1-ubyte"), idx_bytes(0x08, {6}, {7, 0, 3, 1, 1, 2}));
  const auto bytes = dg::data::load_fashion_mnist(dir.path.string(), true, dg::kUInt8);
  const auto floats = dg::data::load_fashion_mnist(dir.path.string(), true);
  ASSERT_EQ(bytes.features.dtype(), dg::kUInt8);
  EXPECT_EQ(bytes.features.sizes().vec(), (std::vector<int64_t>{6, 1, 4, 5}));
  EXPECT_EQ(std::vector<uint8_t>(bytes.features.data_ptr<uint8_t>(), bytes.features.data_ptr<uint8_t>() + 120), pixels);
  EXPECT_EQ(bytes.class_names.at(7), "Sneaker");
  EXPECT_TRUE(dg::data::to_unit_float(bytes.features).equal(floats.features));
  EXPECT_EQ(dg::data::to_unit_float(bytes.features).data_ptr<float>()[1], 1.0f);
  // A strided view converts too; float32 passes through; others are refused.
  EXPECT_TRUE(dg::data::to_unit_float(bytes.features.transpose(2, 3)).equal(floats.features.transpose(2, 3)));
  EXPECT_TRUE(dg::data::to_unit_float(floats.features).is_same(floats.features));
  expect_error([&] { dg::data::to_unit_float(floats.features.to(dg::kDouble)); },
               {"to_unit_float: expected uint8 pixels (or float32), got float64"});
  expect_error([&] { dg::data::load_fashion_mnist(dir.path.string(), true, dg::kInt64); },
               {"pixels must be float32 or uint8, got int64"});
  for (int prefetch : {0, 2}) {
    auto opts = dg::data::DataLoaderOptions().with_batch_size(4).with_seed(3).with_prefetch(prefetch).with_transform(
        dg::data::RandomHorizontalFlip(0.5));
    dg::data::DataLoader from_bytes(bytes, opts), from_floats(floats, opts);
    for (int b = 0; b < 2; ++b) {
      auto u = from_bytes.next(), f = from_floats.next();
      ASSERT_TRUE(u.has_value() && f.has_value());
      EXPECT_EQ(u->data.dtype(), dg::kFloat32);
      EXPECT_TRUE(u->data.equal(f->data)) << "batch " << b << ", prefetch " << prefetch;
      EXPECT_TRUE(u->target.equal(f->target));
    }
  }
}

TEST(Idx, FashionMnistLayoutInAFolder) {
  TempDir dir;
  // The raw (uncompressed) spelling is found as well as the .gz one.
  write_bytes(dir.file("train-images-idx3-ubyte"), idx_bytes(0x08, {3, 4, 5}, tiny_pixels()));
  write_bytes(dir.file("train-labels-idx1-ubyte"), idx_bytes(0x08, {3}, {7, 0, 3}));
  auto ds = dg::data::load_fashion_mnist(dir.path.string(), true);
  EXPECT_EQ(ds.size(), 3);
  EXPECT_EQ(ds.class_names.at(7), "Sneaker");
  expect_io_error([&] { dg::data::load_fashion_mnist(dir.path.string(), false); },
                  {"Fashion-MNIST not found", "t10k-images-idx3-ubyte.gz", "dataset-fashion-mnist"});
  expect_io_error([&] { dg::data::load_dataset("mnist", true, "/nonexistent"); },
                  {"MNIST not found in '/nonexistent'", "--data-dir"});
}

TEST(Idx, RealFashionMnist) {
  if (!fs::exists(std::string(dg::data::kFashionMnistDir) + "/train-images-idx3-ubyte.gz"))
    GTEST_SKIP() << "Fashion-MNIST not installed (Debian package dataset-fashion-mnist)";
  auto t0 = std::chrono::steady_clock::now();
  auto train = dg::data::load_fashion_mnist();
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::cout << "[ info ] Fashion-MNIST train loaded in " << secs << " s\n";
  EXPECT_EQ(train.features.sizes().vec(), (std::vector<int64_t>{60000, 1, 28, 28}));
  EXPECT_EQ(train.num_classes, 10);
  const auto labels = int_values(train.targets);
  EXPECT_EQ(std::vector<int64_t>(labels.begin(), labels.begin() + 6), (std::vector<int64_t>{9, 0, 0, 3, 0, 2}));
  // Each class has 6000 training images; the first image's pixels sum to 76247 / 255.
  std::vector<int64_t> counts(10);
  for (int64_t y : labels) ++counts[static_cast<size_t>(y)];
  EXPECT_EQ(counts, std::vector<int64_t>(10, 6000));
  double first = 0;
  for (int i = 0; i < 784; ++i) first += train.features.data_ptr<float>()[i];
  EXPECT_NEAR(first * 255.0, 76247.0, 0.05);
  EXPECT_EQ(train.class_names[9], "Ankle boot");

  auto test = dg::data::load_dataset("fashion-mnist", false);
  EXPECT_EQ(test.size(), 10000);
  const auto test_labels = int_values(test.targets);
  EXPECT_EQ(std::vector<int64_t>(test_labels.begin(), test_labels.begin() + 5), (std::vector<int64_t>{9, 2, 1, 1, 6}));
  // Row 14 of the first test image, columns 10..17, raw bytes 0 0 98 136 110 109 110 162.
  Tensor row = test.features[0][0][14].narrow(0, 10, 8) * 255.0;
  EXPECT_TRUE(row.allclose(dg::tensor({0.0, 0, 98, 136, 110, 109, 110, 162}).to(dg::kFloat32), 0, 1e-3)) << row;
}
