// argmax, argmin and topk: ranking along one axis seen as [outer, n, inner].
#include "tapeloop/ops/select.hpp"

#include <algorithm>
#include <string>
#include <vector>

#include "axis.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/ops/index.hpp"

namespace tapeloop {
namespace {

// topk's order when smallest: smaller first and NaN last (PyTorch sorts NaN above every
// number). When largest it is detail::replaces_max, NaN first.
template <class T>
bool smaller_nan_last(T a, T b) {
  return a < b || (b != b && a == a);
}

// The view around a checked, non-empty axis, naming `op` in errors.
detail::AxisView nonempty_axis_view(const char* op, const Shape& shape, int& axis) {
  axis = detail::checked_axis(op, axis, shape);
  if (shape[axis] == 0) {
    throw ShapeError(std::string(op) + ": " + shape.str() + ": axis " + std::to_string(axis) +
                     " has size 0");
  }
  return detail::axis_view(shape, axis);
}

template <bool Largest, class T>
Indices arg_extremum(const char* op, TensorRef<const T> x, int axis, bool keepdim) {
  const detail::AxisView v = nonempty_axis_view(op, x.shape, axis);
  Indices out{detail::reduced_shape(x.shape, axis, keepdim),
              std::vector<std::int64_t>(static_cast<std::size_t>(v.outer * v.inner), 0)};
  for (std::int64_t o = 0; o < v.outer; ++o) {
    for (std::int64_t k = 0; k < v.inner; ++k) {
      const T* base = x.data + o * v.n * v.inner + k;
      std::int64_t best = 0;
      for (std::int64_t j = 1; j < v.n; ++j) {
        const T candidate = base[j * v.inner], current = base[best * v.inner];
        if (Largest ? detail::replaces_max(candidate, current)
                    : detail::replaces_min(candidate, current)) {
          best = j;
        }
      }
      out.values[static_cast<std::size_t>(o * v.inner + k)] = best;
    }
  }
  return out;
}

}  // namespace

Indices argmax(TensorRef<const float> x, int axis, bool keepdim) {
  return arg_extremum<true>("argmax", x, axis, keepdim);
}
Indices argmax(TensorRef<const double> x, int axis, bool keepdim) {
  return arg_extremum<true>("argmax", x, axis, keepdim);
}
Indices argmin(TensorRef<const float> x, int axis, bool keepdim) {
  return arg_extremum<false>("argmin", x, axis, keepdim);
}
Indices argmin(TensorRef<const double> x, int axis, bool keepdim) {
  return arg_extremum<false>("argmin", x, axis, keepdim);
}

// The positions are found on the values, then gather records the selection on the tape: its
// backward scatter-adds, which is exactly topk's gradient.
template <class T>
TopK<T> topk(const Var<T>& x, std::int64_t k, int axis, bool largest) {
  const Shape shape = x.shape();
  axis = detail::checked_axis("topk", axis, shape);
  const detail::AxisView v = detail::axis_view(shape, axis);
  if (k < 0 || k > v.n) {
    throw ValueError("topk: k = " + std::to_string(k) + " for axis " + std::to_string(axis) +
                     " of " + shape.str() + ": expected 0 <= k <= " + std::to_string(v.n));
  }
  Shape out_shape = shape;
  out_shape[axis] = k;
  std::vector<std::int64_t> positions(static_cast<std::size_t>(v.outer * k * v.inner));
  std::vector<std::int64_t> order(static_cast<std::size_t>(v.n));
  const T* data = x.value().data;
  for (std::int64_t o = 0; o < v.outer; ++o) {
    for (std::int64_t i = 0; i < v.inner; ++i) {
      const T* base = data + o * v.n * v.inner + i;
      for (std::int64_t j = 0; j < v.n; ++j) order[static_cast<std::size_t>(j)] = j;
      auto before = [&](std::int64_t a, std::int64_t b) {
        return largest ? detail::replaces_max(base[a * v.inner], base[b * v.inner])
                       : smaller_nan_last(base[a * v.inner], base[b * v.inner]);
      };
      // Stable: equal values keep their order along the axis.
      std::partial_sort(order.begin(), order.begin() + k, order.end(),
                        [&](auto a, auto b) { return before(a, b) || (!before(b, a) && a < b); });
      for (std::int64_t j = 0; j < k; ++j) {
        positions[static_cast<std::size_t>((o * k + j) * v.inner + i)] =
            order[static_cast<std::size_t>(j)];
      }
    }
  }
  Var<T> values = gather(x, axis, positions, out_shape);
  return {values, Indices{out_shape, std::move(positions)}};
}

template TopK<float> topk(const Var<float>&, std::int64_t, int, bool);
template TopK<double> topk(const Var<double>&, std::int64_t, int, bool);

}  // namespace tapeloop
