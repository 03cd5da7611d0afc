// Helpers of the Linear / activation / norm / loss tests: reading the golden
// fixtures written by tools/make_nn_fixtures.py and comparing tensors.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "dimgrad/dimgrad.hpp"
#include "dimgrad/nn.hpp"

namespace nn1_test {

using json = nlohmann::json;

inline const json& fixtures() {
  static const json j = [] {
    const std::string path = std::string(DG_SOURCE_DIR) + "/tests/fixtures/nn/layers.json";
    std::ifstream in(path);
    if (!in) throw std::runtime_error("cannot open fixture " + path + " (run /usr/bin/python3 tools/make_nn_fixtures.py)");
    json v;
    in >> v;
    return v;
  }();
  return j;
}

inline dg::ScalarType dtype_of(const std::string& s) {
  if (s == "float32") return dg::kFloat32;
  if (s == "float64") return dg::kFloat64;
  if (s == "int64") return dg::kInt64;
  return dg::kBool;
}

// {"shape", "dtype", "data"} → a tensor (undefined for JSON null).
inline dg::Tensor from_json(const json& j) {
  if (j.is_null()) return {};
  std::vector<int64_t> shape = j.at("shape").get<std::vector<int64_t>>();
  dg::Tensor t = dg::zeros(shape, dtype_of(j.at("dtype")));
  const json& data = j.at("data");
  dg::dispatch_dtype(t.dtype(), [&](auto tag) {
    using T = typename decltype(tag)::type;
    T* p = t.data_ptr<T>();
    for (size_t i = 0; i < data.size(); ++i) {
      if constexpr (std::is_same_v<T, bool>) p[i] = data[i].get<int64_t>() != 0;
      else p[i] = static_cast<T>(data[i].get<double>());
    }
  });
  return t;
}

// Every element of `got` within atol + rtol·|want|; float32 to single precision,
// float64 to ~1e-10 (PyTorch's float64 and ours differ only in summation order).
inline ::testing::AssertionResult close(const dg::Tensor& got, const dg::Tensor& want, double atol = -1,
                                        double rtol = -1) {
  if (!got.defined()) return ::testing::AssertionFailure() << "tensor is undefined";
  if (got.sizes() != want.sizes())
    return ::testing::AssertionFailure() << "shape " << dg::shape_str(got.sizes()) << " vs expected "
                                         << dg::shape_str(want.sizes());
  if (got.dtype() != want.dtype())
    return ::testing::AssertionFailure() << "dtype " << dg::dtype_name(got.dtype()) << " vs expected "
                                         << dg::dtype_name(want.dtype());
  const bool f32 = got.dtype() == dg::kFloat32;
  if (atol < 0) atol = f32 ? 1e-5 : 1e-11;
  if (rtol < 0) rtol = f32 ? 1e-4 : 1e-9;
  dg::Tensor g = got.detach().to(dg::kFloat64).contiguous(), w = want.detach().to(dg::kFloat64).contiguous();
  const double* gp = g.data_ptr<double>();
  const double* wp = w.data_ptr<double>();
  for (int64_t i = 0; i < g.numel(); ++i) {
    if (std::isnan(wp[i]) && std::isnan(gp[i])) continue;
    if (!(std::abs(gp[i] - wp[i]) <= atol + rtol * std::abs(wp[i])))
      return ::testing::AssertionFailure() << "element " << i << " of " << dg::shape_str(g.sizes()) << ": got "
                                           << gp[i] << ", expected " << wp[i];
  }
  return ::testing::AssertionSuccess();
}

// Deterministic float64 values (uniform in [lo, hi]) from a seed.
inline dg::Tensor det(dg::IntArrayRef shape, uint64_t seed, double lo = -2, double hi = 2) {
  dg::Tensor t = dg::zeros(shape, dg::kFloat64);
  uint64_t s = seed * 6364136223846793005ULL + 1442695040888963407ULL;
  double* p = t.data_ptr<double>();
  for (int64_t i = 0; i < t.numel(); ++i) {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    p[i] = lo + (hi - lo) * static_cast<double>(s >> 11) / 9007199254740992.0;
  }
  return t;
}

// The message of the dg::Error `f` throws ("" when it throws nothing).
template <class E = dg::Error, class F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "";
}

// int64 labels / indices ({3, 1, 2} as a braced list would be float).
inline dg::Tensor longs(std::vector<int64_t> v) { return dg::tensor(v); }

// Whether `text` contains `part` (with both shown when it does not).
inline ::testing::AssertionResult contains(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "\n  \"" << text << "\"\ndoes not contain\n  \"" << part << "\"";
}

}  // namespace nn1_test

#define EXPECT_CONTAINS(text, part) EXPECT_TRUE(::nn1_test::contains((text), (part)))
