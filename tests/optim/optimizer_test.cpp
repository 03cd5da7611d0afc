// dg::optim behaviour beyond the fixtures: LibTorch's API shapes, zero_grad,
// in-place semantics, strided and large parameters, closures, bad arguments.
#include <cmath>
#include <limits>

#include "dimgrad/nn/utils.hpp"
#include "optim/optim_fixture.hpp"

using namespace optim_test;

namespace {

template <class F> std::string error_of(F&& f) {
  try {
    f();
  } catch (const dg::Error& e) {
    return e.what();
  }
  return "(no error)";
}
#define EXPECT_ERROR_HAS(stmt, text)                                   \
  do {                                                                 \
    std::string msg_ = error_of([&] { stmt; });                        \
    EXPECT_NE(msg_.find(text), std::string::npos) << "message: " << msg_; \
  } while (0)

TEST(Optimizer, LibTorchStyleUse) {
  // The LibTorch spelling, torch:: → dg::.
  auto w = dg::tensor({1.0, -2.0, 3.0}).requires_grad_();
  auto b = dg::tensor({0.5}).requires_grad_();
  std::vector<dg::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<dg::Tensor>{w}, std::make_unique<dg::optim::SGDOptions>(0.1));
  groups.emplace_back(std::vector<dg::Tensor>{b});  // takes the defaults
  dg::optim::SGD opt(groups, dg::optim::SGDOptions(0.01).momentum(0.9));
  EXPECT_EQ(opt.param_groups().size(), 2u);
  EXPECT_EQ(opt.size(), 2u);
  EXPECT_EQ(opt.param_groups()[0].options().lr(), 0.1);
  EXPECT_EQ(static_cast<dg::optim::SGDOptions&>(opt.param_groups()[0].options()).momentum(), 0.0);
  EXPECT_EQ(opt.param_groups()[1].options().get_lr(), 0.01);
  EXPECT_EQ(static_cast<dg::optim::SGDOptions&>(opt.param_groups()[1].options()).momentum(), 0.9);
  opt.param_groups()[1].options().set_lr(0.2);
  EXPECT_EQ(opt.param_groups()[1].options().lr(), 0.2);
  EXPECT_TRUE(opt.parameters()[0].is_same(w));

  // One step by hand: w ← w − 0.1·g (no momentum in group 0), b ← b − 0.2·g (first momentum step: buf = g).
  (w * w).sum().backward();  // g = 2w
  (b * 3.0).sum().backward();  // g = 3
  opt.step();
  EXPECT_EQ(values(w), (std::vector<double>{1.0f - 0.1f * 2.0f, -2.0f - 0.1f * -4.0f, 3.0f - 0.1f * 6.0f}));
  EXPECT_FLOAT_EQ(values(b)[0], 0.5f - 0.2f * 3.0f);
  auto& st = static_cast<dg::optim::SGDParamState&>(*opt.state().at(dg::optim::Optimizer::param_key(b)));
  EXPECT_EQ(values(st.momentum_buffer()), std::vector<double>{3.0});
  EXPECT_EQ(opt.state().count(dg::optim::Optimizer::param_key(w)), 0u);  // no momentum: no state

  // Adding a group later: without options it copies the defaults.
  auto c = dg::zeros({2}).requires_grad_();
  opt.add_param_group(dg::optim::OptimizerParamGroup({c}));
  EXPECT_EQ(opt.param_groups()[2].options().lr(), 0.01);
  auto d = dg::zeros({2}).requires_grad_();
  opt.add_parameters({d});
  EXPECT_EQ(opt.parameters().size(), 2u);
}

