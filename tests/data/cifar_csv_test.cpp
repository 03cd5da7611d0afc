// CIFAR-10 binary and CSV readers.
#include <cstring>

#include "data/data_test_util.hpp"

using namespace datatest;
using dg::Tensor;

// ------------------------------------------------------------------ CIFAR-10
TEST(Cifar10, RecordsDecodeToChannelPlanes) {
  auto b = cifar_bytes({3, 9});
  auto ds = dg::data::parse_cifar10(b.data(), b.size(), "t.bin");
  EXPECT_EQ(ds.features.sizes().vec(), (std::vector<int64_t>{2, 3, 32, 32}));
  EXPECT_EQ(int_values(ds.targets), (std::vector<int64_t>{3, 9}));
  EXPECT_EQ(ds.class_names.at(9), "truck");
  // Record 1, channel 2 (blue), y 5, x 7: (2*7 + 5*3 + 7 + 0 + 1) % 256 = 37.
  Tensor raw = dg::data::parse_cifar10(b.data(), b.size(), "t.bin", false).features;
  EXPECT_EQ(raw[1][2][5][7].item<float>(), 37.0f);
  EXPECT_FLOAT_EQ(ds.features[1][2][5][7].item<float>(), 37.0f / 255.0f);
}

TEST(Cifar10, TrainAndTestFolders) {
  TempDir dir;
  fs::create_directories(dir.path / "cifar-10-batches-bin");
  for (int i = 1; i <= 5; ++i)
    write_bytes((dir.path / "cifar-10-batches-bin" / ("data_batch_" + std::to_string(i) + ".bin")).string(),
                cifar_bytes({static_cast<uint8_t>(i), static_cast<uint8_t>(i + 1)}, 10 * i));
  write_bytes((dir.path / "cifar-10-batches-bin" / "test_batch.bin").string(), cifar_bytes({0}));
  // The extracted tarball's subfolder is found from its parent.
  auto train = dg::data::load_dataset("cifar10", true, dir.path.string());
  EXPECT_EQ(train.size(), 10);
  EXPECT_EQ(int_values(train.targets), (std::vector<int64_t>{1, 2, 2, 3, 3, 4, 4, 5, 5, 6}));
  // Example 9 is record 1 of batch 5 (seed 50): pixel (0, 0, 0) = 50 + 1 = 51.
  EXPECT_FLOAT_EQ(train.features[9][0][0][0].item<float>(), 51.0f / 255.0f);
  auto test = dg::data::load_cifar10(dir.path.string(), false);
  EXPECT_EQ(test.size(), 1);
  // As bytes (through the registry too): the same images, to_unit_float gives the float loader's values bit for bit.
  auto bytes = dg::data::load_dataset("cifar10", true, dir.path.string(), dg::kUInt8);
  ASSERT_EQ(bytes.features.dtype(), dg::kUInt8);
  EXPECT_EQ(bytes.features.sizes().vec(), train.features.sizes().vec());
  EXPECT_EQ(bytes.features[9][0][0][0].item<int64_t>(), 51);
  EXPECT_EQ(int_values(bytes.targets), int_values(train.targets));
  Tensor back = dg::data::to_unit_float(bytes.features);
  ASSERT_EQ(std::memcmp(back.data_ptr<float>(), train.features.data_ptr<float>(),
                        static_cast<size_t>(train.features.numel()) * sizeof(float)),
            0);
  EXPECT_THROW(dg::data::load_cifar10(dir.path.string(), false, dg::kLong), dg::DTypeError);
  fs::remove(dir.path / "cifar-10-batches-bin" / "data_batch_4.bin");
  expect_io_error([&] { dg::data::load_cifar10(dir.path.string(), true); },
                  {"CIFAR-10 not found", "data_batch_4.bin", "is missing"});
}

TEST(Cifar10Bad, SizeAndLabels) {
  auto b = cifar_bytes({1, 2});
  b.pop_back();
  expect_io_error([&] { dg::data::parse_cifar10(b.data(), b.size(), "x.bin"); },
                  {"CIFAR-10 file 'x.bin'", "6145 bytes is not a whole number of 3073-byte records",
                   "1 records and 3072 bytes left over"});
  expect_io_error([&] { dg::data::parse_cifar10(b.data(), 0, "x.bin"); }, {"the file is empty"});
  auto bad = cifar_bytes({1, 10});
  expect_io_error([&] { dg::data::parse_cifar10(bad.data(), bad.size(), "x.bin"); },
                  {"label 10 of record 1 is out of range for 10 classes"});
  expect_io_error([&] { dg::data::read_cifar10_file("/nonexistent.bin"); },
                  {"cannot read CIFAR-10 file", "No such file"});
}

