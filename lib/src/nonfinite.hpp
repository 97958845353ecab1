// Finite checks of gradients for the optimizers and clip_grad_norm (internal to lib/src): a fast
// yes/no over a buffer, and the error that names what was found.
#pragma once

#include <bit>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <type_traits>

#include "tapeloop/parameter.hpp"

namespace tapeloop::detail {

/// Whether every element of data[0, n) is finite. Tests the exponent bits as integers (all ones
/// means NaN or infinity) and ORs the answers without branching, a loop the compiler vectorizes
/// whatever the floating-point flags; a floating-point test such as `sum += x * 0` is NaN just
/// as exactly but cannot be vectorized without reassociating the sum.
template <class T>
bool all_finite(const T* data, std::int64_t n) {
  using Bits = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;
  // Infinity's bits are exactly the exponent field, all ones.
  constexpr Bits exponent = std::bit_cast<Bits>(std::numeric_limits<T>::infinity());
  Bits bad = 0;
  for (std::int64_t i = 0; i < n; ++i) {
    bad |= static_cast<Bits>((std::bit_cast<Bits>(data[i]) & exponent) == exponent);
  }
  return bad == 0;
}

/// Throws NonFiniteError for parameter `index` of a list, whose gradient has a NaN or infinite
/// element: `who` (the optimizer or function), the parameter's name or index, its shape, the
/// counts of NaN and infinite elements and the first one's flat index, then `consequence`
/// (what was not done, and what to do about it).
template <class T>
[[noreturn]] void throw_nonfinite_grad(const char* who, std::size_t index, const Parameter<T>& p,
                                       const char* consequence);

}  // namespace tapeloop::detail