TEST(Optimizer, ZeroGradDropsByDefaultOrZeroesInPlace) {
  auto w = dg::tensor({1.0, 2.0}).requires_grad_();
  dg::optim::Adam opt({w});
  (w * w).sum().backward();
  ASSERT_TRUE(w.grad().defined());
  dg::Tensor held = w.grad();
  opt.zero_grad(/*set_to_none=*/false);  // LibTorch 1.13's behaviour: zeroed in place, the same tensor
  ASSERT_TRUE(w.grad().defined());
  EXPECT_EQ(w.grad().data_ptr<float>(), held.data_ptr<float>());
  EXPECT_EQ(values(w.grad()), (std::vector<double>{0, 0}));
  (w * w).sum().backward();
  EXPECT_EQ(values(w.grad()), (std::vector<double>{2, 4}));  // accumulates onto the zeros
  EXPECT_EQ(values(held), (std::vector<double>{2, 4}));
  opt.zero_grad();  // the default, as LibTorch/PyTorch 2.x: dropped
  EXPECT_FALSE(w.grad().defined());
  EXPECT_EQ(values(held), (std::vector<double>{2, 4}));  // a tensor the user kept is left alone
  (w * w).sum().backward();
  EXPECT_EQ(values(w.grad()), (std::vector<double>{2, 4}));  // a fresh gradient, not added to the old one
  opt.zero_grad();
  EXPECT_FALSE(w.grad().defined());
  // A step with no gradients changes nothing and makes no state.
  opt.step();
  EXPECT_EQ(values(w), (std::vector<double>{1, 2}));
  EXPECT_TRUE(opt.state().empty());
}

TEST(Optimizer, StepIsInPlaceAndBumpsTheVersion) {
  auto w = dg::tensor({1.0, 2.0}).requires_grad_();
  dg::Tensor alias = w.detach();  // shares storage
  dg::optim::SGD opt({w}, dg::optim::SGDOptions(0.5));
  auto y = (w * w).sum();  // saves w for backward
  w.set_grad(dg::tensor({1.0, 1.0}));
  opt.step();
  EXPECT_EQ(values(alias), (std::vector<double>{0.5f, 1.5f}));
  EXPECT_FALSE(w.grad_fn());  // still a leaf
  // The graph saved the old w: using it now must fail, not silently use new values.
  EXPECT_THROW(y.backward(), dg::AutogradError);
}

TEST(Optimizer, ClosureRunsWithGradModeAndReturnsLoss) {
  auto w = dg::tensor({3.0}, dg::kFloat64).requires_grad_();
  dg::optim::SGD opt({w}, dg::optim::SGDOptions(0.25));
  int calls = 0;
  dg::Tensor loss;
  {
    dg::NoGradGuard no_grad;  // the closure still records a graph
    loss = opt.step([&] {
      ++calls;
      opt.zero_grad();
      auto l = (w * w).sum();
      l.backward();
      return l;
    });
  }
  EXPECT_EQ(calls, 1);
  EXPECT_EQ(loss.item<double>(), 9.0);
  EXPECT_EQ(values(w)[0], 3.0 - 0.25 * 6.0);
  EXPECT_FALSE(opt.step().defined());  // no closure: undefined loss
}

TEST(Optimizer, NonContiguousParameterIsUpdatedThroughItsStorage) {
  for (auto dt : {dg::kFloat32, dg::kFloat64}) {
    auto base = dg::arange(6, dt).reshape({2, 3});
    dg::Tensor p = base.t();  // [3, 2] view, a leaf (base does not require grad)
    ASSERT_FALSE(p.is_contiguous());
    p.requires_grad_();
    auto q = p.contiguous().detach().requires_grad_();
    dg::optim::Adam a({p}, dg::optim::AdamOptions(0.1).amsgrad(true));
    dg::optim::Adam b({q}, dg::optim::AdamOptions(0.1).amsgrad(true));
    for (int t = 0; t < 3; ++t) {
      auto g = dg::arange(6, dt).reshape({3, 2}) - 2.5 * (t + 1);
      p.set_grad(g);
      q.set_grad(g);
      a.step();
      b.step();
    }
    EXPECT_EQ(values(p), values(q));
    EXPECT_EQ(values(base.t()), values(q));  // written back into the shared storage
    EXPECT_NE(values(q)[0], 0.0);
  }
}

