// safetensors: round trips, files written by PyTorch / numpy, and every kind of
// malformed file (built byte by byte here) rejected with a clear message.
#include <cstring>

#include "io/io_internal.hpp"
#include "io_test_util.hpp"

using namespace iotest;
using dg::Tensor;

namespace {

// A file from a header text and a data buffer; `len` overrides the length field.
std::vector<uint8_t> st_bytes(const std::string& header, size_t data_bytes, int64_t len = -1) {
  std::string s(8, '\0');
  uint64_t n = len < 0 ? header.size() : static_cast<uint64_t>(len);
  std::memcpy(s.data(), &n, 8);
  s += header;
  for (size_t i = 0; i < data_bytes; ++i) s += static_cast<char>(i * 7 + 1);
  return to_bytes(s);
}

void expect_bad(const std::string& header, size_t data_bytes, std::initializer_list<std::string> parts) {
  auto b = st_bytes(header, data_bytes);
  expect_io_error([&] { dg::io::parse_safetensors(b.data(), b.size(), "bad.safetensors"); }, parts);
}

std::map<std::string, Tensor> sample_tensors() {
  dg::manual_seed(3);
  return {
      {"w", dg::randn({3, 4})},
      {"d", dg::randn({5}, dg::kFloat64)},
      {"idx", dg::tensor(std::vector<int64_t>{-3, 0, int64_t(1) << 50, INT64_MIN})},
      {"mask", dg::tensor(std::vector<bool>{true, false, false, true, true})},
      {"scalar", dg::scalar_tensor(2.5, dg::kFloat64)},
      {"empty", dg::zeros({0, 7})},
      {"transposed", dg::arange(6, dg::kFloat32).reshape({2, 3}).t()},  // non-contiguous view
      {"gewicht.ü", dg::ones({1}, dg::kInt64)},
  };
}

}  // namespace

TEST(Safetensors, RoundTripEveryDtypeIncludingScalarEmptyAndViews) {
  TempDir dir;
  auto tensors = sample_tensors();
  dg::io::save_safetensors(dir.file("m.safetensors"), tensors, {{"epoch", "3"}, {"note", "héllo"}});
  auto f = dg::io::load_safetensors(dir.file("m.safetensors"));
  ASSERT_EQ(f.tensors.size(), tensors.size());
  for (const auto& [name, t] : tensors) {
    ASSERT_TRUE(f.tensors.count(name)) << name;
    const Tensor& u = f.tensors.at(name);
    EXPECT_EQ(u.dtype(), t.dtype()) << name;
    EXPECT_EQ(u.sizes().vec(), t.sizes().vec()) << name;
    EXPECT_TRUE(u.is_contiguous());
    EXPECT_EQ(values(u), values(t)) << name;
  }
  EXPECT_EQ(f.tensors.at("scalar").dim(), 0);
  EXPECT_EQ(f.tensors.at("idx").data_ptr<int64_t>()[3], INT64_MIN);
  EXPECT_EQ(f.metadata.at("epoch"), "3");
  EXPECT_EQ(f.metadata.at("note"), "héllo");
  EXPECT_EQ(f.metadata.at(dg::io::kFormatVersionKey), "1");
  EXPECT_EQ(f.metadata.at(dg::io::kChecksumKey).rfind("crc32:", 0), 0u);
  // The transposed view was written in its logical (C) order.
  EXPECT_EQ(values(f.tensors.at("transposed")), (std::vector<double>{0, 3, 1, 4, 2, 5}));
}

TEST(Safetensors, MemorySerializationMatchesTheSavedFile) {
  TempDir dir;
  auto tensors = sample_tensors();
  dg::io::save_safetensors(dir.file("m.safetensors"), tensors);
  EXPECT_EQ(dg::io::read_file(dir.file("m.safetensors")), dg::io::serialize_safetensors(tensors));
}

