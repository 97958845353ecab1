// Selecting by rank along an axis: argmax, argmin (positions) and topk (values with a gradient,
// and their positions).
#pragma once

#include <cstdint>

#include "tapeloop/indices.hpp"
#include "tapeloop/tensor.hpp"
#include "tapeloop/var.hpp"

namespace tapeloop {

// Axis arguments may be negative (counted from the end); an axis outside [-rank, rank) or of
// size 0 throws ShapeError naming the operator and the shape.

/// The position of the first maximum along `axis` (a NaN counts as the maximum, as in
/// torch.argmax). The result has x's shape without the axis, or with it as 1 under keepdim.
Indices argmax(TensorRef<const float> x, int axis, bool keepdim = false);
Indices argmax(TensorRef<const double> x, int axis, bool keepdim = false);
template <class T>
Indices argmax(const Var<T>& x, int axis, bool keepdim = false) {
  return argmax(x.value(), axis, keepdim);
}

/// The position of the first minimum along `axis` (a NaN counts as the minimum).
Indices argmin(TensorRef<const float> x, int axis, bool keepdim = false);
Indices argmin(TensorRef<const double> x, int axis, bool keepdim = false);
template <class T>
Indices argmin(const Var<T>& x, int axis, bool keepdim = false) {
  return argmin(x.value(), axis, keepdim);
}

/// topk's result: `values` (a Var; the gradient flows to the chosen elements) and their
/// positions along the axis, both of x's shape with the axis cut to k.
template <class T>
struct TopK {
  Var<T> values;
  Indices indices;
};

/// The k largest (or, with largest = false, smallest) elements along `axis`, sorted from the
/// most extreme, as torch.topk(x, k, dim, largest, sorted=True). A NaN counts as larger than
/// every number, as PyTorch sorts it: first when largest, last otherwise. Equal values keep
/// their order along the axis.
/// ValueError unless 0 <= k <= the axis's size.
template <class T>
TopK<T> topk(const Var<T>& x, std::int64_t k, int axis = -1, bool largest = true);

}  // namespace tapeloop
