// Untrusted files: the cases of issue 7 that the io/data tests do not already
// cover, and proof that hostile headers are refused *before* any large
// allocation (the readers run under a capped address space, so an allocation of
// what a header claims would fail with a different error than the one expected).
//
// Also: every prefix of a saved safetensors file (what a crash mid-write could
// leave) and every zero-filled tail (a crash after the size was set but before
// the data reached the disk) is rejected — nothing half-written reads as valid.
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cstring>
#include <dimgrad/data.hpp>
#include <dimgrad/io.hpp>

#include "reliability_util.hpp"

using namespace reltest;

namespace {

// [8-byte little-endian length][header][data_bytes bytes of data]; `len` overrides the length field.
std::vector<uint8_t> st_bytes(const std::string& header, size_t data_bytes, int64_t len = -1) {
  std::string s(8, '\0');
  const uint64_t n = len < 0 ? header.size() : static_cast<uint64_t>(len);
  std::memcpy(s.data(), &n, 8);
  s += header;
  for (size_t i = 0; i < data_bytes; ++i) s += static_cast<char>(i * 13 + 5);
  return to_bytes(s);
}

dg::io::SafetensorsFile parse_st(const std::vector<uint8_t>& b) {
  return dg::io::parse_safetensors(b.data(), b.size(), "hostile.safetensors");
}

void expect_bad_st(const std::string& header, size_t data_bytes, std::initializer_list<std::string> parts) {
  auto b = st_bytes(header, data_bytes);
  expect_error<dg::IOError>([&] { parse_st(b); }, parts);
}

// A .npy file: magic, version 1.0, 2-byte header length, the dict padded to 64 bytes, data.
std::vector<uint8_t> npy_bytes(const std::string& dict, size_t data_bytes) {
  std::string h = dict;
  while ((10 + h.size() + 1) % 64) h += ' ';
  h += '\n';
  std::string b = "\x93NUMPY\x01";
  b += '\0';
  b += static_cast<char>(h.size() & 0xff);
  b += static_cast<char>(h.size() >> 8);
  b += h;
  b.append(data_bytes, '\x01');
  return to_bytes(b);
}

// A raw IDX file: 0 0 <type 0x08> <ndims>, big-endian uint32 dims, then the bytes.
std::vector<uint8_t> idx_bytes(const std::vector<uint32_t>& dims, size_t data_bytes) {
  std::vector<uint8_t> b = {0, 0, 0x08, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  b.resize(b.size() + data_bytes, 7);
  return b;
}

// Lowers the soft address-space limit to what the process maps now plus `extra`,
// for the scope. The hard limit is untouched, so the destructor can restore it.
// The cap is the whole process's: a thread that maps memory meanwhile (as
// OpenBLAS's pthread pool did when it first ran, see cmake/openblas.cmake)
// takes from the same slack.
class AddressSpaceCap {
 public:
  explicit AddressSpaceCap(int64_t extra_bytes) {
    getrlimit(RLIMIT_AS, &old_);
    const int64_t now = proc_status_kib("VmSize") * 1024;
    rlimit r = old_;
    r.rlim_cur = static_cast<rlim_t>(now + extra_bytes);
    if (old_.rlim_max != RLIM_INFINITY && r.rlim_cur > old_.rlim_max) r.rlim_cur = old_.rlim_max;
    ok_ = now > 0 && setrlimit(RLIMIT_AS, &r) == 0;
  }
  ~AddressSpaceCap() { setrlimit(RLIMIT_AS, &old_); }
  bool ok() const { return ok_; }

 private:
  rlimit old_{};
  bool ok_ = false;
};

constexpr int64_t kCapSlack = int64_t(48) << 20;  // 48 MiB: far below every size the hostile files claim

}  // namespace

// ---------------------------------------------------------------- allocation
// Each hostile header claims gigabytes in a file of a few bytes. Under a cap of
// 48 MiB more address space, an allocation of the claimed size fails ("out of
// memory" / std::bad_alloc), so the expected validation message proves the
// reader refused the file before allocating anything large.
TEST(UntrustedFiles, HostileSizesAreRefusedBeforeAnyLargeAllocation) {
  if (kAddressSanitizer) GTEST_SKIP() << "AddressSanitizer maps terabytes of shadow memory: no address-space cap";
  TempDir dir;
  // A sparse file just over the header limit: the length is refused without reading 100 MB.
  const std::string big = dir.file("big-header.safetensors");
  {
    const uint64_t n = dg::io::kMaxSafetensorsHeader + 1;
    int fd = ::open(big.c_str(), O_CREAT | O_WRONLY | O_TRUNC, 0644);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::write(fd, &n, 8), 8);
    ASSERT_EQ(::ftruncate(fd, static_cast<off_t>(8 + n)), 0);
    ::close(fd);
  }
  const auto st_claims_4gib = st_bytes(R"({"w":{"dtype":"F32","shape":[1073741824],"data_offsets":[0,4294967296]}})", 8);
  const auto st_header_99mb = st_bytes("{}", 0, 99'999'992);
  const auto npy_claims_4gib = npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (1073741824,), }", 4);
  const auto npy_claims_64gib = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (65536, 131072), }", 8);
  const auto idx_claims_1gb = idx_bytes({1000, 1000, 1000}, 16);
  const std::string bomb = std::string(DG_SOURCE_DIR) + "/tests/fixtures/data/bomb.gz";  // 4 GB announced, 1 MB inside

  AddressSpaceCap cap(kCapSlack);
  ASSERT_TRUE(cap.ok()) << "setrlimit(RLIMIT_AS) failed";
  // The cap works: a 1 GiB tensor cannot be allocated under it (otherwise this test could not fail).
  EXPECT_THROW(dg::empty({int64_t(1) << 28}), dg::Error);

  expect_error<dg::IOError>([&] { dg::io::load_safetensors(big); },
                            {"big-header.safetensors", "header length 100000001", "larger than the limit"});
  expect_error<dg::IOError>([&] { parse_st(st_header_99mb); }, {"header length 99999992", "runs past the end"});
  expect_error<dg::IOError>([&] { parse_st(st_claims_4gib); }, {"tensor 'w'", "run past the end of the data buffer"});
  expect_error<dg::IOError>([&] { dg::io::parse_npy(npy_claims_4gib.data(), npy_claims_4gib.size(), "h.npy"); },
                            {"h.npy", "needs 4294967296 data bytes, the file holds 4"});
  expect_error<dg::IOError>([&] { dg::io::parse_npy(npy_claims_64gib.data(), npy_claims_64gib.size(), "h.npy"); },
                            {"h.npy", "needs 68719476736 data bytes"});
  expect_error<dg::IOError>([&] { dg::data::parse_idx(idx_claims_1gb.data(), idx_claims_1gb.size(), "h.idx"); },
                            {"h.idx", "need 1000000000 data bytes", "truncated"});
  if (fs::exists(bomb))
    expect_error<dg::IOError>([&] { dg::data::read_idx(bomb); }, {"need 4096000000 data bytes", "has only"});
}