TEST(Safetensors, LayoutFollowsTheReferenceWriter) {
  auto bytes = dg::io::serialize_safetensors(sample_tensors());
  uint64_t n;
  std::memcpy(&n, bytes.data(), 8);
  ASSERT_LE(8 + n, bytes.size());
  EXPECT_EQ(n % 8, 0u) << "header padded to a multiple of 8";
  std::string header(bytes.begin() + 8, bytes.begin() + 8 + static_cast<int64_t>(n));
  EXPECT_EQ(header.front(), '{');
  EXPECT_EQ(header.find_last_not_of(' '), header.find_last_of('}')) << "padding is spaces after the JSON";
  auto j = nlohmann::json::parse(header);
  // Larger elements first (8-byte types before 4-byte before 1-byte), each group by name.
  EXPECT_EQ(j["d"]["data_offsets"][0], 0);
  EXPECT_EQ(j["d"]["dtype"], "F64");
  EXPECT_EQ(j["mask"]["dtype"], "BOOL");
  EXPECT_EQ(j["mask"]["data_offsets"][1], bytes.size() - 8 - n) << "1-byte tensors last";
  EXPECT_EQ(j["scalar"]["shape"], nlohmann::json::array());
  // Every tensor starts aligned to its element size.
  for (auto& [name, e] : j.items()) {
    if (name == "__metadata__") continue;
    EXPECT_EQ(e["data_offsets"][0].get<uint64_t>() % (e["dtype"] == "BOOL" ? 1 : 4), 0u);
  }
}

TEST(Safetensors, LoadsTheFileWrittenFromAPyTorchStateDict) {
  auto f = dg::io::load_safetensors(fixture("torch_written.safetensors"));
  auto expected = read_json(fixture("torch_written.json"));
  ASSERT_EQ(f.tensors.size(), expected["tensors"].size());
  for (auto& [name, e] : expected["tensors"].items()) {
    ASSERT_TRUE(f.tensors.count(name)) << name;
    const Tensor& t = f.tensors.at(name);
    EXPECT_EQ(t.sizes().vec(), e["shape"].get<std::vector<int64_t>>()) << name;
    EXPECT_EQ(std::string(dg::dtype_name(t.dtype())), e["dtype"].get<std::string>()) << name;
    EXPECT_EQ(values(t), json_doubles(e["values"])) << name;
  }
  EXPECT_EQ(f.tensors.at("1.num_batches_tracked").dim(), 0);
  EXPECT_EQ(f.tensors.at("1.num_batches_tracked").item<int64_t>(), 1);
  EXPECT_EQ(f.metadata.at("format"), "pt");
  EXPECT_EQ(f.metadata.count(dg::io::kChecksumKey), 0u) << "a foreign file without checksum still loads";

  // The weights reproduce PyTorch's output: Linear → BatchNorm1d (eval) → ReLU → Linear.
  auto& T = f.tensors;
  Tensor x = dg::tensor(expected["input"]["values"].get<std::vector<float>>()).reshape({2, 4});
  Tensor h = dg::matmul(x, T.at("0.weight").t()) + T.at("0.bias");
  h = (h - T.at("1.running_mean")) / (T.at("1.running_var") + 1e-5).sqrt() * T.at("1.weight") + T.at("1.bias");
  Tensor y = dg::matmul(h.relu(), T.at("3.weight").t()) + T.at("3.bias");
  Tensor want = dg::tensor(expected["output"]["values"].get<std::vector<float>>()).reshape({2, 3});
  EXPECT_TRUE(y.allclose(want, 1e-5, 1e-6)) << y << "\nvs\n" << want;
}

TEST(Safetensors, WidensNarrowerTypesFromNumpyWrittenFile) {
  auto f = dg::io::load_safetensors(fixture("numpy_dtypes.safetensors"));
  auto expected = read_json(fixture("numpy_dtypes.json"));
  ASSERT_EQ(f.tensors.size(), expected.size());
  for (auto& [name, e] : expected.items()) {
    const Tensor& t = f.tensors.at(name);
    std::string dt = e["dtype"];
    dg::ScalarType want = dt == "float64" ? dg::kFloat64
                          : dt == "bool"  ? dg::kBool
                          : dt == "uint8" ? dg::kUInt8
                          : (dt == "float32" || dt == "float16" || dt == "BF16") ? dg::kFloat32
                                                                                : dg::kInt64;
    EXPECT_EQ(t.dtype(), want) << name;
    EXPECT_EQ(t.sizes().vec(), e["shape"].get<std::vector<int64_t>>()) << name;
    if (t.dtype() == dg::kInt64 || t.dtype() == dg::kUInt8) EXPECT_EQ(int_values(t), e["values"].get<std::vector<int64_t>>()) << name;
    else EXPECT_EQ(values(t), json_doubles(e["values"])) << name;
  }
  EXPECT_EQ(f.tensors.at("i32").data_ptr<int64_t>()[0], -2147483648LL);
  EXPECT_EQ(f.tensors.at("u32").data_ptr<int64_t>()[0], 4294967295LL);
  EXPECT_EQ(f.tensors.at("f16").data_ptr<float>()[2], 65504.0f);
  EXPECT_EQ(f.tensors.at("bf16").data_ptr<float>()[1], -123.5f);
}

