// Optimizer: what SGD, RMSProp, Adam and AdamW share — the parameter list, the learning rate,
// per-parameter step counts, and the named state a checkpoint saves and restores.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tapeloop/parameter.hpp"
#include "tapeloop/shape.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop {

/// One state tensor of an optimizer and the name a checkpoint stores it under,
/// "<kind>.<parameter name>", e.g. "exp_avg.W1".
template <class T>
using NamedState = std::pair<std::string, Tensor<T>*>;
template <class T>
using ConstNamedState = std::pair<std::string, const Tensor<T>*>;
/// One per-parameter step count, named "step.<parameter name>".
using NamedStep = std::pair<std::string, std::int64_t*>;
using ConstNamedStep = std::pair<std::string, const std::int64_t*>;

/// The base of every optimizer: updates a fixed list of Parameters from their grad().
///
/// A frozen parameter (`!requires_grad()`) is skipped entirely by step(): no update, no weight
/// decay, no change to its state or step count — as PyTorch skips a parameter without a gradient.
/// It may be unfrozen later; its state then starts from where it was (zero, if never stepped).
///
/// All state tensors are allocated at construction, one per parameter and kind, so step() never
/// touches the heap. The parameters must outlive the optimizer and keep their shapes.
template <class T = float>
class Optimizer {
 public:
  using value_type = T;

  virtual ~Optimizer() = default;
  // The state points at parameters and is sized for them: a copy would be a second optimizer
  // silently updating the same weights.
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  /// One update of every parameter that requires a gradient. Performs no heap allocation.
  /// Throws ShapeError if a parameter's value or gradient no longer has the shape it had when
  /// the optimizer was made.
  virtual void step() = 0;

  /// Zeroes the gradient of every parameter, frozen ones included: a gradient is not optimizer
  /// state, and a stale one would otherwise surface when the parameter is unfrozen.
  void zero_grad();

  double learning_rate() const { return lr_; }
  /// For schedules: takes effect at the next step(). Throws ValueError unless lr is finite and
  /// non-negative.
  void set_learning_rate(double lr);

  std::span<Parameter<T>* const> parameters() const { return params_; }

  /// The optimizer's type ("SGD", "RMSProp", "Adam", "AdamW"); checkpoints record it so that
  /// state is only restored into the same kind of optimizer.
  virtual const char* name() const = 0;

  /// Every state tensor, named "<kind>.<parameter name>" ("exp_avg.W1", "momentum_buffer.b"),
  /// in parameter order within each kind. The pointers stay valid for the optimizer's life;
  /// writing through them restores a checkpoint. Throws ValueError if a parameter name is empty
  /// or repeated, since names are what identify state in a file.
  std::vector<NamedState<T>> named_state();
  std::vector<ConstNamedState<T>> named_state() const;
  /// The same with the parameters named by the caller: `parameter_names[i]` for parameters()[i]
  /// (a module's dotted names, say). ValueError unless there is one non-empty, unique name each.
  std::vector<NamedState<T>> named_state(std::span<const std::string> parameter_names);
  std::vector<ConstNamedState<T>> named_state(std::span<const std::string> parameter_names) const;

  /// How many updates each parameter has received, named "step.<parameter name>". Kept as
  /// integers rather than as tensors of T: a float counter stops counting at 2^24 steps.
  std::vector<NamedStep> named_steps();
  std::vector<ConstNamedStep> named_steps() const;
  std::vector<NamedStep> named_steps(std::span<const std::string> parameter_names);
  std::vector<ConstNamedStep> named_steps(std::span<const std::string> parameter_names) const;

  /// The step count of the i-th parameter.
  std::int64_t step_count(std::size_t i) const { return steps_.at(i); }

 protected:
  /// Takes the parameter list (no null, no repeats: a repeated parameter would be updated
  /// twice per step) and the initial learning rate; `who` names the optimizer in errors.
  Optimizer(std::span<Parameter<T>* const> params, double lr, const char* who);

  /// One kind of per-parameter state: a name and one tensor per parameter.
  struct StateKind {
    const char* kind;
    const std::vector<Tensor<T>>* tensors;
  };
  /// The kinds of state this optimizer keeps, for named_state().
  virtual std::vector<StateKind> state_kinds() const = 0;

  /// One zero-filled tensor of each parameter's shape: a state kind, made at construction.
  std::vector<Tensor<T>> zeros_like_parameters() const;

  /// Throws ShapeError if parameter i's value or gradient changed shape since construction
  /// (the state would no longer line up with it). Allocates only when throwing.
  void check_shape(std::size_t i) const;

  std::vector<Parameter<T>*> params_;
  std::vector<Shape> shapes_;        // each parameter's shape at construction
  std::vector<std::int64_t> steps_;  // updates received, per parameter
  double lr_;
  const char* who_;

 private:
  std::vector<std::string> parameter_names() const;
  void check_names(std::span<const std::string> names) const;
};

extern template class Optimizer<float>;
extern template class Optimizer<double>;

}  // namespace tapeloop