// ------------------------------------------------------------ JSON header text
TEST(UntrustedFiles, SafetensorsHeaderMustBeWellFormedUtf8) {
  const std::string entry = R"({"dtype":"F32","shape":[1],"data_offsets":[0,4]})";
  // Overlong encoding of '/', a UTF-16 surrogate encoded as UTF-8, a truncated
  // 3-byte sequence, a byte that never occurs in UTF-8, a stray continuation byte.
  for (const std::string bad : {"\xc0\xaf", "\xed\xa0\x80", "\xe2\x82", "\xff", "\x80"}) {
    SCOPED_TRACE(::testing::PrintToString(bad));
    expect_bad_st("{\"w" + bad + "\":" + entry + "}", 4, {"hostile.safetensors", "not valid JSON", "UTF-8"});
    expect_bad_st(R"({"__metadata__":{"k":")" + bad + "\"}}", 0, {"not valid JSON", "UTF-8"});
    expect_bad_st(R"({"w":{"dtype":"F3)" + bad + R"(","shape":[1],"data_offsets":[0,4]}})", 4, {"not valid JSON"});
  }
  // An escaped lone surrogate is not a character either.
  expect_bad_st(R"({"w\ud800":)" + entry + "}", 4, {"not valid JSON", "surrogate"});
  // Valid multi-byte names (2, 3 and 4 bytes) are fine.
  auto ok = st_bytes("{\"g\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80\":" + entry + "}", 4);
  EXPECT_EQ(parse_st(ok).tensors.count("g\xc3\xbc\xe2\x82\xac\xf0\x9f\x98\x80"), 1u);
}

