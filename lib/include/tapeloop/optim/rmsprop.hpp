// RMSProp: gradients divided by a running root mean square, optionally centered and with
// momentum, following torch.optim.RMSprop's update rule exactly.
#pragma once

#include <initializer_list>
#include <span>
#include <vector>

#include "tapeloop/optim/optimizer.hpp"

namespace tapeloop {

struct RMSPropOptions {
  double lr = 1e-2;
  /// Smoothing constant of the running averages.
  double alpha = 0.99;
  double eps = 1e-8;
  /// Adds `weight_decay * param` to the gradient (L2 regularization).
  double weight_decay = 0.0;
  double momentum = 0.0;
  /// Divide by an estimate of the gradient's variance instead of its second moment.
  bool centered = false;
};

/// For each parameter that requires a gradient, with g its gradient:
///
///     g += weight_decay * p
///     square_avg = alpha * square_avg + (1 - alpha) * g^2
///     if centered:
///         grad_avg = alpha * grad_avg + (1 - alpha) * g
///         avg = sqrt(square_avg - grad_avg^2) + eps
///     else:
///         avg = sqrt(square_avg) + eps
///     if momentum > 0:  buf = momentum * buf + g / avg;  p -= lr * buf
///     else:             p -= lr * g / avg
///
/// State: "square_avg.<name>", "momentum_buffer.<name>" when momentum > 0, "grad_avg.<name>"
/// when centered; all start at zero.
template <class T = float>
class RMSProp : public Optimizer<T> {
 public:
  /// Throws ValueError for a negative or non-finite option.
  explicit RMSProp(std::span<Parameter<T>* const> params, const RMSPropOptions& options = {});
  RMSProp(std::initializer_list<Parameter<T>*> params, const RMSPropOptions& options = {})
      : RMSProp(std::span<Parameter<T>* const>(params.begin(), params.size()), options) {}

  const char* name() const override { return "RMSProp"; }
  const RMSPropOptions& options() const { return options_; }

 protected:
  void update() override;
  std::vector<typename Optimizer<T>::StateKind> state_kinds() const override;

 private:
  RMSPropOptions options_;
  std::vector<Tensor<T>> square_avg_;
  std::vector<Tensor<T>> momentum_buffer_;
  std::vector<Tensor<T>> grad_avg_;
};

extern template class RMSProp<float>;
extern template class RMSProp<double>;

}  // namespace tapeloop
