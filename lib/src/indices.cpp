// Indices: the one member that can fail.
#include "tapeloop/indices.hpp"

#include <string>

#include "tapeloop/errors.hpp"

namespace tapeloop {

std::int64_t Indices::item() const {
  if (values.size() != 1) {
    throw ValueError("Indices::item: " + shape.str() + " holds " + std::to_string(values.size()) +
                     " values, not one");
  }
  return values[0];
}

}  // namespace tapeloop
