// Option checks shared by the optimizers (internal to lib/src).
#pragma once

#include <cmath>
#include <cstdio>
#include <string>

#include "tapeloop/errors.hpp"

namespace tapeloop::detail {

/// A number for an error message: std::to_string would print 1e-9 as "0.000000".
inline std::string number_str(double value) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", value);
  return buffer;
}

/// Throws ValueError naming the optimizer and the option unless `value` is finite and >= 0
/// (NaN fails too, which a plain `value < 0` test would let through).
inline void require_non_negative(const char* who, const char* what, double value) {
  if (!(std::isfinite(value) && value >= 0.0)) {
    throw ValueError(std::string(who) + ": " + what + " must be finite and >= 0, got " +
                     number_str(value));
  }
}

/// Throws ValueError unless 0 <= value < 1 (Adam's betas, RMSProp's alpha is only >= 0).
inline void require_unit_interval(const char* who, const char* what, double value) {
  if (!(value >= 0.0 && value < 1.0)) {
    throw ValueError(std::string(who) + ": " + what + " must be in [0, 1), got " +
                     number_str(value));
  }
}

}  // namespace tapeloop::detail
