// Resuming: optimizer and scheduler state_dict / load_state_dict round trips are
// bit-exact, and bad state dicts are refused with clear errors, changing nothing.
#include <cstring>

#include "optim/optim_fixture.hpp"

using namespace optim_test;

namespace {

bool bit_equal(const dg::Tensor& a, const dg::Tensor& b) {
  return a.dtype() == b.dtype() && a.sizes() == b.sizes() &&
         std::memcmp(a.contiguous().raw_data(), b.contiguous().raw_data(), a.nbytes()) == 0;
}

// Copies of the parameters' values as new leaves (what a checkpoint load gives).
std::map<std::string, dg::Tensor> copy_params(const std::map<std::string, dg::Tensor>& p) {
  std::map<std::string, dg::Tensor> out;
  for (const auto& kv : p) out[kv.first] = kv.second.detach().clone().requires_grad_();
  return out;
}

// For every fixture case: 20 steps straight == 10 steps, save, load into a fresh
// optimizer over fresh parameters, 10 more steps — to the last bit.
TEST(OptimStateDict, SaveAfterTenLoadContinueIsBitExact) {
  const json& fx = fixture("optimizers.json");
  for (const auto& c : fx["cases"]) {
    SCOPED_TRACE("case " + c["name"].get<std::string>());
    const dg::ScalarType dt = dtype_of(c);
    auto straight = make_params(dt);
    auto opt_a = make_optimizer(c, straight);
    for (int t = 0; t < 20; ++t) {
      set_grads(straight, t);
      opt_a->step();
    }

    auto first = make_params(dt);
    auto opt_b = make_optimizer(c, first);
    for (int t = 0; t < 10; ++t) {
      set_grads(first, t);
      opt_b->step();
    }
    const O::StateDict saved = opt_b->state_dict();
    // Options of every group are in it, and state for the parameters that have any.
    EXPECT_TRUE(saved.count("param_groups.0.lr"));
    EXPECT_TRUE(saved.count("param_groups.0.params"));
    auto resumed = copy_params(first);
    auto opt_c = make_optimizer(c, resumed);
    opt_c->load_state_dict(saved);
    for (int t = 10; t < 20; ++t) {
      set_grads(resumed, t);
      opt_c->step();
    }
    for (const auto& n : names()) EXPECT_TRUE(bit_equal(resumed[n], straight[n])) << n;
    // A fresh optimizer that did not load the state ends elsewhere (the state matters).
    auto lost = copy_params(first);
    auto opt_d = make_optimizer(c, lost);
    for (int t = 10; t < 20; ++t) {
      set_grads(lost, t);
      opt_d->step();
    }
    if (c["optimizer"] != "SGD" || c["defaults"].contains("momentum")) {
      EXPECT_FALSE(bit_equal(lost["W"], straight["W"]));
    }
  }
}

TEST(OptimStateDict, FlatLayoutAndDtypes) {
  auto params = make_params(dg::kFloat32);
  std::vector<O::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<dg::Tensor>{params["W"]}, O::AdamOptions(0.1).amsgrad(true));
  groups.emplace_back(std::vector<dg::Tensor>{params["b"], params["c"]});
  O::Adam opt(groups, O::AdamOptions(0.01).betas(std::make_tuple(0.8, 0.9)));
  set_grads(params, 1);  // c has no gradient at odd steps: it gets no state
  opt.step();
  auto sd = opt.state_dict();
  // exp_avg after one step is (1 − β1)·g, rounded as the kernel rounds it.
  dg::Tensor g1 = params["W"].grad();
  for (int64_t i = 0; i < g1.numel(); ++i)
    EXPECT_EQ(sd.at("state.0.exp_avg").data_ptr<float>()[i], static_cast<float>(1 - 0.9) * g1.data_ptr<float>()[i]);
  EXPECT_EQ(sd.at("param_groups.0.lr").item<double>(), 0.1);
  EXPECT_EQ(sd.at("param_groups.0.lr").dtype(), dg::kFloat64);
  EXPECT_EQ(sd.at("param_groups.0.lr").dim(), 0);
  EXPECT_EQ(sd.at("param_groups.0.amsgrad").item<int64_t>(), 1);
  EXPECT_EQ(sd.at("param_groups.1.amsgrad").item<int64_t>(), 0);
  EXPECT_EQ(sd.at("param_groups.1.betas").sizes(), dg::IntArrayRef({2}));
  EXPECT_EQ(values(sd.at("param_groups.1.betas")), (std::vector<double>{0.8, 0.9}));
  EXPECT_EQ(values(sd.at("param_groups.1.params")), (std::vector<double>{1, 2}));
  EXPECT_EQ(sd.at("state.0.step").dtype(), dg::kInt64);
  EXPECT_EQ(sd.at("state.0.step").item<int64_t>(), 1);
  EXPECT_EQ(sd.at("state.0.exp_avg").dtype(), dg::kFloat32);
  EXPECT_EQ(sd.at("state.0.exp_avg").sizes(), params["W"].sizes());
  EXPECT_TRUE(sd.count("state.0.max_exp_avg_sq"));
  EXPECT_FALSE(sd.count("state.1.max_exp_avg_sq"));
  EXPECT_TRUE(sd.count("state.1.exp_avg"));
  EXPECT_FALSE(sd.count("state.2.exp_avg"));
  // A snapshot: stepping on does not change what was returned.
  dg::Tensor before = sd.at("state.0.exp_avg").clone();
  set_grads(params, 2);
  opt.step();
  EXPECT_TRUE(bit_equal(before, sd.at("state.0.exp_avg")));
  EXPECT_FALSE(bit_equal(before, opt.state_dict().at("state.0.exp_avg")));
}

