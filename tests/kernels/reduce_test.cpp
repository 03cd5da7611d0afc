// max/min over a dim and over everything (src/kernels/reduce.cpp) against a
// plain loop with LibTorch's semantics — the first index among equal values, the
// first NaN if there is one — for every dtype, rows of every length around the
// 32-lane blocks, long rows split among threads, columns and middle dims, ties,
// NaN anywhere and ±0, on every instruction set and thread count.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <random>
#include <string>
#include <vector>

#include <dimgrad/dimgrad.hpp>

#include "each_isa.hpp"

using dg::Tensor;

namespace {

// A buffer of T (std::vector<bool> packs bits and has no data()).
template <class T> struct Values {
  std::unique_ptr<T[]> data;
  int64_t size = 0;
  explicit Values(int64_t n) : data(new T[static_cast<size_t>(n)]()), size(n) {}
  T& operator[](int64_t i) { return data[static_cast<size_t>(i)]; }
  T operator[](int64_t i) const { return data[static_cast<size_t>(i)]; }
};

template <class T> bool is_nan(T v) {
  if constexpr (std::is_floating_point_v<T>) return v != v;
  else return false;
}

// The reference: a scan in order; a NaN replaces a non-NaN best, otherwise only a strictly better value.
template <class T> std::pair<T, int64_t> reference(const Values<T>& x, int64_t first, int64_t n, int64_t step,
                                                   bool is_max) {
  T best = x[first];
  int64_t bi = 0;
  for (int64_t r = 1; r < n; ++r) {
    const T c = x[first + r * step];
    if (is_nan(best)) break;
    if (is_nan(c) || (is_max ? c > best : c < best)) {
      best = c;
      bi = r;
    }
  }
  return {best, bi};
}

template <class T> bool same_bits(T a, T b) { return std::memcmp(&a, &b, sizeof(T)) == 0; }

// Values with many ties (a few distinct values), and for floating types NaN and ±0 mixed in.
template <class T> Values<T> make_values(int64_t n, std::mt19937& rng, bool with_nan) {
  Values<T> x(n);
  std::uniform_int_distribution<int> small(0, 6);
  for (int64_t i = 0; i < n; ++i) {
    T& v = x[i];
    if constexpr (std::is_same_v<T, bool>) v = small(rng) > 3;
    else if constexpr (std::is_floating_point_v<T>) {
      const int k = small(rng);
      v = k == 0 ? T(-0.0) : k == 1 ? T(0.0) : static_cast<T>(k - 4) * T(0.5);
    } else {
      v = static_cast<T>(small(rng));
    }
  }
  if constexpr (std::is_floating_point_v<T>) {
    if (with_nan && n > 0) {
      std::uniform_int_distribution<int64_t> pos(0, n - 1);
      for (int k = 0; k < 2; ++k) x[pos(rng)] = std::numeric_limits<T>::quiet_NaN();
    }
  }
  return x;
}

// Checks max(dim)/min(dim) of a [outer, reduce, inner] tensor against the reference, and max()/min() of all.
template <class T> void check_shape(int64_t outer, int64_t reduce, int64_t inner, bool with_nan, std::mt19937& rng,
                                    const std::string& where) {
  const Values<T> x = make_values<T>(outer * reduce * inner, rng, with_nan);
  Tensor t = dg::from_blob(x.data.get(), {outer, reduce, inner}, dg::CppTypeToScalarType<T>::value).clone();
  for (bool is_max : {true, false}) {
    auto [values, indices] = is_max ? t.max(1) : t.min(1);
    Tensor vc = values.contiguous(), ic = indices.contiguous();
    const T* v = vc.data_ptr<T>();
    const int64_t* idx = ic.data_ptr<int64_t>();
    for (int64_t o = 0; o < outer; ++o)
      for (int64_t i = 0; i < inner; ++i) {
        auto [want, want_i] = reference(x, o * reduce * inner + i, reduce, inner, is_max);
        const int64_t at = o * inner + i;
        ASSERT_EQ(idx[at], want_i) << (is_max ? "max" : "min") << " index at [" << o << ", " << i << "] of ["
                                   << outer << ", " << reduce << ", " << inner << "], " << where;
        ASSERT_TRUE(same_bits(v[at], want))
            << (is_max ? "max" : "min") << " value at [" << o << ", " << i << "], " << where;
      }
    // Over everything: the same as one row holding every element.
    auto [all, all_i] = reference(x, 0, x.size, 1, is_max);
    Tensor m = is_max ? t.max() : t.min();
    ASSERT_TRUE(same_bits(m.item<T>(), all)) << (is_max ? "max()" : "min()") << " of " << x.size << ", " << where;
    ASSERT_EQ((is_max ? t.argmax() : t.argmin()).item<int64_t>(), all_i) << where;
  }
}

template <class T> void check_all_shapes(const std::string& where) {
  std::mt19937 rng(7);
  for (bool with_nan : {false, true}) {
    // Rows of every length around the 32-lane blocks (short rows take the scalar loop below 64).
    for (int64_t n : {1, 2, 31, 32, 33, 63, 64, 65, 95, 96, 97, 200, 1000})
      check_shape<T>(3, n, 1, with_nan, rng, where + ", row of " + std::to_string(n));
    // One long row: split among the threads.
    check_shape<T>(1, 100003, 1, with_nan, rng, where + ", long row");
    // Columns and a middle dim (the reduced dim not innermost).
    check_shape<T>(1, 7, 37, with_nan, rng, where + ", columns");
    check_shape<T>(4, 33, 19, with_nan, rng, where + ", middle dim");
    check_shape<T>(1, 300, 400, with_nan, rng, where + ", long columns");
    check_shape<T>(2, 1, 5, with_nan, rng, where + ", reduce 1");
  }
}

TEST(MaxMinKernel, MatchesAPlainScanForEveryDtypeIsaAndThreadCount) {
  dg_test::on_every_isa_and_thread_count({1, 2}, [&](int, const std::string& where) {
    check_all_shapes<float>("float32, " + where);
    check_all_shapes<double>("float64, " + where);
    check_all_shapes<int64_t>("int64, " + where);
    check_all_shapes<uint8_t>("uint8, " + where);
    check_all_shapes<bool>("bool, " + where);
  });
}

// The maximum 0 is the first zero's, +0 or −0 as it stands (the lanes and thread
// slices see both; the value returned is the element at the first index).
TEST(MaxMinKernel, SignedZeroIsTheFirstOne) {
  for (float first : {0.0f, -0.0f}) {
    std::vector<float> x(100000, -1.0f);
    x[70000] = first;
    x[80000] = -first;
    x[99999] = first;
    dg_test::on_every_isa_and_thread_count({1, 2}, [&](int, const std::string& where) {
      Tensor t = dg::from_blob(x.data(), {static_cast<int64_t>(x.size())}, dg::kFloat32);
      EXPECT_EQ(std::signbit(t.max().item<float>()), std::signbit(first)) << where;
      auto [v, i] = t.max(0);
      EXPECT_EQ(i.item<int64_t>(), 70000) << where;
      EXPECT_EQ(std::signbit(v.item<float>()), std::signbit(first)) << where;
    });
  }
}

// Infinities are ordinary values: −inf is a maximum only where everything is −inf.
TEST(MaxMinKernel, Infinities) {
  const float inf = std::numeric_limits<float>::infinity();
  std::vector<float> x(5000, -inf);
  Tensor t = dg::from_blob(x.data(), {5000}, dg::kFloat32);  // (a copy)
  EXPECT_EQ(t.max().item<float>(), -inf);
  EXPECT_EQ(t.argmax().item<int64_t>(), 0);
  x[4321] = inf;
  t = dg::from_blob(x.data(), {5000}, dg::kFloat32);
  EXPECT_EQ(t.max().item<float>(), inf);
  EXPECT_EQ(t.argmax().item<int64_t>(), 4321);
  EXPECT_EQ(t.argmin().item<int64_t>(), 0);
}

}  // namespace
