// Shared helpers for the data tests: tiny IDX / CIFAR-10 files written here.
#pragma once

#include <dimgrad/data.hpp>

#include "io/io_test_util.hpp"

namespace datatest {

using namespace iotest;

inline std::string data_fixture(const std::string& name) {
  return std::string(DG_SOURCE_DIR) + "/tests/fixtures/data/" + name;
}

// An IDX file: magic 0x0000 <type> <ndims>, big-endian sizes, payload.
inline std::vector<uint8_t> idx_bytes(uint8_t type, const std::vector<uint32_t>& dims,
                                      const std::vector<uint8_t>& payload) {
  std::vector<uint8_t> b = {0, 0, type, static_cast<uint8_t>(dims.size())};
  for (uint32_t d : dims)
    for (int s = 24; s >= 0; s -= 8) b.push_back(static_cast<uint8_t>(d >> s));
  b.insert(b.end(), payload.begin(), payload.end());
  return b;
}

// The tiny images of the gzip fixtures: pixel (n, y, x) = 50n + 5y + x, 3 images of 4×5.
inline std::vector<uint8_t> tiny_pixels() {
  std::vector<uint8_t> p;
  for (int n = 0; n < 3; ++n)
    for (int y = 0; y < 4; ++y)
      for (int x = 0; x < 5; ++x) p.push_back(static_cast<uint8_t>(50 * n + 5 * y + x));
  return p;
}

// CIFAR-10 records: label, then 3072 pixels where pixel (c, y, x) = (c*7 + y*3 + x + seed) % 256.
inline std::vector<uint8_t> cifar_bytes(const std::vector<uint8_t>& labels, int seed = 0) {
  std::vector<uint8_t> b;
  for (size_t r = 0; r < labels.size(); ++r) {
    b.push_back(labels[r]);
    for (int c = 0; c < 3; ++c)
      for (int y = 0; y < 32; ++y)
        for (int x = 0; x < 32; ++x) b.push_back(static_cast<uint8_t>((c * 7 + y * 3 + x + seed + int(r)) % 256));
  }
  return b;
}

}  // namespace datatest
