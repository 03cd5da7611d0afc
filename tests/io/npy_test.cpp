// .npy: round trips, files written by numpy.save, and malformed files.
#include <cstring>

#include "io_test_util.hpp"

using namespace iotest;
using dg::Tensor;

namespace {

// A .npy file from a header dict text (padded like numpy) and raw data bytes.
std::vector<uint8_t> npy_bytes(const std::string& dict, size_t data_bytes, uint8_t major = 1) {
  std::string h = dict;
  const size_t prefix = major == 1 ? 10 : 12;
  while ((prefix + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string b = "\x93NUMPY";
  b += static_cast<char>(major);
  b += '\0';
  const uint32_t n = static_cast<uint32_t>(h.size());
  for (size_t i = 0; i < prefix - 8; ++i) b += static_cast<char>(n >> (8 * i));
  b += h;
  for (size_t i = 0; i < data_bytes; ++i) b += static_cast<char>(i);
  return to_bytes(b);
}

void expect_bad(const std::vector<uint8_t>& b, std::initializer_list<std::string> parts) {
  expect_io_error([&] { dg::io::parse_npy(b.data(), b.size(), "bad.npy"); }, parts);
}

}  // namespace

TEST(Npy, RoundTripEveryDtype) {
  TempDir dir;
  dg::manual_seed(5);
  std::vector<Tensor> ts = {dg::randn({2, 3}),
                            dg::randn({4}, dg::kFloat64),
                            dg::tensor(std::vector<int64_t>{INT64_MIN, -1, 0, INT64_MAX}),
                            dg::tensor(std::vector<bool>{true, false, true}),
                            dg::scalar_tensor(7.5, dg::kFloat64),
                            dg::zeros({0, 3}),
                            dg::arange(24, dg::kFloat32).reshape({2, 3, 4}).permute({2, 0, 1})};
  for (size_t i = 0; i < ts.size(); ++i) {
    std::string name = std::to_string(i);
    name += ".npy";
    const std::string p = dir.file(name);
    dg::io::save_npy(p, ts[i]);
    Tensor u = dg::io::load_npy(p);
    EXPECT_EQ(u.dtype(), ts[i].dtype()) << i;
    EXPECT_EQ(u.sizes().vec(), ts[i].sizes().vec()) << i;
    EXPECT_EQ(values(u), values(ts[i])) << i;
    EXPECT_EQ(dg::io::read_file(p), dg::io::serialize_npy(ts[i])) << i;
    EXPECT_EQ(dg::io::read_file(p).size() % 64, (values(u).size() * u.element_size()) % 64)
        << "data starts at a multiple of 64";
  }
}

TEST(Npy, WriterIsByteIdenticalToNumpySave) {
  // numpy.save wrote this file; dimgrad writing the same values must produce the same bytes.
  auto expected = read_json(fixture("npy.json"));
  Tensor t = dg::tensor(expected["f4_2x3"]["values"].get<std::vector<float>>()).reshape({2, 3});
  EXPECT_EQ(dg::io::serialize_npy(t), dg::io::read_file(fixture("npy/f4_2x3.npy")));
  Tensor s = dg::scalar_tensor(-2.5, dg::kFloat64);
  EXPECT_EQ(dg::io::serialize_npy(s), dg::io::read_file(fixture("npy/scalar.npy")));
  Tensor i = dg::tensor(std::vector<int64_t>{-1, 0, int64_t(1) << 50});
  EXPECT_EQ(dg::io::serialize_npy(i), dg::io::read_file(fixture("npy/i8.npy")));
}

TEST(Npy, ReadsFilesWrittenByNumpyIncludingFortranOrder) {
  auto expected = read_json(fixture("npy.json"));
  for (auto& [name, e] : expected.items()) {
    Tensor t = dg::io::load_npy(fixture("npy/" + name + ".npy"));
    EXPECT_EQ(t.sizes().vec(), e["shape"].get<std::vector<int64_t>>()) << name;
    std::string dt = e["dtype"];
    if (t.dtype() == dg::kInt64 || t.dtype() == dg::kUInt8)
      EXPECT_EQ(int_values(t), e["values"].get<std::vector<int64_t>>()) << name;
    else EXPECT_EQ(values(t), json_doubles(e["values"])) << name;
    dg::ScalarType want = dt == "float64" ? dg::kFloat64
                          : dt == "bool"  ? dg::kBool
                          : dt == "uint8" ? dg::kUInt8
                          : (dt == "float32" || dt == "float16") ? dg::kFloat32
                                                                : dg::kInt64;
    EXPECT_EQ(t.dtype(), want) << name;
  }
  // The Fortran-ordered file comes back in C order: element [1, 2, 0] of arange(12).reshape(2,3,2)/8.
  Tensor f = dg::io::load_npy(fixture("npy/f8_fortran.npy"));
  EXPECT_TRUE(f.is_contiguous());
  EXPECT_EQ(f.data_ptr<double>()[1 * 6 + 2 * 2 + 0], 10.0 / 8);
}

TEST(Npy, VersionTwoHeaderIsRead) {
  auto b = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (2,), }", 0, 2);
  double v[2] = {1.25, -3};
  b.insert(b.end(), reinterpret_cast<uint8_t*>(v), reinterpret_cast<uint8_t*>(v) + 16);
  Tensor t = dg::io::parse_npy(b.data(), b.size());
  EXPECT_EQ(values(t), (std::vector<double>{1.25, -3}));
}

TEST(NpyMalformed, MagicVersionAndHeaderLength) {
  expect_bad({1, 2, 3}, {"bad.npy", "not a .npy file"});
  expect_bad(to_bytes("PK\x03\x04 this is a zip file"), {"missing the \\x93NUMPY magic"});
  auto v = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4);
  v[6] = 4;
  expect_bad(v, {"unsupported .npy format version 4.0"});
  auto past = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", 4);
  past[8] = 0xff;
  past[9] = 0xff;
  expect_bad(past, {"header length 65535 runs past the end"});
  auto huge = npy_bytes("{}", 0, 2);
  huge[8] = huge[9] = huge[10] = huge[11] = 0x7f;
  expect_bad(huge, {"larger than the limit"});
}

