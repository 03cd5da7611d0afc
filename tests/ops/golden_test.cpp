// Golden tests against PyTorch: tests/fixtures/core/ops.json, written by
// tools/make_core_fixtures.py with torch 1.13, holds for each case an op name,
// its inputs and scalar arguments, PyTorch's outputs (shape, dtype, values), a
// seeded upstream gradient and PyTorch's input gradients. The op names map to the
// same calls in dimgrad (kOps below mirrors OPS in the script). Dtypes must match
// exactly (promotion: int+float, float32+float64, int/int → float ...); values
// within float32/float64 tolerances; integer and bool values exactly.
#include <gtest/gtest.h>

#include <cmath>
#include <fstream>
#include <functional>
#include <algorithm>
#include <cctype>
#include <map>
#include <set>
#include <string>

#include <dimgrad/dimgrad.hpp>
#include <nlohmann/json.hpp>

using dg::Tensor;
using dg::TensorList;
using json = nlohmann::json;

namespace {

dg::ScalarType dtype_of(const std::string& s) {
  if (s == "float32") return dg::kFloat32;
  if (s == "float64") return dg::kFloat64;
  if (s == "int64") return dg::kInt64;
  if (s == "bool") return dg::kBool;
  throw std::runtime_error("unknown dtype " + s);
}

Tensor from_json(const json& j) {
  std::vector<int64_t> shape = j.at("shape").get<std::vector<int64_t>>();
  Tensor t = dg::zeros(shape, dtype_of(j.at("dtype")));
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

// An integer in the JSON stays an integer Scalar (int_tensor + 3 stays int64).
dg::Scalar scalar(const json& v) {
  if (v.is_number_integer()) return dg::Scalar(v.get<int64_t>());
  return dg::Scalar(v.get<double>());
}

std::vector<int64_t> ints(const json& v) { return v.get<std::vector<int64_t>>(); }

using OpFn = std::function<TensorList(const TensorList&, const json&)>;
TensorList one(Tensor t) { return {std::move(t)}; }
TensorList two(std::tuple<Tensor, Tensor> t) { return {std::get<0>(t), std::get<1>(t)}; }

const std::map<std::string, OpFn>& ops() {
  static const std::map<std::string, OpFn> m = {
      {"add", [](const TensorList& x, const json&) { return one(x[0] + x[1]); }},
      {"add_alpha", [](const TensorList& x, const json& a) { return one(dg::add(x[0], x[1], scalar(a["alpha"]))); }},
      {"sub", [](const TensorList& x, const json&) { return one(x[0] - x[1]); }},
      {"mul", [](const TensorList& x, const json&) { return one(x[0] * x[1]); }},
      {"div", [](const TensorList& x, const json&) { return one(x[0] / x[1]); }},
      {"add_scalar", [](const TensorList& x, const json& a) { return one(x[0] + scalar(a["s"])); }},
      {"sub_scalar", [](const TensorList& x, const json& a) { return one(x[0] - scalar(a["s"])); }},
      {"mul_scalar", [](const TensorList& x, const json& a) { return one(x[0] * scalar(a["s"])); }},
      {"div_scalar", [](const TensorList& x, const json& a) { return one(x[0] / scalar(a["s"])); }},
      {"rsub_scalar", [](const TensorList& x, const json& a) { return one(scalar(a["s"]) - x[0]); }},
      {"rdiv_scalar", [](const TensorList& x, const json& a) { return one(scalar(a["s"]) / x[0]); }},
      {"neg", [](const TensorList& x, const json&) { return one(-x[0]); }},
      {"pow", [](const TensorList& x, const json& a) { return one(x[0].pow(scalar(a["p"]))); }},
      {"maximum", [](const TensorList& x, const json&) { return one(dg::maximum(x[0], x[1])); }},
      {"minimum", [](const TensorList& x, const json&) { return one(dg::minimum(x[0], x[1])); }},
      {"where", [](const TensorList& x, const json&) { return one(dg::where(x[0], x[1], x[2])); }},
      {"exp", [](const TensorList& x, const json&) { return one(x[0].exp()); }},
      {"log", [](const TensorList& x, const json&) { return one(x[0].log()); }},
      {"sqrt", [](const TensorList& x, const json&) { return one(x[0].sqrt()); }},
      {"rsqrt", [](const TensorList& x, const json&) { return one(x[0].rsqrt()); }},
      {"abs", [](const TensorList& x, const json&) { return one(x[0].abs()); }},
      {"tanh", [](const TensorList& x, const json&) { return one(x[0].tanh()); }},
      {"sigmoid", [](const TensorList& x, const json&) { return one(x[0].sigmoid()); }},
      {"relu", [](const TensorList& x, const json&) { return one(x[0].relu()); }},
      {"clamp",
       [](const TensorList& x, const json& a) {
         std::optional<dg::Scalar> lo, hi;
         if (a.contains("lo")) lo = scalar(a["lo"]);
         if (a.contains("hi")) hi = scalar(a["hi"]);
         return one(x[0].clamp(lo, hi));
       }},
      {"sum", [](const TensorList& x, const json&) { return one(x[0].sum()); }},
      {"sum_dims", [](const TensorList& x, const json& a) { return one(x[0].sum(ints(a["dims"]), a["keepdim"])); }},
      {"mean", [](const TensorList& x, const json&) { return one(x[0].mean()); }},
      {"mean_dims", [](const TensorList& x, const json& a) { return one(x[0].mean(ints(a["dims"]), a["keepdim"])); }},
      {"var", [](const TensorList& x, const json& a) { return one(x[0].var(a["unbiased"].get<bool>())); }},
      {"var_dims",
       [](const TensorList& x, const json& a) { return one(x[0].var(ints(a["dims"]), a["unbiased"], a["keepdim"])); }},
      {"std", [](const TensorList& x, const json&) { return one(x[0].std()); }},
      {"max", [](const TensorList& x, const json&) { return one(x[0].max()); }},
      {"min", [](const TensorList& x, const json&) { return one(x[0].min()); }},
      {"max_dim", [](const TensorList& x, const json& a) { return two(x[0].max(a["dim"], a["keepdim"])); }},
      {"min_dim", [](const TensorList& x, const json& a) { return two(x[0].min(a["dim"], a["keepdim"])); }},
      {"argmax", [](const TensorList& x, const json&) { return one(x[0].argmax()); }},
      {"argmax_dim", [](const TensorList& x, const json& a) { return one(x[0].argmax(a["dim"], a["keepdim"])); }},
      {"amax", [](const TensorList& x, const json& a) { return one(x[0].amax(ints(a["dims"]), a["keepdim"])); }},
      {"amin", [](const TensorList& x, const json& a) { return one(x[0].amin(ints(a["dims"]), a["keepdim"])); }},
      {"logsumexp",
       [](const TensorList& x, const json& a) { return one(x[0].logsumexp(ints(a["dims"]), a["keepdim"])); }},
      {"prod", [](const TensorList& x, const json&) { return one(x[0].prod()); }},
      {"prod_dim", [](const TensorList& x, const json& a) { return one(x[0].prod(a["dim"], a["keepdim"])); }},
      {"cumsum", [](const TensorList& x, const json& a) { return one(x[0].cumsum(a["dim"])); }},
      {"norm",
       [](const TensorList& x, const json& a) {
         return one(x[0].norm(std::stod(a["p"].get<std::string>()), ints(a["dims"]), a["keepdim"]));
       }},
      {"mm", [](const TensorList& x, const json&) { return one(dg::mm(x[0], x[1])); }},
      {"mm_tA", [](const TensorList& x, const json&) { return one(dg::mm(x[0].t(), x[1])); }},
      {"bmm", [](const TensorList& x, const json&) { return one(dg::bmm(x[0], x[1])); }},
      {"matmul", [](const TensorList& x, const json&) { return one(dg::matmul(x[0], x[1])); }},
      {"reshape", [](const TensorList& x, const json& a) { return one(x[0].reshape(ints(a["shape"]))); }},
      {"permute", [](const TensorList& x, const json& a) { return one(x[0].permute(ints(a["dims"]))); }},
      {"transpose", [](const TensorList& x, const json& a) { return one(x[0].transpose(a["d0"], a["d1"])); }},
      {"t", [](const TensorList& x, const json&) { return one(x[0].t()); }},
      {"expand", [](const TensorList& x, const json& a) { return one(x[0].expand(ints(a["shape"]))); }},
      {"narrow", [](const TensorList& x, const json& a) { return one(x[0].narrow(a["dim"], a["start"], a["length"])); }},
      {"select", [](const TensorList& x, const json& a) { return one(x[0].select(a["dim"], a["index"])); }},
      {"unsqueeze", [](const TensorList& x, const json& a) { return one(x[0].unsqueeze(a["dim"])); }},
      {"squeeze", [](const TensorList& x, const json&) { return one(x[0].squeeze()); }},
      {"squeeze_dim", [](const TensorList& x, const json& a) { return one(x[0].squeeze(a["dim"].get<int64_t>())); }},
      {"flatten", [](const TensorList& x, const json& a) { return one(x[0].flatten(a["start"], a["end"])); }},
      {"contiguous_t", [](const TensorList& x, const json&) { return one(x[0].t().contiguous()); }},
      {"to_float64", [](const TensorList& x, const json&) { return one(x[0].to(dg::kFloat64)); }},
      {"to_float32", [](const TensorList& x, const json&) { return one(x[0].to(dg::kFloat32)); }},
      {"to_int64", [](const TensorList& x, const json&) { return one(x[0].to(dg::kInt64)); }},
      {"index_select", [](const TensorList& x, const json& a) { return one(x[0].index_select(a["dim"], x[1])); }},
      {"gather", [](const TensorList& x, const json& a) { return one(x[0].gather(a["dim"], x[1])); }},
      {"cat", [](const TensorList& x, const json& a) { return one(dg::cat(x, a["dim"])); }},
      {"stack", [](const TensorList& x, const json& a) { return one(dg::stack(x, a["dim"])); }},
      {"softmax", [](const TensorList& x, const json& a) { return one(x[0].softmax(a["dim"])); }},
      {"log_softmax", [](const TensorList& x, const json& a) { return one(x[0].log_softmax(a["dim"])); }},
      {"gt", [](const TensorList& x, const json&) { return one(x[0] > x[1]); }},
      {"lt", [](const TensorList& x, const json&) { return one(x[0] < x[1]); }},
      {"ge", [](const TensorList& x, const json&) { return one(x[0] >= x[1]); }},
      {"le", [](const TensorList& x, const json&) { return one(x[0] <= x[1]); }},
      {"eq", [](const TensorList& x, const json&) { return one(x[0] == x[1]); }},
      {"ne", [](const TensorList& x, const json&) { return one(x[0] != x[1]); }},
      {"gt_scalar", [](const TensorList& x, const json& a) { return one(x[0] > scalar(a["s"])); }},
  };
  return m;
}

// Compares t with PyTorch's tensor: shape and dtype exactly, values within tolerance.
void expect_matches(const Tensor& t, const json& expected, const std::string& what) {
  ASSERT_TRUE(t.defined()) << what << " is undefined";
  Tensor e = from_json(expected);
  ASSERT_EQ(t.sizes().vec(), e.sizes().vec()) << what << ": shape";
  ASSERT_EQ(dg::dtype_name(t.dtype()), dg::dtype_name(e.dtype())) << what << ": dtype";
  Tensor a = t.to(dg::kFloat64).contiguous(), b = e.to(dg::kFloat64).contiguous();
  const double* pa = a.data_ptr<double>();
  const double* pb = b.data_ptr<double>();
  // float32 results may differ from PyTorch's in the last bits (summation order,
  // GEMM blocking, libm); float64 agrees to ~1e-12 relative.
  const bool f32 = t.dtype() == dg::kFloat32, exact = !t.is_floating_point();
  const double rtol = f32 ? 2e-5 : 1e-10, atol = f32 ? 2e-6 : 1e-12;
  for (int64_t i = 0; i < a.numel(); ++i) {
    if (exact) {
      ASSERT_EQ(pa[i], pb[i]) << what << " element " << i;
    } else if (std::isnan(pb[i])) {
      ASSERT_TRUE(std::isnan(pa[i])) << what << " element " << i;
    } else {
      ASSERT_NEAR(pa[i], pb[i], atol + rtol * std::abs(pb[i])) << what << " element " << i;
    }
  }
}

json load_cases() {
  std::ifstream f(std::string(DG_SOURCE_DIR) + "/tests/fixtures/core/ops.json");
  if (!f) throw std::runtime_error("missing tests/fixtures/core/ops.json (run tools/make_core_fixtures.py)");
  return json::parse(f)["cases"];
}

const json& cases() {
  static const json c = load_cases();
  return c;
}

class Golden : public ::testing::TestWithParam<size_t> {};

TEST_P(Golden, MatchesPyTorch) {
  const json& c = cases()[GetParam()];
  const std::string name = c["name"];
  SCOPED_TRACE(name);
  auto it = ops().find(c["op"]);
  ASSERT_NE(it, ops().end()) << "no dimgrad call for op " << c["op"];
  std::vector<int64_t> rg = c["requires_grad"].get<std::vector<int64_t>>();
  TensorList in;
  for (size_t i = 0; i < c["inputs"].size(); ++i) {
    Tensor t = from_json(c["inputs"][i]);
    if (std::find(rg.begin(), rg.end(), static_cast<int64_t>(i)) != rg.end()) t.requires_grad_();
    in.push_back(t);
  }
  TensorList out = it->second(in, c["args"]);
  ASSERT_EQ(out.size(), c["outputs"].size());
  for (size_t k = 0; k < out.size(); ++k) expect_matches(out[k], c["outputs"][k], name + " output " + std::to_string(k));
  if (!c.contains("grads")) {
    if (rg.empty()) {
      EXPECT_FALSE(out[0].requires_grad()) << "no input requires grad, yet the output does";
    }
    return;
  }
  ASSERT_TRUE(out[0].requires_grad());
  TensorList wrt;
  for (int64_t i : rg) wrt.push_back(in[static_cast<size_t>(i)]);
  TensorList g = dg::autograd::grad({out[0]}, wrt, {from_json(c["grad_output"])}, false, false, true);
  for (size_t k = 0; k < wrt.size(); ++k) {
    const json& e = c["grads"][k];
    if (e.is_null()) {
      EXPECT_FALSE(g[k].defined()) << "input " << rg[k] << " should get no gradient";
    } else {
      expect_matches(g[k], e, name + " grad of input " + std::to_string(rg[k]));
    }
  }
}

INSTANTIATE_TEST_SUITE_P(PyTorchFixtures, Golden, ::testing::Range<size_t>(0, cases().size()),
                         [](const ::testing::TestParamInfo<size_t>& i) {
                           std::string n = cases()[i.param]["name"];
                           for (char& ch : n)
                             if (!std::isalnum(static_cast<unsigned char>(ch))) ch = '_';
                           return n + "_" + std::to_string(i.param);
                         });

// Every op the script knows is mapped here, and the fixture file covers them all.
TEST(GoldenFixture, EveryScriptOpIsMappedAndUsed) {
  std::set<std::string> used;
  for (const auto& c : cases()) used.insert(c["op"].get<std::string>());
  for (const auto& op : used) EXPECT_TRUE(ops().count(op)) << op;
  for (const auto& [op, fn] : ops()) EXPECT_TRUE(used.count(op)) << op << " has no fixture case";
  EXPECT_GT(cases().size(), 200u);
}

}  // namespace
