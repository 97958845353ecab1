// Elementwise selection: where(condition, a, b) with numpy broadcasting over all three.
#pragma once

#include "tapeloop/var.hpp"

namespace tapeloop {

/// a where condition is nonzero (NaN counts as nonzero), else b; the three shapes broadcast
/// together. The condition gets no gradient and does not make the output require one; a and
/// b get the gradient of the elements they supplied, summed down to their own shapes.
template <class T>
Var<T> where(const Var<T>& condition, const Var<T>& a, const Var<T>& b);

}  // namespace tapeloop
