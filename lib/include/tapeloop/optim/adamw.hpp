// AdamW: Adam with decoupled weight decay, following torch.optim.AdamW's update rule exactly.
#pragma once

#include <initializer_list>
#include <span>

#include "tapeloop/optim/adam.hpp"

namespace tapeloop {

/// AdamOptions with AdamW's default weight decay.
struct AdamWOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 1e-2;
  bool amsgrad = false;
};

/// Adam whose weight decay shrinks the parameter directly, `p *= 1 - lr * weight_decay`, before
/// the Adam update, instead of adding `weight_decay * p` to the gradient: the decay is then not
/// rescaled by the adaptive denominator (Loshchilov & Hutter). Same state names as Adam.
template <class T = float>
class AdamW : public Adam<T> {
 public:
  /// Throws ValueError for a negative or non-finite option, or a beta outside [0, 1).
  explicit AdamW(std::span<Parameter<T>* const> params, const AdamWOptions& options = {})
      : Adam<T>(params,
                AdamOptions{options.lr, options.beta1, options.beta2, options.eps,
                            options.weight_decay, options.amsgrad},
                true, "AdamW") {}
  AdamW(std::initializer_list<Parameter<T>*> params, const AdamWOptions& options = {})
      : AdamW(std::span<Parameter<T>* const>(params.begin(), params.size()), options) {}
};

}  // namespace tapeloop
