// Storage: blocks from 4 MiB on start on a 2 MiB boundary and are offered to
// the kernel for transparent huge pages (a data set then costs one TLB entry
// per 2 MiB); smaller ones keep the 64-byte alignment. Every byte is usable.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

#include <dimgrad/dimgrad.hpp>

namespace {

constexpr uintptr_t kHugePage = uintptr_t(2) << 20;

uintptr_t address(const dg::Tensor& t) { return reinterpret_cast<uintptr_t>(t.raw_data()); }

#ifndef DG_NO_CACHING_ALLOCATOR  // (the sanitizer build skips the test that uses these)
// Whether the kernel gives huge pages to memory that asks for them with madvise.
bool huge_pages_on_request() {
  std::ifstream f("/sys/kernel/mm/transparent_hugepage/enabled");
  std::string mode;
  std::getline(f, mode);
  return mode.find("[always]") != std::string::npos || mode.find("[madvise]") != std::string::npos;
}

// The AnonHugePages (kB) of the mapping that holds address p, from /proc/self/smaps.
long anon_huge_kb(uintptr_t p) {
  std::ifstream f("/proc/self/smaps");
  std::string line;
  bool in_mapping = false;
  while (std::getline(f, line)) {
    uintptr_t lo = 0, hi = 0;
    char dash = 0;
    std::istringstream head(line);
    if (head >> std::hex >> lo >> dash >> hi && dash == '-') {
      in_mapping = lo <= p && p < hi;
      continue;
    }
    if (in_mapping && line.rfind("AnonHugePages:", 0) == 0) return std::stol(line.substr(14));
  }
  return -1;
}
#endif

TEST(Storage, LargeBlocksStartOnAHugePageBoundary) {
  for (int64_t bytes : {int64_t(4) << 20, (int64_t(4) << 20) + 4, int64_t(47040000)}) {
    dg::Tensor t = dg::empty({bytes}, dg::kUInt8);
    EXPECT_EQ(address(t) % kHugePage, 0u) << bytes << " bytes";
    auto* p = static_cast<unsigned char*>(t.raw_data());
    std::memset(p, 0x5a, static_cast<size_t>(bytes));
    EXPECT_EQ(p[0], 0x5a);
    EXPECT_EQ(p[bytes - 1], 0x5a);
  }
  for (int64_t bytes : {int64_t(1), int64_t(1000), int64_t(3) << 20}) {
    dg::Tensor t = dg::empty({bytes}, dg::kUInt8);
    EXPECT_EQ(address(t) % 64, 0u) << bytes << " bytes";
  }
}

TEST(Storage, LargeBlocksAreBackedByHugePagesWhereTheKernelOffersThem) {
#ifdef DG_NO_CACHING_ALLOCATOR
  GTEST_SKIP() << "sanitizer build: the sanitizer's allocator decides the pages";
#else
  if (!huge_pages_on_request()) GTEST_SKIP() << "transparent huge pages are off on this machine";
  dg::Tensor t = dg::empty({int64_t(16) << 20}, dg::kUInt8);
  std::memset(t.raw_data(), 1, size_t(16) << 20);  // first touch: the pages are given now
  const long kb = anon_huge_kb(address(t));
  ASSERT_GE(kb, 0) << "the block's mapping was not found in /proc/self/smaps";
  EXPECT_GE(kb, 2048) << "16 MiB touched, but no 2 MiB page backs it";
#endif
}

}  // namespace
