// softmax and log_softmax along one axis, computed stably (shifted by the maximum).
#pragma once

#include "tapeloop/var.hpp"

namespace tapeloop {

/// exp(x) / sum(exp(x)) along `axis` (negative counts from the end; out of range throws
/// ShapeError). Every slice is shifted by its maximum first, so large inputs do not overflow.
/// Backward: gx = y * (g - sum(g * y)).
template <class T>
Var<T> softmax(const Var<T>& x, int axis = -1);

/// x - logsumexp(x) along `axis`: the log of softmax without its underflow to log(0).
/// Backward: gx = g - softmax(x) * sum(g).
template <class T>
Var<T> log_softmax(const Var<T>& x, int axis = -1);

}  // namespace tapeloop
