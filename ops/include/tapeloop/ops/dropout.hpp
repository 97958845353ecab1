// Inverted dropout: zero each element with probability p, scale the survivors by 1 / (1 - p).
#pragma once

#include "tapeloop/random.hpp"
#include "tapeloop/var.hpp"

namespace tapeloop {

/// y = x * mask / (1 - p) with mask[i] = 0 with probability p, else 1, drawn from `rng` (one
/// uniform draw per element, in row-major order, so a seed fixes the mask). The expected value
/// of y is x, so nothing changes at evaluation time, when dropout is simply not applied. The
/// scaled mask lives in the tape's scratch memory for backward (gx += g * mask). p = 0 returns
/// x itself and draws nothing; p outside [0, 1) (or NaN) throws ValueError.
template <class T>
Var<T> dropout(const Var<T>& x, typename Var<T>::value_type p, Generator& rng);

}  // namespace tapeloop
