// Adam (L2 weight decay folded into the gradient, optional AMSGrad) and AdamW
// (decoupled weight decay), as PyTorch 1.13's _single_tensor_adam / _adamw,
// fused into one pass over the parameter, its gradient and both moments.
#include <cmath>

#include "dimgrad/autograd.hpp"
#include "dimgrad/optim/optimizers.hpp"
#include "optim/optim_util.hpp"

namespace dg::optim {

using K = StateField::Kind;

AdamOptions::AdamOptions(double lr) : lr_(lr) {}
AdamWOptions::AdamWOptions(double lr) : lr_(lr) {}

StateFields AdamOptions::fields() {
  return {{"lr", K::Double, &lr_},
          {"betas", K::Betas, &betas_},
          {"eps", K::Double, &eps_},
          {"weight_decay", K::Double, &weight_decay_},
          {"amsgrad", K::Bool, &amsgrad_}};
}
StateFields AdamWOptions::fields() {
  return {{"lr", K::Double, &lr_},
          {"betas", K::Betas, &betas_},
          {"eps", K::Double, &eps_},
          {"weight_decay", K::Double, &weight_decay_},
          {"amsgrad", K::Bool, &amsgrad_}};
}

bool operator==(const AdamOptions& a, const AdamOptions& b) {
  return a.lr() == b.lr() && a.betas() == b.betas() && a.eps() == b.eps() && a.weight_decay() == b.weight_decay() &&
         a.amsgrad() == b.amsgrad();
}
bool operator==(const AdamWOptions& a, const AdamWOptions& b) {
  return a.lr() == b.lr() && a.betas() == b.betas() && a.eps() == b.eps() && a.weight_decay() == b.weight_decay() &&
         a.amsgrad() == b.amsgrad();
}

StateFields AdamParamState::fields() {
  return {{"step", K::Int, &step_},
          {"exp_avg", K::Tensor, &exp_avg_},
          {"exp_avg_sq", K::Tensor, &exp_avg_sq_},
          {"max_exp_avg_sq", K::Tensor, &max_exp_avg_sq_, false}};
}
StateFields AdamWParamState::fields() {
  return {{"step", K::Int, &step_},
          {"exp_avg", K::Tensor, &exp_avg_},
          {"exp_avg_sq", K::Tensor, &exp_avg_sq_},
          {"max_exp_avg_sq", K::Tensor, &max_exp_avg_sq_, false}};
}

namespace {

// The same checks for both option types (they have the same members).
template <class O> void check_adam_options(const O& o, const std::string& where) {
  if (!(o.lr() >= 0)) throw Error(where + ": Invalid learning rate: " + detail::num(o.lr()) + " (expected lr >= 0)");
  if (!(o.eps() >= 0)) throw Error(where + ": Invalid epsilon value: " + detail::num(o.eps()) + " (expected eps >= 0)");
  const double b1 = std::get<0>(o.betas()), b2 = std::get<1>(o.betas());
  if (!(b1 >= 0 && b1 < 1))
    throw Error(where + ": Invalid beta parameter at index 0: " + detail::num(b1) + " (expected 0 <= beta1 < 1)");
  if (!(b2 >= 0 && b2 < 1))
    throw Error(where + ": Invalid beta parameter at index 1: " + detail::num(b2) + " (expected 0 <= beta2 < 1)");
  if (!(o.weight_decay() >= 0))
    throw Error(where + ": Invalid weight_decay value: " + detail::num(o.weight_decay()) +
                " (expected weight_decay >= 0)");
}

// One Adam/AdamW update of n elements at step t (already incremented). Each
// line is the PyTorch op it fuses (constants rounded to the dtype, as there):
//   p = p·(1 − lr·wd)                    AdamW: param.mul_(1 - lr * weight_decay)
//   g = g + wd·p                         Adam:  grad.add(param, alpha=weight_decay)
//   m = m·β1 + (1−β1)·g                  exp_avg.mul_(beta1).add_(grad, alpha=1-beta1)
//   v = v·β2 + ((1−β2)·g)·g              exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1-beta2)
//   v̂ = max(v̂, v)                        amsgrad: torch.maximum(max_exp_avg_sq, exp_avg_sq)
//   p = p + (−lr/(1−β1ᵗ))·m / (√v / √(1−β2ᵗ) + ε)   param.addcdiv_(exp_avg, denom, value=-step_size)
template <class T, class O>
void adam_update(T* P, const T* G, T* M, T* V, T* VMAX, int64_t n, const O& o, int64_t step, bool decoupled) {
  const double beta1 = std::get<0>(o.betas()), beta2 = std::get<1>(o.betas());
  const double bias_correction1 = 1 - std::pow(beta1, static_cast<double>(step));
  const double bias_correction2 = 1 - std::pow(beta2, static_cast<double>(step));
  const T neg_step_size = static_cast<T>(-(o.lr() / bias_correction1));
  const T bc2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
  const T b1 = static_cast<T>(beta1), b2 = static_cast<T>(beta2);
  const T omb1 = static_cast<T>(1 - beta1), omb2 = static_cast<T>(1 - beta2);
  const T eps = static_cast<T>(o.eps()), wd = static_cast<T>(o.weight_decay());
  const T shrink = static_cast<T>(1 - o.lr() * o.weight_decay());
  const bool l2 = !decoupled && o.weight_decay() != 0;
  detail::blocked_sqrt_pass<T>(
      n,
      [&](int64_t i0, int64_t m, T* r) {
        T* p = P + i0;
        const T* g_ = G + i0;
        T* m_ = M + i0;
        T* v_ = V + i0;
        if (decoupled)
          for (int64_t k = 0; k < m; ++k) p[k] = p[k] * shrink;
        for (int64_t k = 0; k < m; ++k) {
          const T g = l2 ? g_[k] + wd * p[k] : g_[k];
          m_[k] = m_[k] * b1 + omb1 * g;
          const T v = v_[k] * b2 + omb2 * g * g;
          v_[k] = v;
          r[k] = v;
        }
        if (VMAX) {
          T* vm = VMAX + i0;
          for (int64_t k = 0; k < m; ++k) {
            const T v = vm[k] > r[k] ? vm[k] : r[k];
            vm[k] = v;
            r[k] = v;
          }
        }
      },
      [&](int64_t i0, int64_t m, const T* r) {
        T* p = P + i0;
        const T* m_ = M + i0;
        for (int64_t k = 0; k < m; ++k) p[k] = p[k] + neg_step_size * m_[k] / (r[k] / bc2_sqrt + eps);
      });
}

template <class State, class O>
void adam_step(Optimizer::StateMap& state, OptimizerParamGroup& group, bool decoupled, const char* name) {
  const auto& o = static_cast<const O&>(group.options());
  for (auto& p : group.params()) {
    Tensor grad = p.grad();
    if (!grad.defined()) continue;
    detail::ParamBuffers pb(p, grad);
    auto& slot = state[Optimizer::param_key(p)];
    if (!slot) {
      auto st = std::make_unique<State>();
      st->exp_avg(detail::state_buffer(p));
      st->exp_avg_sq(detail::state_buffer(p));
      slot = std::move(st);
    }
    auto& st = static_cast<State&>(*slot);
    if (o.amsgrad() && !st.max_exp_avg_sq().defined()) st.max_exp_avg_sq(detail::state_buffer(p));
    st.step(st.step() + 1);
    dispatch_floating(p.dtype(), name, [&](auto tag) {
      using T = typename decltype(tag)::type;
      adam_update<T>(pb.p<T>(), pb.g<T>(), detail::buf<T>(st.exp_avg()), detail::buf<T>(st.exp_avg_sq()),
                     o.amsgrad() ? detail::buf<T>(st.max_exp_avg_sq()) : nullptr, pb.n, o, st.step(), decoupled);
    });
    pb.finish();
  }
}

}  // namespace

// ------------------------------------------------------------------ Adam
Adam::Adam(std::vector<OptimizerParamGroup> param_groups, AdamOptions defaults)
    : Optimizer(std::move(param_groups), std::make_unique<AdamOptions>(defaults)) {
  finish_construction();
}
Adam::Adam(std::vector<Tensor> params, AdamOptions defaults)
    : Adam(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, std::move(defaults)) {}

std::unique_ptr<OptimizerParamState> Adam::make_param_state() const { return std::make_unique<AdamParamState>(); }
void Adam::check_options(const OptimizerOptions& options, const std::string& where) const {
  check_adam_options(static_cast<const AdamOptions&>(options), where);
}

Tensor Adam::step(LossClosure closure) {
  Tensor loss = run_closure(closure);
  NoGradGuard no_grad;
  for (auto& group : param_groups_) adam_step<AdamParamState, AdamOptions>(state_, group, false, "Adam::step");
  return loss;
}

// ----------------------------------------------------------------- AdamW
AdamW::AdamW(std::vector<OptimizerParamGroup> param_groups, AdamWOptions defaults)
    : Optimizer(std::move(param_groups), std::make_unique<AdamWOptions>(defaults)) {
  finish_construction();
}
AdamW::AdamW(std::vector<Tensor> params, AdamWOptions defaults)
    : AdamW(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, std::move(defaults)) {}

std::unique_ptr<OptimizerParamState> AdamW::make_param_state() const { return std::make_unique<AdamWParamState>(); }
void AdamW::check_options(const OptimizerOptions& options, const std::string& where) const {
  check_adam_options(static_cast<const AdamWOptions&>(options), where);
}

Tensor AdamW::step(LossClosure closure) {
  Tensor loss = run_closure(closure);
  NoGradGuard no_grad;
  for (auto& group : param_groups_) adam_step<AdamWParamState, AdamWOptions>(state_, group, true, "AdamW::step");
  return loss;
}

}  // namespace dg::optim
