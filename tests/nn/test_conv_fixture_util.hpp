// Shared by the conv / pool / rnn tests: reading the golden fixtures written by
// tools/make_nn2_fixtures.py and comparing tensors element by element.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>

#include "dimgrad/autograd.hpp"
#include "dimgrad/check.hpp"
#include "dimgrad/ops.hpp"
#include "dimgrad/tensor.hpp"

namespace nn2_test {

inline nlohmann::json load_cases(const std::string& file) {
  const std::string path = std::string(DG_SOURCE_DIR) + "/tests/fixtures/nn/" + file;
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot open fixture " + path + " (run /usr/bin/python3 tools/make_nn2_fixtures.py)");
  nlohmann::json j;
  in >> j;
  return j.at("cases");
}

// {"shape": [...], "data": [...]} → a tensor of `dtype`.
inline dg::Tensor from_json(const nlohmann::json& j, dg::ScalarType dtype = dg::kFloat64) {
  std::vector<double> data = j.at("data").get<std::vector<double>>();
  std::vector<int64_t> shape = j.at("shape").get<std::vector<int64_t>>();
  dg::Tensor t = dg::tensor(data, dg::kFloat64).reshape(shape);
  return t.to(dtype).contiguous();
}

// Every element of `got` within atol + rtol·|want| of `want`; the first failure
// is reported with its flat index and both values.
inline ::testing::AssertionResult close(const dg::Tensor& got, const dg::Tensor& want, double atol, double rtol) {
  if (!got.defined()) return ::testing::AssertionFailure() << "tensor is undefined";
  if (got.sizes() != want.sizes())
    return ::testing::AssertionFailure() << "shape " << dg::shape_str(got.sizes()) << " vs expected "
                                         << dg::shape_str(want.sizes());
  dg::Tensor g = got.detach().to(dg::kFloat64).contiguous(), w = want.detach().to(dg::kFloat64).contiguous();
  const double* gp = g.data_ptr<double>();
  const double* wp = w.data_ptr<double>();
  for (int64_t i = 0; i < g.numel(); ++i) {
    if (!(std::abs(gp[i] - wp[i]) <= atol + rtol * std::abs(wp[i])))
      return ::testing::AssertionFailure() << "element " << i << " of " << dg::shape_str(g.sizes()) << ": got "
                                           << gp[i] << ", expected " << wp[i];
  }
  return ::testing::AssertionSuccess();
}

// Tolerances for a dtype: float64 must agree with PyTorch's float64 almost
// exactly; float32 to single precision.
struct Tol {
  double atol, rtol;
};
inline Tol tol_for(dg::ScalarType dt) { return dt == dg::kFloat64 ? Tol{1e-10, 1e-9} : Tol{2e-4, 2e-4}; }

// Runs f and returns the ShapeError message ("" if nothing or another error was thrown).
template <class F> std::string shape_error_of(F&& f) {
  try {
    f();
  } catch (const dg::ShapeError& e) {
    return e.what();
  } catch (...) {
    return "<another exception>";
  }
  return "";
}

}  // namespace nn2_test
