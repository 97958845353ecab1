// Strided traversal for the layout operators: visit a row-major shape while tracking the offset
// of the corresponding element in another tensor with arbitrary strides.
#pragma once

#include <array>
#include <cstdint>

#include "tapeloop/shape.hpp"

namespace tapeloop::detail {

/// Calls f(i, offset) for every flat index i of `shape` in row-major order, where offset is
/// sum_d index[d] * strides[d]. The innermost axis is a plain loop; an odometer walks the rest.
template <class F>
void strided_for_each(const Shape& shape, const std::int64_t* strides, F f) {
  const std::int64_t n = shape.numel();
  if (n == 0) return;
  const int rank = shape.rank();
  if (rank == 0) {
    f(0, 0);
    return;
  }
  const int last = rank - 1;
  const std::int64_t inner = shape[last];
  const std::int64_t inner_stride = strides[last];
  std::array<std::int64_t, Shape::max_rank> index{};
  std::int64_t offset = 0;
  for (std::int64_t i = 0; i < n; i += inner) {
    for (std::int64_t k = 0; k < inner; ++k) f(i + k, offset + k * inner_stride);
    for (int axis = last - 1; axis >= 0; --axis) {
      const auto ax = static_cast<std::size_t>(axis);
      offset += strides[axis];
      if (++index[ax] < shape[axis]) break;
      offset -= strides[axis] * shape[axis];
      index[ax] = 0;
    }
  }
}

/// Product of the dims before `axis` (outer) and after it (inner): a row-major tensor is an
/// [outer, dim(axis), inner] block, which is how every axis-wise copy sees it.
inline std::int64_t outer_size(const Shape& s, int axis) {
  std::int64_t n = 1;
  for (int d = 0; d < axis; ++d) n *= s[d];
  return n;
}
inline std::int64_t inner_size(const Shape& s, int axis) {
  return s.stride(axis);
}

}  // namespace tapeloop::detail
