// Elementwise math: exp, log, sqrt, abs, tanh, sigmoid, relu, log1p, expm1, sin, cos, pow with a
// number, clamp.
#pragma once

#include "tapeloop/var.hpp"

namespace tapeloop {

/// e^x. Backward: g * y.
template <class T>
Var<T> exp(const Var<T>& x);
/// Natural logarithm; -inf at 0 and NaN below, like std::log. Backward: g / x.
template <class T>
Var<T> log(const Var<T>& x);
/// Square root. Backward: g / (2 y), infinite at x = 0.
template <class T>
Var<T> sqrt(const Var<T>& x);
/// |x|. Backward: g * sign(x), with sign(0) = 0 (as PyTorch).
template <class T>
Var<T> abs(const Var<T>& x);
/// Hyperbolic tangent. Backward: g * (1 - y^2).
template <class T>
Var<T> tanh(const Var<T>& x);
/// 1 / (1 + e^-x), evaluated without overflow for any x (exactly 0 or 1 far out).
/// Backward: g * y * (1 - y).
template <class T>
Var<T> sigmoid(const Var<T>& x);
/// max(x, 0). Backward: g where x > 0, else 0 (the derivative at 0 is taken as 0, as PyTorch).
template <class T>
Var<T> relu(const Var<T>& x);

/// log(1 + x), accurate for small x (std::log1p); -inf at -1 and NaN below. Backward: g / (1 + x).
template <class T>
Var<T> log1p(const Var<T>& x);
/// e^x - 1, accurate for small x (std::expm1). Backward: g * (y + 1).
template <class T>
Var<T> expm1(const Var<T>& x);
/// Sine. Backward: g * cos(x).
template <class T>
Var<T> sin(const Var<T>& x);
/// Cosine. Backward: -g * sin(x).
template <class T>
Var<T> cos(const Var<T>& x);

/// x^exponent (std::pow). Backward: g * exponent * x^(exponent - 1), and exactly 0 for
/// exponent 0 (so x = 0 gives 0 rather than 0 * inf, as PyTorch).
template <class T>
Var<T> pow(const Var<T>& x, typename Var<T>::value_type exponent);

/// min(max(x, low), high). Throws ValueError when low > high. Backward: g where
/// low <= x <= high (bounds included, as PyTorch), else 0.
template <class T>
Var<T> clamp(const Var<T>& x, typename Var<T>::value_type low, typename Var<T>::value_type high);

}  // namespace tapeloop
