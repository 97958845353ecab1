// SGD: the update loop, written to match torch.optim.SGD operation for operation.
#include "tapeloop/optim/sgd.hpp"

#include "optim_checks.hpp"

namespace tapeloop {

template <class T>
SGD<T>::SGD(std::span<Parameter<T>* const> params, const SGDOptions& options)
    : Optimizer<T>(params, options.lr, "SGD"), options_(options) {
  detail::require_non_negative("SGD", "momentum", options.momentum);
  detail::require_non_negative("SGD", "dampening", options.dampening);
  detail::require_non_negative("SGD", "weight_decay", options.weight_decay);
  if (options.nesterov && (options.momentum <= 0.0 || options.dampening != 0.0)) {
    throw ValueError("SGD: Nesterov momentum needs momentum > 0 and dampening = 0");
  }
  if (options.momentum != 0.0) momentum_buffer_ = this->zeros_like_parameters();
}

template <class T>
std::vector<typename Optimizer<T>::StateKind> SGD<T>::state_kinds() const {
  if (options_.momentum == 0.0) return {};
  return {{"momentum_buffer", &momentum_buffer_}};
}

template <class T>
void SGD<T>::update() {
  // Hyperparameters are doubles, as in PyTorch; like its kernels, each enters the arithmetic
  // as one value of type T, so float parameters are updated in float.
  const T lr = static_cast<T>(this->lr_);
  const T weight_decay = static_cast<T>(options_.weight_decay);
  const T momentum = static_cast<T>(options_.momentum);
  const T keep = static_cast<T>(1.0 - options_.dampening);
  const bool use_momentum = options_.momentum != 0.0;
  for (std::size_t i = 0; i < this->params_.size(); ++i) {
    Parameter<T>& p = *this->params_[i];
    if (!p.requires_grad()) continue;
    // PyTorch makes the buffer on a parameter's first step as a copy of the gradient, not by
    // decaying a zero buffer (which would scale the first step by 1 - dampening).
    const bool first = this->steps_[i]++ == 0;
    T* w = p.value().data();
    const T* grad = p.grad().data();
    T* buf = use_momentum ? momentum_buffer_[i].data() : nullptr;
    const std::int64_t n = p.numel();
    for (std::int64_t j = 0; j < n; ++j) {
      T d = grad[j];
      if (options_.weight_decay != 0.0) d = d + weight_decay * w[j];
      if (use_momentum) {
        buf[j] = first ? d : buf[j] * momentum + keep * d;
        d = options_.nesterov ? d + momentum * buf[j] : buf[j];
      }
      w[j] = w[j] + -lr * d;
    }
  }
}

template class SGD<float>;
template class SGD<double>;

}  // namespace tapeloop
