// detail::Mt19937_64 (src/tensor/mt19937_64.hpp) against std::mt19937_64: the
// same numbers for every seed, one by one and in blocks of any length, and the
// same state text both ways — every seeded stream and saved generator state of
// earlier versions stays valid.
#include <gtest/gtest.h>

#include <random>
#include <sstream>
#include <vector>

#include <dimgrad/dimgrad.hpp>

#include "tensor/mt19937_64.hpp"

namespace {

using dg::detail::Mt19937_64;

TEST(Mt19937_64, SameNumbersAsTheStandardEngineOneByOneAndInBlocks) {
  for (uint64_t seed : {uint64_t(0), uint64_t(1), uint64_t(5489), uint64_t(67280421310721ULL), ~uint64_t(0)}) {
    SCOPED_TRACE("seed " + std::to_string(seed));
    std::mt19937_64 want(seed);
    Mt19937_64 got(seed);
    // Singles and blocks mixed, the blocks crossing the 312-word twist at every offset.
    int64_t drawn = 0;
    for (int64_t block : {1, 5, 311, 1, 312, 313, 0, 1000, 7, 624, 2, 5000}) {
      std::vector<uint64_t> out(static_cast<size_t>(block), 0);
      if (block % 2) got.fill(block, [&](int64_t i, uint64_t z) { out[static_cast<size_t>(i)] = z; });
      else for (auto& z : out) z = got();
      for (int64_t i = 0; i < block; ++i) ASSERT_EQ(out[static_cast<size_t>(i)], want()) << "draw " << drawn + i;
      drawn += block;
    }
  }
  // Default seed, as std's.
  std::mt19937_64 want;
  Mt19937_64 got;
  for (int i = 0; i < 1000; ++i) ASSERT_EQ(got(), want());
}

TEST(Mt19937_64, StateTextIsTheStandardEnginesBothWays) {
  std::mt19937_64 s(42);
  Mt19937_64 m(42);
  for (int i = 0; i < 100; ++i) {
    s();
    m();
  }
  std::ostringstream st, mt;
  st << s;
  mt << m;
  EXPECT_EQ(st.str(), mt.str());
  // Ours read back by std, std's read back by ours: both continue the stream.
  std::mt19937_64 s2;
  Mt19937_64 m2;
  std::istringstream(mt.str()) >> s2;
  std::istringstream(st.str()) >> m2;
  for (int i = 0; i < 700; ++i) {
    const uint64_t want = s();
    ASSERT_EQ(m(), want);
    ASSERT_EQ(s2(), want);
    ASSERT_EQ(m2(), want);
  }
  // A malformed text leaves the engine as it was and fails the stream.
  Mt19937_64 keep(7), fresh(7);
  std::istringstream bad("1 2 3");
  bad >> keep;
  EXPECT_TRUE(bad.fail());
  EXPECT_EQ(keep(), fresh());
}

TEST(Mt19937_64, GeneratorStreamsAreUnchanged) {
  // dg::Generator's uniforms and normals from the bits std::mt19937_64 gives.
  dg::Generator g(123);
  std::mt19937_64 e(123);
  std::vector<double> u(1000);
  g.next_uniforms(u.data(), 1000);
  for (double v : u) ASSERT_EQ(v, static_cast<double>(e() >> 11) * (1.0 / 9007199254740992.0));
  // A state saved before this engine (std's text) restores.
  std::ostringstream text;
  text << 123 << " " << false << " " << 0.0 << " " << e;
  dg::Generator h;
  h.set_state(text.str());
  EXPECT_EQ(h.next_u64(), e());
}

}  // namespace
