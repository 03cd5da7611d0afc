// Tensors: factories and their dtypes, metadata, views that share storage,
// copies and conversions, in-place ops, promotion rules, element access.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>
#include <vector>

#include <dimgrad/dimgrad.hpp>

using dg::Tensor;

namespace {
template <class T = double> std::vector<T> values(const Tensor& t) {
  Tensor c = t.to(dg::CppTypeToScalarType<T>::value).contiguous();
  return std::vector<T>(c.data_ptr<T>(), c.data_ptr<T>() + c.numel());
}
std::vector<int64_t> shape(const Tensor& t) { return t.sizes().vec(); }
}  // namespace

// ------------------------------------------------------------- factories
TEST(Factories, DtypesFollowLibTorch) {
  EXPECT_EQ(dg::zeros({2}).dtype(), dg::kFloat32);
  EXPECT_EQ(dg::ones({2}).dtype(), dg::kFloat32);
  EXPECT_EQ(dg::empty({2}).dtype(), dg::kFloat32);
  EXPECT_EQ(dg::full({2}, 7).dtype(), dg::kInt64);  // from the value, as LibTorch
  EXPECT_EQ(dg::full({2}, 7.5).dtype(), dg::kFloat32);
  EXPECT_EQ(dg::full({2}, true).dtype(), dg::kBool);
  EXPECT_EQ(dg::full({2}, 7, dg::kFloat64).dtype(), dg::kFloat64);
  EXPECT_EQ(dg::arange(5).dtype(), dg::kInt64);
  EXPECT_EQ(dg::arange(0.0, 1.0, 0.25).dtype(), dg::kFloat32);
  EXPECT_EQ(dg::tensor({1.0, 2.0}).dtype(), dg::kFloat32);
  EXPECT_EQ(dg::tensor(std::vector<double>{1.0}).dtype(), dg::kFloat32);
  EXPECT_EQ(dg::tensor(std::vector<float>{1.0f}).dtype(), dg::kFloat32);
  EXPECT_EQ(dg::tensor(std::vector<int64_t>{1}).dtype(), dg::kInt64);
  EXPECT_EQ(dg::tensor(std::vector<int>{1}).dtype(), dg::kInt64);
  EXPECT_EQ(dg::tensor(std::vector<bool>{true}).dtype(), dg::kBool);
  EXPECT_EQ(dg::tensor({1.0, 2.0}, dg::kFloat64).dtype(), dg::kFloat64);
  EXPECT_EQ(dg::tensor(2.5).dim(), 0);
  EXPECT_EQ(dg::scalar_tensor(3).dtype(), dg::kInt64);
  EXPECT_EQ(dg::randint(0, 3, {2}).dtype(), dg::kInt64);
  EXPECT_EQ(dg::randperm(4).dtype(), dg::kInt64);
  EXPECT_EQ(dg::eye(2).dtype(), dg::kFloat32);
  EXPECT_EQ(dg::zeros_like(dg::ones({2}, dg::kFloat64)).dtype(), dg::kFloat64);
  EXPECT_EQ(dg::ones_like(dg::ones({2}), dg::kInt64).dtype(), dg::kInt64);
}

TEST(Factories, Values) {
  EXPECT_EQ(values(dg::arange(0, 10, 3)), (std::vector<double>{0, 3, 6, 9}));
  EXPECT_EQ(values(dg::arange(5, 0, -2)), (std::vector<double>{5, 3, 1}));
  EXPECT_EQ(values(dg::arange(0.0, 1.0, 0.25)), (std::vector<double>{0, 0.25, 0.5, 0.75}));
  EXPECT_EQ(values(dg::eye(2, 3)), (std::vector<double>{1, 0, 0, 0, 1, 0}));
  EXPECT_EQ(values(dg::linspace(0, 1, 5)), (std::vector<double>{0, 0.25, 0.5, 0.75, 1}));
  EXPECT_EQ(values(dg::full({2, 2}, 2.5)), (std::vector<double>{2.5, 2.5, 2.5, 2.5}));
  EXPECT_EQ(values(dg::full_like(dg::zeros({3}), -1)), (std::vector<double>{-1, -1, -1}));
  EXPECT_EQ(values(dg::tensor(std::vector<bool>{true, false})), (std::vector<double>{1, 0}));
  double raw[] = {1.5, 2.5, 3.5, 4.5};
  Tensor b = dg::from_blob(raw, {2, 2}, dg::kFloat64);
  raw[0] = 0;  // from_blob copies
  EXPECT_EQ(values(b), (std::vector<double>{1.5, 2.5, 3.5, 4.5}));
  EXPECT_EQ(dg::zeros({0, 3}).numel(), 0);
}

