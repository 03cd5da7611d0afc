// MT19937-64, the generator behind dg::Generator: the same numbers, seeding and
// state text as std::mt19937_64 (libstdc++), so that every seeded stream and
// every saved generator state stays as it was, but with a bulk draw that runs
// the state update (the twist) and the output tempering as vector loops.
// libstdc++'s engine twists one word at a time behind a branch on the low bit,
// about 8 ns a number on the machines we measure; in blocks it is about 1.
#pragma once

#include <cstdint>
#include <istream>
#include <ostream>

namespace dg::detail {

class Mt19937_64 {
 public:
  static constexpr int kN = 312, kM = 156;

  explicit Mt19937_64(uint64_t seed = 5489u) { seed_with(seed); }

  // std::mersenne_twister_engine::seed: x0 = seed, xi = f·(xi−1 ⊕ (xi−1 ≫ 62)) + i.
  void seed_with(uint64_t seed) {
    x_[0] = seed;
    for (int i = 1; i < kN; ++i) x_[i] = 6364136223846793005ULL * (x_[i - 1] ^ (x_[i - 1] >> 62)) + uint64_t(i);
    p_ = kN;
  }

  uint64_t operator()() {
    if (p_ >= kN) twist();
    return temper(x_[p_++]);
  }

  // out[0..n) = n calls of operator(), a block of up to 312 at a time.
  template <class Out> void fill(int64_t n, const Out& out) {
    int64_t done = 0;
    while (done < n) {
      if (p_ >= kN) twist();
      const int64_t k = n - done < kN - p_ ? n - done : kN - p_;
      const uint64_t* src = x_ + p_;
      for (int64_t i = 0; i < k; ++i) out(done + i, temper(src[i]));
      p_ += static_cast<int>(k);
      done += k;
    }
  }

  // The text std::mt19937_64's operator<< writes: the 312 words, then the position.
  friend std::ostream& operator<<(std::ostream& os, const Mt19937_64& e) {
    for (int i = 0; i < kN; ++i) os << e.x_[i] << ' ';
    return os << e.p_;
  }
  friend std::istream& operator>>(std::istream& is, Mt19937_64& e) {
    Mt19937_64 t;
    for (int i = 0; i < kN; ++i) is >> t.x_[i];
    is >> t.p_;
    if (is && t.p_ >= 0 && t.p_ <= kN) e = t;
    else is.setstate(std::ios::failbit);
    return is;
  }

 private:
  static uint64_t temper(uint64_t z) {
    z ^= (z >> 29) & 0x5555555555555555ULL;
    z ^= (z << 17) & 0x71D67FFFEDA60000ULL;
    z ^= (z << 37) & 0xFFF7EEE000000000ULL;
    return z ^ (z >> 43);
  }
  // xk ← xk+m ⊕ (y ≫ 1) ⊕ (a if y is odd), y = upper bit of xk | lower 31 bits
  // of xk+1. Written without a branch, each loop reads only words it has not
  // written yet or wrote at least 156 steps before: both vectorize.
  static uint64_t step(uint64_t cur, uint64_t next, uint64_t far) {
    constexpr uint64_t kUpper = ~uint64_t(0) << 31, kLower = ~kUpper, kA = 0xB5026F5AA96619E9ULL;
    const uint64_t y = (cur & kUpper) | (next & kLower);
    return far ^ (y >> 1) ^ ((uint64_t(0) - (y & 1)) & kA);
  }
  void twist() {
    for (int k = 0; k < kN - kM; ++k) x_[k] = step(x_[k], x_[k + 1], x_[k + kM]);
    for (int k = kN - kM; k < kN - 1; ++k) x_[k] = step(x_[k], x_[k + 1], x_[k + kM - kN]);
    x_[kN - 1] = step(x_[kN - 1], x_[0], x_[kM - 1]);
    p_ = 0;
  }

  uint64_t x_[kN];
  int p_ = kN;
};

}  // namespace dg::detail
