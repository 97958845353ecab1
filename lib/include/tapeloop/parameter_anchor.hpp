// ParameterAnchor: where a Parameter's storage currently lives, shared with the tapes and
// optimizers that refer to it, so they can tell a moved or destroyed parameter from a live one.
#pragma once

#include <string>

namespace tapeloop {

/// One per Parameter storage (its value and gradient buffers), held by a shared_ptr that the
/// Parameter, the tapes that recorded it and the optimizers that update it share.
///
/// `owner` is the address of the Parameter that holds the storage now: a move hands the storage
/// and the anchor to the new Parameter and the anchor follows; the destructor, or an
/// assignment that frees the storage, sets it to null and leaves the parameter's name behind
/// for the error message. A copy is new storage with an anchor of its own.
///
/// Checking costs one load and one compare and never dereferences the Parameter, which may be
/// gone: a tape checks each parameter leaf once per backward(), an optimizer each parameter once
/// per step(). That is cheap enough to be always on.
struct ParameterAnchor {
  explicit ParameterAnchor(const void* parameter) : owner(parameter) {}

  const void* owner;
  /// The parameter's name once `owner` is null (a live parameter's name is the Parameter's).
  std::string name;
};

}  // namespace tapeloop