TEST(UntrustedFiles, DuplicateKeysAreFoundAfterUnescaping) {
  // "\u0061" is "a": the two spellings name the same tensor.
  expect_bad_st(R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                R"("\u0061":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                8, {"duplicate key 'a'"});
  expect_bad_st(R"({"__metadata__":{"dimgrad.checksum":"crc32:00000000","dimgrad.\u0063hecksum":"crc32:11111111"}})",
                0, {"duplicate key 'dimgrad.checksum' in __metadata__"});
  expect_bad_st(R"({"a":{"dtype":"F32","shape":[1],"\u0064type":"F64","data_offsets":[0,4]}})", 4,
                {"duplicate field 'dtype'"});
}

TEST(UntrustedFiles, DeepNestingAndHugeNumbersDoNotCrash) {
  // 200,000 levels of nesting in an ignored field: skipped without recursion (no stack overflow).
  const int depth = 200000;
  std::string deep = R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4],"x":)" + std::string(depth, '[') +
                     std::string(depth, ']') + "}}";
  auto f = parse_st(st_bytes(deep, 4));
  EXPECT_EQ(f.tensors.at("w").sizes(), (std::vector<int64_t>{1}));
  // The same depth where no nesting belongs is refused at the first misplaced value.
  expect_bad_st("{\"__metadata__\":" + std::string(depth, '[') + std::string(depth, ']') + "}", 0,
                {"__metadata__ must be an object"});
  // Numbers beyond uint64 and with exponents are not shapes or offsets.
  expect_bad_st(R"({"w":{"dtype":"F32","shape":[18446744073709551616],"data_offsets":[0,4]}})", 4,
                {"tensor 'w'", "not an integer"});
  expect_bad_st(R"({"w":{"dtype":"F32","shape":[1e400],"data_offsets":[0,4]}})", 4, {"hostile.safetensors"});
  expect_bad_st(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4e0]}})", 4, {"not an integer"});
}