// ----------------------------------------------------------------------- CSV
TEST(Csv, HeaderDetectedLabelLastAndClassNames) {
  auto ds = dg::data::parse_csv(
      "sepal_length,sepal_width,species\n"
      "5.1, 3.5 ,setosa\r\n"
      "\n"
      "7.0,3.2,versicolor\n"
      "6.3,-3.3e-1,\"virginica\"\n"
      "4.9,+3.0,setosa",
      {}, "iris.csv");
  EXPECT_EQ(ds.features.sizes().vec(), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(values(ds.features), (std::vector<double>{5.1f, 3.5f, 7.0f, 3.2f, 6.3f, -0.33f, 4.9f, 3.0f}));
  EXPECT_EQ(ds.class_names, (std::vector<std::string>{"setosa", "versicolor", "virginica"}));
  EXPECT_EQ(int_values(ds.targets), (std::vector<int64_t>{0, 1, 2, 0}));
  EXPECT_EQ(ds.num_classes, 3);
}

TEST(Csv, LabelByNameOrIndexAndIntegerLabels) {
  dg::data::CsvOptions by_name;
  by_name.label_name = "y";
  auto a = dg::data::parse_csv("y,a,b\n2,1,2\n0,3,4\n", by_name);
  EXPECT_EQ(int_values(a.targets), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(values(a.features), (std::vector<double>{1, 2, 3, 4}));
  EXPECT_EQ(a.num_classes, 3);
  EXPECT_TRUE(a.class_names.empty());

  dg::data::CsvOptions first;
  first.label_index = 0;
  auto b = dg::data::parse_csv("1;0.5;\"1\"\"5\"\n", [&] {
    auto o = first;
    o.delimiter = ';';
    o.label_index = 2;
    return o;
  }());
  EXPECT_EQ(b.class_names, (std::vector<std::string>{"1\"5"})) << "a quoted \"\" is one quote";
  auto c = dg::data::parse_csv("1,2,3\n0,5,6\n", first);  // no header: every field numeric
  EXPECT_EQ(int_values(c.targets), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(values(c.features), (std::vector<double>{2, 3, 5, 6}));
}

TEST(CsvBad, ErrorsNameLineAndColumn) {
  expect_io_error([] { dg::data::parse_csv("a,b,y\n1,2,0\n1,x2,1\n", {}, "d.csv"); },
                  {"CSV file 'd.csv', line 3, column 3", "'x2' is not a number ('b')"});
  expect_io_error([] { dg::data::parse_csv("a,b,y\n1,2,0\n1,2\n", {}, "d.csv"); },
                  {"line 3", "2 fields, expected 3"});
  expect_io_error([] { dg::data::parse_csv("a,b,y\n1,,0\n", {}, "d.csv"); }, {"line 2, column 3", "'' is not a number"});
  expect_io_error([] { dg::data::parse_csv("1,inf,0\n", {}, "d.csv"); }, {"'inf' is not a finite float32 number"});
  expect_io_error([] { dg::data::parse_csv("1,1e39,0\n", {}, "d.csv"); }, {"not a finite float32"});
  expect_io_error([] { dg::data::parse_csv("1,\"2,0\n", {}, "d.csv"); }, {"line 1, column 3", "unterminated quoted"});
  expect_io_error([] { dg::data::parse_csv("1,\"2\"x,0\n", {}, "d.csv"); }, {"after a closing quote"});
  expect_io_error([] { dg::data::parse_csv("", {}, "d.csv"); }, {"d.csv", "empty"});
  expect_io_error([] { dg::data::parse_csv("a,b\n", {}, "d.csv"); }, {"a header but no data rows"});
  expect_io_error([] { dg::data::parse_csv("1\n2\n", {}, "d.csv"); }, {"only 1 column"});
  expect_io_error([] { dg::data::parse_csv("1,2,\n", {}, "d.csv"); }, {"line 1, column 5", "empty label"});
  dg::data::CsvOptions o;
  o.label_name = "label";
  expect_io_error([&] { dg::data::parse_csv("a,b,y\n1,2,0\n", o, "d.csv"); },
                  {"no column named 'label'", "columns: a, b, y"});
  o.label_name.clear();
  o.label_index = 5;
  expect_io_error([&] { dg::data::parse_csv("1,2,0\n", o, "d.csv"); }, {"label column index 5 is out of range"});
  expect_io_error([] { dg::data::load_csv("/nonexistent.csv"); }, {"cannot read CSV file", "No such file"});
}

TEST(Csv, RegistryTrainAndTestFilesShareClassNumbers) {
  TempDir dir;
  write_bytes(dir.file("train.csv"), to_bytes("x,label\n1,cat\n2,dog\n3,emu\n"));
  write_bytes(dir.file("test.csv"), to_bytes("x,label\n4,emu\n5,cat\n"));
  const std::string spec = "csv:train.csv,test.csv";
  EXPECT_TRUE(dg::data::has_test_split(spec));
  EXPECT_FALSE(dg::data::has_test_split("csv:train.csv"));
  auto test = dg::data::load_dataset(spec, false, dir.path.string());
  // Numbered as in the training file (cat 0, dog 1, emu 2), not by the test file alone.
  EXPECT_EQ(int_values(test.targets), (std::vector<int64_t>{2, 0}));
  EXPECT_EQ(test.num_classes, 3);
  write_bytes(dir.file("bad_test.csv"), to_bytes("x,label\n4,yak\n"));
  expect_io_error([&] { dg::data::load_dataset("csv:train.csv,bad_test.csv", false, dir.path.string()); },
                  {"label 'yak'", "not one of the 3 known classes"});
  expect_io_error([&] { dg::data::load_dataset("csv:train.csv", false, dir.path.string()); },
                  {"has no test file"});
  expect_io_error([] { dg::data::load_dataset("imagenet", true); },
                  {"unknown data set 'imagenet'", "fashion-mnist, mnist, cifar10"});
}
