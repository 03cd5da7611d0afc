// Adagrad (lr decay, initial accumulator, L2 weight decay), as PyTorch 1.13's
// _single_tensor_adagrad, fused into one pass over memory.
#include "dimgrad/autograd.hpp"
#include "dimgrad/optim/optimizers.hpp"
#include "optim/optim_util.hpp"

namespace dg::optim {

using K = StateField::Kind;

// =============================================================== Adagrad
AdagradOptions::AdagradOptions(double lr) : lr_(lr) {}

StateFields AdagradOptions::fields() {
  return {{"lr", K::Double, &lr_},
          {"lr_decay", K::Double, &lr_decay_},
          {"weight_decay", K::Double, &weight_decay_},
          {"initial_accumulator_value", K::Double, &initial_accumulator_value_},
          {"eps", K::Double, &eps_}};
}

bool operator==(const AdagradOptions& a, const AdagradOptions& b) {
  return a.lr() == b.lr() && a.lr_decay() == b.lr_decay() && a.weight_decay() == b.weight_decay() &&
         a.initial_accumulator_value() == b.initial_accumulator_value() && a.eps() == b.eps();
}

StateFields AdagradParamState::fields() { return {{"sum", K::Tensor, &sum_}, {"step", K::Int, &step_}}; }

namespace {
std::unique_ptr<AdagradParamState> fresh_adagrad_state(const Tensor& p, const AdagradOptions& o) {
  auto st = std::make_unique<AdagradParamState>();
  st->sum(detail::state_buffer(p, o.initial_accumulator_value()));
  return st;
}
}  // namespace

Adagrad::Adagrad(std::vector<OptimizerParamGroup> param_groups, AdagradOptions defaults)
    : Optimizer(std::move(param_groups), std::make_unique<AdagradOptions>(defaults)) {
  finish_construction();
  // PyTorch 1.13 and LibTorch 1.13 fill every accumulator with the *defaults'*
  // initial_accumulator_value here, whatever a group's own option says; so do we.
  const auto& d = static_cast<const AdagradOptions&>(*defaults_);
  for (auto& group : param_groups_)
    for (auto& p : group.params()) state_[param_key(p)] = fresh_adagrad_state(p, d);
}
Adagrad::Adagrad(std::vector<Tensor> params, AdagradOptions defaults)
    : Adagrad(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, std::move(defaults)) {}

std::unique_ptr<OptimizerParamState> Adagrad::make_param_state() const {
  return std::make_unique<AdagradParamState>();
}

void Adagrad::check_options(const OptimizerOptions& options, const std::string& where) const {
  const auto& o = static_cast<const AdagradOptions&>(options);
  if (!(o.lr() >= 0)) throw Error(where + ": Invalid learning rate: " + detail::num(o.lr()) + " (expected lr >= 0)");
  if (!(o.lr_decay() >= 0))
    throw Error(where + ": Invalid lr_decay value: " + detail::num(o.lr_decay()) + " (expected lr_decay >= 0)");
  if (!(o.weight_decay() >= 0))
    throw Error(where + ": Invalid weight_decay value: " + detail::num(o.weight_decay()) +
                " (expected weight_decay >= 0)");
  if (!(o.initial_accumulator_value() >= 0))
    throw Error(where + ": Invalid initial_accumulator_value value: " + detail::num(o.initial_accumulator_value()) +
                " (expected >= 0)");
  if (!(o.eps() >= 0)) throw Error(where + ": Invalid epsilon value: " + detail::num(o.eps()) + " (expected eps >= 0)");
}

namespace {
// One Adagrad update of n elements at step t (PyTorch's ops, constants in the dtype):
//   g = g + wd·p                       grad.add(param, alpha=weight_decay)
//   Σ = Σ + (1·g)·g                    state_sum.addcmul_(grad, grad, value=1)
//   p = p + ((−clr)·g)/(√Σ + ε)        param.addcdiv_(grad, state_sum.sqrt().add_(eps), value=-clr)
// with clr = lr / (1 + (t − 1)·lr_decay).
template <class T>
void adagrad_update(T* P, const T* G, T* SUM, int64_t n, const AdagradOptions& o, int64_t step) {
  const double clr = o.lr() / (1 + static_cast<double>(step - 1) * o.lr_decay());
  const T neg_clr = static_cast<T>(-clr), eps = static_cast<T>(o.eps()), wd = static_cast<T>(o.weight_decay());
  const bool l2 = o.weight_decay() != 0;
  detail::blocked_sqrt_pass<T>(
      n,
      [&](int64_t i0, int64_t m, T* r) {
        const T* p = P + i0;
        const T* g_ = G + i0;
        T* s_ = SUM + i0;
        for (int64_t k = 0; k < m; ++k) {
          const T g = l2 ? g_[k] + wd * p[k] : g_[k];
          const T s = s_[k] + g * g;
          s_[k] = s;
          r[k] = s;
        }
      },
      [&](int64_t i0, int64_t m, const T* r) {
        T* p = P + i0;
        const T* g_ = G + i0;
        for (int64_t k = 0; k < m; ++k) {
          const T g = l2 ? g_[k] + wd * p[k] : g_[k];
          p[k] = p[k] + neg_clr * g / (r[k] + eps);
        }
      });
}
}  // namespace

Tensor Adagrad::step(LossClosure closure) {
  Tensor loss = run_closure(closure);
  NoGradGuard no_grad;
  for (auto& group : param_groups_) {
    const auto& o = options_as<AdagradOptions>(group);
    for (auto& p : group.params()) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      detail::ParamBuffers pb(p, grad);
      auto& slot = state_[param_key(p)];
      if (!slot) slot = fresh_adagrad_state(p, o);  // a parameter added after construction
      auto& st = static_cast<AdagradParamState&>(*slot);
      st.step(st.step() + 1);
      dispatch_floating(p.dtype(), "Adagrad::step", [&](auto tag) {
        using T = typename decltype(tag)::type;
        adagrad_update<T>(pb.p<T>(), pb.g<T>(), detail::buf<T>(st.sum()), pb.n, o, st.step());
      });
      pb.finish();
    }
  }
  return loss;
}

}  // namespace dg::optim
