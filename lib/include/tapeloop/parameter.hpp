// Parameter: a trainable tensor that lives outside any tape and owns the gradient that every
// use of it on a tape accumulates into.
#pragma once

#include <string>
#include <utility>

#include "tapeloop/scalar.hpp"
#include "tapeloop/tape.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop {

/// A trainable tensor and its gradient. `var(tape)` puts it on a tape as a leaf that points at
/// this parameter's own storage; backward adds (+=) into `grad()`. Using the parameter at T time
/// steps therefore leaves the sum of the T per-step gradients in grad() — the whole of
/// shared-weight training. Gradients accumulate across backward passes until zero_grad().
///
/// A parameter must outlive every recording that uses it.
template <class T = float>
class Parameter {
 public:
  using value_type = T;
  static_assert(Scalar<T>, "tapeloop::Parameter<T>: T must be float or double");

  Parameter() = default;
  explicit Parameter(Tensor<T> value, std::string name = {})
      : value_(std::move(value)), grad_(Tensor<T>::zeros(value_.shape())), name_(std::move(name)) {}

  /// This parameter as a leaf of `tape`. A frozen parameter is a constant leaf.
  Var<T> var(Tape<T>& tape) {
    return tape.external_leaf(value_.data(), requires_grad_ ? grad_.data() : nullptr,
                              value_.shape());
  }

  Tensor<T>& value() { return value_; }
  const Tensor<T>& value() const { return value_; }
  Tensor<T>& grad() { return grad_; }
  const Tensor<T>& grad() const { return grad_; }
  const Shape& shape() const { return value_.shape(); }
  std::int64_t numel() const { return value_.numel(); }
  const std::string& name() const { return name_; }
  void set_name(std::string name) { name_ = std::move(name); }

  void zero_grad() { grad_.fill(T(0)); }

  /// A frozen parameter gets no gradient (and optimizers leave it alone).
  bool requires_grad() const { return requires_grad_; }
  void set_requires_grad(bool on) { requires_grad_ = on; }

 private:
  Tensor<T> value_;
  Tensor<T> grad_;
  std::string name_;
  bool requires_grad_ = true;
};

/// A parameter under the name a model gives it ("lstm.weight_ih_l0"), as Module's
/// named_parameters() lists them: how checkpoints and state dicts find parameters by name.
template <class T = float>
using NamedParameter = std::pair<std::string, Parameter<T>*>;

}  // namespace tapeloop