// uint8 (images as bytes) is written as U8 and read back as uint8, with
// PyTorch's and NumPy's names for it; likewise '|u1' in .npy.
TEST(Safetensors, Uint8RoundTripsAsItself) {
  std::vector<uint8_t> v = {0, 1, 127, 128, 255, 42};
  Tensor t = dg::from_blob(v.data(), {2, 3}, dg::kUInt8);
  auto bytes = dg::io::serialize_safetensors({{"img", t}, {"img_t", t.t()}});
  EXPECT_NE(std::string(bytes.begin(), bytes.end()).find(R"("dtype":"U8")"), std::string::npos);
  auto f = dg::io::parse_safetensors(bytes.data(), bytes.size());
  ASSERT_EQ(f.tensors.at("img").dtype(), dg::kUInt8);
  EXPECT_TRUE(f.tensors.at("img").equal(t));
  EXPECT_TRUE(f.tensors.at("img_t").equal(t.t()));
  auto npy = dg::io::serialize_npy(t);
  EXPECT_NE(std::string(npy.begin(), npy.end()).find("'descr': '|u1'"), std::string::npos);
  Tensor back = dg::io::parse_npy(npy.data(), npy.size());
  ASSERT_EQ(back.dtype(), dg::kUInt8);
  EXPECT_TRUE(back.equal(t));
}

TEST(Safetensors, HalfToFloatIsExact) {
  using dg::io::detail::half_to_float;
  EXPECT_EQ(half_to_float(0x3c00), 1.0f);
  EXPECT_EQ(half_to_float(0xc000), -2.0f);
  EXPECT_EQ(half_to_float(0x0001), 5.9604644775390625e-8f);  // smallest subnormal
  EXPECT_EQ(half_to_float(0x03ff), 6.097555160522461e-5f);   // largest subnormal
  EXPECT_TRUE(std::signbit(half_to_float(0x8000)));
  EXPECT_TRUE(std::isinf(half_to_float(0x7c00)));
  EXPECT_TRUE(std::isnan(half_to_float(0x7e00)));
}

TEST(Safetensors, NonzeroBoolBytesLoadAsTrue) {
  auto b = st_bytes(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,3]}})", 0);
  b.insert(b.end(), {0, 2, 255});
  auto f = dg::io::parse_safetensors(b.data(), b.size());
  const bool* p = f.tensors.at("m").data_ptr<bool>();
  uint8_t raw[3];
  std::memcpy(raw, p, 3);
  EXPECT_EQ(raw[0], 0);
  EXPECT_EQ(raw[1], 1);
  EXPECT_EQ(raw[2], 1);
}

TEST(Safetensors, IgnoresUnknownEntryFieldsAndAcceptsNullMetadata) {
  auto b = st_bytes(
      R"({"__metadata__":null,"a":{"extra":{"x":[1,{"y":2}]},"dtype":"F32","shape":[2],"note":"n","data_offsets":[0,8]}})",
      8);
  auto f = dg::io::parse_safetensors(b.data(), b.size());
  EXPECT_EQ(f.tensors.at("a").numel(), 2);
  EXPECT_TRUE(f.metadata.empty());
}

