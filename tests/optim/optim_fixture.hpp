// Shared by the optim tests: the PyTorch fixtures of tools/make_optim_fixtures.py
// and the small problem they describe (parameters W, b, c; gradient H·p + noise[t]).
#pragma once

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "dimgrad/autograd.hpp"
#include "dimgrad/ops.hpp"
#include "dimgrad/optim.hpp"

namespace optim_test {

using json = nlohmann::json;
namespace O = dg::optim;

inline const json& fixture(const std::string& name) {
  static std::map<std::string, json> cache;
  auto it = cache.find(name);
  if (it == cache.end()) {
    std::ifstream f(std::string(DG_SOURCE_DIR) + "/tests/fixtures/optim/" + name);
    if (!f) throw std::runtime_error("cannot open fixture " + name + " (run tools/make_optim_fixtures.py)");
    it = cache.emplace(name, json::parse(f)).first;
  }
  return it->second;
}

inline const std::vector<std::string>& names() {
  static const std::vector<std::string> n = {"W", "b", "c"};
  return n;
}

inline dg::ScalarType dtype_of(const json& c) { return c.at("dtype") == "float32" ? dg::kFloat32 : dg::kFloat64; }

inline dg::Tensor from_values(const std::vector<double>& v, const std::vector<int64_t>& shape, dg::ScalarType dt) {
  return dg::tensor(v, dg::kFloat64).reshape(shape).to(dt).contiguous();
}

// Fresh leaf parameters W, b, c at the fixture's initial values.
inline std::map<std::string, dg::Tensor> make_params(dg::ScalarType dt) {
  const json& fx = fixture("optimizers.json");
  std::map<std::string, dg::Tensor> p;
  for (const auto& n : names())
    p[n] = from_values(fx["init"][n].get<std::vector<double>>(), fx["shapes"][n].get<std::vector<int64_t>>(), dt)
               .requires_grad_();
  return p;
}

// Gradients of step t, as the script computes them: g = H * p + noise[t] in the
// parameters' dtype; c has none on odd steps.
inline void set_grads(std::map<std::string, dg::Tensor>& params, int t) {
  const json& fx = fixture("optimizers.json");
  for (const auto& n : names()) {
    dg::Tensor& p = params.at(n);
    if (n == "c" && t % 2 == 1) {
      p.set_grad(dg::Tensor());
      continue;
    }
    auto H = fx["H"][n].get<std::vector<double>>();
    auto noise = fx["noise"][n][t].get<std::vector<double>>();
    dg::Tensor g = dg::empty(p.sizes(), p.dtype());
    dg::dispatch_floating(p.dtype(), "set_grads", [&](auto tag) {
      using T = typename decltype(tag)::type;
      const T* pp = p.data_ptr<T>();
      T* gg = g.data_ptr<T>();
      for (size_t i = 0; i < H.size(); ++i) gg[i] = static_cast<T>(H[i]) * pp[i] + static_cast<T>(noise[i]);
    });
    p.set_grad(g);
  }
}

template <class Opt> Opt options_from(const json& j);

template <> inline O::SGDOptions options_from<O::SGDOptions>(const json& j) {
  O::SGDOptions o(j.at("lr").get<double>());
  if (j.contains("momentum")) o.momentum(j["momentum"].get<double>());
  if (j.contains("dampening")) o.dampening(j["dampening"].get<double>());
  if (j.contains("weight_decay")) o.weight_decay(j["weight_decay"].get<double>());
  if (j.contains("nesterov")) o.nesterov(j["nesterov"].get<bool>());
  return o;
}

template <class AdamLike> AdamLike adam_like_from(const json& j) {
  AdamLike o(j.at("lr").get<double>());
  if (j.contains("betas")) o.betas(std::make_tuple(j["betas"][0].get<double>(), j["betas"][1].get<double>()));
  if (j.contains("eps")) o.eps(j["eps"].get<double>());
  if (j.contains("weight_decay")) o.weight_decay(j["weight_decay"].get<double>());
  if (j.contains("amsgrad")) o.amsgrad(j["amsgrad"].get<bool>());
  return o;
}
template <> inline O::AdamOptions options_from<O::AdamOptions>(const json& j) { return adam_like_from<O::AdamOptions>(j); }
template <> inline O::AdamWOptions options_from<O::AdamWOptions>(const json& j) {
  return adam_like_from<O::AdamWOptions>(j);
}

template <> inline O::RMSpropOptions options_from<O::RMSpropOptions>(const json& j) {
  O::RMSpropOptions o(j.at("lr").get<double>());
  if (j.contains("alpha")) o.alpha(j["alpha"].get<double>());
  if (j.contains("eps")) o.eps(j["eps"].get<double>());
  if (j.contains("weight_decay")) o.weight_decay(j["weight_decay"].get<double>());
  if (j.contains("momentum")) o.momentum(j["momentum"].get<double>());
  if (j.contains("centered")) o.centered(j["centered"].get<bool>());
  return o;
}

template <> inline O::AdagradOptions options_from<O::AdagradOptions>(const json& j) {
  O::AdagradOptions o(j.at("lr").get<double>());
  if (j.contains("lr_decay")) o.lr_decay(j["lr_decay"].get<double>());
  if (j.contains("weight_decay")) o.weight_decay(j["weight_decay"].get<double>());
  if (j.contains("initial_accumulator_value"))
    o.initial_accumulator_value(j["initial_accumulator_value"].get<double>());
  if (j.contains("eps")) o.eps(j["eps"].get<double>());
  return o;
}

template <class Opt, class Options>
std::unique_ptr<O::Optimizer> build(const json& c, std::map<std::string, dg::Tensor>& params) {
  Options defaults = options_from<Options>(c.at("defaults"));
  if (!c.contains("groups")) {
    std::vector<dg::Tensor> ps;
    for (const auto& n : names()) ps.push_back(params.at(n));
    return std::make_unique<Opt>(ps, defaults);
  }
  std::vector<O::OptimizerParamGroup> groups;
  for (const auto& g : c["groups"]) {
    std::vector<dg::Tensor> ps;
    for (const auto& n : g["params"]) ps.push_back(params.at(n.get<std::string>()));
    groups.emplace_back(ps, std::make_unique<Options>(options_from<Options>(g["options"])));
  }
  return std::make_unique<Opt>(groups, defaults);
}

// The optimizer a fixture case describes, over `params`.
inline std::unique_ptr<O::Optimizer> make_optimizer(const json& c, std::map<std::string, dg::Tensor>& params) {
  const std::string kind = c.at("optimizer");
  if (kind == "SGD") return build<O::SGD, O::SGDOptions>(c, params);
  if (kind == "Adam") return build<O::Adam, O::AdamOptions>(c, params);
  if (kind == "AdamW") return build<O::AdamW, O::AdamWOptions>(c, params);
  if (kind == "RMSprop") return build<O::RMSprop, O::RMSpropOptions>(c, params);
  if (kind == "Adagrad") return build<O::Adagrad, O::AdagradOptions>(c, params);
  throw std::runtime_error("unknown optimizer " + kind);
}

inline std::vector<double> values(const dg::Tensor& t) {
  dg::Tensor d = t.detach().to(dg::kFloat64).contiguous();
  return {d.data_ptr<double>(), d.data_ptr<double>() + d.numel()};
}

}  // namespace optim_test
