// dg::optim against PyTorch 1.13: parameter trajectories of every optimizer
// option (20 steps), LR scheduler sequences (30 steps), gradient clipping.
#include <cmath>

#include "dimgrad/nn/utils.hpp"
#include "optim/optim_fixture.hpp"

using namespace optim_test;

namespace {

// The same operations in the same order as PyTorch's, so only rounding-level
// differences (PyTorch's vectorized kernels fuse some multiply-adds): measured
// at most 2.5e-16 (float64) and 6e-8 (float32, 1 ulp) relative over 20 steps.
double tolerance(dg::ScalarType dt, double expected) {
  return (dt == dg::kFloat64 ? 1e-12 : 5e-7) * std::max(1.0, std::abs(expected));
}

TEST(OptimGolden, EveryCaseMatchesPyTorchTrajectory) {
  const json& fx = fixture("optimizers.json");
  ASSERT_GE(fx["cases"].size(), 30u);
  for (const auto& c : fx["cases"]) {
    SCOPED_TRACE("case " + c["name"].get<std::string>());
    const dg::ScalarType dt = dtype_of(c);
    auto params = make_params(dt);
    auto opt = make_optimizer(c, params);
    const auto& traj = c["trajectory"];
    ASSERT_EQ(traj.size(), 20u);
    for (int t = 0; t < 20; ++t) {
      set_grads(params, t);
      opt->step();
      for (const auto& n : names()) {
        auto got = values(params[n]);
        auto want = traj[t][n].get<std::vector<double>>();
        ASSERT_EQ(got.size(), want.size());
        for (size_t i = 0; i < got.size(); ++i)
          ASSERT_NEAR(got[i], want[i], tolerance(dt, want[i])) << "step " << t + 1 << ", " << n << "[" << i << "]";
      }
    }
    // The trajectory really moved (a no-op optimizer would not pass the checks above).
    auto start = make_params(dt);
    EXPECT_GT(std::abs(values(params["W"])[0] - values(start["W"])[0]), 1e-3);
  }
}

TEST(OptimGolden, GroupsKeepTheirOwnOptions) {
  const json& fx = fixture("optimizers.json");
  for (const auto& c : fx["cases"]) {
    if (!c.contains("groups")) continue;
    auto params = make_params(dtype_of(c));
    auto opt = make_optimizer(c, params);
    ASSERT_EQ(opt->param_groups().size(), c["groups"].size());
    for (size_t g = 0; g < c["groups"].size(); ++g) {
      EXPECT_EQ(opt->param_groups()[g].options().lr(), c["groups"][g]["options"]["lr"].get<double>());
      EXPECT_EQ(opt->param_groups()[g].params().size(), c["groups"][g]["params"].size());
    }
    EXPECT_EQ(opt->defaults().get_lr(), c["defaults"]["lr"].get<double>());
  }
}

// ----------------------------------------------------------- schedulers
std::unique_ptr<O::LRScheduler> make_scheduler(O::Optimizer& opt, const json& s) {
  const std::string type = s["type"];
  const json& a = s["args"];
  auto get = [&](const char* k, double dflt) { return a.contains(k) ? a[k].get<double>() : dflt; };
  if (type == "StepLR") return std::make_unique<O::StepLR>(opt, a["step_size"].get<unsigned>(), get("gamma", 0.1));
  if (type == "MultiStepLR")
    return std::make_unique<O::MultiStepLR>(opt, a["milestones"].get<std::vector<int64_t>>(), get("gamma", 0.1));
  if (type == "ExponentialLR") return std::make_unique<O::ExponentialLR>(opt, a["gamma"].get<double>());
  if (type == "CosineAnnealingLR")
    return std::make_unique<O::CosineAnnealingLR>(opt, a["T_max"].get<int64_t>(), get("eta_min", 0));
  if (type == "LinearLR") {
    if (a.empty()) return std::make_unique<O::LinearLR>(opt);  // PyTorch's defaults
    return std::make_unique<O::LinearLR>(opt, get("start_factor", 1.0 / 3), get("end_factor", 1.0),
                                         a.contains("total_iters") ? a["total_iters"].get<int64_t>() : 5);
  }
  if (type == "OneCycleLR") {
    std::vector<double> max_lr =
        a["max_lr"].is_array() ? a["max_lr"].get<std::vector<double>>() : std::vector<double>{a["max_lr"].get<double>()};
    O::OneCycleLROptions o(max_lr, a["total_steps"].get<int64_t>());
    if (a.contains("pct_start")) o.pct_start(a["pct_start"].get<double>());
    if (a.contains("anneal_strategy"))
      o.anneal_strategy(a["anneal_strategy"] == "linear" ? O::AnnealStrategy::linear : O::AnnealStrategy::cos);
    if (a.contains("div_factor")) o.div_factor(a["div_factor"].get<double>());
    if (a.contains("final_div_factor")) o.final_div_factor(a["final_div_factor"].get<double>());
    if (a.contains("three_phase")) o.three_phase(a["three_phase"].get<bool>());
    if (a.contains("cycle_momentum")) o.cycle_momentum(a["cycle_momentum"].get<bool>());
    if (a.contains("base_momentum")) o.base_momentum(a["base_momentum"].get<double>());
    if (a.contains("max_momentum")) o.max_momentum(a["max_momentum"].get<double>());
    return std::make_unique<O::OneCycleLR>(opt, o);
  }
  throw std::runtime_error("unknown scheduler " + type);
}

std::unique_ptr<O::ReduceLROnPlateau> make_plateau(O::Optimizer& opt, const json& a) {
  using P = O::ReduceLROnPlateau;
  std::vector<double> min_lr;
  if (a.contains("min_lr")) {
    if (a["min_lr"].is_array()) min_lr = a["min_lr"].get<std::vector<double>>();
    else min_lr = {a["min_lr"].get<double>()};
  }
  return std::make_unique<P>(opt, a["mode"] == "max" ? P::max : P::min, a.contains("factor") ? a["factor"].get<double>() : 0.1,
                             a.contains("patience") ? a["patience"].get<int>() : 10,
                             a.contains("threshold") ? a["threshold"].get<double>() : 1e-4,
                             a.contains("threshold_mode") && a["threshold_mode"] == "abs" ? P::abs : P::rel,
                             a.contains("cooldown") ? a["cooldown"].get<int>() : 0, min_lr,
                             a.contains("eps") ? a["eps"].get<double>() : 1e-8);
}

std::unique_ptr<O::Optimizer> scheduler_optimizer(const json& c, std::vector<dg::Tensor>& keep) {
  keep = {dg::zeros({2}).requires_grad_(), dg::zeros({3}).requires_grad_()};
  const auto lrs = c["group_lrs"].get<std::vector<double>>();
  std::vector<O::OptimizerParamGroup> groups;
  if (c["optimizer"] == "SGD") {
    groups.emplace_back(std::vector<dg::Tensor>{keep[0]}, O::SGDOptions(lrs[0]).momentum(0.9));
    groups.emplace_back(std::vector<dg::Tensor>{keep[1]}, O::SGDOptions(lrs[1]).momentum(0.9));
    return std::make_unique<O::SGD>(groups, O::SGDOptions(lrs[0]).momentum(0.9));
  }
  groups.emplace_back(std::vector<dg::Tensor>{keep[0]}, O::AdamOptions(lrs[0]));
  groups.emplace_back(std::vector<dg::Tensor>{keep[1]}, O::AdamOptions(lrs[1]));
  return std::make_unique<O::Adam>(groups, O::AdamOptions(lrs[0]));
}

double momentum_of(const O::Optimizer& opt, size_t g) {
  const auto& o = opt.param_groups()[g].options();
  if (auto* s = dynamic_cast<const O::SGDOptions*>(&o)) return s->momentum();
  return std::get<0>(dynamic_cast<const O::AdamOptions&>(o).betas());
}

TEST(SchedulerGolden, EveryCaseMatchesPyTorchLrSequence) {
  const json& fx = fixture("schedulers.json");
  ASSERT_GE(fx["cases"].size(), 15u);
  for (const auto& c : fx["cases"]) {
    SCOPED_TRACE("case " + c["name"].get<std::string>());
    std::vector<dg::Tensor> keep;
    auto opt = scheduler_optimizer(c, keep);
    std::vector<std::unique_ptr<O::LRScheduler>> scheds;
    std::vector<std::unique_ptr<O::ReduceLROnPlateau>> plateaus;
    for (const auto& s : c["schedulers"]) {
      if (s["type"] == "ReduceLROnPlateau") plateaus.push_back(make_plateau(*opt, s["args"]));
      else scheds.push_back(make_scheduler(*opt, s));
    }
    const auto& lrs = c["lrs"];
    const auto& moms = c["momenta"];
    const bool onecycle = c["schedulers"][0]["type"] == "OneCycleLR";
    for (size_t t = 0; t < lrs.size(); ++t) {
      if (t > 0) {
        opt->step();
        for (auto& s : scheds) s->step();
        for (auto& p : plateaus) p->step(c["metrics"][t - 1].get<double>());
      }
      for (size_t g = 0; g < 2; ++g) {
        const double want = lrs[t][g].get<double>();
        ASSERT_NEAR(opt->param_groups()[g].options().lr(), want, 1e-12 * std::max(1.0, std::abs(want)))
            << "after " << t << " steps, group " << g;
        if (onecycle) {
          ASSERT_NEAR(momentum_of(*opt, g), moms[t][g].get<double>(), 1e-12) << "momentum after " << t << " steps";
        }
      }
      if (!scheds.empty()) {
        auto last = scheds.back()->get_last_lr();
        ASSERT_EQ(last.size(), 2u);
        EXPECT_EQ(last[0], opt->param_groups()[0].options().lr());
        EXPECT_EQ(scheds.back()->last_epoch(), static_cast<int64_t>(t));
      }
    }
    // The sequence is not constant (each case exercises its schedule).
    EXPECT_NE(lrs[0][0].get<double>(), lrs[lrs.size() - 1][0].get<double>());
  }
}

// ------------------------------------------------------------- clipping
TEST(ClipGradGolden, NormAndValueMatchPyTorch) {
  const json& fx = fixture("clip.json");
  int norm_cases = 0, value_cases = 0, clipped_cases = 0;
  for (const auto& c : fx["cases"]) {
    const dg::ScalarType dt = dtype_of(c);
    SCOPED_TRACE(c.dump().substr(0, 120));
    std::vector<dg::Tensor> params;
    for (size_t i = 0; i < c["shapes"].size(); ++i) {
      auto shape = c["shapes"][i].get<std::vector<int64_t>>();
      dg::Tensor p = dg::zeros(shape, dt).requires_grad_();
      if (!c["grads"][i].is_null()) p.set_grad(from_values(c["grads"][i].get<std::vector<double>>(), shape, dt));
      params.push_back(p);
    }
    const double rel = dt == dg::kFloat64 ? 1e-12 : 1e-6;
    if (c["kind"] == "norm") {
      ++norm_cases;
      const double norm_type = c["norm_type"].is_string() ? INFINITY : c["norm_type"].get<double>();
      const double total = dg::nn::utils::clip_grad_norm_(params, c["max_norm"].get<double>(), norm_type);
      EXPECT_NEAR(total, c["total"].get<double>(), rel * std::max(1.0, c["total"].get<double>()));
      if (total > c["max_norm"].get<double>()) ++clipped_cases;
    } else {
      ++value_cases;
      dg::nn::utils::clip_grad_value_(params, c["clip_value"].get<double>());
    }
    for (size_t i = 0; i < params.size(); ++i) {
      if (c["clipped"][i].is_null()) {
        EXPECT_FALSE(params[i].grad().defined());
        continue;
      }
      auto got = values(params[i].grad());
      auto want = c["clipped"][i].get<std::vector<double>>();
      for (size_t k = 0; k < got.size(); ++k) ASSERT_NEAR(got[k], want[k], rel * std::max(1.0, std::abs(want[k])));
    }
  }
  EXPECT_EQ(norm_cases, 20);
  EXPECT_EQ(value_cases, 4);
  EXPECT_GE(clipped_cases, 8);  // both the clipping and the pass-through branch are exercised
}

}  // namespace
