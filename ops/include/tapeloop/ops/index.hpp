// Indexing by integer lists: index_select (embedding lookup) and gather.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>

#include "tapeloop/shape.hpp"
#include "tapeloop/var.hpp"

namespace tapeloop {

/// The entries indices[0..n) along `axis`, in that order: the axis becomes size n. An embedding
/// lookup is index_select(weight, 0, ids) on a [vocabulary, H] weight. Repeated indices are
/// allowed and their gradients accumulate. The indices are copied (into the tape), so the span
/// need not outlive the call. An index outside [0, size) throws ValueError.
template <class T>
Var<T> index_select(const Var<T>& x, int axis, std::span<const std::int64_t> indices);
template <class T>
Var<T> index_select(const Var<T>& x, int axis, std::initializer_list<std::int64_t> indices);

/// Like torch.gather: the result has shape `index_shape` (same rank as x, and no larger than x
/// along every axis but `axis`), with out[..., i, ...] = x[..., index[..., i, ...], ...] where
/// the index replaces the coordinate along `axis`. `index` holds index_shape.numel() entries in
/// row-major order and is copied. Backward scatter-adds (repeated indices accumulate). An index
/// outside [0, size of axis) throws ValueError; mismatched shapes throw ShapeError.
template <class T>
Var<T> gather(const Var<T>& x, int axis, std::span<const std::int64_t> index,
              const Shape& index_shape);

}  // namespace tapeloop
