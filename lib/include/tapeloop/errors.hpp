// The exception types tapeloop throws; every message names the operator (or file) and the shapes
// involved.
#pragma once

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
