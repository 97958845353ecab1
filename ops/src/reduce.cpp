// Reductions: an axis reduction views x as [outer, n, inner] and reduces the middle dimension.
#include "tapeloop/ops/reduce.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "axis.hpp"
#include "kernels/reduce.hpp"
#include "kernels/softmax.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop {
namespace {

// 1 for a sum, 1/n for a mean; the mean of nothing is NaN, as PyTorch (set explicitly rather
// than reached through 0 * (1 / 0)).
template <class T>
T reduction_scale(bool average, std::int64_t n) {
  if (!average) return T(1);
  return n > 0 ? T(1) / static_cast<T>(n) : std::numeric_limits<T>::quiet_NaN();
}

// sum (scale 1) and mean (scale 1/n) of every element: the deterministic blocked sum of
// kernels/reduce.cpp (bit-identical for any thread count, accurate for millions of floats).
template <class T>
Var<T> reduce_all(const char* op, const Var<T>& x, bool average) {
  Tape<T>& tape = x.tape();
  Var<T> out = tape.make_node(op, Shape{}, {x});
  const T* px = x.value().data;
  const std::int64_t n = x.numel();
  const T scale = reduction_scale<T>(average, n);
  kernels::sum_middle(px, 1, n, 1, tape.mutable_value(out), scale, false);
  tape.set_backward(out, [=] {
    if (!x.requires_grad()) return;
    kernels::expand_middle(out.grad().data, 1, n, 1, x.grad().data, scale);
  });
  return out;
}

// sum and mean along one axis: x seen as [outer, n, inner], summed over n.
template <class T>
Var<T> reduce_axis(const char* op, const Var<T>& x, int axis, bool keepdim, bool average) {
  Tape<T>& tape = x.tape();
  const Shape& shape = x.shape();
  const int ax = detail::checked_axis(op, axis, shape);
  const detail::AxisView v = detail::axis_view(shape, ax);
  Var<T> out = tape.make_node(op, detail::reduced_shape(shape, ax, keepdim), {x});
  const T* px = x.value().data;
  const T scale = reduction_scale<T>(average, v.n);
  kernels::sum_middle(px, v.outer, v.n, v.inner, tape.mutable_value(out), scale, false);
  tape.set_backward(out, [=] {
    if (!x.requires_grad()) return;
    kernels::expand_middle(out.grad().data, v.outer, v.n, v.inner, x.grad().data, scale);
  });
  return out;
}

// max and logsumexp have no value over an empty axis.
void require_nonempty_axis(const char* op, const Shape& shape, int ax) {
  if (shape[ax] == 0) {
    throw ShapeError(std::string(op) + ": " + shape.str() + ": cannot reduce axis " +
                     std::to_string(ax) + " of size 0");
  }
}

// The running maximum for max and logsumexp: takes v when it is larger, or when it is NaN and
// the maximum so far is not (so NaN propagates like PyTorch). Ties keep the first element.
template <class T>
bool replaces_max(T v, T best) {
  return v > best || (v != v && best == best);
}

}  // namespace

template <class T>
Var<T> sum(const Var<T>& x) {
  return reduce_all("sum", x, false);
}

template <class T>
Var<T> sum(const Var<T>& x, int axis, bool keepdim) {
  return reduce_axis("sum", x, axis, keepdim, false);
}

template <class T>
Var<T> mean(const Var<T>& x) {
  return reduce_all("mean", x, true);
}

template <class T>
Var<T> mean(const Var<T>& x, int axis, bool keepdim) {
  return reduce_axis("mean", x, axis, keepdim, true);
}

