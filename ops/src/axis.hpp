// Axis helpers for reductions and softmax: checking an axis, viewing x as [outer, n, inner], and
// the running maximum and minimum.
#pragma once

#include <cstdint>
#include <string>

#include "tapeloop/errors.hpp"
#include "tapeloop/shape.hpp"

namespace tapeloop::detail {

/// `axis` of `shape` in [0, rank). normalize_axis names the op but not the shape, so the
/// shape is appended to its message here (errors name the operator and the shapes).
inline int checked_axis(const char* op, int axis, const Shape& shape) {
  try {
    return normalize_axis(op, axis, shape.rank());
  } catch (const ShapeError& e) {
    throw ShapeError(std::string(e.what()) + " (input " + shape.str() + ")");
  }
}

/// A row-major tensor seen as [outer, n, inner] around one axis: element (o, j, k) is at
/// (o * n + j) * inner + k, and the reduced element (o, k) at o * inner + k.
struct AxisView {
  std::int64_t outer = 1;
  std::int64_t n = 1;
  std::int64_t inner = 1;
};

inline AxisView axis_view(const Shape& shape, int axis) {
  AxisView v;
  for (int i = 0; i < axis; ++i) v.outer *= shape[i];
  v.n = shape[axis];
  for (int i = axis + 1; i < shape.rank(); ++i) v.inner *= shape[i];
  return v;
}

/// `shape` with `axis` removed, or set to 1 with keepdim.
inline Shape reduced_shape(const Shape& shape, int axis, bool keepdim) {
  Shape out;
  for (int i = 0; i < shape.rank(); ++i) {
    if (i != axis) {
      out.push_back(shape[i]);
    } else if (keepdim) {
      out.push_back(1);
    }
  }
  return out;
}

/// The running maximum of max, logsumexp and argmax: takes v when it is larger, or when it is
/// NaN and the maximum so far is not (so NaN propagates like PyTorch). Ties keep the first.
template <class T>
bool replaces_max(T v, T best) {
  return v > best || (v != v && best == best);
}

/// The running minimum of min and argmin: the mirror of replaces_max, NaN propagating the same
/// way.
template <class T>
bool replaces_min(T v, T best) {
  return v < best || (v != v && best == best);
}

}  // namespace tapeloop::detail
