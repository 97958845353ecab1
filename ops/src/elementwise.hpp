// The rules of the elementwise operators: one unary rule and one binary rule, each over the
// vector kernels of ops/src/kernels/ named by an enum value.
#pragma once

#include "broadcast.hpp"
#include "kernels/elementwise.hpp"
#include "tapeloop/rule.hpp"

namespace tapeloop::detail {

// Whether f is linear, or linear piece by piece (its second derivative zero where defined).
constexpr bool piecewise_linear(kernels::Unary f) {
  using enum kernels::Unary;
  return f == neg || f == abs || f == relu || f == add_scalar || f == mul_scalar ||
         f == div_scalar || f == rsub_scalar || f == clamp;
}

// f''(x), written with y = f(x) where that is cheaper, for the functions that are not
// piecewise linear.
template <class T>
T second_derivative(kernels::Unary f, T x, T y) {
  using enum kernels::Unary;
  switch (f) {
    case exp:
      return y;
    case log:
      return -T(1) / (x * x);
    case sqrt:
      return -T(1) / (T(4) * y * y * y);
    case tanh:
      return T(-2) * y * (T(1) - y * y);
    case sigmoid:
      return y * (T(1) - y) * (T(1) - T(2) * y);
    case rdiv_scalar:
      return T(2) * y / (x * x);  // y = s/x: y' = -y/x, y'' = 2y/x^2
    default:
      return T(0);
  }
}

// The second-order term of an elementwise y = f(x): dgx += f''(x) tx g, with f'' given as
// second(x, y). Shared by the kernel functions' rule and the C library's (unary.cpp).
template <class T, class Second>
void add_elementwise_curvature(CurvatureContext<T>& c, Second second) {
  const T* x = c.in(0);
  const T* y = c.out();
  const T* t = c.tangent(0);
  const T* g = c.grad_out();
  T* gx = c.grad(0);
  for (std::int64_t i = 0, n = c.out_shape().numel(); i < n; ++i) {
    gx[i] += second(x[i], y[i]) * t[i] * g[i];
  }
}

// y = f(x) elementwise, with the kernel's numbers p0, p1 (x + s, clamp's bounds). Its Jacobian
// is diagonal, so the tangent is the backward kernel run on the input's tangent.
template <class T, kernels::Unary F>
struct UnaryRule {
  static constexpr const char* name = kernels::unary_name(F);
  static constexpr bool linear = piecewise_linear(F);
  T p0 = T(0), p1 = T(0);

  const Shape& check(InputShapes s) const { return s[0]; }
  void forward(ForwardContext<T>& c) const {
    kernels::unary(F, c.in(0), c.out(), c.out_shape().numel(), p0, p1);
  }
  void backward(BackwardContext<T>& c) const {
    kernels::unary_backward(F, c.grad_out(), c.in(0), c.out(), c.grad(0), c.out_shape().numel(), p0,
                            p1);
  }
  void tangent(TangentContext<T>& c) const {
    kernels::unary_backward(F, c.tangent(0), c.in(0), c.out(), c.tangent_out(),
                            c.out_shape().numel(), p0, p1);
  }
  void curvature(CurvatureContext<T>& c) const requires(!linear) {
    add_elementwise_curvature(c, [](T x, T y) { return second_derivative(F, x, y); });
  }
};

template <kernels::Unary F, class T>
Var<T> unary(const Var<T>& x, T p0 = T(0), T p1 = T(0)) {
  return record(UnaryRule<T, F>{p0, p1}, x);
}

// y = a op b under numpy broadcasting.
template <class T, kernels::Binary F>
struct BinaryRule {
  static constexpr const char* name = F == kernels::Binary::add   ? "add"
                                      : F == kernels::Binary::sub ? "sub"
                                      : F == kernels::Binary::mul ? "mul"
                                                                  : "div";
  static constexpr bool linear = F == kernels::Binary::add || F == kernels::Binary::sub;

