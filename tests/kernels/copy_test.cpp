// kernels::copy into a contiguous tensor (contiguous(), clone of a view) from
// transposed and permuted sources — the tiled path of src/kernels/elementwise.cpp
// — checked element by element against the source read through its strides, for
// every dtype, sizes around the tile width, 3-d and 4-d permutes, offset and
// sliced views, on 1 and 2 threads.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <dimgrad/dimgrad.hpp>

using dg::Tensor;

namespace {

// Every element of the contiguous `out` against the strided `src` it was copied from.
template <class T> void expect_same_elements(const Tensor& out, const Tensor& src, const std::string& what) {
  ASSERT_TRUE(out.is_contiguous()) << what;
  ASSERT_EQ(out.sizes(), src.sizes()) << what;
  const T* o = out.data_ptr<T>();
  const T* s = src.data_ptr<T>();
  const int64_t nd = src.dim(), n = src.numel();
  std::vector<int64_t> idx(static_cast<size_t>(nd), 0);
  for (int64_t i = 0; i < n; ++i) {
    int64_t off = 0;
    for (int64_t d = 0; d < nd; ++d) off += idx[static_cast<size_t>(d)] * src.strides()[static_cast<size_t>(d)];
    ASSERT_EQ(o[i], s[off]) << what << " at flat index " << i;
    for (int64_t d = nd - 1; d >= 0; --d) {
      if (++idx[static_cast<size_t>(d)] < src.sizes()[static_cast<size_t>(d)]) break;
      idx[static_cast<size_t>(d)] = 0;
    }
  }
}

// Distinct values (so a misplaced element shows), in dtype dt.
Tensor numbered(dg::IntArrayRef shape, dg::ScalarType dt) {
  int64_t n = 1;
  for (int64_t s : shape) n *= s;
  std::vector<double> v(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i)
    v[static_cast<size_t>(i)] = dt == dg::kBool ? double(i % 3 == 1) : dt == dg::kUInt8 ? double(i % 251) : double(i);
  return dg::from_blob(v.data(), shape, dg::kFloat64).to(dt);
}

template <class T> void check_dtype(dg::ScalarType dt, const std::string& where) {
  for (int64_t r : {1, 7, 15, 16, 17, 33, 64, 100})
    for (int64_t c : {1, 8, 16, 31, 65, 130}) {
      Tensor m = numbered({r, c}, dt);
      expect_same_elements<T>(m.t().contiguous(), m.t(), where + ", [" + std::to_string(r) + ", " + std::to_string(c) + "]ᵀ");
    }
  // Big enough to be split among threads.
  Tensor big = numbered({300, 400}, dt);
  expect_same_elements<T>(big.t().contiguous(), big.t(), where + ", [300, 400]ᵀ");
  // Permutes of 3-d and 4-d tensors (the innermost dim moved, or kept).
  Tensor a = numbered({4, 37, 20}, dt);
  for (auto perm : std::vector<std::vector<int64_t>>{{0, 2, 1}, {2, 0, 1}, {1, 2, 0}, {2, 1, 0}, {1, 0, 2}})
    expect_same_elements<T>(a.permute(perm).contiguous(), a.permute(perm),
                            where + ", permute " + std::to_string(perm[0]) + std::to_string(perm[1]) + std::to_string(perm[2]));
  Tensor nchw = numbered({3, 18, 17, 19}, dt);
  expect_same_elements<T>(nchw.permute({0, 2, 3, 1}).contiguous(), nchw.permute({0, 2, 3, 1}), where + ", NCHW to NHWC");
  expect_same_elements<T>(nchw.permute({0, 3, 1, 2}).contiguous(), nchw.permute({0, 3, 1, 2}), where + ", NHWC to NCHW");
  // Views with an offset and strides: a slice of a transpose, every other column.
  Tensor s = numbered({40, 50}, dt).t().narrow(0, 3, 30).narrow(1, 5, 20);
  expect_same_elements<T>(s.contiguous(), s, where + ", offset slice of a transpose");
  Tensor every_other = numbered({40, 50}, dt).t().narrow(1, 0, 39);
  expect_same_elements<T>(every_other.contiguous(), every_other, where + ", narrowed transpose");
}

TEST(CopyKernel, TransposedAndPermutedSourcesOnOneAndTwoThreads) {
  const int saved = dg::get_num_threads();
  for (int threads : {1, 2}) {
    dg::set_num_threads(threads);
    const std::string where = std::to_string(threads) + " thread(s)";
    check_dtype<float>(dg::kFloat32, "float32, " + where);
    check_dtype<double>(dg::kFloat64, "float64, " + where);
    check_dtype<int64_t>(dg::kLong, "int64, " + where);
    check_dtype<uint8_t>(dg::kUInt8, "uint8, " + where);
    check_dtype<bool>(dg::kBool, "bool, " + where);
  }
  dg::set_num_threads(saved);
}

// A transposed source copied into a transposed destination (not contiguous):
// not the tiled path, and still right.
TEST(CopyKernel, IntoANonContiguousDestination) {
  Tensor src = numbered({20, 30}, dg::kFloat32);
  Tensor dst = dg::zeros({30, 20}).t();  // [20, 30], column-major
  dst.copy_(src);
  expect_same_elements<float>(dst.contiguous(), src, "copy_ into a transpose");
}

}  // namespace

// Contiguous to contiguous: one memcpy, split among the threads when long (in
// 16-byte chunks, the last one taking the tail). Lengths that are not a multiple
// of 16 bytes, below and above the thread threshold, and a few bytes.
TEST(CopyKernel, ContiguousBlocksOfAnyLengthOnOneAndTwoThreads) {
  const int saved = dg::get_num_threads();
  for (int threads : {1, 2}) {
    dg::set_num_threads(threads);
    for (int64_t n : {int64_t(1), int64_t(3), int64_t(5), int64_t(4097), int64_t(131075), int64_t(1 << 20) + 7}) {
      const Tensor src = dg::arange(0.0, static_cast<double>(n), 1.0, dg::kFloat32);
      const Tensor out = src.clone();
      ASSERT_FALSE(out.is_same(src));
      expect_same_elements<float>(out, src, std::to_string(n) + " floats, " + std::to_string(threads) + " thread(s)");
      const Tensor bytes = (src.narrow(0, 0, std::min<int64_t>(n, 9)) > 2.0).clone();  // bool: 1 byte each
      expect_same_elements<bool>(bytes, src.narrow(0, 0, std::min<int64_t>(n, 9)) > 2.0, "bool");
    }
  }
  dg::set_num_threads(saved);
}
