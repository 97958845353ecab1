// Reductions: an axis reduction views x as [outer, n, inner] and reduces the middle dimension.
#include "tapeloop/ops/reduce.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "axis.hpp"
#include "kernels/reduce.hpp"
#include "kernels/softmax.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/rule.hpp"

namespace tapeloop {
namespace {

// 1 for a sum, 1/n for a mean; the mean of nothing is NaN, as PyTorch (set explicitly rather
// than reached through 0 * (1 / 0)).
template <class T>
T reduction_scale(bool average, std::int64_t n) {
  if (!average) return T(1);
  return n > 0 ? T(1) / static_cast<T>(n) : std::numeric_limits<T>::quiet_NaN();
}

// Which axis a reduction runs along: one, or all of them.
struct ReduceAxis {
  static constexpr int all = std::numeric_limits<int>::min();
  int axis = all;
  bool keepdim = false;
};

// The view of x around the reduced axis, and the output's shape; throws naming `op`.
inline detail::AxisView reduce_view(const char* op, const Shape& shape, ReduceAxis r,
                                    Shape& out_shape) {
  if (r.axis == ReduceAxis::all) {
    out_shape = Shape{};
    return detail::AxisView{1, shape.numel(), 1};
  }
  const int ax = detail::checked_axis(op, r.axis, shape);
  out_shape = detail::reduced_shape(shape, ax, r.keepdim);
  return detail::axis_view(shape, ax);
}

// sum (Mean = false) and mean (scale 1/n): x seen as [outer, n, inner] and summed over n by the
// deterministic blocked sum of kernels/reduce.cpp (bit-identical for any thread count,
// accurate for millions of floats).
template <class T, bool Mean>
struct SumRule {
  static constexpr const char* name = Mean ? "mean" : "sum";
  static constexpr bool linear = true;  // backward reads no input's value
  ReduceAxis where;
  detail::AxisView v{};
  T scale = T(1);

  Shape check(InputShapes s) {
    Shape out;
    v = reduce_view(name, s[0], where, out);
    scale = reduction_scale<T>(Mean, v.n);
    return out;
  }
  void forward(ForwardContext<T>& c) const {
    kernels::sum_middle(c.in(0), v.outer, v.n, v.inner, c.out(), scale, false);
  }
  void backward(BackwardContext<T>& c) const {
    kernels::expand_middle(c.grad_out(), v.outer, v.n, v.inner, c.grad(0), scale);
  }
  void tangent(TangentContext<T>& c) const {
    kernels::sum_middle(c.tangent(0), v.outer, v.n, v.inner, c.tangent_out(), scale, true);
  }
};

// max and min have no value over an empty axis.
void require_nonempty_axis(const char* op, const Shape& shape, int axis) {
  const int ax = detail::checked_axis(op, axis, shape);
  if (shape[ax] == 0) {
    throw ShapeError(std::string(op) + ": " + shape.str() + ": cannot reduce axis " +
                     std::to_string(ax) + " of size 0");
  }
}

// The maximum (or, with Min, the minimum) along one axis; the gradient goes to the first
// extremal element.
template <class T, bool Min = false>
struct ExtremumRule {
  static constexpr const char* name = Min ? "min" : "max";
  static constexpr bool linear = true;  // piecewise: backward routes by the saved positions
  ReduceAxis where;
  detail::AxisView v{};
  std::int64_t* arg = nullptr;  // where each maximum came from, kept when a gradient will flow

  Shape check(InputShapes s) {
    Shape out;
    v = reduce_view(name, s[0], where, out);
    require_nonempty_axis(name, s[0], where.axis);
    return out;
  }
  void forward(ForwardContext<T>& c) {
    const T* px = c.in(0);
    T* py = c.out();
    if (c.needs_grad())
      arg = c.template scratch_as<std::int64_t>(static_cast<std::size_t>(v.outer * v.inner));
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
          if (Min ? detail::replaces_min(xr[k], y[k]) : detail::replaces_max(xr[k], y[k])) {
            y[k] = xr[k];
            if (arg) arg[o * v.inner + k] = j;
          }
        }
      }
    }
  }
  // dst[o, k] += src at the chosen element (backward: the transpose, scatter; tangent: gather).
  template <class Visit>
  void for_each_choice(Visit visit) const {
    for (std::int64_t o = 0; o < v.outer; ++o) {
      for (std::int64_t k = 0; k < v.inner; ++k) {
        const std::int64_t r = o * v.inner + k;
        visit(r, (o * v.n + arg[r]) * v.inner + k);
      }
    }
  }
  void backward(BackwardContext<T>& c) const {
    const T* g = c.grad_out();
    T* gx = c.grad(0);
    for_each_choice([&](std::int64_t r, std::int64_t src) { gx[src] += g[r]; });
  }
  void tangent(TangentContext<T>& c) const {
    const T* tx = c.tangent(0);
    T* ty = c.tangent_out();
    for_each_choice([&](std::int64_t r, std::int64_t src) { ty[r] += tx[src]; });
  }
};

