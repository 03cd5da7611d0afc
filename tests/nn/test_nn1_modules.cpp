// Linear, Flatten, activations, Dropout, Embedding, BatchNorm, LayerNorm,
// GroupNorm and loss modules: parameters and buffers (PyTorch's names), train
// vs eval behaviour, module-level float64 gradchecks (input and parameter
// gradients, train and eval where they differ), state-dict round trips, and a
// small model that learns.
#include <cmath>
#include <cstring>

#include "each_isa.hpp"
#include "nn1_test_util.hpp"

using namespace dg::nn;
namespace F = dg::nn::functional;
using dg::Tensor;
using dg::TensorList;
using nn1_test::close;
using nn1_test::det;

namespace {

std::string printed(const Module& m) {
  std::ostringstream s;
  m.pretty_print(s);
  return s.str();
}

std::vector<std::string> keys(const OrderedDict<std::string, Tensor>& d) { return d.keys(); }

// Same size and the same float32 bits.
void expect_same_bits(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_TRUE(a.defined() && b.defined()) << what;
  ASSERT_EQ(a.sizes(), b.sizes()) << what;
  ASSERT_EQ(std::memcmp(a.data_ptr<float>(), b.data_ptr<float>(), sizeof(float) * static_cast<size_t>(a.numel())), 0)
      << what << " differs";
}

// A Sequential of a layer then a ReLU (`fused`, one fused op) against `layer`
// then `relu` run one by one, on copies of x: the fused node's kind and module
// path, the output and the input gradient (for one upstream gradient), bit for
// bit. Returns the fused output and input gradient.
std::pair<Tensor, Tensor> expect_fused_pair_same(Sequential& fused, Module& layer, ReLU& relu, const Tensor& x,
                                                 dg::OpKind op, const std::string& path) {
  Tensor x1 = x.clone().requires_grad_(), x2 = x.clone().requires_grad_();
  Tensor y1 = fused->forward(x1), y2 = relu->forward(layer.forward(x2));
  EXPECT_EQ(y1.grad_fn()->op(), op);
  EXPECT_EQ(y1.grad_fn()->module_path, path);
  expect_same_bits(y1, y2, "y");
  Tensor dy = det(y1.sizes(), 42, -1, 1).to(dg::kFloat32);
  y1.backward(dy);
  y2.backward(dy);
  expect_same_bits(x1.grad(), x2.grad(), "dx");
  return {y1.detach(), x1.grad()};
}

// gradcheck of a module's forward with respect to its input and every parameter.
void module_gradcheck(Module& m, const Tensor& x) {
  m.to(dg::kFloat64);
  TensorList inputs{x.to(dg::kFloat64).detach().requires_grad_()};
  for (Tensor& p : m.parameters()) inputs.push_back(p);
  EXPECT_TRUE(dg::gradcheck([&](const TensorList& in) { return m.forward(in[0]); }, inputs));
}

// ------------------------------------------------------------------- Linear
TEST(LinearModule, ParametersAndForward) {
  Linear fc(LinearOptions(5, 3).bias(true));
  EXPECT_EQ(keys(fc->named_parameters()), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(fc->weight.sizes().vec(), (std::vector<int64_t>{3, 5}));
  EXPECT_EQ(fc->bias.sizes().vec(), (std::vector<int64_t>{3}));
  EXPECT_TRUE(fc->weight.requires_grad());
  EXPECT_EQ(printed(*fc), "Linear 5→3");
  Tensor x = dg::randn({2, 4, 5});
  EXPECT_TRUE(close(fc->forward(x), dg::matmul(x, fc->weight.t()) + fc->bias));
  Linear nb(LinearOptions(5, 3).bias(false));
  EXPECT_FALSE(nb->bias.defined());
  EXPECT_EQ(keys(nb->named_parameters()), (std::vector<std::string>{"weight"}));
}

TEST(LinearModule, GradcheckInputAndParameters) {
  Linear fc(3, 2);
  module_gradcheck(*fc, det({4, 3}, 1));
  Linear one(LinearOptions(4, 1).bias(false));
  module_gradcheck(*one, det({1, 4}, 2));
}

TEST(LinearModule, SameSeedSameWeights) {
  dg::manual_seed(123);
  Linear a(7, 4);
  dg::manual_seed(123);
  Linear b(7, 4);
  EXPECT_TRUE(a->weight.equal(b->weight));
  EXPECT_TRUE(a->bias.equal(b->bias));
}

// Sequential runs Linear → ReLU as one linear_relu op. Against the two layers
// run one by one: the same output, input and parameter gradients, bit for bit,
// on 1 and 2 threads and every ISA: W3's and W1's first layers (split by rows
// of the weight, the ReLU on each thread's block; W1's mask and bias sums on
// two threads), a small layer, a 3-d input, no bias; a bias that puts exact
// zeros (the kink) into the ReLU.
TEST(LinearModule, ThenReluInSequentialSameAsOneByOne) {
  struct Case {
    std::vector<int64_t> in;
    int64_t out;
    bool bias;
  };
  for (const Case& k : {Case{{64, 784}, 100, true}, Case{{128, 512}, 512, true}, Case{{5, 3}, 4, true},
                        Case{{2, 3, 6}, 5, false}}) {
    const int64_t D = k.in.back();
    dg_test::on_every_isa_and_thread_count({1, 2}, [&](int, const std::string& where) {
      SCOPED_TRACE(where + " " + dg::shape_str(k.in) + " → " + std::to_string(k.out));
      dg::manual_seed(5);
      Linear fused_fc(LinearOptions(D, k.out).bias(k.bias)), fc(LinearOptions(D, k.out).bias(k.bias));
      Sequential fused;
      fused->push_back("fc", fused_fc);
      fused->push_back("act", ReLU());
      ReLU relu;
      {
        dg::NoGradGuard g;
        fc->weight.copy_(fused_fc->weight);
        if (k.bias) {
          fused_fc->weight[0].zero_();  // output 0 is exactly b[0] = 0: the kink
          fc->weight[0].zero_();
          fused_fc->bias[0].zero_();
          fc->bias.copy_(fused_fc->bias);
        }
      }
      expect_fused_pair_same(fused, *fc, relu, det(k.in, 41, -1, 1).to(dg::kFloat32), dg::OpKind::LinearRelu, "fc");
      expect_same_bits(fused_fc->weight.grad(), fc->weight.grad(), "dW");
      if (k.bias) expect_same_bits(fused_fc->bias.grad(), fc->bias.grad(), "db");
    });
  }
}

TEST(FlattenModule, DefaultsAndOptions) {
  Tensor x = dg::randn({2, 3, 4, 5});
  EXPECT_EQ(Flatten()->forward(x).sizes().vec(), (std::vector<int64_t>{2, 60}));
  EXPECT_EQ(Flatten(FlattenOptions().start_dim(0).end_dim(1))->forward(x).sizes().vec(),
            (std::vector<int64_t>{6, 4, 5}));
  EXPECT_EQ(Unflatten(1, std::vector<int64_t>{3, 20})->forward(Flatten()->forward(x)).sizes().vec(),
            (std::vector<int64_t>{2, 3, 20}));
}

// -------------------------------------------------------------- activations
TEST(ActivationModules, MatchFunctionalForms) {
  Tensor x = det({3, 4}, 3, -3, 3);
  EXPECT_TRUE(close(ReLU()->forward(x), x.relu()));
  EXPECT_TRUE(close(LeakyReLU(LeakyReLUOptions().negative_slope(0.2))->forward(x),
                    F::leaky_relu(x, F::LeakyReLUFuncOptions().negative_slope(0.2))));
  EXPECT_TRUE(close(ELU(ELUOptions().alpha(0.5))->forward(x), F::elu(x, F::ELUFuncOptions().alpha(0.5))));
  EXPECT_TRUE(close(GELU()->forward(x), F::gelu(x)));
  EXPECT_TRUE(close(Softplus(SoftplusOptions().beta(2))->forward(x), F::softplus(x, F::SoftplusFuncOptions().beta(2))));
  EXPECT_TRUE(close(SiLU()->forward(x), F::silu(x)));
  EXPECT_EQ(printed(*SiLU()), "SiLU()");
  EXPECT_TRUE(close(Sigmoid()->forward(x), x.sigmoid()));
  EXPECT_TRUE(close(Tanh()->forward(x), x.tanh()));
  EXPECT_TRUE(close(Softmax(1)->forward(x), x.softmax(1)));
  EXPECT_TRUE(close(LogSoftmax(0)->forward(x), x.log_softmax(0)));
  EXPECT_EQ(printed(*LeakyReLU(LeakyReLUOptions().negative_slope(0.1))), "LeakyReLU(0.1)");
  // hand-computed values
  Tensor v = dg::tensor({-2.0, 0.5}, dg::kFloat64);
  EXPECT_TRUE(close(F::leaky_relu(v, F::LeakyReLUFuncOptions().negative_slope(0.1)),
                    dg::tensor({-0.2, 0.5}, dg::kFloat64)));
  EXPECT_TRUE(close(F::elu(v), dg::tensor({std::exp(-2.0) - 1, 0.5}, dg::kFloat64)));
  EXPECT_TRUE(close(F::softplus(v), dg::tensor({std::log1p(std::exp(-2.0)), std::log1p(std::exp(0.5))}, dg::kFloat64)));
  EXPECT_TRUE(close(F::gelu(v), dg::tensor({-2.0 * 0.5 * std::erfc(2.0 / std::sqrt(2.0)),
                                            0.5 * 0.5 * (1 + std::erf(0.5 / std::sqrt(2.0)))}, dg::kFloat64)));
  EXPECT_TRUE(close(F::silu(v), dg::tensor({-2.0 / (1 + std::exp(2.0)), 0.5 / (1 + std::exp(-0.5))}, dg::kFloat64)));
  // softplus is linear above the threshold (no overflow)
  EXPECT_EQ(F::softplus(dg::tensor({1000.0}, dg::kFloat64)).item<double>(), 1000.0);
}

// ------------------------------------------------------------------ Dropout
TEST(DropoutModule, TrainDropsAndScalesEvalIsIdentity) {
  Dropout drop(DropoutOptions().p(0.3));
  Tensor x = dg::ones({400, 500});
  dg::manual_seed(5);
  Tensor y = drop->forward(x);
  const double kept = (y != 0).to(dg::kFloat64).mean().item<double>();
  EXPECT_NEAR(kept, 0.7, 0.005);  // 200 000 draws: σ ≈ 0.001
  EXPECT_NEAR(y.max().item<double>(), 1.0 / 0.7, 1e-6);  // survivors scaled by 1/(1 − p)
  EXPECT_NEAR(y.mean().item<double>(), 1.0, 0.01);      // expectation preserved
  dg::manual_seed(5);
  EXPECT_TRUE(drop->forward(x).equal(y));  // same seed, same mask
  drop->eval();
  EXPECT_TRUE(drop->forward(x).equal(x));
  EXPECT_TRUE(F::dropout(x, F::DropoutFuncOptions().p(1.0)).equal(dg::zeros_like(x)));
  EXPECT_TRUE(F::dropout(x, F::DropoutFuncOptions().p(0.0)).equal(x));
}

TEST(DropoutModule, BackwardIsTheSameMask) {
  Tensor x = det({50, 40}, 4).requires_grad_();
  Tensor y = F::dropout(x, F::DropoutFuncOptions().p(0.5));
  y.sum().backward();
  // dX = mask: 2 where kept, 0 where dropped
  Tensor mask = (y.detach() / x.detach());
  EXPECT_TRUE(close(x.grad(), mask));
  EXPECT_TRUE(close(x.grad() * (x.grad() - 2.0), dg::zeros_like(mask)));
}

TEST(DropoutModule, GradcheckWithAFixedMask) {
  // Re-seeding inside the function draws the same mask at every evaluation, so
  // finite differences see one fixed function: x ↦ x ⊙ mask.
  Dropout drop(0.4);
  Tensor x = det({6, 5}, 40).requires_grad_();
  EXPECT_TRUE(dg::gradcheck([&](const TensorList& in) {
    dg::manual_seed(11);
    return drop->forward(in[0]);
  }, {x}));
  Flatten flat;
  EXPECT_TRUE(dg::gradcheck([&](const TensorList& in) { return flat->forward(in[0].transpose(1, 2)); },
                            {det({2, 3, 4}, 41).requires_grad_()}));
}

TEST(DropoutModule, Dropout2dDropsWholeChannels) {
  Tensor x = dg::ones({8, 16, 3, 3});
  Tensor y = Dropout2d(0.5)->forward(x);
  Tensor per_channel = y.reshape({8, 16, 9});
  // every channel map is all zeros or all 2
  Tensor hi = std::get<0>(per_channel.max(2)), lo = std::get<0>(per_channel.min(2));
  EXPECT_TRUE(close(hi, lo));
  const double dropped = (hi == 0).to(dg::kFloat64).mean().item<double>();
  EXPECT_GT(dropped, 0.25);
  EXPECT_LT(dropped, 0.75);
}

// ---------------------------------------------------------------- Embedding
TEST(EmbeddingModule, LookupPaddingAndPretrained) {
  Embedding emb(EmbeddingOptions(6, 3).padding_idx(-1));
  EXPECT_EQ(*emb->options.padding_idx(), 5);
  EXPECT_EQ(emb->weight[5].abs().sum().item<double>(), 0.0);
  Tensor idx = nn1_test::longs({0, 5, 2, 0}).reshape({2, 2});
  Tensor y = emb->forward(idx);
  EXPECT_EQ(y.sizes().vec(), (std::vector<int64_t>{2, 2, 3}));
  EXPECT_TRUE(close(y[1][0], emb->weight[2].detach()));
  y.sum().backward();
  EXPECT_TRUE(close(emb->weight.grad()[0], dg::full({3}, 2.0)));  // used twice
  EXPECT_TRUE(close(emb->weight.grad()[5], dg::zeros({3})));      // padding: no gradient
  Embedding pre = Embedding::from_pretrained(dg::eye(4, 2));
  EXPECT_FALSE(pre->weight.requires_grad());
  EXPECT_TRUE(close(pre->forward(nn1_test::longs({1})), dg::tensor({0.0, 1.0}).reshape({1, 2})));
  EXPECT_TRUE(Embedding::from_pretrained(dg::eye(4, 2), EmbeddingFromPretrainedOptions().freeze(false))->weight.requires_grad());
}

TEST(EmbeddingModule, MaxNormRenormalizesLookedUpRows) {
  Embedding emb(EmbeddingOptions(3, 2).max_norm(1.0));
  {
    dg::NoGradGuard g;
    emb->weight.copy_(dg::tensor({3.0, 4.0, 0.3, 0.4, 6.0, 8.0}).reshape({3, 2}));
  }
  Tensor y = emb->forward(nn1_test::longs({0, 1}));
  EXPECT_NEAR(y[0].norm().item<double>(), 1.0, 1e-6);
  EXPECT_NEAR(y[1].norm().item<double>(), 0.5, 1e-6);
  EXPECT_NEAR(emb->weight[2].norm().item<double>(), 10.0, 1e-5);  // not looked up: unchanged
}

// ---------------------------------------------------------------- BatchNorm
TEST(BatchNormModule, NamesTrainEvalAndRunningStats) {
  BatchNorm2d bn(BatchNormOptions(3).momentum(0.5));
  EXPECT_EQ(keys(bn->named_parameters()), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(keys(bn->named_buffers()), (std::vector<std::string>{"running_mean", "running_var", "num_batches_tracked"}));
  EXPECT_EQ(printed(*bn), "BatchNorm2d 3");
  Tensor x = det({4, 3, 2, 2}, 5, 1, 3).to(dg::kFloat32);
  Tensor y = bn->forward(x);
  // training: each channel of the output has mean 0 and (biased) variance ≈ 1
  EXPECT_TRUE(close(y.mean({0, 2, 3}), dg::zeros({3}), 1e-5, 0));
  EXPECT_TRUE(close(y.var({0, 2, 3}, false), dg::ones({3}), 1e-3, 0));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);
  // running = 0.5·initial + 0.5·batch statistic (variance unbiased)
  EXPECT_TRUE(close(bn->running_mean, x.mean({0, 2, 3}) * 0.5));
  EXPECT_TRUE(close(bn->running_var, x.var({0, 2, 3}, true) * 0.5 + 0.5));
  bn->eval();
  Tensor ye = bn->forward(x);
  Tensor expect = (x - bn->running_mean.reshape({1, 3, 1, 1})) / (bn->running_var.reshape({1, 3, 1, 1}) + 1e-5).sqrt();
  EXPECT_TRUE(close(ye, expect));
  EXPECT_EQ(bn->num_batches_tracked.item<int64_t>(), 1);  // eval does not count
}

TEST(BatchNormModule, GradcheckTrainAndEval) {
  BatchNorm1d bn(3);
  {
    dg::NoGradGuard g;
    bn->weight.copy_(dg::tensor({0.5, -1.5, 2.0}));
    bn->bias.copy_(dg::tensor({0.1, 0.2, -0.3}));
  }
  module_gradcheck(*bn, det({5, 3}, 6));
  bn->eval();
  module_gradcheck(*bn, det({5, 3}, 7));
  BatchNorm2d bn2(2);
  module_gradcheck(*bn2, det({1, 2, 3, 2}, 8));  // batch 1, spatial statistics
}

TEST(BatchNormModule, NoAffineNoRunningStats) {
  BatchNorm1d bn(BatchNormOptions(4).affine(false).track_running_stats(false));
  EXPECT_TRUE(bn->parameters().empty());
  EXPECT_TRUE(bn->buffers().empty());
  bn->eval();  // without running statistics, eval normalises with the batch's
  Tensor x = det({6, 4}, 9);
  EXPECT_TRUE(close(bn->forward(x), (x - x.mean({0}, true)) / (x.var({0}, false, true) + 1e-5).sqrt()));
}

// Sequential runs BatchNorm → ReLU as one batch_norm_relu op. Against the two
// layers run one by one: the same output, input and parameter gradients and
// running statistics, bit for bit, for [N, C] (the column kernels) and
// [N, C, H, W], on 1 and 2 threads and every ISA; training and eval; a constant channel
// with β = 0 puts exact zeros (the kink) into the ReLU. And the same bits on
// every ISA and thread count.
TEST(BatchNormModule, ThenReluInSequentialSameAsOneByOne) {
  struct Case {
    std::vector<int64_t> shape;
    bool train;
  };
  // [128, 272]: past the parallel threshold, 17 column groups (uneven halves, a
  // 16-column tail after the 32-column register blocks); [8, 16, 16, 20] likewise.
  for (const Case& k : {Case{{128, 272}, true}, Case{{128, 272}, false}, Case{{5, 3}, true},
                        Case{{4, 3, 5, 6}, true}, Case{{4, 3, 5, 6}, false}, Case{{8, 16, 16, 20}, true}}) {
    const int64_t C = k.shape[1];
    Tensor first_y, first_dx;  // the first run's (portable loops, one thread): every run gives these bits
    dg_test::on_every_isa_and_thread_count({1, 2}, [&](int, const std::string& where) {
      SCOPED_TRACE(where + (k.train ? ", train " : ", eval ") + dg::shape_str(k.shape));
      std::shared_ptr<BatchNormImplBase> fused_bn, bn;
      if (k.shape.size() == 2) fused_bn = BatchNorm1d(C).ptr(), bn = BatchNorm1d(C).ptr();
      else fused_bn = BatchNorm2d(C).ptr(), bn = BatchNorm2d(C).ptr();
      Sequential fused;
      fused->push_back("bn", fused_bn);
      fused->push_back("act", ReLU());
      ReLU relu;
      Tensor gamma = det({C}, 31, 0.5, 2), beta = det({C}, 32, -1, 1).to(dg::kFloat32);
      {
        dg::NoGradGuard g;
        beta.data_ptr<float>()[1] = 0;  // channel 1 is constant: x̂ = 0, y = β = 0 exactly
        for (auto* m : {fused_bn.get(), bn.get()}) {
          m->weight.copy_(gamma);
          m->bias.copy_(beta);
          m->running_mean.copy_(det({C}, 33));
          m->running_var.copy_(det({C}, 34, 0.5, 2));
        }
      }
      if (!k.train) fused->eval(), bn->eval(), relu->eval();
      Tensor x = det(k.shape, 35, -3, 3).to(dg::kFloat32);
      x.select(1, 1).fill_(0.25);
      auto [y1, dx1] = expect_fused_pair_same(fused, *bn, relu, x, dg::OpKind::BatchNormRelu, "bn");
      expect_same_bits(fused_bn->weight.grad(), bn->weight.grad(), "dgamma");
      expect_same_bits(fused_bn->bias.grad(), bn->bias.grad(), "dbeta");
      expect_same_bits(fused_bn->running_mean, bn->running_mean, "running_mean");
      expect_same_bits(fused_bn->running_var, bn->running_var, "running_var");
      if (!first_y.defined()) first_y = y1, first_dx = dx1;
      expect_same_bits(y1, first_y, "y against the first run");
      expect_same_bits(dx1, first_dx, "dx against the first run");
    });
  }
}

// Only the exact layer types fuse: a ReLU subclass with its own forward runs it.
TEST(BatchNormModule, ThenReluSubclassIsNotFused) {
  struct DoubledRelu : ReLUImpl {
    Tensor forward(const Tensor& x) override { return ReLUImpl::forward(x) * 2.0; }
  };
  BatchNorm1d bn(4);
  Sequential net(bn, std::make_shared<DoubledRelu>());
  Tensor x = det({6, 4}, 37).to(dg::kFloat32);
  Tensor y = net->forward(x);
  EXPECT_TRUE(close(y, dg::relu(bn->forward(x)) * 2.0));
}

// A shape error in the fused pair names the BatchNorm layer and shows the trail.
TEST(BatchNormModule, ThenReluErrorsNameTheLayer) {
  Sequential net(Linear(4, 5), BatchNorm1d(6), ReLU());
  try {
    net->forward(dg::randn({3, 4}));
    FAIL() << "no error";
  } catch (const dg::ShapeError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("1 (BatchNorm1d 6)"), std::string::npos) << msg;
    EXPECT_NE(msg.find("0 [3, 5]"), std::string::npos) << msg;
  }
}

// ------------------------------------------------------ LayerNorm, GroupNorm
TEST(NormModules, LayerNormAndGroupNorm) {
  LayerNorm ln(LayerNormOptions({4, 5}).eps(1e-3));
  EXPECT_EQ(ln->weight.sizes().vec(), (std::vector<int64_t>{4, 5}));
  module_gradcheck(*ln, det({2, 4, 5}, 10));
  LayerNorm plain(LayerNormOptions({3}).elementwise_affine(false));
  EXPECT_TRUE(plain->parameters().empty());
  GroupNorm gn(GroupNormOptions(2, 4));
  EXPECT_EQ(keys(gn->named_parameters()), (std::vector<std::string>{"weight", "bias"}));
  EXPECT_EQ(printed(*gn), "GroupNorm 2×2");
  module_gradcheck(*gn, det({2, 4, 3}, 11));
  // GroupNorm with one group per channel is instance norm: each (n, c) map normalised
  GroupNorm inorm(GroupNormOptions(4, 4).affine(false));
  Tensor x = det({2, 4, 6}, 12);
  EXPECT_TRUE(close(inorm->forward(x), (x - x.mean({2}, true)) / (x.var({2}, false, true) + 1e-5).sqrt()));
}

// ------------------------------------------------------------ loss modules
TEST(LossModules, MatchFunctionalFormsAndRegisterWeights) {
  Tensor x = det({4, 3}, 13), t = nn1_test::longs({0, 2, 1, 1});
  Tensor w = dg::tensor({1.0, 2.0, 0.5}, dg::kFloat64);
  CrossEntropyLoss ce(CrossEntropyLossOptions().weight(w).label_smoothing(0.1));
  EXPECT_TRUE(close(ce(x, t), F::cross_entropy(x, t, F::CrossEntropyFuncOptions().weight(w).label_smoothing(0.1))));
  EXPECT_EQ(keys(ce->named_buffers()), (std::vector<std::string>{"weight"}));
  EXPECT_TRUE(close(NLLLoss()(x, t), F::nll_loss(x, t)));
  EXPECT_TRUE(close(MultiMarginLoss()(x, t), F::multi_margin_loss(x, t)));
  Tensor y = det({4, 3}, 14);
  EXPECT_TRUE(close(MSELoss(dg::kSum)(x, y), (x - y).square().sum()));
  EXPECT_TRUE(close(L1Loss()(x, y), (x - y).abs().mean()));
  EXPECT_TRUE(close(SmoothL1Loss(SmoothL1LossOptions().beta(0.5))(x, y),
                    F::smooth_l1_loss(x, y, F::SmoothL1LossFuncOptions(), 0.5)));
  EXPECT_TRUE(close(HuberLoss()(x, y), F::huber_loss(x, y)));
  Tensor p = det({4, 3}, 15, 0.1, 0.9), q = det({4, 3}, 16, 0, 1);
  EXPECT_TRUE(close(BCELoss()(p, q), F::binary_cross_entropy(p, q)));
  EXPECT_TRUE(close(BCEWithLogitsLoss()(x, q), F::binary_cross_entropy_with_logits(x, q)));
  EXPECT_TRUE(close(KLDivLoss(KLDivLossOptions(dg::kBatchMean))(x.log_softmax(1), q.softmax(1)),
                    F::kl_div(x.log_softmax(1), q.softmax(1), F::KLDivFuncOptions().reduction(dg::kBatchMean))));
  EXPECT_EQ(printed(*MSELoss(dg::kSum)), "MSELoss(reduction=Sum)");
}

TEST(LossModules, HandComputedValues) {
  // cross entropy of uniform scores is log C; all-ignored mean is NaN as in PyTorch
  EXPECT_NEAR(F::cross_entropy(dg::zeros({3, 4}), nn1_test::longs({0, 1, 3})).item<double>(), std::log(4.0), 1e-6);
  EXPECT_TRUE(std::isnan(F::cross_entropy(dg::zeros({2, 4}), nn1_test::longs({-100, -100})).item<double>()));
  // SVM hinge: scores [3, 1, 2] for class 0 with margin 1: max(0, 1−3+1) + max(0, 1−3+2) = 0 + 0 → 0;
  // for class 1: max(0, 1−1+3) + max(0, 1−1+2) = 3 + 2 → 5, divided by C = 3
  Tensor s = dg::tensor({3.0, 1.0, 2.0}).reshape({1, 3});
  EXPECT_NEAR(F::multi_margin_loss(s, nn1_test::longs({0})).item<double>(), 0.0, 1e-7);
  EXPECT_NEAR(F::multi_margin_loss(s, nn1_test::longs({1})).item<double>(), 5.0 / 3.0, 1e-6);
  // BCE with logits at x = 0 is log 2 whatever the target, and its gradient σ(0) − t
  Tensor z = dg::zeros({2}, dg::kFloat64).requires_grad_();
  Tensor l = F::binary_cross_entropy_with_logits(z, dg::tensor({1.0, 0.0}, dg::kFloat64), F::BinaryCrossEntropyWithLogitsFuncOptions().reduction(dg::kSum));
  EXPECT_NEAR(l.item<double>(), 2 * std::log(2.0), 1e-12);
  l.backward();
  EXPECT_TRUE(close(z.grad(), dg::tensor({-0.5, 0.5}, dg::kFloat64)));
  // kl_div of a distribution with itself is 0
  Tensor pr = dg::tensor({0.2, 0.3, 0.5}, dg::kFloat64);
  EXPECT_NEAR(F::kl_div(pr.log(), pr, F::KLDivFuncOptions().reduction(dg::kSum)).item<double>(), 0.0, 1e-15);
}

// Composed losses: float64 gradcheck with respect to input and target.
TEST(LossModules, GradcheckComposedLosses) {
  auto check = [](std::function<Tensor(const TensorList&)> f, Tensor a, Tensor b) {
    EXPECT_TRUE(dg::gradcheck(f, {a.requires_grad_(), b.requires_grad_()}));
  };
  check([](const TensorList& x) { return F::mse_loss(x[0], x[1]); }, det({3, 4}, 20), det({3, 4}, 21));
  check([](const TensorList& x) { return F::l1_loss(x[0], x[1], F::L1LossFuncOptions(dg::kNone)); }, det({5}, 22), det({5}, 23));
  check([](const TensorList& x) { return F::smooth_l1_loss(x[0], x[1], F::SmoothL1LossFuncOptions().beta(0.7)); },
        det({3, 4}, 24), det({3, 4}, 25));
  check([](const TensorList& x) { return F::huber_loss(x[0], x[1], F::HuberLossFuncOptions().delta(0.4).reduction(dg::kSum)); },
        det({3, 4}, 26), det({3, 4}, 27));
  check([](const TensorList& x) { return F::kl_div(x[0], x[1], F::KLDivFuncOptions().reduction(dg::kBatchMean)); },
        det({3, 4}, 28), det({3, 4}, 29, 0.1, 1));
  check([](const TensorList& x) { return F::kl_div(x[0], x[1], F::KLDivFuncOptions().log_target(true)); },
        det({2, 3}, 30), det({2, 3}, 31));
}

// ------------------------------------------------------------ state dicts
TEST(StateDict, RoundTripRestoresOutputs) {
  auto make = [] {
    return Sequential(Linear(4, 8), BatchNorm1d(8), ReLU(), Dropout(0.2), Linear(8, 3), LayerNorm(LayerNormOptions({3})));
  };
  dg::manual_seed(1);
  Sequential a = make();
  for (int i = 0; i < 3; ++i) a->forward(dg::randn({16, 4}));  // move the running statistics
  dg::manual_seed(2);
  Sequential b = make();
  b->load_state_dict(a->state_dict());
  a->eval();
  b->eval();
  Tensor x = dg::randn({5, 4});
  EXPECT_TRUE(a->forward(x).equal(b->forward(x)));
  EXPECT_FALSE(b->is_training());
  EXPECT_FALSE(b->ptr(3)->is_training());  // eval() reaches every child
}

// ------------------------------------------------------------ it learns
TEST(Training, SmallMlpFitsTwoSpirals) {
  // Two interleaved classes that no linear model separates; a 2-layer MLP with
  // batch norm and plain SGD must drive the training loss well down.
  dg::manual_seed(0);
  const int64_t n = 200;
  Tensor x = dg::zeros({n, 2}), y = dg::zeros({n}, dg::kLong);
  for (int64_t i = 0; i < n; ++i) {
    const double r = 0.2 + 0.8 * static_cast<double>(i / 2) / (n / 2), a = 3.0 * r + (i % 2) * M_PI;
    x.data_ptr<float>()[2 * i] = static_cast<float>(r * std::cos(a));
    x.data_ptr<float>()[2 * i + 1] = static_cast<float>(r * std::sin(a));
    y.data_ptr<int64_t>()[i] = i % 2;
  }
  Sequential net(Linear(2, 64), BatchNorm1d(64), Tanh(), Linear(64, 64), GELU(), Linear(64, 2));
  CrossEntropyLoss loss_fn;
  double first = 0, last = 0;
  for (int step = 0; step < 300; ++step) {
    net->zero_grad();
    Tensor loss = loss_fn(net->forward(x), y);
    loss.backward();
    {
      dg::NoGradGuard g;
      for (Tensor& p : net->parameters()) p.sub_(p.grad() * 0.5);
    }
    if (step == 0) first = loss.item<double>();
    last = loss.item<double>();
  }
  EXPECT_NEAR(first, std::log(2.0), 0.2);
  EXPECT_LT(last, 0.15);
  net->eval();
  Tensor acc = (net->forward(x).argmax(1) == y).to(dg::kFloat64).mean();
  EXPECT_GT(acc.item<double>(), 0.95);
}

}  // namespace