TEST(OptimStateDict, LoadCastsStateToTheParameterDtype) {
  auto p64 = make_params(dg::kFloat64);
  O::SGD a({p64["W"]}, O::SGDOptions(0.1).momentum(0.9));
  set_grads(p64, 0);
  a.step();
  auto p32 = make_params(dg::kFloat32);
  O::SGD b({p32["W"]}, O::SGDOptions(0.1).momentum(0.9));
  b.load_state_dict(a.state_dict());
  auto& st = static_cast<O::SGDParamState&>(*b.state().at(O::Optimizer::param_key(p32["W"])));
  EXPECT_EQ(st.momentum_buffer().dtype(), dg::kFloat32);
  EXPECT_EQ(values(st.momentum_buffer()), values(a.state_dict().at("state.0.momentum_buffer").to(dg::kFloat32)));
}

// ----------------------------------------------------------- bad input
template <class F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const dg::Error& e) {
    return e.what();
  }
  return "(no error)";
}

struct AdamSetup {
  std::map<std::string, dg::Tensor> params = make_params(dg::kFloat64);
  std::unique_ptr<O::Adam> opt;
  AdamSetup() {
    opt = std::make_unique<O::Adam>(std::vector<dg::Tensor>{params["W"], params["b"]}, O::AdamOptions(0.1));
    set_grads(params, 0);
    opt->step();
  }
};