  const Shape& check(InputShapes s) const {
    return s[0] == s[1] ? s[0] : s.keep(broadcast_shapes(name, s[0], s[1]));
  }
  void forward(ForwardContext<T>& c) const {
    if (c.in_shape(0) == c.in_shape(1)) {
      kernels::binary(F, c.in(0), c.in(1), c.out(), c.out_shape().numel());
    } else {
      kernels::binary(F, plan(c), c.in(0), c.in(1), c.out());
    }
  }
  void backward(BackwardContext<T>& c) const {
    const T* g = c.grad_out();
    using kernels::Operand;
    if (c.in_shape(0) == c.in_shape(1)) {
      const std::int64_t n = c.out_shape().numel();
      if (T* ga = c.grad(0))
        kernels::binary_backward(F, Operand::a, g, c.in(0), c.in(1), c.out(), ga, n);
      if (T* gb = c.grad(1))
        kernels::binary_backward(F, Operand::b, g, c.in(0), c.in(1), c.out(), gb, n);
      return;
    }
    // Broadcast: the plan is rebuilt from the shapes rather than stored in the rule.
    const kernels::Broadcast p = plan(c);
    for (const Operand which : {Operand::a, Operand::b}) {
      T* dst = c.grad(which == Operand::a ? 0 : 1);
      if (!dst) continue;
      T* scratch = kernels::binary_backward_scratch(F, which, p) ? c.scratch(p.numel) : nullptr;
      kernels::binary_backward(F, which, p, g, c.in(0), c.in(1), c.out(), dst, scratch);
    }
  }
  // ty = d/da ta + d/db tb. Under broadcasting every operand is first expanded to the output's
  // shape (scratch), then the equal-shape kernels apply.
  void tangent(TangentContext<T>& c) const {
    const std::int64_t n = c.out_shape().numel();
    const bool same = c.in_shape(0) == c.in_shape(1);
    auto full = [&](const T* v, int i) { return same ? v : expand(c, v, c.in_shape(i)); };
    const T* a = full(c.in(0), 0);
    const T* b = full(c.in(1), 1);
    using kernels::Operand;
    if (const T* ta = c.tangent(0)) {
      kernels::binary_backward(F, Operand::a, full(ta, 0), a, b, c.out(), c.tangent_out(), n);
    }
    if (const T* tb = c.tangent(1)) {
      kernels::binary_backward(F, Operand::b, full(tb, 1), a, b, c.out(), c.tangent_out(), n);
    }
  }
  // mul: dga += g tb, dgb += g ta. div (y = a/b): dga += -g tb / b^2,
  // dgb += g (2 a tb / b^3 - ta / b^2). Worked in the output's shape (operands expanded under
  // broadcasting), then summed into each input's shape as add's backward sums.
  void curvature(CurvatureContext<T>& c) const requires(!linear) {
    const std::int64_t n = c.out_shape().numel();
    const bool same = c.in_shape(0) == c.in_shape(1);
    auto full = [&](const T* v, int i) { return same ? v : expand(c, v, c.in_shape(i)); };
    const T* a = full(c.in(0), 0);
    const T* b = full(c.in(1), 1);
    const T* ta = c.tangent(0) ? full(c.tangent(0), 0) : nullptr;
    const T* tb = c.tangent(1) ? full(c.tangent(1), 1) : nullptr;
    const T* g = c.grad_out();
    constexpr bool mul = F == kernels::Binary::mul;
    for (int which = 0; which < 2; ++which) {
      T* dst = c.grad(which);
      if (!dst) continue;
      T* w = same ? dst : c.scratch(n);
      if (!same) std::fill(w, w + n, T(0));
      for (std::int64_t i = 0; i < n; ++i) {
        const T da = ta ? ta[i] : T(0);
        const T db = tb ? tb[i] : T(0);
        if constexpr (mul) {
          w[i] += g[i] * (which == 0 ? db : da);
        } else {
          const T inv = T(1) / b[i];
          w[i] += which == 0 ? -g[i] * db * inv * inv
                             : g[i] * (T(2) * a[i] * db * inv - da) * inv * inv;
        }
      }
      if (!same) {
        kernels::binary_backward(kernels::Binary::add,
                                 which == 0 ? kernels::Operand::a : kernels::Operand::b, plan(c), w,
                                 c.in(0), c.in(1), c.out(), dst, static_cast<T*>(nullptr));
      }
    }
  }

 private:
  static kernels::Broadcast plan(const OpContext<T>& c) {
    return kernels::plan_broadcast(c.out_shape(), c.in_shape(0), c.in_shape(1));
  }
  // v (of `shape`) broadcast to the output's shape, in scratch.
  static const T* expand(const OpContext<T>& c, const T* v, const Shape& shape) {
    const Shape& out = c.out_shape();
    T* zero = c.scratch(out.numel());
    std::fill(zero, zero + out.numel(), T(0));
    T* full = c.scratch(out.numel());
    kernels::binary(kernels::Binary::add, kernels::plan_broadcast(out, shape, out), v, zero, full);
    return full;
  }
};

template <kernels::Binary F, class T>
Var<T> binary(const Var<T>& a, const Var<T>& b) {
  return record(BinaryRule<T, F>{}, a, b);
}

}  // namespace tapeloop::detail
