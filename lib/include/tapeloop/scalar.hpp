// The element types tapeloop is compiled for, float and double, as a concept the class
// templates check so that Tape<int> stops at compile time with a message instead of at link time.
#pragma once

#include <concepts>

namespace tapeloop {

/// float or double: the library's operators, kernels and tapes are compiled for these two.
template <class T>
concept Scalar = std::same_as<T, float> || std::same_as<T, double>;

}  // namespace tapeloop
