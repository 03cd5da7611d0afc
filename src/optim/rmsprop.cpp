// RMSprop (optional momentum, centered variant, L2 weight decay), as PyTorch
// 1.13's _single_tensor_rmsprop, fused into one pass over memory.
#include "dimgrad/autograd.hpp"
#include "dimgrad/optim/optimizers.hpp"
#include "optim/optim_util.hpp"

namespace dg::optim {

using K = StateField::Kind;

// =============================================================== RMSprop
RMSpropOptions::RMSpropOptions(double lr) : lr_(lr) {}

StateFields RMSpropOptions::fields() {
  return {{"lr", K::Double, &lr_},           {"alpha", K::Double, &alpha_},       {"eps", K::Double, &eps_},
          {"weight_decay", K::Double, &weight_decay_}, {"momentum", K::Double, &momentum_},
          {"centered", K::Bool, &centered_}};
}

bool operator==(const RMSpropOptions& a, const RMSpropOptions& b) {
  return a.lr() == b.lr() && a.alpha() == b.alpha() && a.eps() == b.eps() && a.weight_decay() == b.weight_decay() &&
         a.momentum() == b.momentum() && a.centered() == b.centered();
}

StateFields RMSpropParamState::fields() {
  return {{"step", K::Int, &step_},
          {"square_avg", K::Tensor, &square_avg_},
          {"momentum_buffer", K::Tensor, &momentum_buffer_, false},
          {"grad_avg", K::Tensor, &grad_avg_, false}};
}

RMSprop::RMSprop(std::vector<OptimizerParamGroup> param_groups, RMSpropOptions defaults)
    : Optimizer(std::move(param_groups), std::make_unique<RMSpropOptions>(defaults)) {
  finish_construction();
}
RMSprop::RMSprop(std::vector<Tensor> params, RMSpropOptions defaults)
    : RMSprop(std::vector<OptimizerParamGroup>{OptimizerParamGroup(std::move(params))}, std::move(defaults)) {}

std::unique_ptr<OptimizerParamState> RMSprop::make_param_state() const {
  return std::make_unique<RMSpropParamState>();
}

void RMSprop::check_options(const OptimizerOptions& options, const std::string& where) const {
  const auto& o = static_cast<const RMSpropOptions&>(options);
  if (!(o.lr() >= 0)) throw Error(where + ": Invalid learning rate: " + detail::num(o.lr()) + " (expected lr >= 0)");
  if (!(o.eps() >= 0)) throw Error(where + ": Invalid epsilon value: " + detail::num(o.eps()) + " (expected eps >= 0)");
  if (!(o.momentum() >= 0))
    throw Error(where + ": Invalid momentum value: " + detail::num(o.momentum()) + " (expected momentum >= 0)");
  if (!(o.weight_decay() >= 0))
    throw Error(where + ": Invalid weight_decay value: " + detail::num(o.weight_decay()) +
                " (expected weight_decay >= 0)");
  if (!(o.alpha() >= 0))
    throw Error(where + ": Invalid alpha value: " + detail::num(o.alpha()) + " (expected alpha >= 0)");
}

namespace {

// One RMSprop update of n elements (PyTorch's ops, constants in the dtype):
//   g = g + wd·p                       grad.add(param, alpha=weight_decay)
//   s = s·α + ((1−α)·g)·g              square_avg.mul_(alpha).addcmul_(grad, grad, value=1-alpha)
//   a = a·α + (1−α)·g                  centered: grad_avg.mul_(alpha).add_(grad, alpha=1-alpha)
//   d = √(s + (−1·a)·a) + ε | √s + ε   square_avg.addcmul(grad_avg, grad_avg, value=-1).sqrt_(), add_(eps)
//   b = b·μ + g/d; p = p + (−lr)·b     momentum: buf.mul_(momentum).addcdiv_(grad, avg); param.add_(buf, alpha=-lr)
//   p = p + ((−lr)·g)/d                else: param.addcdiv_(grad, avg, value=-lr)
template <class T>
void rmsprop_update(T* P, const T* G, T* S, T* A, T* B, int64_t n, const RMSpropOptions& o) {
  const T alpha = static_cast<T>(o.alpha()), oma = static_cast<T>(1 - o.alpha());
  const T eps = static_cast<T>(o.eps()), wd = static_cast<T>(o.weight_decay());
  const T mu = static_cast<T>(o.momentum()), neg_lr = static_cast<T>(-o.lr());
  const bool l2 = o.weight_decay() != 0;
  detail::blocked_sqrt_pass<T>(
      n,
      [&](int64_t i0, int64_t m, T* r) {
        const T* p = P + i0;
        const T* g_ = G + i0;
        T* s_ = S + i0;
        for (int64_t k = 0; k < m; ++k) {
          const T g = l2 ? g_[k] + wd * p[k] : g_[k];
          const T s = s_[k] * alpha + oma * g * g;
          s_[k] = s;
          r[k] = s;
        }
        if (A) {
          T* a_ = A + i0;
          for (int64_t k = 0; k < m; ++k) {
            const T g = l2 ? g_[k] + wd * p[k] : g_[k];
            const T a = a_[k] * alpha + oma * g;
            a_[k] = a;
            r[k] = r[k] + T(-1) * a * a;
          }
        }
      },
      [&](int64_t i0, int64_t m, const T* r) {
        T* p = P + i0;
        const T* g_ = G + i0;
        if (B) {
          T* b_ = B + i0;
          for (int64_t k = 0; k < m; ++k) {
            const T g = l2 ? g_[k] + wd * p[k] : g_[k];
            const T b = b_[k] * mu + g / (r[k] + eps);
            b_[k] = b;
            p[k] = p[k] + neg_lr * b;
          }
        } else {
          for (int64_t k = 0; k < m; ++k) {
            const T g = l2 ? g_[k] + wd * p[k] : g_[k];
            p[k] = p[k] + neg_lr * g / (r[k] + eps);
          }
        }
      });
}

}  // namespace

Tensor RMSprop::step(LossClosure closure) {
  Tensor loss = run_closure(closure);
  NoGradGuard no_grad;
  for (auto& group : param_groups_) {
    const auto& o = options_as<RMSpropOptions>(group);
    for (auto& p : group.params()) {
      Tensor grad = p.grad();
      if (!grad.defined()) continue;
      detail::ParamBuffers pb(p, grad);
      auto& slot = state_[param_key(p)];
      if (!slot) {
        auto st = std::make_unique<RMSpropParamState>();
        st->square_avg(detail::state_buffer(p));
        slot = std::move(st);
      }
      auto& st = static_cast<RMSpropParamState&>(*slot);
      if (o.momentum() > 0 && !st.momentum_buffer().defined()) st.momentum_buffer(detail::state_buffer(p));
      if (o.centered() && !st.grad_avg().defined()) st.grad_avg(detail::state_buffer(p));
      st.step(st.step() + 1);
      dispatch_floating(p.dtype(), "RMSprop::step", [&](auto tag) {
        using T = typename decltype(tag)::type;
        rmsprop_update<T>(pb.p<T>(), pb.g<T>(), detail::buf<T>(st.square_avg()),
                          o.centered() ? detail::buf<T>(st.grad_avg()) : nullptr,
                          o.momentum() > 0 ? detail::buf<T>(st.momentum_buffer()) : nullptr, pb.n, o);
      });
      pb.finish();
    }
  }
  return loss;
}

}  // namespace dg::optim