// Large parameters take the multi-threaded, blocked path: compare with a plain
// per-element reference of PyTorch's formulas (and across thread counts).
TEST(Optimizer, LargeParameterMatchesScalarReference) {
  const int64_t n = 100003;  // several threads' worth, not a multiple of any block
  auto p = dg::randn({n}, dg::kFloat64).requires_grad_();
  auto g = dg::randn({n}, dg::kFloat64);
  std::vector<double> ref = values(p), gv = values(g), m(n, 0), v(n, 0), vmax(n, 0);
  dg::optim::Adam opt({p}, dg::optim::AdamOptions(0.01).weight_decay(0.1).amsgrad(true));
  for (int t = 1; t <= 3; ++t) {
    p.set_grad(g);
    opt.step();
    const double bc1 = 1 - std::pow(0.9, t), bc2 = 1 - std::pow(0.999, t);
    for (int64_t i = 0; i < n; ++i) {
      const double gi = gv[i] + 0.1 * ref[i];
      m[i] = m[i] * 0.9 + (1 - 0.9) * gi;
      v[i] = v[i] * 0.999 + (1 - 0.999) * gi * gi;
      vmax[i] = std::max(vmax[i], v[i]);
      ref[i] = ref[i] + -(0.01 / bc1) * m[i] / (std::sqrt(vmax[i]) / std::sqrt(bc2) + 1e-8);
    }
  }
  auto got = values(p);
  for (int64_t i = 0; i < n; ++i) ASSERT_EQ(got[i], ref[i]) << i;

  // RMSprop centered + momentum, one thread vs all threads: identical bits.
  auto run = [&](int threads) {
    const int before = dg::get_num_threads();
    dg::set_num_threads(threads);
    auto q = dg::linspace(-3, 3, n, dg::kFloat32).requires_grad_();
    dg::optim::RMSprop r({q}, dg::optim::RMSpropOptions(0.01).momentum(0.9).centered(true));
    for (int t = 0; t < 3; ++t) {
      q.set_grad(dg::linspace(1, -2, n, dg::kFloat32) * (t + 1.0));
      r.step();
    }
    dg::set_num_threads(before);
    return values(q);
  };
  EXPECT_EQ(run(1), run(std::max(2, dg::get_num_threads())));
}

// SGD updates all parameters in one parallel pass: long ones split across the
// threads, short ones handed out whole. Every element must get PyTorch's update
// exactly once, whatever the mix of sizes, dtypes and threads.
TEST(Optimizer, SgdManyParametersInOnePassMatchScalarReference) {
  const std::vector<int64_t> sizes = {100003, 7, 40000, 1, 32768, 32767, 0, 65537, 300};
  for (int threads : {1, 2, 3}) {
    const int before = dg::get_num_threads();
    dg::set_num_threads(threads);
    std::vector<dg::Tensor> params, grads;
    std::vector<std::vector<double>> ref, buf;
    for (size_t k = 0; k < sizes.size(); ++k) {
      const auto dt = k % 3 == 2 ? dg::kFloat64 : dg::kFloat32;
      params.push_back(dg::randn({sizes[k]}, dt).requires_grad_());
      grads.push_back(dg::randn({sizes[k]}, dt));
      ref.push_back(values(params.back()));
      buf.emplace_back(static_cast<size_t>(sizes[k]), 0.0);
    }
    dg::optim::SGD opt(params, dg::optim::SGDOptions(0.1).momentum(0.9).weight_decay(0.01).nesterov(true));
    for (int t = 0; t < 3; ++t) {
      for (size_t k = 0; k < params.size(); ++k) params[k].set_grad(grads[k] * (t + 1.0));
      opt.step();
      for (size_t k = 0; k < params.size(); ++k) {
        const bool f32 = params[k].dtype() == dg::kFloat32;
        // The same operations in the parameter's precision.
        auto r = [f32](double x) { return f32 ? static_cast<double>(static_cast<float>(x)) : x; };
        const auto gv = values(grads[k] * (t + 1.0));
        for (size_t i = 0; i < ref[k].size(); ++i) {
          const double d = r(gv[i] + r(r(0.01) * ref[k][i]));
          buf[k][i] = t == 0 ? d : r(r(buf[k][i] * r(0.9)) + r(r(1.0) * d));
          const double step = r(d + r(r(0.9) * buf[k][i]));
          ref[k][i] = r(ref[k][i] + r(r(-0.1) * step));
        }
        ASSERT_EQ(values(params[k]), ref[k]) << "parameter " << k << " (" << sizes[k] << " elements), step " << t
                                             << ", " << threads << " threads";
      }
    }
    dg::set_num_threads(before);
  }
}

