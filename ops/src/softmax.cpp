// softmax and log_softmax: rows of the last axis run the vector row kernels; other axes view x
// as [outer, n, inner] with per-slice sums in one row of scratch.
#include "tapeloop/ops/softmax.hpp"

#include <cmath>
#include <cstdint>

#include "axis.hpp"
#include "kernels/softmax.hpp"
#include "tapeloop/rule.hpp"

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

// softmax (Log = false) and log_softmax along one axis.
template <class T, bool Log>
struct SoftmaxRule {
  static constexpr const char* name = Log ? "log_softmax" : "softmax";
  int axis;
  detail::AxisView v{};
  T* row = nullptr;  // one row of scratch, for forward and later backward: none made there

  Shape check(InputShapes s) {
    v = detail::axis_view(s[0], detail::checked_axis(name, axis, s[0]));
    return s[0];
  }
  void forward(ForwardContext<T>& c) {
    if (v.inner == 1) {  // the common case, the last axis: contiguous rows, vector kernels
      return kernels::softmax_rows(c.in(0), c.out(), v.outer, v.n, Log);
    }
    row = c.scratch(v.inner);
    T* py = c.out();
    log_softmax_forward(c.in(0), py, row, v);
    if (!Log) {
      const std::int64_t numel = c.out_shape().numel();
      for (std::int64_t i = 0; i < numel; ++i) py[i] = std::exp(py[i]);
    }
  }
  // The softmax at element r, read off the output.
  static T prob(const T* py, std::int64_t r) { return Log ? std::exp(py[r]) : py[r]; }

  // softmax: dx = y (g - sum_j g_j y_j); log_softmax: dx = g - softmax sum_j g_j.
  void backward(BackwardContext<T>& c) const {
    const T* g = c.grad_out();
    const T* py = c.out();
    T* gx = c.grad(0);
    if (v.inner == 1) return kernels::softmax_rows_backward(g, py, gx, v.outer, v.n, Log);
    for (std::int64_t o = 0; o < v.outer; ++o) {
      const std::int64_t base = o * v.n * v.inner;
      for (std::int64_t k = 0; k < v.inner; ++k) row[k] = T(0);
      for (std::int64_t j = 0; j < v.n; ++j) {
        const std::int64_t r = base + j * v.inner;
        for (std::int64_t k = 0; k < v.inner; ++k) row[k] += Log ? g[r + k] : g[r + k] * py[r + k];
      }
      for (std::int64_t j = 0; j < v.n; ++j) {
        const std::int64_t r = base + j * v.inner;
        for (std::int64_t k = 0; k < v.inner; ++k) {
          gx[r + k] += Log ? g[r + k] - prob(py, r + k) * row[k] : py[r + k] * (g[r + k] - row[k]);
        }
      }
    }
  }
  // softmax: dy = y (t - sum_j y_j t_j); log_softmax: dy = t - sum_j softmax_j t_j. Any axis,
  // with one row of sums.
  void tangent(TangentContext<T>& c) const {
    const T* t = c.tangent(0);
    const T* py = c.out();
    T* ty = c.tangent_out();
    T* sums = c.scratch(v.inner);
    for (std::int64_t o = 0; o < v.outer; ++o) {
      const std::int64_t base = o * v.n * v.inner;
      for (std::int64_t k = 0; k < v.inner; ++k) sums[k] = T(0);
      for (std::int64_t j = 0; j < v.n; ++j) {
        const std::int64_t r = base + j * v.inner;
        for (std::int64_t k = 0; k < v.inner; ++k) sums[k] += prob(py, r + k) * t[r + k];
      }
      for (std::int64_t j = 0; j < v.n; ++j) {
        const std::int64_t r = base + j * v.inner;
        for (std::int64_t k = 0; k < v.inner; ++k) {
          ty[r + k] += Log ? t[r + k] - sums[k] : py[r + k] * (t[r + k] - sums[k]);
        }
      }
    }
  }
  // With ty the output's tangent, per slice: softmax dgx += ty (g - <g, y>) - y <g, ty>;
  // log_softmax (dx = g - p sum g, p = e^y, dp = p ty) dgx += -p ty sum g.
  void curvature(CurvatureContext<T>& c) const {
    const T* g = c.grad_out();
    const T* py = c.out();
    const T* ty = c.tangent_out();
    T* gx = c.grad(0);
    T* sums = c.scratch(2 * v.inner);  // <g, y> and <g, ty>, or sum g
    T* more = sums + v.inner;
    for (std::int64_t o = 0; o < v.outer; ++o) {
      const std::int64_t base = o * v.n * v.inner;
      std::fill(sums, sums + 2 * v.inner, T(0));
      for (std::int64_t j = 0; j < v.n; ++j) {
        const std::int64_t r = base + j * v.inner;
        for (std::int64_t k = 0; k < v.inner; ++k) {
          sums[k] += Log ? g[r + k] : g[r + k] * py[r + k];
          more[k] += g[r + k] * ty[r + k];
        }
      }
      for (std::int64_t j = 0; j < v.n; ++j) {
        const std::int64_t r = base + j * v.inner;
        for (std::int64_t k = 0; k < v.inner; ++k) {
          gx[r + k] += Log ? -prob(py, r + k) * ty[r + k] * sums[k]
                           : ty[r + k] * (g[r + k] - sums[k]) - py[r + k] * more[k];
        }
      }
    }
  }
};

}  // namespace

template <class T>
Var<T> softmax(const Var<T>& x, int axis) {
  return record(SoftmaxRule<T, false>{axis}, x);
}

template <class T>
Var<T> log_softmax(const Var<T>& x, int axis) {
  return record(SoftmaxRule<T, true>{axis}, x);
}

#define TAPELOOP_INSTANTIATE(T)                \
  template Var<T> softmax(const Var<T>&, int); \
  template Var<T> log_softmax(const Var<T>&, int);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
