// jvp, vjp and hvp of a function of tensors, as torch.autograd.functional has them: each records
// the function on a tape of its own and runs one product on the recording.
#pragma once

#include <functional>
#include <vector>

#include "tapeloop/tape.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop {

/// A function of tensors written with operators: records its output on the tape from the given
/// leaves (one per input tensor, in order).
template <class T>
using TensorFunction = std::function<Var<T>(Tape<T>& tape, const std::vector<Var<T>>& inputs)>;

/// f(x) and J v: one forward sweep for the values and one for the tangents (Tape::jvp), not
/// the reverse-of-reverse trick. `v` has one tensor per input, of its shape.
template <class T>
struct JvpResult {
  Tensor<T> output;
  Tensor<T> jvp;
};
template <class T>
JvpResult<T> jvp(const TensorFunction<T>& f, const std::vector<Tensor<T>>& x,
                 const std::vector<Tensor<T>>& v);

/// f(x) and u^T J, one tensor per input; `u` has the output's shape.
template <class T>
struct VjpResult {
  Tensor<T> output;
  std::vector<Tensor<T>> vjp;
};
template <class T>
VjpResult<T> vjp(const TensorFunction<T>& f, const std::vector<Tensor<T>>& x, const Tensor<T>& u);

/// f(x), one value, and H v, one tensor per input (Tape::hvp: forward over reverse).
template <class T>
struct HvpResult {
  T output;
  std::vector<Tensor<T>> hvp;
};
template <class T>
HvpResult<T> hvp(const TensorFunction<T>& f, const std::vector<Tensor<T>>& x,
                 const std::vector<Tensor<T>>& v);

// Each throws ValueError when the number of tensors in `v` differs from the number of inputs,
// ShapeError naming the input when a direction's (or u's) shape differs, and whatever f or the
// tape throws.

}  // namespace tapeloop
