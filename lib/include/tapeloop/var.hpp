// Var: a cheap handle (tape, node index, generation) to one value recorded on a tape.
#pragma once

#include <cstdint>

#include "tapeloop/scalar.hpp"
#include "tapeloop/shape.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop {

template <class T>
class Tape;

/// A handle to a node of a Tape: copying one copies three words. Every access checks that the
/// node still exists: a Var of a cleared recording throws TapeError instead of reading freed
/// memory. Operators take and return Vars; see ops/.
template <class T = float>
class Var {
 public:
  using value_type = T;
  static_assert(Scalar<T>, "tapeloop::Var<T>: T must be float or double");

  Var() = default;
  Var(Tape<T>* tape, std::uint32_t index, std::uint32_t generation)
      : tape_(tape), index_(index), generation_(generation) {}

  /// The tape this Var lives on; throws TapeError if the Var is empty or stale.
  Tape<T>& tape() const;
  std::uint32_t index() const { return index_; }
  std::uint32_t generation() const { return generation_; }
  bool empty() const { return tape_ == nullptr; }
  /// The tape pointer without the liveness check (for the tape's own checks).
  Tape<T>* tape_ptr() const { return tape_; }

  /// The shape, by value: a reference into the tape would dangle once the tape grows.
  Shape shape() const;
  int rank() const { return shape().rank(); }
  std::int64_t dim(int axis) const { return shape()[axis]; }
  std::int64_t numel() const { return shape().numel(); }

  /// The node's value (arena memory, valid until the tape is cleared).
  TensorRef<const T> value() const;
  /// The single element of a one-element Var.
  T item() const;
  /// A copy of the value that outlives the tape.
  Tensor<T> to_tensor() const { return Tensor<T>::from(value()); }

  /// The name of the operator that made the node ("matmul", "input"), as errors name it.
  const char* op() const;

  /// Whether backward will compute a gradient for this node.
  bool requires_grad() const;
  /// The node's gradient buffer, zero-filled when first asked for. After backward() it holds
  /// d(output)/d(this). Backward rules add (+=) into the buffers of their inputs.
  TensorRef<T> grad() const;

 private:
  Tape<T>* tape_ = nullptr;
  std::uint32_t index_ = 0;
  std::uint32_t generation_ = 0;
};

}  // namespace tapeloop