TEST(OptimStateDict, MismatchedStateIsRefusedAndNothingChanges) {
  AdamSetup src;
  const O::StateDict good = src.opt->state_dict();

  // Different number of parameters.
  {
    auto p = make_params(dg::kFloat64);
    O::Adam three({p["W"], p["b"], p["c"]}, O::AdamOptions(0.1));
    auto msg = error_of([&] { three.load_state_dict(good); });
    EXPECT_NE(msg.find("parameter group 0 has 3 parameters but the state dict's group has 2"), std::string::npos)
        << msg;
  }
  // Different number of groups.
  {
    auto p = make_params(dg::kFloat64);
    std::vector<O::OptimizerParamGroup> groups = {O::OptimizerParamGroup({p["W"]}), O::OptimizerParamGroup({p["b"]})};
    O::Adam two(groups, O::AdamOptions(0.1));
    auto msg = error_of([&] { two.load_state_dict(good); });
    EXPECT_NE(msg.find("has 1 parameter groups but the optimizer has 2"), std::string::npos) << msg;
  }
  AdamSetup dst;
  const O::StateDict before = dst.opt->state_dict();
  auto unchanged = [&] {
    auto now = dst.opt->state_dict();
    ASSERT_EQ(now.size(), before.size());
    for (const auto& kv : before) EXPECT_TRUE(bit_equal(kv.second, now.at(kv.first))) << kv.first;
  };
  // Shape mismatch.
  {
    O::StateDict bad = good;
    bad["state.1.exp_avg"] = dg::zeros({4}, dg::kFloat64);
    auto msg = error_of([&] { dst.opt->load_state_dict(bad); });
    EXPECT_NE(msg.find("'state.1.exp_avg' has shape [4] but parameter 1 has shape [3]"), std::string::npos) << msg;
    unchanged();
  }
  // Missing key.
  {
    O::StateDict bad = good;
    bad.erase("state.0.exp_avg_sq");
    auto msg = error_of([&] { dst.opt->load_state_dict(bad); });
    EXPECT_NE(msg.find("missing key 'state.0.exp_avg_sq'"), std::string::npos) << msg;
    unchanged();
  }
  // Unexpected key.
  {
    O::StateDict bad = good;
    bad["state.0.momentum_buffer"] = dg::zeros({2, 3}, dg::kFloat64);
    auto msg = error_of([&] { dst.opt->load_state_dict(bad); });
    EXPECT_NE(msg.find("unexpected key 'state.0.momentum_buffer'"), std::string::npos) << msg;
    unchanged();
  }
  // An SGD state dict into Adam: Adam's options are missing.
  {
    auto p = make_params(dg::kFloat64);
    O::SGD sgd({p["W"], p["b"]}, O::SGDOptions(0.1).momentum(0.9));
    auto msg = error_of([&] { dst.opt->load_state_dict(sgd.state_dict()); });
    EXPECT_NE(msg.find("missing key 'param_groups.0.betas'"), std::string::npos) << msg;
    unchanged();
  }
  // Invalid options inside the dict are checked as the constructor checks them.
  {
    O::StateDict bad = good;
    bad["param_groups.0.lr"] = dg::scalar_tensor(-0.5, dg::kFloat64);
    auto msg = error_of([&] { dst.opt->load_state_dict(bad); });
    EXPECT_NE(msg.find("Invalid learning rate: -0.5"), std::string::npos) << msg;
    unchanged();
  }
  // Integers stored as floats beyond int64 (a damaged checkpoint, fuzz finding): an
  // error, not an undefined float-to-integer cast.
  {
    O::StateDict bad = good;
    bad["state.0.step"] = dg::scalar_tensor(1e300, dg::kFloat64);
    auto msg = error_of([&] { dst.opt->load_state_dict(bad); });
    EXPECT_NE(msg.find("'state.0.step' should be an integer, got 1e+300"), std::string::npos) << msg;
    unchanged();
  }
  {
    O::StateDict bad = good;
    bad["param_groups.0.params"] = dg::tensor(std::vector<double>{0, 1e300});
    auto msg = error_of([&] { dst.opt->load_state_dict(bad); });
    EXPECT_NE(msg.find("'param_groups.0.params' should hold integer indices, got a float32 tensor"),
              std::string::npos) << msg;
    unchanged();
  }
  // A good one loads.
  dst.opt->load_state_dict(good);
  auto now = dst.opt->state_dict();
  for (const auto& kv : good) EXPECT_TRUE(bit_equal(kv.second, now.at(kv.first))) << kv.first;
}

