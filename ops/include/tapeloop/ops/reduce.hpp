// Reductions: sum and mean (over everything or one axis), max, min and logsumexp over one axis.
#pragma once

#include "tapeloop/var.hpp"

namespace tapeloop {

// Axis arguments may be negative (counted from the end); an axis outside [-rank, rank) throws
// ShapeError. With keepdim the reduced axis stays as size 1, otherwise it is removed.

/// The sum of every element, as a scalar (shape []); 0 for an empty x.
template <class T>
Var<T> sum(const Var<T>& x);
/// The sum along `axis`; 0 where the axis has size 0.
template <class T>
Var<T> sum(const Var<T>& x, int axis, bool keepdim = false);

/// The mean of every element, as a scalar (shape []); NaN for an empty x (as PyTorch).
template <class T>
Var<T> mean(const Var<T>& x);
/// The mean along `axis`; NaN where the axis has size 0.
template <class T>
Var<T> mean(const Var<T>& x, int axis, bool keepdim = false);

/// The maximum along `axis`. NaN propagates (a NaN element is the maximum). The gradient goes
/// to the first maximal element along the axis only, as PyTorch's max(x, dim). An axis of
/// size 0 throws ShapeError.
template <class T>
Var<T> max(const Var<T>& x, int axis, bool keepdim = false);
/// The minimum along `axis`, the mirror of max: NaN propagates, the gradient goes to the first
/// minimal element, an axis of size 0 throws ShapeError.
template <class T>
Var<T> min(const Var<T>& x, int axis, bool keepdim = false);

/// log(sum(exp(x))) along `axis`, computed as m + log(sum(exp(x - m))) with m the maximum so
/// that nothing overflows; an all -inf slice gives -inf, a slice with +inf gives +inf. The
/// gradient is softmax(x) along the axis. Over an axis of size 0 it is log(0) = -inf, as in
/// PyTorch (the sum of no terms is 0).
template <class T>
Var<T> logsumexp(const Var<T>& x, int axis, bool keepdim = false);

}  // namespace tapeloop