// ---------------------------------------------------------- offsets and sizes
TEST(UntrustedFiles, OffsetsPastTheEndOverlapsAndMismatches) {
  // An empty tensor does not excuse an offset past the end of the file.
  expect_bad_st(R"({"e":{"dtype":"F32","shape":[0],"data_offsets":[1099511627776,1099511627776]}})", 0,
                {"tensor 'e'", "run past the end of the data buffer (0 bytes"});
  // Offsets near 2^64 must not wrap around in end - begin or begin + size.
  expect_bad_st(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,0]}})", 4,
                {"end before they begin"});
  expect_bad_st(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[18446744073709551612,18446744073709551615]}})", 4,
                {"run past the end"});
  // The same range twice, and one tensor inside another.
  expect_bad_st(R"({"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"I32","shape":[2],"data_offsets":[0,8]}})",
                8, {"overlap"});
  expect_bad_st(R"({"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                16, {"tensors 'a' [0, 16) and 'b' [4, 8) overlap"});
  // Byte counts that do not match dtype × shape, for the narrow types too.
  expect_bad_st(R"({"m":{"dtype":"BOOL","shape":[3],"data_offsets":[0,4]}})", 4, {"hold 4 bytes", "needs 3"});
  expect_bad_st(R"({"h":{"dtype":"F16","shape":[3],"data_offsets":[0,8]}})", 8, {"dtype F16", "needs 6"});
  expect_bad_st(R"({"i":{"dtype":"I32","shape":[2,2],"data_offsets":[0,8]}})", 8, {"shape [2, 2] needs 16"});
  expect_bad_st(R"({"s":{"dtype":"F64","shape":[],"data_offsets":[0,4]}})", 4, {"needs 8"});
  // Shape products: overflow of the element count, and of the byte count only.
  expect_bad_st(R"({"w":{"dtype":"BOOL","shape":[3037000500,3037000500],"data_offsets":[0,4]}})", 4,
                {"number of elements", "overflows"});
  expect_bad_st(R"({"w":{"dtype":"I64","shape":[2305843009213693952],"data_offsets":[0,4]}})", 4,
                {"byte size", "overflows"});
  expect_bad_st(R"({"w":{"dtype":"F32","shape":[65536,65536,65536,65536],"data_offsets":[0,4]}})", 4,
                {"overflows"});
}

TEST(UntrustedFiles, NpyAndIdxShapeOverflow) {
  auto npy = npy_bytes("{'descr': '<f8', 'fortran_order': False, 'shape': (4611686018427387904,), }", 8);
  expect_error<dg::IOError>([&] { dg::io::parse_npy(npy.data(), npy.size(), "o.npy"); }, {"o.npy", "overflows"});
  // Four dimensions of 2^32 - 1: 2^128 elements.
  auto idx = idx_bytes({0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}, 4);
  expect_error<dg::IOError>([&] { dg::data::parse_idx(idx.data(), idx.size(), "o.idx"); }, {"o.idx", "more than the limit"});
}

// --------------------------------------------------- half-written files
// What a crash mid-save can leave on disk is a prefix of the file, or (a crash
// after the file size was set, before the data reached the disk) the file with
// a zero-filled tail. Every such file must be refused, none read as valid.
TEST(UntrustedFiles, EveryPrefixAndZeroFilledTailOfASavedFileIsRejected) {
  dg::manual_seed(11);
  std::map<std::string, dg::Tensor> tensors = {{"w", dg::randn({7, 5})},
                                               {"b", dg::randn({5}, dg::kFloat64)},
                                               {"step", dg::tensor(std::vector<int64_t>{3, 1, 4})},
                                               {"mask", dg::tensor(std::vector<bool>{true, false, true})}};
  const std::vector<uint8_t> bytes = dg::io::serialize_safetensors(tensors, {{"dimgrad.kind", "test"}});
  ASSERT_EQ(parse_st(bytes).tensors.size(), 4u);
  uint64_t header_len = 0;
  std::memcpy(&header_len, bytes.data(), 8);
  const size_t data_start = 8 + header_len;
  ASSERT_LT(data_start, bytes.size());

  size_t rejected = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    try {
      dg::io::parse_safetensors(prefix.data(), prefix.size(), "prefix");
      ADD_FAILURE() << "a " << n << "-byte prefix of a " << bytes.size() << "-byte file was read as valid";
    } catch (const dg::IOError&) {
      ++rejected;
    }
  }
  EXPECT_EQ(rejected, bytes.size());

  // Zero-filled from each position of the data buffer on (the data is random, so
  // every such tail changes it): the checksum catches it.
  for (size_t k = data_start; k < bytes.size(); ++k) {
    std::vector<uint8_t> z = bytes;
    bool changed = false;
    for (size_t i = k; i < z.size(); ++i) changed |= std::exchange(z[i], uint8_t(0)) != 0;
    if (!changed) continue;
    expect_error<dg::IOError>([&] { dg::io::parse_safetensors(z.data(), z.size(), "zeroed"); }, {"checksum mismatch"});
  }
}
