// Parameter: a trainable tensor that lives outside any tape and owns the gradient that every
// use of it on a tape accumulates into.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <utility>

#include "tapeloop/parameter_anchor.hpp"
#include "tapeloop/scalar.hpp"
#include "tapeloop/tape.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop {

/// A trainable tensor and its gradient. `var(tape)` puts it on a tape as a leaf that points at
/// this parameter's own storage; backward adds (+=) into `grad()`. Using the parameter at T time
/// steps therefore leaves the sum of the T per-step gradients in grad() — the whole of
/// shared-weight training. Gradients accumulate across backward passes until zero_grad().
///
/// A parameter must outlive every recording that uses it: backward() and jvp() throw TapeError
/// naming it if it was destroyed. An optimizer needs its parameters at fixed addresses: its
/// step() throws LifetimeError if one was moved or destroyed since the optimizer was made (see
/// ParameterAnchor). Moving a parameter keeps its storage, so a recording that uses it stays
/// valid; a copy is a new parameter with storage of its own.
template <class T = float>
class Parameter {
 public:
  using value_type = T;
  static_assert(Scalar<T>, "tapeloop::Parameter<T>: T must be float or double");

  // Every constructor but the move makes the anchor, so that var() only reads it: threads that
  // put one shared parameter on tapes of their own do not race to make it.
  Parameter() : anchor_(std::make_shared<ParameterAnchor>(this)) {}
  explicit Parameter(Tensor<T> value, std::string name = {})
      : value_(std::move(value)),
        grad_(Tensor<T>::zeros(value_.shape())),
        name_(std::move(name)),
        anchor_(std::make_shared<ParameterAnchor>(this)) {}

  Parameter(const Parameter& other)
      : value_(other.value_),
        grad_(other.grad_),
        name_(other.name_),
        requires_grad_(other.requires_grad_),
        anchor_(std::make_shared<ParameterAnchor>(this)) {}
  // noexcept, so that a growing std::vector<Parameter> moves its elements (and their anchors)
  // instead of copying them.
  Parameter(Parameter&& other) noexcept
      : value_(std::move(other.value_)),
        grad_(std::move(other.grad_)),
        name_(std::move(other.name_)),
        requires_grad_(other.requires_grad_),
        anchor_(std::move(other.anchor_)) {
    if (anchor_) anchor_->owner = this;
  }
  /// Copies the values into this parameter's storage when the shapes agree (what refers to
  /// this parameter stays valid); otherwise this parameter gets new storage, as if destroyed
  /// and made again.
  Parameter& operator=(const Parameter& other) {
    if (this == &other) return *this;
    // (A moved-from tensor keeps its shape but has no storage to copy into.)
    if (value_.shape() == other.value_.shape() && grad_.shape() == other.grad_.shape() &&
        value_.data() && grad_.data()) {
      std::copy(other.value_.begin(), other.value_.end(), value_.begin());
      std::copy(other.grad_.begin(), other.grad_.end(), grad_.begin());
    } else {
      Parameter copy(other);
      *this = std::move(copy);
      return *this;
    }
    name_ = other.name_;
    requires_grad_ = other.requires_grad_;
    return *this;
  }
  /// This parameter's storage is freed and replaced by `other`'s: what referred to the old
  /// storage sees it destroyed, what referred to `other` follows it here.
  Parameter& operator=(Parameter&& other) noexcept {
    if (this == &other) return *this;
    release_anchor();
    value_ = std::move(other.value_);
    grad_ = std::move(other.grad_);
    name_ = std::move(other.name_);
    requires_grad_ = other.requires_grad_;
    anchor_ = std::move(other.anchor_);
    if (anchor_) anchor_->owner = this;
    return *this;
  }
  ~Parameter() { release_anchor(); }

  /// This parameter as a leaf of `tape`. A frozen parameter is a constant leaf. The tape keeps
  /// the anchor, so backward() can tell if this parameter is destroyed before it runs.
  Var<T> var(Tape<T>& tape) {
    return tape.external_leaf(value_.data(), requires_grad_ ? grad_.data() : nullptr,
                              value_.shape(), anchor());
  }

  /// The anchor of this parameter's storage. A moved-from parameter, whose anchor left with its
  /// storage, gets a new one here if it is used again.
  const std::shared_ptr<ParameterAnchor>& anchor() {
    if (!anchor_) anchor_ = std::make_shared<ParameterAnchor>(this);
    return anchor_;
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
  /// The storage is about to be freed: whoever holds the anchor sees the parameter destroyed,
  /// under its name. The name is moved, not copied, so this cannot throw; every caller is
  /// about to replace or destroy name_.
  void release_anchor() noexcept {
    if (!anchor_) return;
    anchor_->owner = nullptr;
    anchor_->name = std::move(name_);
    anchor_.reset();
  }

  Tensor<T> value_;
  Tensor<T> grad_;
  std::string name_;
  bool requires_grad_ = true;
  std::shared_ptr<ParameterAnchor> anchor_;  // null only in a moved-from parameter
};

/// A parameter under the name a model gives it ("lstm.weight_ih_l0"), as Module's
/// named_parameters() lists them: how checkpoints and state dicts find parameters by name.
template <class T = float>
using NamedParameter = std::pair<std::string, Parameter<T>*>;

}  // namespace tapeloop