TEST(Optimizer, BadArgumentsSayWhatIsWrong) {
  auto w = dg::zeros({2}).requires_grad_();
  EXPECT_ERROR_HAS(dg::optim::SGD({w}, dg::optim::SGDOptions(-0.1)), "Invalid learning rate: -0.1");
  EXPECT_ERROR_HAS(dg::optim::Adam({w}, dg::optim::AdamOptions(-1)), "Invalid learning rate: -1");
  EXPECT_ERROR_HAS(dg::optim::AdamW({w}, dg::optim::AdamWOptions(-1)), "Invalid learning rate: -1");
  EXPECT_ERROR_HAS(dg::optim::RMSprop({w}, dg::optim::RMSpropOptions(-1)), "Invalid learning rate: -1");
  EXPECT_ERROR_HAS(dg::optim::Adagrad({w}, dg::optim::AdagradOptions(-1)), "Invalid learning rate: -1");
  EXPECT_ERROR_HAS(dg::optim::SGD({w}, dg::optim::SGDOptions(0.1).momentum(-0.5)), "Invalid momentum value: -0.5");
  EXPECT_ERROR_HAS(dg::optim::SGD({w}, dg::optim::SGDOptions(0.1).nesterov(true)),
                   "Nesterov momentum requires a momentum and zero dampening");
  EXPECT_ERROR_HAS(dg::optim::SGD({w}, dg::optim::SGDOptions(0.1).momentum(0.9).dampening(0.1).nesterov(true)),
                   "Nesterov momentum requires a momentum and zero dampening");
  EXPECT_ERROR_HAS(dg::optim::Adam({w}, dg::optim::AdamOptions(0.1).betas(std::make_tuple(1.0, 0.999))),
                   "Invalid beta parameter at index 0: 1");
  EXPECT_ERROR_HAS(dg::optim::AdamW({w}, dg::optim::AdamWOptions(0.1).betas(std::make_tuple(0.9, -0.1))),
                   "Invalid beta parameter at index 1: -0.1");
  EXPECT_ERROR_HAS(dg::optim::Adam({w}, dg::optim::AdamOptions(0.1).eps(-1e-8)), "Invalid epsilon value");
  EXPECT_ERROR_HAS(dg::optim::RMSprop({w}, dg::optim::RMSpropOptions(0.1).weight_decay(-1)),
                   "Invalid weight_decay value: -1");
  EXPECT_ERROR_HAS(dg::optim::Adagrad({w}, dg::optim::AdagradOptions(0.1).lr_decay(-1)), "Invalid lr_decay value");
  // A bad group is named.
  std::vector<dg::optim::OptimizerParamGroup> groups;
  groups.emplace_back(std::vector<dg::Tensor>{w}, dg::optim::SGDOptions(-2));
  EXPECT_ERROR_HAS(dg::optim::SGD(groups, dg::optim::SGDOptions(0.1)), "SGD param group 0: Invalid learning rate: -2");
  // Options of another optimizer.
  std::vector<dg::optim::OptimizerParamGroup> mixed;
  mixed.emplace_back(std::vector<dg::Tensor>{w}, dg::optim::AdamOptions(0.1));
  EXPECT_ERROR_HAS(dg::optim::SGD(mixed, dg::optim::SGDOptions(0.1)),
                   "the group's options are AdamOptions but this optimizer takes SGDOptions");
  // The same parameter twice, a non-leaf, an integer tensor, nothing at all.
  std::vector<dg::optim::OptimizerParamGroup> twice = {dg::optim::OptimizerParamGroup({w}),
                                                       dg::optim::OptimizerParamGroup({w})};
  EXPECT_ERROR_HAS(dg::optim::SGD(twice, dg::optim::SGDOptions(0.1)), "is already in param group 0");
  EXPECT_ERROR_HAS(dg::optim::SGD({w * 2.0}, dg::optim::SGDOptions(0.1)), "can't optimize a non-leaf tensor");
  EXPECT_ERROR_HAS(dg::optim::SGD({dg::zeros({2}, dg::kInt64)}, dg::optim::SGDOptions(0.1)), "has dtype int64");
  EXPECT_ERROR_HAS(dg::optim::SGD(std::vector<dg::Tensor>{}, dg::optim::SGDOptions(0.1)), "empty parameter list");
  // add_param_group checks too, once constructed.
  dg::optim::SGD ok({w}, dg::optim::SGDOptions(0.1));
  auto v = dg::zeros({2}).requires_grad_();
  EXPECT_ERROR_HAS(ok.add_param_group(dg::optim::OptimizerParamGroup({v}, dg::optim::SGDOptions(-3))),
                   "Invalid learning rate: -3");
  EXPECT_ERROR_HAS(ok.add_param_group(dg::optim::OptimizerParamGroup({w})), "already in param group 0");
  EXPECT_EQ(ok.param_groups().size(), 1u);
}

