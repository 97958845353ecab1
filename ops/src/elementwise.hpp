// Recording helpers for elementwise operators: each operator names its kernel (ops/src/kernels/)
// and these record the forward call and attach the matching backward rule.
#pragma once

#include "broadcast.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/parallel.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop::detail {

// Records a broadcasting binary op whose forward and backward are kernels::binary[_backward].
template <class T>
Var<T> binary(const char* op, const Var<T>& a, const Var<T>& b, kernels::Binary f) {
  Tape<T>& tape = a.tape();
  const Shape sa = a.shape();  // copies: make_node may move the tape's node storage
  const Shape sb = b.shape();
  const Shape out_shape = sa == sb ? sa : detail::broadcast_shapes(op, sa, sb);
  Var<T> out = tape.make_node(op, out_shape, {a, b});
  const T* pa = a.value().data;
  const T* pb = b.value().data;
  T* py = tape.mutable_value(out);
  const kernels::Broadcast plan = kernels::plan_broadcast(out_shape, sa, sb);
  kernels::binary(f, plan, pa, pb, py);
  // The closure keeps only the Vars and the kernel: an equal-shape plan is rebuilt in a few
  // comparisons, and keeping the closure small keeps per-op bookkeeping small.
  tape.set_backward(out, [=] {
    const kernels::Broadcast p = kernels::plan_broadcast(out.shape(), a.shape(), b.shape());
    const T* g = out.grad().data;
    for (kernels::Operand which : {kernels::Operand::a, kernels::Operand::b}) {
      const Var<T>& input = which == kernels::Operand::a ? a : b;
      if (!input.requires_grad()) continue;
      T* scratch =
          kernels::binary_backward_scratch(f, which, p) ? out.tape().scratch(p.numel) : nullptr;
      kernels::binary_backward(f, which, p, g, pa, pb, py, input.grad().data, scratch);
    }
  });
  return out;
}

// Records a unary op whose forward and backward are kernels::unary[_backward].
template <class T>
Var<T> unary(const char* op, const Var<T>& x, kernels::Unary f, T p0 = T(0), T p1 = T(0)) {
  Tape<T>& tape = x.tape();
  const TensorRef<const T> in = x.value();
  Var<T> out = tape.make_node(op, in.shape, {x});
  const T* px = in.data;
  T* py = tape.mutable_value(out);
  const std::int64_t n = in.numel();
  kernels::unary(f, px, py, n, p0, p1);
  tape.set_backward(out, [=] {
    if (!x.requires_grad()) return;
    kernels::unary_backward(f, out.grad().data, px, py, x.grad().data, n, p0, p1);
  });
  return out;
}

// Records a unary op y = forward(x) with dx = grad(g, x, y) from scalar lambdas, for formulas
// without a vector kernel (pow); runs in parallel chunks above the grain size.
template <class T, class Forward, class Grad>
Var<T> unary_scalar(const char* op, const Var<T>& x, Forward forward, Grad grad) {
  Tape<T>& tape = x.tape();
  const TensorRef<const T> in = x.value();
  Var<T> out = tape.make_node(op, in.shape, {x});
  const T* px = in.data;
  T* py = tape.mutable_value(out);
  const std::int64_t n = in.numel();
  constexpr std::int64_t cost = 4 * kernels::cost::transcendental;  // a libm call per element
  kernels::parallel_elements(n, cost, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) py[i] = forward(px[i]);
  });
  tape.set_backward(out, [=] {
    if (!x.requires_grad()) return;
    const T* g = out.grad().data;
    T* gx = x.grad().data;
    kernels::parallel_elements(n, cost, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) gx[i] += grad(g[i], px[i], py[i]);
    });
  });
  return out;
}

}  // namespace tapeloop::detail
