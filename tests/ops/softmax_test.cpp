// softmax and log_softmax in float32 on every vectorised path of
// src/ops/softmax.cpp — rows shorter than a vector (one flat exponential loop),
// longer rows along the last dim, a dim with values after it (loops across
// them), one row — against a float64 reference written out here, forward and
// backward, on every instruction set and on 1 and 2 threads (the same bits on
// each thread count). Rows of −∞, a row that is all −∞ (NaN, as LibTorch) and
// large scores included.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include <dimgrad/dimgrad.hpp>

#include "each_isa.hpp"
#include "tensor_values.hpp"

using dg::Tensor;

namespace {

const double kInf = std::numeric_limits<double>::infinity();

using dg_test::values;

struct Reference {
  std::vector<double> y, dx;  // (log_)softmax of x along the dim, and dL/dx for L = Σ up ⊙ y
};

// x, up: [O, R, I] as flat float64 vectors; the dim is R.
Reference reference(const std::vector<double>& x, const std::vector<double>& up, int64_t O, int64_t R, int64_t I,
                    bool log) {
  Reference ref{std::vector<double>(x.size()), std::vector<double>(x.size())};
  for (int64_t o = 0; o < O; ++o)
    for (int64_t i = 0; i < I; ++i) {
      auto at = [&](int64_t r) { return static_cast<size_t>((o * R + r) * I + i); };
      double m = -kInf;
      for (int64_t r = 0; r < R; ++r) m = std::max(m, x[at(r)]);
      if (m == -kInf) m = 0;
      double s = 0;
      for (int64_t r = 0; r < R; ++r) s += std::exp(x[at(r)] - m);
      double dot = 0, total = 0;
      for (int64_t r = 0; r < R; ++r) {
        const double p = std::exp(x[at(r)] - m) / s;
        ref.y[at(r)] = log ? (x[at(r)] - m) - std::log(s) : p;
        dot += up[at(r)] * p;
        total += up[at(r)];
      }
      for (int64_t r = 0; r < R; ++r) {
        const double p = std::exp(x[at(r)] - m) / s;
        ref.dx[at(r)] = log ? up[at(r)] - p * total : p * (up[at(r)] - dot);
      }
    }
  return ref;
}

bool same(double got, double want, double tol) {
  if (std::isnan(want)) return std::isnan(got);
  if (std::isinf(want)) return got == want;
  return std::fabs(got - want) <= tol * (1 + std::fabs(want));
}

}  // namespace

TEST(Softmax, Float32EveryPathAgainstFloat64) {
  struct Case {
    std::vector<int64_t> shape;
    int64_t dim;
  };
  const std::vector<Case> cases = {
      {{300, 10}, 1},     // short rows, several threads' worth
      {{7, 3}, 1},        // short rows, few
      {{129, 16}, 1},     // exactly one vector
      {{40, 1000}, 1},    // long rows
      {{33}, 0},          // one row
      {{6, 10, 130}, 1},  // a dim with values after it
      {{3, 5, 4, 2}, 0},  // the first dim
  };
  for (const Case& c : cases) {
    int64_t O = 1, I = 1;
    const int64_t R = c.shape[static_cast<size_t>(c.dim)];
    for (int64_t d = 0; d < c.dim; ++d) O *= c.shape[static_cast<size_t>(d)];
    for (size_t d = static_cast<size_t>(c.dim) + 1; d < c.shape.size(); ++d) I *= c.shape[d];
    dg::manual_seed(7);
    Tensor x = (dg::randn(c.shape) * 8.0).to(dg::kFloat32);
    float* px = x.data_ptr<float>();
    // (o=0, i=0): −∞ everywhere but r = 0; (o=0, i=I−1) or the next row: all −∞; one score of 1e4
    for (int64_t r = 1; r < R; ++r) px[r * I] = -std::numeric_limits<float>::infinity();
    if (O * I > 1) {
      const int64_t o = I > 1 ? 0 : 1, i = I > 1 ? I - 1 : 0;
      for (int64_t r = 0; r < R; ++r) px[(o * R + r) * I + i] = -std::numeric_limits<float>::infinity();
    }
    px[x.numel() - 1] = 1e4f;
    Tensor up = dg::randn(c.shape).to(dg::kFloat32);
    for (bool log : {false, true}) {
      const Reference ref = reference(values(x), values(up), O, R, I, log);
      std::vector<float> first;
      dg_test::on_every_isa_and_thread_count({1, 2}, [&](int nt, const std::string& isa_threads) {
        std::string where = std::string(log ? "log_softmax" : "softmax") + " of [";
        for (int64_t s : c.shape) where += std::to_string(s) + ",";
        where += "] dim " + std::to_string(c.dim) + ", " + isa_threads;
        Tensor xs = x.detach().requires_grad_();
        Tensor y = log ? dg::log_softmax(xs, c.dim) : dg::softmax(xs, c.dim);
        y.backward(up);
        const std::vector<double> gy = values(y), gdx = values(xs.grad());
        for (size_t k = 0; k < gy.size(); ++k) {
          ASSERT_TRUE(same(gy[k], ref.y[k], 2e-6)) << where << ": y[" << k << "] = " << gy[k] << ", want " << ref.y[k];
          ASSERT_TRUE(same(gdx[k], ref.dx[k], 2e-5))
              << where << ": dx[" << k << "] = " << gdx[k] << ", want " << ref.dx[k];
        }
        std::vector<float> bits(y.data_ptr<float>(), y.data_ptr<float>() + y.numel());
        bits.insert(bits.end(), xs.grad().data_ptr<float>(), xs.grad().data_ptr<float>() + xs.numel());
        if (nt == 1) first = bits;
        else EXPECT_EQ(std::memcmp(bits.data(), first.data(), bits.size() * sizeof(float)), 0) << where;
      });
    }
  }
}

// Empty tensors: an empty dim (no row to take a maximum of) and empty rows of
// every kind give empty results and gradients, nothing read.
TEST(Softmax, EmptyTensors) {
  for (const std::vector<int64_t>& shape : std::vector<std::vector<int64_t>>{{5, 0}, {0, 10}, {0}, {2, 0, 3}})
    for (int64_t dim = 0; dim < static_cast<int64_t>(shape.size()); ++dim)
      for (bool log : {false, true}) {
        Tensor x = dg::zeros(shape).requires_grad_();
        Tensor y = log ? dg::log_softmax(x, dim) : dg::softmax(x, dim);
        EXPECT_EQ(y.sizes().vec(), shape);
        y.backward(dg::zeros(shape));
        EXPECT_EQ(x.grad().sizes().vec(), shape);
      }
}
