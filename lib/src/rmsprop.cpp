// RMSProp: the update loop, written to match torch.optim.RMSprop operation for operation.
#include "tapeloop/optim/rmsprop.hpp"

#include <cmath>

#include "optim_checks.hpp"

namespace tapeloop {

template <class T>
RMSProp<T>::RMSProp(std::span<Parameter<T>* const> params, const RMSPropOptions& options)
    : Optimizer<T>(params, options.lr, "RMSProp"), options_(options) {
  detail::require_non_negative("RMSProp", "alpha", options.alpha);
  detail::require_non_negative("RMSProp", "eps", options.eps);
  detail::require_non_negative("RMSProp", "weight_decay", options.weight_decay);
  detail::require_non_negative("RMSProp", "momentum", options.momentum);
  square_avg_ = this->zeros_like_parameters();
  if (options.momentum > 0.0) momentum_buffer_ = this->zeros_like_parameters();
  if (options.centered) grad_avg_ = this->zeros_like_parameters();
}

template <class T>
std::vector<typename Optimizer<T>::StateKind> RMSProp<T>::state_kinds() const {
  std::vector<typename Optimizer<T>::StateKind> kinds{{"square_avg", &square_avg_}};
  if (options_.momentum > 0.0) kinds.push_back({"momentum_buffer", &momentum_buffer_});
  if (options_.centered) kinds.push_back({"grad_avg", &grad_avg_});
  return kinds;
}

template <class T>
void RMSProp<T>::update() {
  const T lr = static_cast<T>(this->lr_);
  const T alpha = static_cast<T>(options_.alpha);
  const T one_minus_alpha = static_cast<T>(1.0 - options_.alpha);
  const T eps = static_cast<T>(options_.eps);
  const T weight_decay = static_cast<T>(options_.weight_decay);
  const T momentum = static_cast<T>(options_.momentum);
  const bool use_momentum = options_.momentum > 0.0;
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    Parameter<T>& p = *this->params_[i];
    if (!p.requires_grad()) continue;
    ++this->steps_[i];  // not used by the rule; kept for checkpoints, as PyTorch keeps it
    T* w = p.value().data();
    const T* grad = p.grad().data();
    T* square_avg = square_avg_[i].data();
    T* grad_avg = options_.centered ? grad_avg_[i].data() : nullptr;
    T* buf = use_momentum ? momentum_buffer_[i].data() : nullptr;
    const std::int64_t n = p.numel();
    for (std::int64_t j = 0; j < n; ++j) {
      T g = grad[j];
      if (options_.weight_decay != 0.0) g = g + weight_decay * w[j];
      square_avg[j] = square_avg[j] * alpha + one_minus_alpha * g * g;
      T avg;
      if (options_.centered) {
        grad_avg[j] = grad_avg[j] * alpha + one_minus_alpha * g;
        avg = std::sqrt(square_avg[j] + T(-1) * grad_avg[j] * grad_avg[j]);
      } else {
        avg = std::sqrt(square_avg[j]);
      }
      avg = avg + eps;
      if (use_momentum) {
        buf[j] = buf[j] * momentum + g / avg;
        w[j] = w[j] + -lr * buf[j];
      } else {
        w[j] = w[j] + -lr * g / avg;
      }
    }
  }
}

template class RMSProp<float>;
template class RMSProp<double>;

}  // namespace tapeloop
