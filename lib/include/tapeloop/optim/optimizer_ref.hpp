// OptimizerRef: the float or double optimizer a learning-rate scheduler drives, and the prefix
// of the metadata keys the schedulers save their state under.
#pragma once

#include "tapeloop/optim/optimizer.hpp"

namespace tapeloop {

/// Prefix of every metadata key a scheduler's state_dict() writes: "scheduler.kind",
/// "scheduler.gamma", ...
inline constexpr const char* scheduler_key_prefix = "scheduler.";

/// The optimizer a scheduler drives: an Optimizer<float> or an Optimizer<double>, by reference.
/// A learning rate is a double either way, so the schedulers need not be templates; this is
/// made implicitly from either, so `StepLR(adam, 30)` works for both.
class OptimizerRef {
 public:
  // Implicit on purpose: it only stands for the optimizer passed to a scheduler's constructor.
  OptimizerRef(Optimizer<float>& optimizer) : float_(&optimizer) {}    // NOLINT
  OptimizerRef(Optimizer<double>& optimizer) : double_(&optimizer) {}  // NOLINT

  double learning_rate() const {
    return float_ ? float_->learning_rate() : double_->learning_rate();
  }
  void set_learning_rate(double lr) const {
    if (float_) {
      float_->set_learning_rate(lr);
    } else {
      double_->set_learning_rate(lr);
    }
  }

 private:
  Optimizer<float>* float_ = nullptr;
  Optimizer<double>* double_ = nullptr;
};

}  // namespace tapeloop