TEST(Safetensors, EmptyTensorsMayShareAnOffsetBoundary) {
  auto b = st_bytes(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                    R"("e":{"dtype":"F32","shape":[0],"data_offsets":[4,4]},)"
                    R"("b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                    8);
  auto f = dg::io::parse_safetensors(b.data(), b.size());
  EXPECT_EQ(f.tensors.size(), 3u);
  EXPECT_EQ(f.tensors.at("e").numel(), 0);
}

// ------------------------------------------------------------ malformed files
TEST(SafetensorsMalformed, TooShortForTheLengthField) {
  std::vector<uint8_t> b = {1, 2, 3};
  expect_io_error([&] { dg::io::parse_safetensors(b.data(), b.size(), "x.st"); },
                  {"safetensors file 'x.st'", "3 bytes", "too short"});
}

TEST(SafetensorsMalformed, HeaderLengthOverTheLimitOrPastTheEnd) {
  auto huge = st_bytes("{}", 0, int64_t(1) << 40);
  expect_io_error([&] { dg::io::parse_safetensors(huge.data(), huge.size(), "x"); },
                  {"header length 1099511627776", "larger than the limit"});
  auto past = st_bytes("{}", 0, 50);
  expect_io_error([&] { dg::io::parse_safetensors(past.data(), past.size(), "x"); },
                  {"header length 50", "runs past the end", "2 bytes follow"});
}

TEST(SafetensorsMalformed, InvalidJsonAndInvalidUtf8) {
  expect_bad(R"({"a":{"dtype":"F32",)", 0, {"bad.safetensors", "not valid JSON"});
  expect_bad("{\"a\xff\xfe\":{}}", 0, {"not valid JSON", "UTF-8"});
  expect_bad("", 0, {"not valid JSON"});
  expect_bad(R"({} trailing)", 0, {"not valid JSON"});
}

TEST(SafetensorsMalformed, DuplicateKeysAnywhere) {
  expect_bad(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
             R"("a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
             8, {"duplicate key 'a'"});
  expect_bad(R"({"a":{"dtype":"F32","dtype":"F64","shape":[1],"data_offsets":[0,4]}})", 4,
             {"tensor 'a'", "duplicate field 'dtype'"});
  expect_bad(R"({"__metadata__":{"k":"1","k":"2"}})", 0, {"duplicate key 'k' in __metadata__"});
  expect_bad(R"({"__metadata__":{},"__metadata__":{}})", 0, {"duplicate key '__metadata__'"});
}

TEST(SafetensorsMalformed, WrongStructure) {
  expect_bad(R"([1,2])", 0, {"header must be an object", "an array"});
  expect_bad(R"({"a":5})", 0, {"tensor 'a'", "must be an object"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[1]}})", 0, {"tensor 'a'", "missing field 'data_offsets'"});
  expect_bad(R"({"a":{"dtype":7,"shape":[1],"data_offsets":[0,4]}})", 4, {"dtype must be a string"});
  expect_bad(R"({"a":{"dtype":"F32","shape":{"x":1},"data_offsets":[0,4]}})", 4, {"'shape' must not be an object"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[[1]],"data_offsets":[0,4]}})", 4, {"shape must hold integers only"});
  expect_bad(R"({"__metadata__":{"k":1}})", 0, {"__metadata__ value of 'k' must be a string"});
  expect_bad(R"({"__metadata__":[]})", 0, {"__metadata__ must be an object"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4,8]}})", 4, {"data_offsets", "more than 2"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0]}})", 4, {"data_offsets must be [begin, end]"});
}

TEST(SafetensorsMalformed, BadDtypeAndShapes) {
  expect_bad(R"({"a":{"dtype":"C64","shape":[1],"data_offsets":[0,8]}})", 8, {"tensor 'a'", "unsupported dtype 'C64'"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[-2],"data_offsets":[0,8]}})", 8, {"tensor 'a'", "negative number -2"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[2.5],"data_offsets":[0,8]}})", 8, {"2.5", "not an integer"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[1,1,1,1,1,1,1,1,1],"data_offsets":[0,4]}})", 4,
             {"more than 8 dimensions"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[4294967296,4294967296],"data_offsets":[0,4]}})", 4,
             {"tensor 'a'", "number of elements", "overflows"});
  expect_bad(R"({"a":{"dtype":"F64","shape":[4611686018427387904],"data_offsets":[0,4]}})", 4,
             {"tensor 'a'", "byte size", "overflows"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[18446744073709551615],"data_offsets":[0,4]}})", 4, {"too large"});
  // Zero elements, but the strides of the other dimensions would overflow int64.
  expect_bad(R"({"a":{"dtype":"F32","shape":[0,4294967296,4294967296],"data_offsets":[0,0]}})", 0,
             {"tensor 'a'", "strides overflow"});
}

