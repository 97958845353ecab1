// A view that goes stale: what the checked-arena tests keep past Tape::clear().
#pragma once

#include "tapeloop/tapeloop.hpp"

namespace tapeloop::testing {

/// Records x * 2 for x = {first, first + 1, first + 2} and returns the view of its value, which
/// points into the tape's arena.
inline TensorRef<const float> record_doubled(Tape<float>& tape, float first) {
  const Tensor<float> x = Tensor<float>::from({3}, {first, first + 1, first + 2});
  return (tape.input(x.ref()) * 2.0f).value();
}

}  // namespace tapeloop::testing
