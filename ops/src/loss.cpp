// Regression and binary losses: one node each, summing per-element terms forward; mean scales by
// 1/N.
#include "tapeloop/ops/loss.hpp"

#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "kernels/parallel.hpp"
#include "kernels/reduce.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/rule.hpp"

namespace tapeloop {
namespace {

// The factor turning a sum of `count` terms into the requested reduction.
template <class T>
T reduction_scale(Reduction reduction, std::int64_t count) {
  if (reduction == Reduction::sum) return T(1);
  return count > 0 ? T(1) / static_cast<T>(count) : std::numeric_limits<T>::quiet_NaN();
}

// Throws ShapeError naming `op` unless the two inputs have the same shape.
Shape require_same_shape(const char* op, InputShapes s, const char* what) {
  if (s[0] != s[1]) {
    throw ShapeError(std::string(op) + ": " + s[0].str() + " and " + s[1].str() + ": " + what);
  }
  return Shape{};
}

// 1 / (1 + e^-x) exponentiating only non-positive numbers, so nothing overflows (the scalar
// form of the vector kernel's, kernels/simd.hpp).
template <class T>
T stable_sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

// dst[i] += f(i) for i < n, in parallel chunks above the grain size (each element on its own:
// the same bits for any thread count).
template <class T, class F>
void add_each(T* dst, std::int64_t n, F f) {
  kernels::parallel_elements(n, kernels::cost::libm, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) dst[i] += f(i);
  });
}

template <class T>
struct MseLossRule {
  static constexpr const char* name = "mse_loss";
  Reduction reduction;
  T scale = T(1);

  Shape check(InputShapes s) {
    scale = reduction_scale<T>(reduction, s[0].numel());
    return require_same_shape(name, s, "pred and target must have the same shape");
  }
  void forward(ForwardContext<T>& c) const {
    // The blocked pairwise sum: accurate and the same for any thread count.
    c.out()[0] = kernels::sum_squared_difference(c.in(0), c.in(1), c.in_shape(0).numel()) * scale;
  }
  void backward(BackwardContext<T>& c) const {
    const T gs = T(2) * c.grad_out()[0] * scale;
    const T* p = c.in(0);
    const T* t = c.in(1);
    const std::int64_t n = c.in_shape(0).numel();
    if (T* gp = c.grad(0)) add_each(gp, n, [=](std::int64_t i) { return gs * (p[i] - t[i]); });
    if (T* gt = c.grad(1)) add_each(gt, n, [=](std::int64_t i) { return -(gs * (p[i] - t[i])); });
  }
  // dy = 2 scale sum (p - t)(dp - dt).
  void tangent(TangentContext<T>& c) const {
    const T* p = c.in(0);
    const T* t = c.in(1);
    const T* tp = c.tangent(0);
    const T* tt = c.tangent(1);
    T acc = 0;
    for (std::int64_t i = 0, n = c.in_shape(0).numel(); i < n; ++i) {
      acc += (p[i] - t[i]) * ((tp ? tp[i] : T(0)) - (tt ? tt[i] : T(0)));
    }
    c.tangent_out()[0] += T(2) * scale * acc;
  }
  // The Hessian is 2 scale [I -I; -I I]: dgp += 2 scale g (tp - tt), dgt the negative.
  void curvature(CurvatureContext<T>& c) const {
    const T gs = T(2) * c.grad_out()[0] * scale;
    const T* tp = c.tangent(0);
    const T* tt = c.tangent(1);
    auto d = [=](std::int64_t i) { return gs * ((tp ? tp[i] : T(0)) - (tt ? tt[i] : T(0))); };
    const std::int64_t n = c.in_shape(0).numel();
    if (T* gp = c.grad(0)) add_each(gp, n, d);
    if (T* gt = c.grad(1)) add_each(gt, n, [=](std::int64_t i) { return -d(i); });
  }
};

template <class T>
struct BceWithLogitsRule {
  static constexpr const char* name = "binary_cross_entropy_with_logits";
  Reduction reduction;
  T scale = T(1);

  Shape check(InputShapes s) {
    scale = reduction_scale<T>(reduction, s[0].numel());
    return require_same_shape(name, s, "logits and target must have the same shape");
  }
  void forward(ForwardContext<T>& c) const {
    const T* px = c.in(0);
    const T* pt = c.in(1);
    T acc = 0;
    for (std::int64_t i = 0, n = c.in_shape(0).numel(); i < n; ++i) {
      // -t log s(x) - (1-t) log(1 - s(x)) = log(1 + e^x) - x t, and
      // log(1 + e^x) = max(x, 0) + log1p(e^-|x|) never overflows.
      const T x = px[i];
      acc += (x > T(0) ? x : T(0)) - x * pt[i] + std::log1p(std::exp(-std::abs(x)));
    }
    c.out()[0] = acc * scale;
  }
  void backward(BackwardContext<T>& c) const {
    const T gs = c.grad_out()[0] * scale;
    const T* px = c.in(0);
    const T* pt = c.in(1);
    const std::int64_t n = c.in_shape(0).numel();
    if (T* gx = c.grad(0)) {
      add_each(gx, n, [=](std::int64_t i) { return gs * (stable_sigmoid(px[i]) - pt[i]); });
    }
    if (T* gt = c.grad(1)) add_each(gt, n, [=](std::int64_t i) { return -(gs * px[i]); });
  }
  // dy = scale sum (sigmoid(x) - t) dx - x dt.
  void tangent(TangentContext<T>& c) const {
    const T* px = c.in(0);
    const T* pt = c.in(1);
    const T* tx = c.tangent(0);
    const T* tt = c.tangent(1);
    T acc = 0;
    for (std::int64_t i = 0, n = c.in_shape(0).numel(); i < n; ++i) {
      if (tx) acc += (stable_sigmoid(px[i]) - pt[i]) * tx[i];
      if (tt) acc -= px[i] * tt[i];
    }
    c.tangent_out()[0] += scale * acc;
  }
  // From dx = gs (sigmoid(x) - t) and dt = -gs x: dgx += gs (s(1 - s) tx - tt), dgt += -gs tx.
  void curvature(CurvatureContext<T>& c) const {
    const T gs = c.grad_out()[0] * scale;
    const T* px = c.in(0);
    const T* tx = c.tangent(0);
    const T* tt = c.tangent(1);
    const std::int64_t n = c.in_shape(0).numel();
    if (T* gx = c.grad(0)) {
      add_each(gx, n, [=](std::int64_t i) {
        const T s = stable_sigmoid(px[i]);
        return gs * ((tx ? s * (T(1) - s) * tx[i] : T(0)) - (tt ? tt[i] : T(0)));
      });
    }
    if (T* gt = c.grad(1); gt && tx) add_each(gt, n, [=](std::int64_t i) { return -gs * tx[i]; });
  }
};

}  // namespace

template <class T>
Var<T> mse_loss(const Var<T>& pred, const Var<T>& target, Reduction reduction) {
  return record(MseLossRule<T>{reduction}, pred, target);
}

template <class T>
Var<T> binary_cross_entropy_with_logits(const Var<T>& logits, const Var<T>& target,
                                        Reduction reduction) {
  return record(BceWithLogitsRule<T>{reduction}, logits, target);
}

#define TAPELOOP_INSTANTIATE(T)                                      \
  template Var<T> mse_loss(const Var<T>&, const Var<T>&, Reduction); \
  template Var<T> binary_cross_entropy_with_logits(const Var<T>&, const Var<T>&, Reduction);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
