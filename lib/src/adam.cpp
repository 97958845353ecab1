// Adam and AdamW: the update loop, written to match torch.optim.Adam and AdamW operation for
// operation.
#include "tapeloop/optim/adam.hpp"

#include <algorithm>
#include <cmath>

#include "optim_checks.hpp"

namespace tapeloop {

template <class T>
Adam<T>::Adam(std::span<Parameter<T>* const> params, const AdamOptions& options, bool decoupled,
              const char* who)
    : Optimizer<T>(params, options.lr, who), options_(options), decoupled_(decoupled) {
  detail::require_unit_interval(who, "beta1", options.beta1);
  detail::require_unit_interval(who, "beta2", options.beta2);
  detail::require_non_negative(who, "eps", options.eps);
  detail::require_non_negative(who, "weight_decay", options.weight_decay);
  exp_avg_ = this->zeros_like_parameters();
  exp_avg_sq_ = this->zeros_like_parameters();
  if (options.amsgrad) max_exp_avg_sq_ = this->zeros_like_parameters();
}

template <class T>
std::vector<typename Optimizer<T>::StateKind> Adam<T>::state_kinds() const {
  std::vector<typename Optimizer<T>::StateKind> kinds{{"exp_avg", &exp_avg_},
                                                      {"exp_avg_sq", &exp_avg_sq_}};
  if (options_.amsgrad) kinds.push_back({"max_exp_avg_sq", &max_exp_avg_sq_});
  return kinds;
}

template <class T>
void Adam<T>::update() {
  const T beta1 = static_cast<T>(options_.beta1);
  const T beta2 = static_cast<T>(options_.beta2);
  const T one_minus_beta1 = static_cast<T>(1.0 - options_.beta1);
  const T one_minus_beta2 = static_cast<T>(1.0 - options_.beta2);
  const T eps = static_cast<T>(options_.eps);
  const T weight_decay = static_cast<T>(options_.weight_decay);
  const bool l2 = !decoupled_ && options_.weight_decay != 0.0;
  // AdamW's shrink factor is computed in double and rounded once, as in PyTorch.
  const T shrink = static_cast<T>(1.0 - this->lr_ * options_.weight_decay);
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    Parameter<T>& p = *this->params_[i];
    if (!p.requires_grad()) continue;
    // Bias corrections use this parameter's own step count: a parameter unfrozen late starts
    // its correction from step 1, like PyTorch's per-parameter state.
    const double t = static_cast<double>(++this->steps_[i]);
    const double bias_correction1 = 1.0 - std::pow(options_.beta1, t);
    const double bias_correction2 = 1.0 - std::pow(options_.beta2, t);
    const T step_size = static_cast<T>(this->lr_ / bias_correction1);
    const T bias_correction2_sqrt = static_cast<T>(std::sqrt(bias_correction2));
    T* w = p.value().data();
    const T* grad = p.grad().data();
    T* exp_avg = exp_avg_[i].data();
    T* exp_avg_sq = exp_avg_sq_[i].data();
    T* max_exp_avg_sq = options_.amsgrad ? max_exp_avg_sq_[i].data() : nullptr;
    const std::int64_t n = p.numel();
    for (std::int64_t j = 0; j < n; ++j) {
      if (decoupled_) w[j] = w[j] * shrink;
      T g = grad[j];
      if (l2) g = g + weight_decay * w[j];
      exp_avg[j] = exp_avg[j] * beta1 + one_minus_beta1 * g;
      exp_avg_sq[j] = exp_avg_sq[j] * beta2 + one_minus_beta2 * g * g;
      T v = exp_avg_sq[j];
      if (options_.amsgrad) v = max_exp_avg_sq[j] = std::max(max_exp_avg_sq[j], v);
      const T denom = std::sqrt(v) / bias_correction2_sqrt + eps;
      w[j] = w[j] + -step_size * exp_avg[j] / denom;
    }
  }
}

template class Adam<float>;
template class Adam<double>;

}  // namespace tapeloop
