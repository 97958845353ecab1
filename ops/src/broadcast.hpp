// Broadcasting (numpy rules) for elementwise operators: the output shape, and a loop that visits
// every output element together with the elements of the two operands it reads.
#pragma once

#include <array>
#include <cstdint>

#include "kernels/reduce.hpp"
#include "tapeloop/shape.hpp"

namespace tapeloop::detail {

/// The numpy broadcast of two shapes; throws ShapeError naming `op` and both shapes.
Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b);

/// Element strides of `in` seen from `out`'s index space: 0 along broadcast axes.
std::array<std::int64_t, Shape::max_rank> broadcast_strides(const Shape& in, const Shape& out);

/// Calls f(i, ia, ib) for every flat output index i of `out`, where ia and ib are the flat
/// indices of the elements of `a` and `b` that broadcast to it, in row-major order.
template <class F>
void broadcast_for_each(const Shape& out, const Shape& a, const Shape& b, F f) {
  const std::int64_t n = out.numel();
  if (n == 0) return;
  if (a == out && b == out) {
    for (std::int64_t i = 0; i < n; ++i) f(i, i, i);
    return;
  }
  const auto sa = broadcast_strides(a, out);
  const auto sb = broadcast_strides(b, out);
  const int rank = out.rank();
  if (rank == 0) {
    f(0, 0, 0);
    return;
  }
  // Odometer over all axes but the last; the last axis is the inner loop.
  const int last = rank - 1;
  const std::int64_t inner = out[last];
  const std::int64_t sa_in = sa[static_cast<std::size_t>(last)];
  const std::int64_t sb_in = sb[static_cast<std::size_t>(last)];
  std::array<std::int64_t, Shape::max_rank> index{};
  std::int64_t ia = 0, ib = 0;
  for (std::int64_t i = 0; i < n; i += inner) {
    for (std::int64_t k = 0; k < inner; ++k) f(i + k, ia + k * sa_in, ib + k * sb_in);
    for (int axis = last - 1; axis >= 0; --axis) {
      const auto ax = static_cast<std::size_t>(axis);
      ia += sa[ax];
      ib += sb[ax];
      if (++index[ax] < out[axis]) break;
      ia -= sa[ax] * out[axis];
      ib -= sb[ax] * out[axis];
      index[ax] = 0;
    }
  }
}

/// Like broadcast_for_each with three operands: calls f(i, ia, ib, ic) for every flat output
/// index i of `out` (used by where: condition, a, b).
template <class F>
void broadcast_for_each3(const Shape& out, const Shape& a, const Shape& b, const Shape& c, F f) {
  const std::int64_t n = out.numel();
  if (n == 0) return;
  if (a == out && b == out && c == out) {
    for (std::int64_t i = 0; i < n; ++i) f(i, i, i, i);
    return;
  }
  const int rank = out.rank();
  if (rank == 0) {
    f(0, 0, 0, 0);
    return;
  }
  const auto sa = broadcast_strides(a, out);
  const auto sb = broadcast_strides(b, out);
  const auto sc = broadcast_strides(c, out);
  // Same odometer as broadcast_for_each, carrying three offsets.
  const int last = rank - 1;
  const auto lx = static_cast<std::size_t>(last);
  const std::int64_t inner = out[last];
  std::array<std::int64_t, Shape::max_rank> index{};
  std::int64_t ia = 0, ib = 0, ic = 0;
  for (std::int64_t i = 0; i < n; i += inner) {
    for (std::int64_t k = 0; k < inner; ++k) {
      f(i + k, ia + k * sa[lx], ib + k * sb[lx], ic + k * sc[lx]);
    }
    for (int axis = last - 1; axis >= 0; --axis) {
      const auto ax = static_cast<std::size_t>(axis);
      ia += sa[ax];
      ib += sb[ax];
      ic += sc[ax];
      if (++index[ax] < out[axis]) break;
      ia -= sa[ax] * out[axis];
      ib -= sb[ax] * out[axis];
      ic -= sc[ax] * out[axis];
      index[ax] = 0;
    }
  }
}

/// dst (of shape `to`) += g (of shape `from`) summed over the axes `to` was broadcast along:
/// the deterministic parallel reduction of kernels/reduce.cpp.
template <class T>
void sum_to_add(const T* g, const Shape& from, T* dst, const Shape& to) {
  kernels::sum_to(g, from, dst, to, T(1));
}

}  // namespace tapeloop::detail
