// LibTorch code compiles unchanged against dimgrad (torch:: → dg::): a program
// using the first half of nn's API the way LibTorch's documentation does —
// options builders, holders with ->, module members (bn->running_mean),
// functional forms with *FuncOptions, reduction tags, nn::init, loss modules.
// The same source compiled against LibTorch 1.13 (namespace T = torch; built by
// hand with g++ -DUSE_TORCH ... -ltorch -ltorch_cpu -lc10) printed kExpected.
#include <cmath>
#include <sstream>

#include "nn1_test_util.hpp"

namespace T = dg;

namespace {

namespace nn = T::nn;
namespace F = T::nn::functional;

struct NetImpl : nn::Module {
  NetImpl() {
    fc1 = register_module("fc1", nn::Linear(nn::LinearOptions(8, 16).bias(true)));
    bn = register_module("bn", nn::BatchNorm1d(nn::BatchNorm1dOptions(16).momentum(0.2).affine(true)));
    drop = register_module("drop", nn::Dropout(nn::DropoutOptions().p(0.3)));
    fc2 = register_module("fc2", nn::Linear(16, 4));
  }
  T::Tensor forward(T::Tensor x) {
    x = F::leaky_relu(bn->forward(fc1->forward(x)), F::LeakyReLUFuncOptions().negative_slope(0.1));
    return fc2->forward(drop->forward(x));
  }
  nn::Linear fc1{nullptr}, fc2{nullptr};
  nn::BatchNorm1d bn{nullptr};
  nn::Dropout drop{nullptr};
};
TORCH_MODULE(Net);

void libtorch_style_program(std::ostream& cout_) {
  T::manual_seed(0);
  Net net;
  auto x = T::randn({5, 8});
  auto y = T::randint(0, 4, {5});
  auto out = net->forward(x);
  auto loss = F::cross_entropy(out, y, F::CrossEntropyFuncOptions().ignore_index(-100).label_smoothing(0.1));
  loss.backward();
  cout_ << net->bn->running_mean.sizes() << net->fc1->weight.sizes() << "\n";
  auto l2 = F::kl_div(F::log_softmax(out, 1), F::softmax(out, F::SoftmaxFuncOptions(1)).detach(),
                      F::KLDivFuncOptions().reduction(T::kBatchMean));
  auto l3 = F::mse_loss(out, T::zeros_like(out), F::MSELossFuncOptions(T::kSum));
  auto l4 = F::binary_cross_entropy_with_logits(out, T::ones_like(out),
                                                F::BinaryCrossEntropyWithLogitsFuncOptions().pos_weight(T::ones({4})));
  auto l5 = F::nll_loss(F::log_softmax(out, 1), y, F::NLLLossFuncOptions().reduction(T::kNone));
  auto l6 = F::multi_margin_loss(out, y, F::MultiMarginLossFuncOptions().p(2).margin(0.5));
  auto l7 = F::smooth_l1_loss(out, T::zeros_like(out), F::SmoothL1LossFuncOptions().beta(0.5));
  auto l8 = F::l1_loss(out, T::zeros_like(out));
  auto l9 = F::binary_cross_entropy(T::sigmoid(out), T::ones_like(out), F::BinaryCrossEntropyFuncOptions().weight(T::ones({4})));
  auto l10 = F::huber_loss(out, T::zeros_like(out), F::HuberLossFuncOptions().delta(0.5));
  cout_ << l2.dim() << l3.dim() << l4.dim() << l5.dim() << l6.dim() << l7.dim() << l8.dim() << l9.dim() << l10.dim() << "\n";
  auto z = T::randn({2, 6, 3, 3});
  nn::BatchNorm2d bn2(nn::BatchNorm2dOptions(6).eps(1e-3).track_running_stats(true));
  nn::LayerNorm ln(nn::LayerNormOptions({3, 3}).elementwise_affine(true));
  nn::GroupNorm gn(nn::GroupNormOptions(2, 6).eps(1e-5));
  auto zz = gn(ln(bn2(z)));
  zz = F::batch_norm(zz, bn2->running_mean, bn2->running_var, F::BatchNormFuncOptions().weight(bn2->weight).bias(bn2->bias).training(true).momentum(0.1));
  zz = F::layer_norm(zz, F::LayerNormFuncOptions({3, 3}).eps(1e-5));
  zz = F::group_norm(zz, F::GroupNormFuncOptions(3));
  zz = F::dropout(zz, F::DropoutFuncOptions().p(0.5).training(false));
  zz = F::gelu(zz, F::GELUFuncOptions().approximate("tanh"));
  zz = F::elu(zz, F::ELUFuncOptions().alpha(1.0));
  zz = F::softplus(zz, F::SoftplusFuncOptions().beta(1.0).threshold(20.0));
  zz = F::silu(zz);
  zz = F::relu(zz);
  zz = F::linear(zz, T::randn({5, 3}), T::randn({5}));
  cout_ << zz.sizes() << "\n";
  nn::Sequential seq(nn::Flatten(), nn::Linear(54, 10), nn::ReLU(), nn::Dropout(0.2), nn::Linear(10, 3), nn::Softmax(1));
  nn::Sequential seq2(nn::Linear(3, 3), nn::Tanh(), nn::Sigmoid(), nn::GELU(), nn::ELU(nn::ELUOptions().alpha(0.5)),
                      nn::LeakyReLU(nn::LeakyReLUOptions().negative_slope(0.2)), nn::Softplus(), nn::SiLU(),
                      nn::LogSoftmax(1));
  cout_ << seq2->forward(seq->forward(z)).sizes() << "\n";
  nn::Embedding emb(nn::EmbeddingOptions(10, 3).padding_idx(0));
  cout_ << emb(T::tensor(std::vector<int64_t>{1, 2})).sizes() << F::embedding(T::tensor(std::vector<int64_t>{1}), emb->weight).sizes() << "\n";
  auto w = T::empty({4, 5});
  nn::init::kaiming_normal_(w, 0.0, T::kFanOut, T::kReLU);
  nn::init::kaiming_uniform_(w, std::sqrt(5.0));
  nn::init::xavier_uniform_(w);
  nn::init::xavier_normal_(w, 1.0);
  nn::init::normal_(w, 0.0, 0.02);
  nn::init::uniform_(w, -0.1, 0.1);
  nn::init::zeros_(w);
  nn::init::ones_(w);
  nn::init::constant_(w, 0.5);
  cout_ << nn::init::calculate_gain(T::kLeakyReLU, 0.2) << " " << nn::init::calculate_gain(T::kTanh) << "\n";
  nn::CrossEntropyLoss ce(nn::CrossEntropyLossOptions().weight(T::ones({4})).reduction(T::kSum));
  nn::MSELoss mse(nn::MSELossOptions().reduction(T::kMean));
  nn::BCEWithLogitsLoss bce;
  nn::NLLLoss nll;
  nn::KLDivLoss kld(nn::KLDivLossOptions().reduction(T::kBatchMean).log_target(false));
  nn::L1Loss l1;
  nn::SmoothL1Loss sl1(nn::SmoothL1LossOptions().beta(1.0));
  nn::MultiMarginLoss mm;
  nn::BCELoss bcel;
  cout_ << ce(out, y).dim() << mse->forward(out, out).dim() << bce(out, T::ones_like(out)).dim() << nll(out, y).dim()
            << kld(out, out).dim() << l1(out, out).dim() << sl1(out, out).dim() << mm(out, y).dim()
            << bcel(T::sigmoid(out), T::ones_like(out)).dim() << "\n";
  nn::ReLU relu(nn::ReLUOptions().inplace(false));
  nn::Identity id;
  nn::Unflatten unf(nn::UnflattenOptions(1, {2, 3}));
  cout_ << unf(id(relu(T::randn({2, 6})))).sizes() << "\n";
  bn2->eval();
  bn2->reset_running_stats();
  cout_ << bn2->num_batches_tracked.item<int64_t>() << "\n";
}

// What LibTorch 1.13 printed for the same program.
const char* kExpected =
    "[16][16, 8]\n"
    "000100000\n"
    "[2, 6, 3, 5]\n"
    "[2, 3]\n"
    "[2, 3][1, 3]\n"
    "1.38675 1.66667\n"
    "000000000\n"
    "[2, 2, 3]\n"
    "0\n";

TEST(LibTorchApi, NnProgramCompilesAndPrintsWhatLibTorchPrinted) {
  std::ostringstream out;
  libtorch_style_program(out);
  EXPECT_EQ(out.str(), kExpected);
}

}  // namespace