TEST(SafetensorsMalformed, OffsetsThatDoNotTileTheBuffer) {
  expect_bad(R"({"a":{"dtype":"F32","shape":[0],"data_offsets":[8,4]}})", 8, {"tensor 'a'", "end before they begin"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}})", 8,
             {"tensor 'a'", "run past the end of the data buffer (8 bytes"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,8]}})", 8,
             {"tensor 'a'", "hold 8 bytes", "shape [3] needs 12"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}})",
             12, {"tensors 'a' [0, 8) and 'b' [4, 12) overlap"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F32","shape":[1],"data_offsets":[8,12]}})",
             12, {"bytes [4, 8)", "belong to no tensor", "before 'b'"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})", 8, {"bytes [0, 4)", "belong to no tensor"});
  expect_bad(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]}})", 9, {"5 trailing bytes"});
  // A claim of a terabyte tensor in a tiny file fails on the offsets, before any allocation.
  expect_bad(R"({"a":{"dtype":"F32","shape":[274877906944],"data_offsets":[0,1099511627776]}})", 8,
             {"run past the end"});
}

TEST(SafetensorsMalformed, TruncatedAndCorruptedFilesAreDetected) {
  TempDir dir;
  auto tensors = sample_tensors();
  dg::io::save_safetensors(dir.file("ok.safetensors"), tensors);
  auto bytes = dg::io::read_file(dir.file("ok.safetensors"));

  std::vector<uint8_t> truncated(bytes.begin(), bytes.end() - 5);
  write_bytes(dir.file("trunc.safetensors"), truncated);
  expect_io_error([&] { dg::io::load_safetensors(dir.file("trunc.safetensors")); },
                  {dir.file("trunc.safetensors"), "truncated file?"});

  // One flipped bit in the data buffer: offsets still fine, the checksum is not.
  std::vector<uint8_t> flipped = bytes;
  flipped[flipped.size() - 20] ^= 0x10;
  write_bytes(dir.file("flip.safetensors"), flipped);
  expect_io_error([&] { dg::io::load_safetensors(dir.file("flip.safetensors")); },
                  {"flip.safetensors", "checksum mismatch", "corrupted or was not completely written"});

  expect_io_error([&] { dg::io::load_safetensors(dir.file("missing.safetensors")); },
                  {"cannot open safetensors file", "missing.safetensors", "No such file"});
}

TEST(SafetensorsMalformed, MalformedChecksumValue) {
  expect_bad(R"({"__metadata__":{"dimgrad.checksum":"md5:abc"}})", 0, {"malformed dimgrad.checksum 'md5:abc'"});
  expect_bad(R"({"__metadata__":{"dimgrad.checksum":"crc32:0000zz00"}})", 0, {"malformed dimgrad.checksum"});
}

TEST(SafetensorsMalformed, WriterRejectsWhatCannotBeWritten) {
  TempDir dir;
  expect_io_error([&] { dg::io::save_safetensors(dir.file("a"), {{"__metadata__", dg::ones({1})}}); },
                  {"'__metadata__' cannot be a tensor name"});
  expect_io_error([&] { dg::io::save_safetensors(dir.file("a"), {{"x", Tensor()}}); }, {"tensor 'x' is undefined"});
  expect_io_error([&] { dg::io::save_safetensors(dir.file("a"), {{"bad\xff", dg::ones({1})}}); }, {"not valid UTF-8"});
  EXPECT_FALSE(fs::exists(dir.file("a")));
  expect_io_error([&] { dg::io::save_safetensors(dir.file("no/such/dir/a"), {{"x", dg::ones({1})}}); },
                  {"cannot save", "no/such/dir/a", "No such file"});
}