// log(sum(exp(x))) along one axis, shifted by the maximum so nothing overflows.
template <class T>
struct LogsumexpRule {
  static constexpr const char* name = "logsumexp";
  ReduceAxis where;
  detail::AxisView v{};

  Shape check(InputShapes s) {
    Shape out;
    v = reduce_view(name, s[0], where, out);
    return out;
  }
  void forward(ForwardContext<T>& c) const {
    const T* px = c.in(0);
    T* py = c.out();
    if (v.n == 0) {
      // The log of an empty sum, log(0), as PyTorch; backward and tangent then have no
      // element of x to visit.
      std::fill(py, py + v.outer * v.inner, -std::numeric_limits<T>::infinity());
      return;
    }
    if (v.inner == 1) return kernels::logsumexp_rows(px, py, v.outer, v.n);  // vector kernels
    T* s = c.scratch(v.inner);  // running sums of one outer slice
    for (std::int64_t o = 0; o < v.outer; ++o) {
      T* y = py + o * v.inner;
      const T* x0 = px + o * v.n * v.inner;
      // y first holds the shift m: the maximum, or 0 when the maximum is infinite (an all -inf
      // slice must give log(0) = -inf, and +inf - +inf would be NaN).
      for (std::int64_t k = 0; k < v.inner; ++k) y[k] = x0[k];
      for (std::int64_t j = 1; j < v.n; ++j) {
        const T* xr = x0 + j * v.inner;
        for (std::int64_t k = 0; k < v.inner; ++k) {
          if (detail::replaces_max(xr[k], y[k])) y[k] = xr[k];
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
  }
  void backward(BackwardContext<T>& c) const {
    const T* g = c.grad_out();
    const T* px = c.in(0);
    const T* py = c.out();
    T* gx = c.grad(0);
    if (v.inner == 1) return kernels::logsumexp_rows_backward(g, px, py, gx, v.outer, v.n);
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
  }
  // dy = sum_j softmax_j dx_j.
  void tangent(TangentContext<T>& c) const {
    const T* px = c.in(0);
    const T* py = c.out();
    const T* tx = c.tangent(0);
    T* ty = c.tangent_out();
    for (std::int64_t o = 0; o < v.outer; ++o) {
      for (std::int64_t j = 0; j < v.n; ++j) {
        const std::int64_t base = (o * v.n + j) * v.inner;
        for (std::int64_t k = 0; k < v.inner; ++k) {
          ty[o * v.inner + k] += tx[base + k] * std::exp(px[base + k] - py[o * v.inner + k]);
        }
      }
    }
  }
  // dx_j = g p_j with p_j = e^(x_j - y), whose tangent is p_j (tx_j - ty): dgx_j += g p_j (tx_j -
  // ty).
  void curvature(CurvatureContext<T>& c) const {
    const T* px = c.in(0);
    const T* py = c.out();
    const T* tx = c.tangent(0);
    const T* ty = c.tangent_out();
    const T* g = c.grad_out();
    T* gx = c.grad(0);
    for (std::int64_t o = 0; o < v.outer; ++o) {
      for (std::int64_t j = 0; j < v.n; ++j) {
        const std::int64_t base = (o * v.n + j) * v.inner;
        for (std::int64_t k = 0; k < v.inner; ++k) {
          const std::int64_t r = o * v.inner + k;
          gx[base + k] += g[r] * std::exp(px[base + k] - py[r]) * (tx[base + k] - ty[r]);
        }
      }
    }
  }
};

}  // namespace

template <class T>
Var<T> sum(const Var<T>& x) {
  return record(SumRule<T, false>{}, x);
}

template <class T>
Var<T> sum(const Var<T>& x, int axis, bool keepdim) {
  return record(SumRule<T, false>{{axis, keepdim}}, x);
}

template <class T>
Var<T> mean(const Var<T>& x) {
  return record(SumRule<T, true>{}, x);
}

template <class T>
Var<T> mean(const Var<T>& x, int axis, bool keepdim) {
  return record(SumRule<T, true>{{axis, keepdim}}, x);
}

template <class T>
Var<T> max(const Var<T>& x, int axis, bool keepdim) {
  return record(ExtremumRule<T>{{axis, keepdim}}, x);
}

template <class T>
Var<T> min(const Var<T>& x, int axis, bool keepdim) {
  return record(ExtremumRule<T, true>{{axis, keepdim}}, x);
}

template <class T>
Var<T> logsumexp(const Var<T>& x, int axis, bool keepdim) {
  return record(LogsumexpRule<T>{{axis, keepdim}}, x);
}

#define TAPELOOP_INSTANTIATE(T)                   \
  template Var<T> sum(const Var<T>&);             \
  template Var<T> sum(const Var<T>&, int, bool);  \
  template Var<T> mean(const Var<T>&);            \
  template Var<T> mean(const Var<T>&, int, bool); \
  template Var<T> max(const Var<T>&, int, bool);  \
  template Var<T> min(const Var<T>&, int, bool);  \
  template Var<T> logsumexp(const Var<T>&, int, bool);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