TEST(Scheduler, BadArgumentsSayWhatIsWrong) {
  auto w = dg::zeros({2}).requires_grad_();
  dg::optim::SGD sgd({w}, dg::optim::SGDOptions(0.1));
  EXPECT_ERROR_HAS(dg::optim::StepLR(sgd, 0), "step_size must be positive");
  EXPECT_ERROR_HAS(dg::optim::LinearLR(sgd, 0.0), "Starting multiplicative factor expected to be greater than 0");
  EXPECT_ERROR_HAS(dg::optim::LinearLR(sgd, 0.5, 1.5), "Ending multiplicative factor expected to be between 0 and 1");
  EXPECT_ERROR_HAS(dg::optim::CosineAnnealingLR(sgd, 0), "T_max must be positive");
  EXPECT_ERROR_HAS(dg::optim::ReduceLROnPlateau(sgd, dg::optim::ReduceLROnPlateau::min, 1.0), "Factor should be < 1.0");
  EXPECT_ERROR_HAS(dg::optim::ReduceLROnPlateau(sgd, dg::optim::ReduceLROnPlateau::min, 0.1, 10, 1e-4,
                                                dg::optim::ReduceLROnPlateau::rel, 0, std::vector<double>({0.1, 0.2})),
                   "expected 1 min_lrs");
  EXPECT_ERROR_HAS(dg::optim::OneCycleLR(sgd, dg::optim::OneCycleLROptions(1.0, 0)), "Expected positive integer total_steps");
  EXPECT_ERROR_HAS(dg::optim::OneCycleLR(sgd, dg::optim::OneCycleLROptions(1.0, 10).pct_start(1.5)),
                   "Expected float between 0 and 1 pct_start");
  dg::optim::Adagrad ada({w});
  EXPECT_ERROR_HAS(dg::optim::OneCycleLR(ada, 1.0, 10), "optimizer must support momentum");
  dg::optim::OneCycleLR no_momentum(ada, dg::optim::OneCycleLROptions(1.0, 10).cycle_momentum(false));
  EXPECT_NEAR(ada.param_groups()[0].options().lr(), 1.0 / 25, 1e-15);  // max_lr / div_factor

  dg::optim::OneCycleLR once(sgd, 1.0, 4);
  for (int i = 0; i < 4; ++i) once.step();
  EXPECT_ERROR_HAS(once.step(), "Tried to step 6 times. The specified number of total steps is 4");
  // OneCycleLR turned SGD's momentum on (PyTorch does too: it cycles it).
  EXPECT_GT(static_cast<dg::optim::SGDOptions&>(sgd.param_groups()[0].options()).momentum(), 0.0);
}

