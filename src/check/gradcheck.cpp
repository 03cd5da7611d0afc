// gradcheck: autograd's Jacobian against central differences, element by element.
#include <cmath>
#include <sstream>

#include "dimgrad/autograd.hpp"
#include "dimgrad/check.hpp"
#include "dimgrad/ops.hpp"

namespace dg {
namespace {

std::string index_str(IntArrayRef shape, int64_t flat) {
  std::vector<int64_t> idx(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    idx[d] = shape[d] ? flat % shape[d] : 0;
    flat = shape[d] ? flat / shape[d] : 0;
  }
  std::string s = "[";
  for (size_t i = 0; i < idx.size(); ++i) s += (i ? ", " : "") + std::to_string(idx[i]);
  return s + "]";
}

Tensor eval_detached(const std::function<Tensor(const TensorList&)>& fn, const TensorList& inputs) {
  NoGradGuard g;
  Tensor out = fn(inputs);
  return out.to(kDouble).contiguous().reshape({-1});
}

}  // namespace

bool gradcheck(const std::function<Tensor(const TensorList&)>& fn, const TensorList& inputs, double eps, double atol,
               double rtol, bool raise, std::string* message) {
  GradcheckOptions o;
  o.eps = eps;
  o.atol = atol;
  o.rtol = rtol;
  return gradcheck(fn, inputs, o, raise, message);
}

bool gradcheck(const std::function<Tensor(const TensorList&)>& fn, const TensorList& inputs,
               const GradcheckOptions& opt, bool raise, std::string* message) {
  std::vector<size_t> checked;
  for (size_t i = 0; i < inputs.size(); ++i) {
    if (!inputs[i].defined() || !inputs[i].requires_grad()) continue;
    if (inputs[i].dtype() != kDouble)
      throw DTypeError("gradcheck: input " + std::to_string(i) + " is " + dtype_name(inputs[i].dtype()) +
                       "; finite differences need float64 inputs (use .to(dg::kFloat64))");
    if (!inputs[i].is_leaf()) throw AutogradError("gradcheck: input " + std::to_string(i) + " must be a leaf tensor");
    checked.push_back(i);
  }
  if (checked.empty()) throw AutogradError("gradcheck: no input requires grad; nothing to check");

  // Analytic Jacobian, one output element at a time: row k = d out[k] / d inputs.
  Tensor out = fn(inputs);
  if (!out.requires_grad())
    throw AutogradError("gradcheck: the function's output does not depend on any input that requires grad");
  const int64_t n_out = out.numel();
  std::vector<std::vector<Tensor>> analytic(checked.size());
  TensorList wrt;
  for (size_t c : checked) wrt.push_back(inputs[c]);
  for (int64_t k = 0; k < n_out; ++k) {
    Tensor seed = zeros({n_out}, out.dtype());
    seed.data_ptr<double>()[k] = 1.0;
    TensorList g = autograd::grad({out}, wrt, {seed.reshape(out.sizes())}, /*retain_graph=*/true,
                                  /*create_graph=*/false, /*allow_unused=*/true);
    for (size_t j = 0; j < checked.size(); ++j)
      analytic[j].push_back(g[j].defined() ? g[j].contiguous().reshape({-1}) : zeros({inputs[checked[j]].numel()}, kDouble));
  }

  for (size_t j = 0; j < checked.size(); ++j) {
    const Tensor& x = inputs[checked[j]];
    const int64_t n = x.numel();
    const int64_t step = (opt.max_elements_per_input > 0 && n > opt.max_elements_per_input)
                             ? (n + opt.max_elements_per_input - 1) / opt.max_elements_per_input
                             : 1;
    for (int64_t e = 0; e < n; e += step) {
      // Perturb element e of x in place (no graph is recorded).
      Tensor flat_view;
      {
        NoGradGuard g;
        flat_view = x.is_contiguous() ? x.reshape({-1}) : Tensor();
      }
      if (!flat_view.defined()) throw Error("gradcheck: inputs must be contiguous");
      double* p = flat_view.data_ptr<double>() + e;
      const double orig = *p;
      *p = orig + opt.eps;
      Tensor plus = eval_detached(fn, inputs);
      *p = orig - opt.eps;
      Tensor minus = eval_detached(fn, inputs);
      *p = orig;
      const double* fp = plus.data_ptr<double>();
      const double* fm = minus.data_ptr<double>();
      for (int64_t k = 0; k < n_out; ++k) {
        double numeric = (fp[k] - fm[k]) / (2 * opt.eps);
        double an = analytic[j][static_cast<size_t>(k)].data_ptr<double>()[e];
        double diff = std::abs(an - numeric);
        if (!(diff <= opt.atol + opt.rtol * std::abs(numeric))) {
          std::ostringstream m;
          m.precision(10);
          m << "gradcheck failed for input " << checked[j] << " (shape " << shape_str(x.sizes()) << ") at element "
            << index_str(x.sizes(), e) << ", output element " << index_str(out.sizes(), k) << ": analytic " << an
            << ", numeric " << numeric << ", relative error " << diff / std::max(std::abs(numeric), 1e-12)
            << " (atol " << opt.atol << ", rtol " << opt.rtol << ")";
          if (message) *message = m.str();
          if (raise) throw GradcheckError(m.str());
          return false;
        }
      }
    }
  }
  return true;
}

}  // namespace dg