template <class T>
Var<T> max(const Var<T>& x, int axis, bool keepdim) {
  Tape<T>& tape = x.tape();
  const Shape& shape = x.shape();
  const int ax = detail::checked_axis("max", axis, shape);
  require_nonempty_axis("max", shape, ax);
  const detail::AxisView v = detail::axis_view(shape, ax);
  Var<T> out = tape.make_node("max", detail::reduced_shape(shape, ax, keepdim), {x});
  const T* px = x.value().data;
  T* py = tape.mutable_value(out);
  // Backward needs where each maximum came from; keep it only if there will be a backward.
  std::int64_t* arg = nullptr;
  if (out.requires_grad()) {
    arg = static_cast<std::int64_t*>(
        tape.scratch_bytes(static_cast<std::size_t>(v.outer * v.inner) * sizeof(std::int64_t)));
  }
  for (std::int64_t o = 0; o < v.outer; ++o) {
    T* y = py + o * v.inner;
    const T* x0 = px + o * v.n * v.inner;
    for (std::int64_t k = 0; k < v.inner; ++k) y[k] = x0[k];
    if (arg) {
      for (std::int64_t k = 0; k < v.inner; ++k) arg[o * v.inner + k] = 0;
    }
    for (std::int64_t j = 1; j < v.n; ++j) {
      const T* xr = x0 + j * v.inner;
      for (std::int64_t k = 0; k < v.inner; ++k) {
        if (replaces_max(xr[k], y[k])) {
          y[k] = xr[k];
          if (arg) arg[o * v.inner + k] = j;
        }
      }
    }
  }
  tape.set_backward(out, [=] {
    if (!x.requires_grad()) return;
    const T* g = out.grad().data;
    T* gx = x.grad().data;
    for (std::int64_t o = 0; o < v.outer; ++o) {
      for (std::int64_t k = 0; k < v.inner; ++k) {
        const std::int64_t r = o * v.inner + k;
        gx[(o * v.n + arg[r]) * v.inner + k] += g[r];
      }
    }
  });
  return out;
}

template <class T>
Var<T> logsumexp(const Var<T>& x, int axis, bool keepdim) {
  Tape<T>& tape = x.tape();
  const Shape& shape = x.shape();
  const int ax = detail::checked_axis("logsumexp", axis, shape);
  require_nonempty_axis("logsumexp", shape, ax);
  const detail::AxisView v = detail::axis_view(shape, ax);
  Var<T> out = tape.make_node("logsumexp", detail::reduced_shape(shape, ax, keepdim), {x});
  const T* px = x.value().data;
  T* py = tape.mutable_value(out);
  if (v.inner == 1) {  // reducing the last axis: contiguous rows, vector kernels
    kernels::logsumexp_rows(px, py, v.outer, v.n);
    tape.set_backward(out, [=] {
      if (!x.requires_grad()) return;
      kernels::logsumexp_rows_backward(out.grad().data, px, py, x.grad().data, v.outer, v.n);
    });
    return out;
  }
  T* s = tape.scratch(v.inner);  // running sums of one outer slice
  for (std::int64_t o = 0; o < v.outer; ++o) {
    T* y = py + o * v.inner;
    const T* x0 = px + o * v.n * v.inner;
    // y first holds the shift m: the maximum, or 0 when the maximum is infinite (an all -inf
    // slice must give log(0) = -inf, and +inf - +inf would be NaN).
    for (std::int64_t k = 0; k < v.inner; ++k) y[k] = x0[k];
    for (std::int64_t j = 1; j < v.n; ++j) {
      const T* xr = x0 + j * v.inner;
      for (std::int64_t k = 0; k < v.inner; ++k) {
        if (replaces_max(xr[k], y[k])) y[k] = xr[k];
      }
    }
    for (std::int64_t k = 0; k < v.inner; ++k) {
      if (std::isinf(y[k])) y[k] = T(0);
      s[k] = T(0);
    }
    for (std::int64_t j = 0; j < v.n; ++j) {
      const T* xr = x0 + j * v.inner;
      for (std::int64_t k = 0; k < v.inner; ++k) s[k] += std::exp(xr[k] - y[k]);
    }
    for (std::int64_t k = 0; k < v.inner; ++k) y[k] += std::log(s[k]);
  }
  tape.set_backward(out, [=] {
    if (!x.requires_grad()) return;
    const T* g = out.grad().data;
    T* gx = x.grad().data;
    // d/dx_j = exp(x_j - y): the softmax, read off the output.
    for (std::int64_t o = 0; o < v.outer; ++o) {
      const T* y = py + o * v.inner;
      const T* go = g + o * v.inner;
      for (std::int64_t j = 0; j < v.n; ++j) {
        const std::int64_t base = (o * v.n + j) * v.inner;
        for (std::int64_t k = 0; k < v.inner; ++k) {
          gx[base + k] += go[k] * std::exp(px[base + k] - y[k]);
        }
      }
    }
  });
  return out;
}

#define TAPELOOP_INSTANTIATE(T)                   \
  template Var<T> sum(const Var<T>&);             \
  template Var<T> sum(const Var<T>&, int, bool);  \
  template Var<T> mean(const Var<T>&);            \
  template Var<T> mean(const Var<T>&, int, bool); \
  template Var<T> max(const Var<T>&, int, bool);  \
  template Var<T> logsumexp(const Var<T>&, int, bool);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
