// The logistic function evaluated without overflow, shared by sigmoid and the fused cells.
#pragma once

#include <cmath>

namespace tapeloop::detail {

// Only ever exponentiates a non-positive number, so nothing overflows: 1 / (1 + e^-v) for
// v >= 0 and e^v / (1 + e^v) for v < 0. (e^v / (1 + e^v) alone is inf / inf = NaN for large v;
// 1 / (1 + e^-v) alone overflows e^-v for very negative v.) Exactly 0 or 1 far out.
template <class T>
inline T stable_sigmoid(T v) {
  if (v >= T(0)) return T(1) / (T(1) + std::exp(-v));
  const T e = std::exp(v);
  return e / (T(1) + e);
}

}  // namespace tapeloop::detail
