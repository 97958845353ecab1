// SGD: stochastic gradient descent with momentum, dampening, Nesterov and L2 weight decay,
// following torch.optim.SGD's update rule exactly.
#pragma once

#include <initializer_list>
#include <span>
#include <vector>

#include "tapeloop/optim/optimizer.hpp"

namespace tapeloop {

struct SGDOptions {
  double lr = 1e-3;
  double momentum = 0.0;
  double dampening = 0.0;
  /// Adds `weight_decay * param` to the gradient (L2 regularization).
  double weight_decay = 0.0;
  /// Needs momentum > 0 and dampening == 0.
  bool nesterov = false;
};

/// For each parameter that requires a gradient, with g its gradient:
///
///     g += weight_decay * p
///     if momentum != 0:
///         buf = g                                     on the parameter's first step
///         buf = momentum * buf + (1 - dampening) * g  afterwards
///         g = nesterov ? g + momentum * buf : buf
///     p -= lr * g
///
/// State: "momentum_buffer.<name>" when momentum != 0.
template <class T = float>
class SGD : public Optimizer<T> {
 public:
  /// Throws ValueError for a negative or non-finite option, or Nesterov without momentum or
  /// with dampening.
  explicit SGD(std::span<Parameter<T>* const> params, const SGDOptions& options = {});
  SGD(std::initializer_list<Parameter<T>*> params, const SGDOptions& options = {})
      : SGD(std::span<Parameter<T>* const>(params.begin(), params.size()), options) {}

  const char* name() const override { return "SGD"; }
  const SGDOptions& options() const { return options_; }

 protected:
  void update() override;
  std::vector<typename Optimizer<T>::StateKind> state_kinds() const override;

 private:
  SGDOptions options_;
  std::vector<Tensor<T>> momentum_buffer_;
};

extern template class SGD<float>;
extern template class SGD<double>;

}  // namespace tapeloop
