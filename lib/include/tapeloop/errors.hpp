// The exception types tapeloop throws; every message names the operator (or file) and the shapes
// involved.
#pragma once

#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace tapeloop {

/// Base of every tapeloop exception.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Operands whose shapes do not fit the operator, e.g.
/// "matmul: [32,128] x [256,512]: inner dimensions 128 and 256 differ".
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// Misuse of a tape: a Var of a cleared recording, Vars of two tapes in one op,
/// backward twice without resetting.
class TapeError : public Error {
 public:
  using Error::Error;
};

/// An argument value that is out of range: an index past the end, a negative count.
class ValueError : public Error {
 public:
  using Error::Error;
};

/// A gradient with NaN or infinite elements where finite ones are required: an optimizer's
/// step() (NonFiniteGradPolicy::raise) or clip_grad_norm with error_if_nonfinite. The message
/// names the function, the parameter (or its index when unnamed) and its shape, counts the NaN
/// and infinite elements and gives the first one's flat index; the same numbers are members.
class NonFiniteError : public ValueError {
 public:
  NonFiniteError(const std::string& message, std::size_t parameter_index, std::int64_t nan_count,
                 std::int64_t inf_count, std::int64_t first_index)
      : ValueError(message),
        parameter_index_(parameter_index),
        nan_count_(nan_count),
        inf_count_(inf_count),
        first_index_(first_index) {}

  /// The parameter's position in the list given to the optimizer or to clip_grad_norm.
  std::size_t parameter_index() const { return parameter_index_; }
  std::int64_t nan_count() const { return nan_count_; }
  std::int64_t inf_count() const { return inf_count_; }
  /// The flat (row-major) index of the first non-finite element.
  std::int64_t first_index() const { return first_index_; }

 private:
  std::size_t parameter_index_;
  std::int64_t nan_count_;
  std::int64_t inf_count_;
  std::int64_t first_index_;
};

/// A Parameter used where it no longer is: an optimizer whose parameter was moved (a
/// std::vector<Parameter> that grew, say) or destroyed after the optimizer was made. The message
/// names the optimizer, the parameter's index and name, and what happened to it.
class LifetimeError : public Error {
 public:
  using Error::Error;
};

/// A derivative an operator does not provide, e.g. "jvp: max_pool has no tangent rule".
class NotImplementedError : public Error {
 public:
  using Error::Error;
};

/// A file whose contents are not what they must be: a damaged or truncated safetensors file, or
/// a checkpoint that does not fit the model it is loaded into. The message names the file.
class FormatError : public Error {
 public:
  using Error::Error;
};

/// The operating system refused a file operation (open, write, fsync, rename); the message
/// names the file and the system's reason.
class IoError : public Error {
 public:
  using Error::Error;
};

}  // namespace tapeloop
