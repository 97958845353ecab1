// softmax and log_softmax: rows of the last axis run the vector row kernels; other axes view x
// as [outer, n, inner] with per-slice sums in one row of scratch.
#include "tapeloop/ops/softmax.hpp"

#include <cmath>
#include <cstdint>

#include "axis.hpp"
#include "kernels/softmax.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop {
namespace {

// Writes y = x - m - log(sum(exp(x - m))) per slice (log_softmax), m the slice maximum. `row`
// is scratch of v.inner elements. Loops run j outside and k inside so memory is read in order.
template <class T>
void log_softmax_forward(const T* px, T* py, T* row, const detail::AxisView& v) {
  for (std::int64_t o = 0; o < v.outer; ++o) {
    const T* x0 = px + o * v.n * v.inner;
    T* y0 = py + o * v.n * v.inner;
    // row = the maximum along the slice (NaN propagates through the arithmetic below anyway).
    for (std::int64_t k = 0; k < v.inner; ++k) row[k] = x0[k];
    for (std::int64_t j = 1; j < v.n; ++j) {
      const T* xr = x0 + j * v.inner;
      for (std::int64_t k = 0; k < v.inner; ++k) {
        if (xr[k] > row[k]) row[k] = xr[k];
      }
    }
    // Shift into y (y = x - m), then row = log(sum(exp(y))) and y -= row: the row holds the
    // maximum, then the sum, so one row of scratch is enough.
    for (std::int64_t j = 0; j < v.n; ++j) {
      const T* xr = x0 + j * v.inner;
      T* yr = y0 + j * v.inner;
      for (std::int64_t k = 0; k < v.inner; ++k) yr[k] = xr[k] - row[k];
    }
    for (std::int64_t k = 0; k < v.inner; ++k) row[k] = T(0);
    for (std::int64_t j = 0; j < v.n; ++j) {
      const T* yr = y0 + j * v.inner;
      for (std::int64_t k = 0; k < v.inner; ++k) row[k] += std::exp(yr[k]);
    }
    for (std::int64_t k = 0; k < v.inner; ++k) row[k] = std::log(row[k]);
    for (std::int64_t j = 0; j < v.n; ++j) {
      T* yr = y0 + j * v.inner;
      for (std::int64_t k = 0; k < v.inner; ++k) yr[k] -= row[k];
    }
  }
}

// Shared front of both operators: checks the axis, makes the node and the scratch row.
template <class T>
struct SoftmaxSetup {
  Var<T> out;
  detail::AxisView v;
  T* row;
};

template <class T>
SoftmaxSetup<T> setup(const char* op, const Var<T>& x, int axis) {
  Tape<T>& tape = x.tape();
  const Shape& shape = x.shape();
  const int ax = detail::checked_axis(op, axis, shape);
  SoftmaxSetup<T> s;
  s.v = detail::axis_view(shape, ax);
  s.out = tape.make_node(op, shape, {x});
  // One row serves the forward pass and, later, the backward pass: no allocation in backward.
  s.row = tape.scratch(s.v.inner);
  return s;
}

}  // namespace

template <class T>
Var<T> softmax(const Var<T>& x, int axis) {
  const SoftmaxSetup<T> s = setup("softmax", x, axis);
  Tape<T>& tape = x.tape();
  const Var<T> out = s.out;
  const detail::AxisView v = s.v;
  T* row = s.row;
  T* py = tape.mutable_value(out);
  if (v.inner == 1) {  // the common case, the last axis: contiguous rows, vector kernels
    kernels::softmax_rows(x.value().data, py, v.outer, v.n, false);
    tape.set_backward(out, [=] {
      if (!x.requires_grad()) return;
      kernels::softmax_rows_backward(out.grad().data, py, x.grad().data, v.outer, v.n, false);
    });
    return out;
  }
  const std::int64_t numel = x.numel();
  log_softmax_forward(x.value().data, py, row, v);
  for (std::int64_t i = 0; i < numel; ++i) py[i] = std::exp(py[i]);
  tape.set_backward(out, [=] {
    if (!x.requires_grad()) return;
    const T* g = out.grad().data;
    T* gx = x.grad().data;
    for (std::int64_t o = 0; o < v.outer; ++o) {
      const std::int64_t base = o * v.n * v.inner;
      // row = sum_j g_j y_j
      for (std::int64_t k = 0; k < v.inner; ++k) row[k] = T(0);
      for (std::int64_t j = 0; j < v.n; ++j) {
        const std::int64_t r = base + j * v.inner;
        for (std::int64_t k = 0; k < v.inner; ++k) row[k] += g[r + k] * py[r + k];
      }
      for (std::int64_t j = 0; j < v.n; ++j) {
        const std::int64_t r = base + j * v.inner;
        for (std::int64_t k = 0; k < v.inner; ++k) gx[r + k] += py[r + k] * (g[r + k] - row[k]);
      }
    }
  });
  return out;
}

template <class T>
Var<T> log_softmax(const Var<T>& x, int axis) {
  const SoftmaxSetup<T> s = setup("log_softmax", x, axis);
  Tape<T>& tape = x.tape();
  const Var<T> out = s.out;
  const detail::AxisView v = s.v;
  T* row = s.row;
  T* py = tape.mutable_value(out);
  if (v.inner == 1) {  // the common case, the last axis: contiguous rows, vector kernels
    kernels::softmax_rows(x.value().data, py, v.outer, v.n, true);
    tape.set_backward(out, [=] {
      if (!x.requires_grad()) return;
      kernels::softmax_rows_backward(out.grad().data, py, x.grad().data, v.outer, v.n, true);
    });
    return out;
  }
  log_softmax_forward(x.value().data, py, row, v);
  tape.set_backward(out, [=] {
    if (!x.requires_grad()) return;
    const T* g = out.grad().data;
    T* gx = x.grad().data;
    for (std::int64_t o = 0; o < v.outer; ++o) {
      const std::int64_t base = o * v.n * v.inner;
      // row = sum_j g_j
      for (std::int64_t k = 0; k < v.inner; ++k) row[k] = T(0);
      for (std::int64_t j = 0; j < v.n; ++j) {
        const std::int64_t r = base + j * v.inner;
        for (std::int64_t k = 0; k < v.inner; ++k) row[k] += g[r + k];
      }
      // softmax = exp(y), read off the output.
      for (std::int64_t j = 0; j < v.n; ++j) {
        const std::int64_t r = base + j * v.inner;
        for (std::int64_t k = 0; k < v.inner; ++k)
          gx[r + k] += g[r + k] - std::exp(py[r + k]) * row[k];
      }
    }
  });
  return out;
}

#define TAPELOOP_INSTANTIATE(T)                \
  template Var<T> softmax(const Var<T>&, int); \
  template Var<T> log_softmax(const Var<T>&, int);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
