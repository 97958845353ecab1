// Adam: bias-corrected first and second moment estimates, with L2 weight decay and optional
// AMSGrad, following torch.optim.Adam's update rule exactly.
#pragma once

#include <initializer_list>
#include <span>
#include <vector>

#include "tapeloop/optim/optimizer.hpp"

namespace tapeloop {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  /// Adam: adds `weight_decay * param` to the gradient (L2). AdamW: decoupled decay.
  double weight_decay = 0.0;
  /// Divide by the largest second moment seen so far rather than the current one.
  bool amsgrad = false;
};

/// For each parameter that requires a gradient, with g its gradient and t its step count
/// (this update included):
///
///     g += weight_decay * p
///     exp_avg    = beta1 * exp_avg    + (1 - beta1) * g
///     exp_avg_sq = beta2 * exp_avg_sq + (1 - beta2) * g^2
///     v = amsgrad ? (max_exp_avg_sq = max(max_exp_avg_sq, exp_avg_sq)) : exp_avg_sq
///     p -= lr / (1 - beta1^t) * exp_avg / (sqrt(v) / sqrt(1 - beta2^t) + eps)
///
/// State: "exp_avg.<name>", "exp_avg_sq.<name>", and "max_exp_avg_sq.<name>" with amsgrad.
template <class T = float>
class Adam : public Optimizer<T> {
 public:
  /// Throws ValueError for a negative or non-finite option, or a beta outside [0, 1).
  explicit Adam(std::span<Parameter<T>* const> params, const AdamOptions& options = {})
      : Adam(params, options, false, "Adam") {}
  Adam(std::initializer_list<Parameter<T>*> params, const AdamOptions& options = {})
      : Adam(std::span<Parameter<T>* const>(params.begin(), params.size()), options) {}

  const char* name() const override { return decoupled_ ? "AdamW" : "Adam"; }
  const AdamOptions& options() const { return options_; }

 protected:
  void update() override;
  /// With `decoupled`, weight decay multiplies the parameter by (1 - lr * weight_decay) before
  /// the update instead of entering the gradient: AdamW.
  Adam(std::span<Parameter<T>* const> params, const AdamOptions& options, bool decoupled,
       const char* who);
  std::vector<typename Optimizer<T>::StateKind> state_kinds() const override;

 private:
  AdamOptions options_;
  bool decoupled_;
  std::vector<Tensor<T>> exp_avg_;
  std::vector<Tensor<T>> exp_avg_sq_;
  std::vector<Tensor<T>> max_exp_avg_sq_;
};

extern template class Adam<float>;
extern template class Adam<double>;

}  // namespace tapeloop