TEST(Scheduler, LibTorchStepLRSpellingAndPyTorchNumbers) {
  auto w = dg::zeros({2}).requires_grad_();
  dg::optim::SGD opt({w}, dg::optim::SGDOptions(0.1));
  dg::optim::StepLR sched(opt, /*step_size=*/2, /*gamma=*/0.5);
  std::vector<double> lrs;
  for (int k = 0; k < 5; ++k) {
    sched.step();
    lrs.push_back(opt.param_groups()[0].options().lr());
  }
  // PyTorch 1.13 (LibTorch 1.13 gives 0.1, 0.1, 0.05, 0.05, 0.025: one step late).
  EXPECT_EQ(lrs, (std::vector<double>{0.1, 0.05, 0.05, 0.025, 0.025}));
  EXPECT_EQ(sched.get_last_lr(), std::vector<double>{0.025});
}

TEST(ClipGrad, EdgeCases) {
  namespace U = dg::nn::utils;
  auto a = dg::zeros({3}, dg::kFloat64).requires_grad_();
  auto b = dg::zeros({2}, dg::kFloat64).requires_grad_();
  EXPECT_EQ(U::clip_grad_norm_({a, b}, 1.0), 0.0);  // no gradients at all
  a.set_grad(dg::tensor({3.0, 0.0, -4.0}, dg::kFloat64));
  // Single tensor overload; under max_norm nothing changes.
  EXPECT_DOUBLE_EQ(U::clip_grad_norm_(a, 10.0), 5.0);
  EXPECT_EQ(values(a.grad()), (std::vector<double>{3, 0, -4}));
  // inf norm: the largest magnitude.
  EXPECT_DOUBLE_EQ(U::clip_grad_norm_({a, b}, 1.0, std::numeric_limits<double>::infinity()), 4.0);
  EXPECT_NEAR(values(a.grad())[2], -4.0 * (1.0 / (4.0 + 1e-6)), 1e-15);
  // Non-finite norms: scaled anyway by default (NaN coefficient), or refused.
  b.set_grad(dg::tensor({NAN, 1.0}, dg::kFloat64));
  EXPECT_ERROR_HAS(U::clip_grad_norm_({a, b}, 1.0, 2.0, /*error_if_nonfinite=*/true), "is non-finite");
  EXPECT_TRUE(std::isnan(U::clip_grad_norm_({a, b}, 1.0)));
  EXPECT_TRUE(std::isnan(values(a.grad())[0]));
  EXPECT_ERROR_HAS(U::clip_grad_norm_({a}, 1.0, -1.0), "norm_type must be >= 0");
  // clip_grad_value_ keeps NaN, clamps the rest; a strided gradient is written through.
  auto c = dg::zeros({2, 2}, dg::kFloat64).requires_grad_();
  c.set_grad(dg::tensor({-5.0, 0.25, 7.0, NAN}, dg::kFloat64).reshape({2, 2}).t());
  U::clip_grad_value_(c, 1.0);
  auto cv = values(c.grad());  // row-major of the transposed gradient
  EXPECT_EQ(cv[0], -1.0);
  EXPECT_EQ(cv[1], 1.0);
  EXPECT_EQ(cv[2], 0.25);
  EXPECT_TRUE(std::isnan(cv[3]));
}

}  // namespace
