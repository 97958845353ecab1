// Layout operators: reshape, squeeze/unsqueeze, transpose/permute, narrow/slice/select,
// concat/stack, split/chunk.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "tapeloop/shape.hpp"
#include "tapeloop/var.hpp"

namespace tapeloop {

/// The same elements under another shape of equal numel: a zero-copy view whose gradient is the
/// parent's gradient. A numel mismatch throws ShapeError naming both shapes.
template <class T>
Var<T> reshape(const Var<T>& x, const Shape& shape);

/// x with a new axis of size 1 at `axis` (in [-(rank+1), rank], negative counting from the end
/// as PyTorch): a view, like reshape. Past Shape::max_rank throws ShapeError.
template <class T>
Var<T> unsqueeze(const Var<T>& x, int axis);
/// x without `axis` if its size is 1, else x itself (as PyTorch's squeeze(dim)): a view.
template <class T>
Var<T> squeeze(const Var<T>& x, int axis);
/// x without any of its size-1 axes: a view.
template <class T>
Var<T> squeeze(const Var<T>& x);

/// Output axis i is input axis axes[i] (negative axes count from the end). The permuted tensor
/// is materialized; backward scatter-adds into the input's gradient. When the permutation only
/// moves size-1 axes the memory layout is unchanged and the result is a view. A list that is
/// not a permutation of the axes throws ShapeError.
template <class T>
Var<T> permute(const Var<T>& x, std::span<const int> axes);
template <class T>
Var<T> permute(const Var<T>& x, std::initializer_list<int> axes);
/// permute() swapping two axes.
template <class T>
Var<T> transpose(const Var<T>& x, int axis0, int axis1);

/// Elements [start, start + length) along `axis`; the rank is kept. When the block is
/// contiguous in memory (every axis before `axis` has size 1, or the whole axis is taken) the
/// result is a view sharing the parent's value and gradient; otherwise it is a copy whose
/// backward adds into the parent's gradient window in place. A range outside the axis throws
/// ValueError.
template <class T>
Var<T> narrow(const Var<T>& x, int axis, std::int64_t start, std::int64_t length);
/// Elements [start, stop) along `axis`; negative start/stop count from the end as in Python.
/// Unlike Python the range is not clamped: out of range, or start > stop, throws ValueError.
template <class T>
Var<T> slice(const Var<T>& x, int axis, std::int64_t start, std::int64_t stop);
/// Element `index` along `axis` (negative counts from the end), with that axis removed. Taking
/// one time step of a time-major [T,B,H] sequence, select(x, 0, t), is a view: no copy, and its
/// gradient is a window of the parent's.
template <class T>
Var<T> select(const Var<T>& x, int axis, std::int64_t index);

/// Joins tensors along an existing axis; every other dimension must agree (ShapeError listing
/// the shapes otherwise). Backward adds each input's block of the gradient.
template <class T>
Var<T> concat(std::span<const Var<T>> inputs, int axis);
template <class T>
Var<T> concat(std::initializer_list<Var<T>> inputs, int axis);
template <class T>
Var<T> concat(const std::vector<Var<T>>& inputs, int axis) {
  return concat(std::span<const Var<T>>(inputs), axis);
}
/// Joins tensors of one shape along a new axis inserted at `axis` (in [-(rank+1), rank]).
template <class T>
Var<T> stack(std::span<const Var<T>> inputs, int axis);
template <class T>
Var<T> stack(std::initializer_list<Var<T>> inputs, int axis);
template <class T>
Var<T> stack(const std::vector<Var<T>>& inputs, int axis) {
  return stack(std::span<const Var<T>>(inputs), axis);
}

/// Consecutive pieces of the given sizes along `axis`, which must add up to its size. Each piece
/// is a narrow(). Note: returning the pieces allocates the vector; narrow() is the
/// allocation-free way to take pieces inside a training step.
template <class T>
std::vector<Var<T>> split(const Var<T>& x, std::span<const std::int64_t> sizes, int axis);
template <class T>
std::vector<Var<T>> split(const Var<T>& x, std::initializer_list<std::int64_t> sizes, int axis);
/// Like torch.chunk: pieces of ceil(size / chunks) along `axis`, the last one smaller, so fewer
/// than `chunks` pieces come back when the size is not a multiple (one empty piece for a
/// zero-size axis). Allocates the vector, like split().
template <class T>
std::vector<Var<T>> chunk(const Var<T>& x, std::int64_t chunks, int axis);

}  // namespace tapeloop