TEST(Factories, OptionsRequireGrad) {
  Tensor t = dg::ones({2}, dg::TensorOptions().dtype(dg::kFloat64).requires_grad(true));
  EXPECT_TRUE(t.requires_grad());
  EXPECT_TRUE(t.is_leaf());
  EXPECT_EQ(t.dtype(), dg::kFloat64);
  EXPECT_TRUE(dg::randn({2}, dg::requires_grad()).requires_grad());
  EXPECT_TRUE(dg::tensor({1.0}, dg::requires_grad()).requires_grad());
  EXPECT_EQ(dg::tensor({1.0}, dg::dtype(dg::kFloat64)).dtype(), dg::kFloat64);
}

// --------------------------------------------------------------- metadata
TEST(Metadata, SizesStridesAndElements) {
  Tensor t = dg::zeros({2, 3, 4});
  EXPECT_EQ(shape(t), (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(t.strides().vec(), (std::vector<int64_t>{12, 4, 1}));
  EXPECT_EQ(t.dim(), 3);
  EXPECT_EQ(t.numel(), 24);
  EXPECT_EQ(t.size(-1), 4);
  EXPECT_EQ(t.stride(0), 12);
  EXPECT_EQ(t.element_size(), 4u);
  EXPECT_EQ(t.nbytes(), 96u);
  EXPECT_TRUE(t.is_contiguous());
  EXPECT_FALSE(t.transpose(0, 1).is_contiguous());
  EXPECT_EQ(dg::tensor(1.0).dim(), 0);
  EXPECT_EQ(dg::tensor(1.0).numel(), 1);
}

TEST(Metadata, EightDimsAndNoMore) {
  Tensor t = dg::zeros({1, 2, 1, 2, 1, 2, 1, 2});
  EXPECT_EQ(t.dim(), 8);
  EXPECT_EQ(t.sum().item<float>(), 0.0f);
  EXPECT_THROW(dg::zeros({1, 1, 1, 1, 1, 1, 1, 1, 1}), dg::ShapeError);
}

// ------------------------------------------------------------------ views
TEST(Views, ShareStorageAndWriteThrough) {
  Tensor base = dg::arange(12, dg::kFloat32).reshape({3, 4});
  float* p = base.data_ptr<float>();
  Tensor r = base.reshape({4, 3});
  EXPECT_EQ(r.data_ptr<float>(), p);
  Tensor v = base.view({2, 6});
  EXPECT_EQ(v.data_ptr<float>(), p);
  Tensor t = base.t();
  EXPECT_EQ(t.data_ptr<float>(), p);
  EXPECT_EQ(t.strides().vec(), (std::vector<int64_t>{1, 4}));
  Tensor n = base.narrow(1, 1, 2);
  EXPECT_EQ(n.data_ptr<float>(), p + 1);
  EXPECT_EQ(n.storage_offset(), 1);
  Tensor s = base.select(0, 2);
  EXPECT_EQ(s.data_ptr<float>(), p + 8);
  Tensor u = base.unsqueeze(0);
  EXPECT_EQ(u.data_ptr<float>(), p);
  EXPECT_EQ(u.squeeze(0).data_ptr<float>(), p);
  Tensor pm = base.reshape({3, 2, 2}).permute({2, 0, 1});
  EXPECT_EQ(pm.data_ptr<float>(), p);
  EXPECT_EQ(shape(pm), (std::vector<int64_t>{2, 3, 2}));
  Tensor e = dg::arange(3, dg::kFloat32).reshape({3, 1}).expand({3, 4});
  EXPECT_EQ(e.strides().vec(), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(values(e), (std::vector<double>{0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2}));
  // Writing through views changes the base.
  s.fill_(-1);
  n.select(0, 0).fill_(100);
  t.select(0, 3).select(0, 0).fill_(7);  // base[0][3]
  EXPECT_EQ(values(base), (std::vector<double>{0, 100, 100, 7, 4, 5, 6, 7, -1, -1, -1, -1}));
  EXPECT_EQ(values(base[1]), (std::vector<double>{4, 5, 6, 7}));
}

TEST(Views, ReshapeCopiesOnlyWhenItMust) {
  Tensor base = dg::arange(6, dg::kFloat32).reshape({2, 3});
  Tensor t = base.t();  // [3, 2] strides [1, 3]
  Tensor flat = t.reshape({-1});
  EXPECT_NE(flat.data_ptr<float>(), base.data_ptr<float>());
  EXPECT_EQ(values(flat), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  EXPECT_THROW(t.view({6}), dg::ShapeError);
  // A transposed view can still be viewed where its dims stay together.
  Tensor u = dg::arange(24, dg::kFloat32).reshape({2, 3, 4}).transpose(0, 1);  // [3, 2, 4]
  EXPECT_THROW(u.view({3, 8}), dg::ShapeError);  // dims 1 and 2 are not adjacent in memory
  EXPECT_EQ(u.view({3, 2, 2, 2}).data_ptr<float>(), u.data_ptr<float>());
  EXPECT_EQ(shape(base.flatten()), (std::vector<int64_t>{6}));
  EXPECT_EQ(shape(dg::zeros({2, 3, 4}).flatten(1)), (std::vector<int64_t>{2, 12}));
  EXPECT_EQ(shape(dg::zeros({2, 1, 3, 1}).squeeze()), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(shape(dg::zeros({2, 3}).squeeze(0)), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(shape(dg::zeros({2, 3}).unsqueeze(-1)), (std::vector<int64_t>{2, 3, 1}));
}

TEST(Views, ChunkAndSplit) {
  Tensor a = dg::arange(7, dg::kFloat32);
  auto parts = a.split(3);
  ASSERT_EQ(parts.size(), 3u);
  EXPECT_EQ(values(parts[2]), (std::vector<double>{6}));
  auto chunks = dg::chunk(a, 2);
  ASSERT_EQ(chunks.size(), 2u);
  EXPECT_EQ(values(chunks[0]), (std::vector<double>{0, 1, 2, 3}));
  EXPECT_EQ(chunks[1].data_ptr<float>(), a.data_ptr<float>() + 4);
}

// ------------------------------------------------------ copies, conversions
TEST(Copies, ContiguousCloneAndTo) {
  Tensor base = dg::arange(6, dg::kFloat32).reshape({2, 3});
  Tensor c = base.t().contiguous();
  EXPECT_TRUE(c.is_contiguous());
  EXPECT_EQ(values(c), (std::vector<double>{0, 3, 1, 4, 2, 5}));
  EXPECT_TRUE(base.contiguous().is_same(base));  // already contiguous: no copy
  Tensor k = base.clone();
  k.fill_(0);
  EXPECT_EQ(values(base)[5], 5.0);
  Tensor f = dg::tensor({-1.7, 0.2, 2.9});
  EXPECT_EQ(values<int64_t>(f.to(dg::kInt64)), (std::vector<int64_t>{-1, 0, 2}));  // toward zero
  EXPECT_EQ(values<bool>(f.to(dg::kBool)), (std::vector<bool>{true, true, true}));
  EXPECT_EQ(values<bool>(dg::tensor({0.0, 2.0}).to(dg::kBool)), (std::vector<bool>{false, true}));
  EXPECT_TRUE(base.to(dg::kFloat32).is_same(base));
  EXPECT_EQ(base.to(dg::kFloat64).dtype(), dg::kFloat64);
  EXPECT_EQ(base.type_as(dg::ones({1}, dg::kInt64)).dtype(), dg::kInt64);
}

TEST(Access, ItemAndDataPtr) {
  EXPECT_FLOAT_EQ(dg::tensor(2.5).item<float>(), 2.5f);
  EXPECT_EQ(dg::tensor({7}, dg::kInt64).item<int64_t>(), 7);
  EXPECT_DOUBLE_EQ(dg::tensor({3.0}, dg::kFloat64).reshape({1, 1}).item<double>(), 3.0);
  EXPECT_TRUE(dg::tensor({1.0}).gt(0).item<bool>());
  EXPECT_EQ(dg::tensor({1.5}).item().to<int64_t>(), 1);
  EXPECT_THROW(dg::ones({2}).data_ptr<double>(), dg::DTypeError);
  EXPECT_THROW(Tensor().data_ptr<float>(), dg::Error);
}

// ---------------------------------------------------------------- in-place
TEST(InPlace, OpsAndVersionCounter) {
  Tensor a = dg::zeros({2, 3}, dg::kFloat64);
  uint64_t v0 = a.impl()->storage->version();
  a.fill_(1.5);
  a.add_(dg::tensor({1.0, 2.0, 3.0}, dg::kFloat64));  // broadcast row
  EXPECT_EQ(values(a), (std::vector<double>{2.5, 3.5, 4.5, 2.5, 3.5, 4.5}));
  a.add_(dg::ones({2, 3}, dg::kFloat64), -0.5);
  a.sub_(1.0);
  a.mul_(2);
  EXPECT_EQ(values(a), (std::vector<double>{2, 4, 6, 2, 4, 6}));
  a.div_(dg::tensor({2.0}, dg::kFloat64));
  a.clamp_(1.5, 2.5);
  EXPECT_EQ(values(a), (std::vector<double>{1.5, 2, 2.5, 1.5, 2, 2.5}));
  a.copy_(dg::arange(3, dg::kInt64));  // converts and broadcasts
  EXPECT_EQ(values(a), (std::vector<double>{0, 1, 2, 0, 1, 2}));
  a.zero_();
  EXPECT_EQ(values(a), (std::vector<double>(6, 0.0)));
  EXPECT_GT(a.impl()->storage->version(), v0 + 8);
  Tensor i = dg::arange(4);
  i.add_(1);
  i.mul_(3);
  EXPECT_EQ(values<int64_t>(i), (std::vector<int64_t>{3, 6, 9, 12}));
  Tensor x = dg::ones({2});
  x += dg::ones({2});
  x *= 3;
  x -= 1;
  x /= dg::full({2}, 5.0);
  EXPECT_EQ(values(x), (std::vector<double>{1, 1}));
}

// ------------------------------------------------------- promotion rules
TEST(Promotion, TensorTensorAndTensorScalar) {
  using dg::promote_types;
  EXPECT_EQ(promote_types(dg::kBool, dg::kInt64), dg::kInt64);
  EXPECT_EQ(promote_types(dg::kInt64, dg::kFloat32), dg::kFloat32);
  EXPECT_EQ(promote_types(dg::kFloat32, dg::kFloat64), dg::kFloat64);
  Tensor i = dg::arange(3), f = dg::ones({3}), d = dg::ones({3}, dg::kFloat64);
  EXPECT_EQ((i + f).dtype(), dg::kFloat32);
  EXPECT_EQ((f * d).dtype(), dg::kFloat64);
  EXPECT_EQ((i + 1).dtype(), dg::kInt64);
  EXPECT_EQ((i + 0.5).dtype(), dg::kFloat32);
  EXPECT_EQ((f + 1).dtype(), dg::kFloat32);
  EXPECT_EQ((i / 2).dtype(), dg::kFloat32);  // true division
  EXPECT_EQ((i / i).dtype(), dg::kFloat32);
  EXPECT_EQ((d / 2).dtype(), dg::kFloat64);
  EXPECT_EQ((i > 1).dtype(), dg::kBool);
  EXPECT_EQ(values(dg::arange(5) / 2), (std::vector<double>{0, 0.5, 1, 1.5, 2}));
  EXPECT_EQ(values(1 / dg::tensor({2, 4}, dg::kInt64)), (std::vector<double>{0.5, 0.25}));
  EXPECT_EQ(dg::exp(i).dtype(), dg::kFloat32);
  EXPECT_EQ(dg::Scalar(3).type(), dg::kInt64);
  EXPECT_EQ(dg::Scalar(3.0).type(), dg::kFloat64);
  EXPECT_EQ(dg::Scalar(true).type(), dg::kBool);
}

// uint8 (kUInt8 / kByte) holds image bytes; it computes as LibTorch's uint8
// does: arithmetic with a scalar of the same kind stays uint8 and wraps, sum
// widens to int64, true division and float scalars give float32, and it never
// requires a gradient. Conversions from float go through int64 (no undefined
// behaviour for NaN or out-of-range values).
TEST(Promotion, Uint8LikeLibTorch) {
  std::vector<uint8_t> raw = {0, 100, 200, 255};
  Tensor a = dg::from_blob(raw.data(), {4}, dg::kUInt8);
  auto ints = [](const Tensor& t) {
    Tensor c = t.to(dg::kInt64);
    return std::vector<int64_t>(c.data_ptr<int64_t>(), c.data_ptr<int64_t>() + c.numel());
  };
  EXPECT_EQ(a.dtype(), dg::kByte);
  EXPECT_EQ(a.element_size(), 1u);
  EXPECT_EQ((a + 1).dtype(), dg::kUInt8);
  EXPECT_EQ(ints(a + 1), (std::vector<int64_t>{1, 101, 201, 0}));
  EXPECT_EQ(ints(a * 2), (std::vector<int64_t>{0, 200, 144, 254}));
  EXPECT_EQ(ints(-a), (std::vector<int64_t>{0, 156, 56, 1}));
  EXPECT_EQ(a.sum().dtype(), dg::kInt64);
  EXPECT_EQ(a.sum().item<int64_t>(), 555);
  EXPECT_EQ((a / 2).dtype(), dg::kFloat32);
  EXPECT_EQ((a / 2).data_ptr<float>()[3], 127.5f);
  EXPECT_EQ((a + 0.5).dtype(), dg::kFloat32);
  EXPECT_EQ((a + dg::tensor(std::vector<int64_t>{1, 1, 1, 1})).dtype(), dg::kInt64);
  EXPECT_EQ((a + dg::tensor(std::vector<float>{1, 1, 1, 1})).dtype(), dg::kFloat32);
  EXPECT_EQ(dg::promote_types(dg::kBool, dg::kUInt8), dg::kUInt8);
  EXPECT_EQ(ints(a.index_select(0, dg::tensor(std::vector<int64_t>{3, 0}))), (std::vector<int64_t>{255, 0}));
  EXPECT_EQ((a > 100).dtype(), dg::kBool);
  EXPECT_THROW(a.requires_grad_(), dg::Error);
  const float nan = std::nanf("");
  EXPECT_EQ(ints(dg::tensor(std::vector<float>{-1.f, 300.7f, nan, 1e30f, 7.9f}).to(dg::kUInt8)),
            (std::vector<int64_t>{255, 44, 0, 0, 7}));
  EXPECT_EQ(dg::tensor(std::vector<float>{nan}).to(dg::kInt64).item<int64_t>(), std::numeric_limits<int64_t>::min());
  std::ostringstream os;
  os << a;
  EXPECT_NE(os.str().find("CPUByteType{4}"), std::string::npos) << os.str();
  EXPECT_EQ(std::string(dg::dtype_name(dg::kUInt8)), "uint8");
}

TEST(Comparison, EqualAndAllclose) {
  Tensor a = dg::tensor({1.0, 2.0, 3.0});
  EXPECT_TRUE(a.equal(dg::tensor({1.0, 2.0, 3.0})));
  EXPECT_FALSE(a.equal(dg::tensor({1.0, 2.0})));
  EXPECT_FALSE(a.equal(dg::tensor({1.0, 2.0, 3.5})));
  EXPECT_TRUE(a.allclose(a + 1e-7));
  EXPECT_FALSE(a.allclose(a + 1e-3));
  EXPECT_TRUE(dg::tensor({0.0, 1.0}).any().item<bool>());
  EXPECT_FALSE(dg::tensor({0.0, 1.0}).all().item<bool>());
}

TEST(Printing, ToStringAndShapes) {
  std::ostringstream s;
  s << dg::zeros({2, 3}).sizes() << " " << dg::kFloat64;
  EXPECT_EQ(s.str(), "[2, 3] float64");
  std::ostringstream p;
  p << dg::tensor({1.0, 2.0});
  EXPECT_EQ(p.str(), " 1\n 2\n[ CPUFloatType{2} ]");
  EXPECT_EQ(dg::tensor({1.0, 2.0}).toString(), "CPUFloatType");  // LibTorch's meaning: the type
  EXPECT_EQ(dg::ones({1}, dg::kInt64).toString(), "CPULongType");
  EXPECT_EQ(dg::shape_str({}), "[]");
}

// index_select copies whole rows, prefetching the rows ahead (rows of 256 bytes
// or more) and sharing them among the threads from 32 KiB: every row must land
// in its place with negative and repeated indices, an outer dimension, and any
// number of threads.
TEST(IndexSelect, LongRowsOnEveryThreadCount) {
  dg::manual_seed(3);
  const Tensor images = (dg::rand({3000, 784}) * 255).to(dg::kUInt8);  // rows of 784 bytes
  const Tensor blocks = dg::randn({2, 500, 100});                        // rows of 400 bytes, outer 2
  std::vector<int64_t> picks;
  for (int64_t k = 0; k < 300; ++k) picks.push_back(k % 7 == 0 ? -1 - k : (k * 977) % 500);
  const Tensor idx = dg::tensor(picks);
  for (int threads : {1, 2, 3}) {
    const int before = dg::get_num_threads();
    dg::set_num_threads(threads);
    const Tensor a = images.index_select(0, idx), b = blocks.index_select(1, idx);
    dg::set_num_threads(before);
    ASSERT_EQ(shape(a), (std::vector<int64_t>{300, 784}));
    ASSERT_EQ(shape(b), (std::vector<int64_t>{2, 300, 100}));
    for (int64_t k = 0; k < 300; ++k) {
      const int64_t r = picks[static_cast<size_t>(k)];
      ASSERT_TRUE(a[k].equal(images[r < 0 ? r + 3000 : r])) << "row " << k << ", " << threads << " threads";
      for (int64_t o = 0; o < 2; ++o)
        ASSERT_TRUE(b[o][k].equal(blocks[o][r < 0 ? r + 500 : r])) << "row " << k << " of block " << o << ", "
                                                                    << threads << " threads";
    }
  }
}

// Picking single elements from a 1-d tensor (a batch's labels) takes a typed
// gather for each element size: 1 (uint8, bool), 4 (float32), 8 (int64,
// float64) bytes, with negative and repeated indices; every value and its bits
// must come through.
TEST(IndexSelect, SingleElementsOfEverySize) {
  std::vector<int64_t> picks;
  for (int64_t k = 0; k < 200; ++k) picks.push_back(k % 5 == 0 ? -1 - (k % 37) : (k * 613) % 1000);
  const Tensor idx = dg::tensor(picks);
  dg::manual_seed(5);
  const Tensor base = dg::randn({1000}, dg::kFloat64) * 1e3;
  for (dg::ScalarType t : {dg::kUInt8, dg::kBool, dg::kFloat32, dg::kInt64, dg::kFloat64}) {
    const Tensor src = t == dg::kBool ? base > 0 : t == dg::kUInt8 ? base.abs().to(dg::kUInt8) : base.to(t);
    const Tensor got = src.index_select(0, idx);
    ASSERT_EQ(got.dtype(), t);
    ASSERT_EQ(shape(got), (std::vector<int64_t>{200}));
    const size_t es = src.element_size();
    const auto* s = static_cast<const unsigned char*>(src.raw_data());
    const auto* g = static_cast<const unsigned char*>(got.raw_data());
    for (size_t k = 0; k < picks.size(); ++k) {
      const int64_t r = picks[k] < 0 ? picks[k] + 1000 : picks[k];
      ASSERT_EQ(std::memcmp(g + k * es, s + static_cast<size_t>(r) * es, es), 0)
          << "element " << k << " (index " << picks[k] << ") of " << dg::dtype_name(t);
    }
  }
}
