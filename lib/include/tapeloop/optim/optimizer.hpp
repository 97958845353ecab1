// Optimizer: what SGD, RMSProp, Adam and AdamW share — the parameter list, the learning rate,
// per-parameter step counts, and the named state a checkpoint saves and restores.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "tapeloop/parameter.hpp"
#include "tapeloop/parameter_anchor.hpp"
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

/// What an optimizer's step() does when a gradient it is about to apply has a NaN or an
/// infinite element. Whatever the policy, a frozen parameter's gradient is not looked at.
enum class NonFiniteGradPolicy {
  /// Throw NonFiniteError naming the parameter, its shape, how many elements are NaN and how
  /// many infinite, and the first one's index. Nothing changes: no weight, state or step count.
  raise,
  /// Skip the whole step, as a mixed-precision gradient scaler does: no weight, state or step
  /// count changes. skipped_steps() counts such steps; last_step_skipped() tells the last one.
  skip,
  /// No check: the update runs on whatever the gradients hold, so a NaN reaches the weights and
  /// the state. Saves one read of every gradient per step: 5% of an Adam step, under 0.1% of
  /// a training step (docs/training.md, "Non-finite gradients").
  unchecked,
};

/// The base of every optimizer: updates a fixed list of Parameters from their grad().
///
/// A frozen parameter (`!requires_grad()`) is skipped entirely by step(): no update, no weight
/// decay, no change to its state or step count — as PyTorch skips a parameter without a gradient.
/// It may be unfrozen later; its state then starts from where it was (zero, if never stepped).
///
/// All state tensors are allocated at construction, one per parameter and kind, so step() never
/// touches the heap. The parameters must outlive the optimizer, stay at the addresses they had
/// when it was made, and keep their shapes: step(), zero_grad(), named_state() and
/// named_steps() throw LifetimeError if a parameter was moved (a std::vector<Parameter> that
/// grew) or destroyed since, without touching it. Keep parameters in a container that does not
/// move them (a reserved std::vector, a std::deque, std::unique_ptr) and make the optimizer last.
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
  /// Everything is checked before anything changes, so a throw leaves the parameters, the state
  /// and the step counts as they were: LifetimeError if a parameter was moved or destroyed
  /// (check_parameters()), ShapeError if a parameter's value or gradient no longer has the
  /// shape it had when the optimizer was made, and, under NonFiniteGradPolicy::raise (the
  /// default), NonFiniteError if a gradient has a NaN or infinite element.
  void step();

  /// See NonFiniteGradPolicy; the default is raise.
  void set_nonfinite_policy(NonFiniteGradPolicy policy) { nonfinite_policy_ = policy; }
  NonFiniteGradPolicy nonfinite_policy() const { return nonfinite_policy_; }
  /// Steps skipped under NonFiniteGradPolicy::skip since the optimizer was made.
  std::int64_t skipped_steps() const { return skipped_steps_; }
  /// Whether the last step() was skipped for a non-finite gradient.
  bool last_step_skipped() const { return last_step_skipped_; }

  /// Throws LifetimeError naming the optimizer, the parameter's index and name and what
  /// happened to it if a parameter was moved or destroyed since the optimizer was made. Looks
  /// at each parameter's anchor, never at the parameter: one compare per parameter.
  void check_parameters() const {
    for (std::size_t i = 0; i < params_.size(); ++i) {
      if (anchors_[i]->owner != params_[i]) [[unlikely]]
        throw_not_live(i);
    }
  }

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

  /// The update rule, for every parameter that requires a gradient: called by step() once the
  /// parameters, their shapes and (per the policy) their gradients have been checked.
  virtual void update() = 0;

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
  // Each parameter's anchor, taken at construction: where its storage is now, or that it is gone.
  std::vector<std::shared_ptr<const ParameterAnchor>> anchors_;
  std::vector<Shape> shapes_;        // each parameter's shape at construction
  std::vector<std::int64_t> steps_;  // updates received, per parameter
  double lr_;
  const char* who_;

 private:
  [[noreturn]] void throw_not_live(std::size_t i) const;
  /// Whether any gradient step() would apply has a NaN or infinite element; under raise,
  /// throws NonFiniteError for the first such parameter instead.
  bool has_nonfinite_grad() const;
  std::vector<std::string> parameter_names() const;
  void check_names(std::span<const std::string> names) const;

  NonFiniteGradPolicy nonfinite_policy_ = NonFiniteGradPolicy::raise;
  std::int64_t skipped_steps_ = 0;
  bool last_step_skipped_ = false;
};

extern template class Optimizer<float>;
extern template class Optimizer<double>;

}  // namespace tapeloop