// --------------------------------------------------------- schedulers
TEST(SchedulerStateDict, RoundTripContinuesTheSameSequence) {
  auto run = [](bool interrupt, auto&& make_sched) {
    std::vector<double> lrs, moms;
    auto p = dg::zeros({3}).requires_grad_();
    auto opt = std::make_unique<O::SGD>(std::vector<dg::Tensor>{p}, O::SGDOptions(0.1).momentum(0.9));
    auto sched = make_sched(*opt);
    for (int t = 0; t < 25; ++t) {
      if (interrupt && t == 12) {
        auto osd = opt->state_dict();
        auto ssd = sched->state_dict();
        auto q = dg::zeros({3}).requires_grad_();
        auto opt2 = std::make_unique<O::SGD>(std::vector<dg::Tensor>{q}, O::SGDOptions(0.1).momentum(0.9));
        auto sched2 = make_sched(*opt2);  // its constructor step changes the lr: the loads put it back
        opt2->load_state_dict(osd);
        sched2->load_state_dict(ssd);
        sched = std::move(sched2);
        opt = std::move(opt2);
      }
      sched->step();
      lrs.push_back(opt->param_groups()[0].options().lr());
      moms.push_back(static_cast<O::SGDOptions&>(opt->param_groups()[0].options()).momentum());
    }
    return std::make_pair(lrs, moms);
  };
  auto check = [&](const char* name, auto&& make_sched) {
    SCOPED_TRACE(name);
    auto a = run(false, make_sched), b = run(true, make_sched);
    EXPECT_EQ(a.first, b.first);
    EXPECT_EQ(a.second, b.second);
  };
  check("StepLR", [](O::Optimizer& o) { return std::make_unique<O::StepLR>(o, 5, 0.5); });
  check("MultiStepLR", [](O::Optimizer& o) { return std::make_unique<O::MultiStepLR>(o, std::vector<int64_t>{4, 14}); });
  check("Cosine", [](O::Optimizer& o) { return std::make_unique<O::CosineAnnealingLR>(o, 9, 0.01); });
  check("LinearLR", [](O::Optimizer& o) { return std::make_unique<O::LinearLR>(o, 0.1, 1.0, 20); });
  check("OneCycle", [](O::Optimizer& o) {
    return std::make_unique<O::OneCycleLR>(o, O::OneCycleLROptions(1.0, 25).three_phase(true));
  });

  // ReduceLROnPlateau keeps best, counters and cooldown.
  auto plateau = [](bool interrupt) {
    auto p = dg::zeros({3}).requires_grad_();
    auto opt = std::make_unique<O::SGD>(std::vector<dg::Tensor>{p}, O::SGDOptions(0.1));
    using P = O::ReduceLROnPlateau;
    auto s = std::make_unique<P>(*opt, P::min, 0.5, 1, 1e-4, P::rel, 2);
    std::vector<double> lrs;
    for (int t = 0; t < 20; ++t) {
      if (interrupt && t == 7) {
        auto osd = opt->state_dict();
        auto ssd = s->state_dict();
        auto q = dg::zeros({3}).requires_grad_();
        auto opt2 = std::make_unique<O::SGD>(std::vector<dg::Tensor>{q}, O::SGDOptions(0.1));
        auto s2 = std::make_unique<P>(*opt2);
        opt2->load_state_dict(osd);
        s2->load_state_dict(ssd);
        s = std::move(s2);
        opt = std::move(opt2);
      }
      s->step(1.0 / (1 + t % 5));
      lrs.push_back(opt->param_groups()[0].options().lr());
    }
    return lrs;
  };
  auto straight = plateau(false);
  EXPECT_EQ(straight, plateau(true));
  EXPECT_LT(straight.back(), 0.1);  // it did reduce
}

TEST(SchedulerStateDict, BadStateIsRefused) {
  auto p = dg::zeros({3}).requires_grad_();
  O::SGD opt({p}, O::SGDOptions(0.1));
  O::StepLR s(opt, 3, 0.5);
  auto sd = s.state_dict();
  EXPECT_EQ(sd.at("last_epoch").item<int64_t>(), 0);
  EXPECT_EQ(sd.at("gamma").item<double>(), 0.5);
  EXPECT_EQ(sd.at("step_size").item<int64_t>(), 3);

  auto bad = sd;
  bad.erase("gamma");
  EXPECT_NE(error_of([&] { s.load_state_dict(bad); }).find("missing key 'gamma'"), std::string::npos);
  bad = sd;
  bad["base_lrs"] = dg::tensor(std::vector<double>{0.1, 0.2}, dg::kFloat64);
  bad["last_lr"] = dg::tensor(std::vector<double>{0.1, 0.2}, dg::kFloat64);
  EXPECT_NE(error_of([&] { s.load_state_dict(bad); }).find("for 2 parameter groups but the optimizer has 1"),
            std::string::npos);
  // Nothing changed: the scheduler still steps as before.
  s.step();
  s.step();
  s.step();
  EXPECT_DOUBLE_EQ(opt.param_groups()[0].options().lr(), 0.05);
  EXPECT_EQ(s.last_epoch(), 3);

  O::ExponentialLR e(opt, 0.9);
  EXPECT_NE(error_of([&] { e.load_state_dict(s.state_dict()); }).find("unexpected key"), std::string::npos);
}

}  // namespace