TEST(NpyMalformed, HeaderDict) {
  expect_bad(npy_bytes("{'descr': '<f4', 'fortran_order': False}", 0), {"lacks the key 'shape'"});
  expect_bad(npy_bytes("{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, 'shape': ()}", 4),
             {"duplicate key 'descr'"});
  expect_bad(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (), 'extra': 1}", 4),
             {"unknown key 'extra'"});
  expect_bad(npy_bytes("{'descr': '<f4', 'fortran_order': 0, 'shape': ()}", 4), {"fortran_order must be True or False"});
  expect_bad(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (-1,)}", 4),
             {"shape must be a tuple of non-negative integers"});
  expect_bad(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2.5,)}", 4), {"expected ',' or ')'"});
  expect_bad(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1,1,1,1,1,1,1,1,1)}", 4),
             {"more than 8 dimensions"});
  expect_bad(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999,)}", 4),
             {"too large for int64"});
  expect_bad(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}", 4),
             {"number of elements", "overflows"});
  expect_bad(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4294967296, 4294967296)}", 0),
             {"strides overflow"});
  expect_bad(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': ()} x", 4), {"unexpected text"});
  expect_bad(npy_bytes("{'descr': '<f4\\x', 'fortran_order': False, 'shape': ()}", 4), {"escape sequences"});
  expect_bad(npy_bytes("{'descr': '<f4, 'fortran_order': False, 'shape': ()}", 4), {"bad.npy"});
  expect_bad(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': ()", 4), {"expected ',' or '}'"});
}

TEST(NpyMalformed, DtypeAndDataSize) {
  expect_bad(npy_bytes("{'descr': '>f4', 'fortran_order': False, 'shape': (1,), }", 4),
             {"big-endian data ('>f4') is not supported"});
  expect_bad(npy_bytes("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", 8), {"unsupported dtype '<c8'"});
  expect_bad(npy_bytes("{'descr': '<u8', 'fortran_order': False, 'shape': (1,), }", 8), {"unsupported dtype '<u8'"});
  expect_bad(npy_bytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }", 4),
             {"structured dtypes"});
  expect_bad(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }", 20),
             {"shape [2, 3] needs 24 data bytes, the file holds 20", "truncated"});
  expect_bad(npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", 9),
             {"needs 8 data bytes, the file holds 9"});
  expect_io_error([&] { dg::io::load_npy("/nonexistent/x.npy"); }, {"cannot open '/nonexistent/x.npy'"});
}

TEST(NpyMalformed, BigEndianSingleByteTypesAreFine) {
  auto b = npy_bytes("{'descr': '>u1', 'fortran_order': False, 'shape': (3,), }", 3);
  Tensor t = dg::io::parse_npy(b.data(), b.size());
  EXPECT_EQ(t.dtype(), dg::kUInt8);
  EXPECT_EQ(int_values(t), (std::vector<int64_t>{0, 1, 2}));
}
