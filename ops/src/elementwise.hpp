// Recording helpers for elementwise operators: each operator names its kernel (ops/src/kernels/)
// and these record the forward call and attach the matching backward rule.
#pragma once

#include "broadcast.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/parallel.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop::detail {

// The gradient buffer of a Var captured by a backward rule. The rule runs inside backward() of
// the recording that made it, so the Var is live by construction: skip Var::grad()'s liveness
// check, which would be a good part of the cost of a one-element operator.
template <class T>
T* grad_in_backward(const Var<T>& v) {
  return v.tape_ptr()->grad_of(v.index());
}

// Records a broadcasting binary op whose forward and backward are kernels::binary[_backward].
// Bookkeeping is kept minimal (one liveness check per input, flags read once at recording,
// no plan for equal shapes) because with small tensors it is the whole cost of the op.
template <class T>
Var<T> binary(const char* op, const Var<T>& a, const Var<T>& b, kernels::Binary f) {
  Tape<T>& tape = a.tape();
  // Value, shape and flags read once from each node (copied: make_node may move the nodes).
  const Node<T>& na = tape.node(a);
  const T* pa = na.value;
  const Shape sa = na.shape;
  const bool grad_a = (na.flags & Node<T>::requires_grad) != 0;
  tape.check_live(b, op);  // "add: the Var belongs to another tape", before node() checks
  const Node<T>& nb = tape.node(b);
  const T* pb = nb.value;
  const Shape sb = nb.shape;
  const bool grad_b = (nb.flags & Node<T>::requires_grad) != 0;
  const bool same = sa == sb;
  const Shape out_shape = same ? sa : detail::broadcast_shapes(op, sa, sb);
  Var<T> out = tape.make_node(op, out_shape, {a, b});
  T* py = tape.mutable_value(out);
  const std::int64_t n = out_shape.numel();
  if (same) {
    kernels::binary(f, pa, pb, py, n);
  } else {
    kernels::binary(f, kernels::plan_broadcast(out_shape, sa, sb), pa, pb, py);
  }
  if (!tape.grad_enabled() || !(grad_a || grad_b)) return out;  // no rule will be recorded
  tape.set_backward(out, [=] {
    const T* g = grad_in_backward(out);
    if (same) {
      if (grad_a)
        kernels::binary_backward(f, kernels::Operand::a, g, pa, pb, py, grad_in_backward(a), n);
      if (grad_b)
        kernels::binary_backward(f, kernels::Operand::b, g, pa, pb, py, grad_in_backward(b), n);
      return;
    }
    // Broadcast: the plan is rebuilt from the shapes rather than stored in the closure.
    Tape<T>& t = *out.tape_ptr();
    const kernels::Broadcast p = kernels::plan_broadcast(out.shape(), a.shape(), b.shape());
    for (kernels::Operand which : {kernels::Operand::a, kernels::Operand::b}) {
      if (!(which == kernels::Operand::a ? grad_a : grad_b)) continue;
      T* scratch = kernels::binary_backward_scratch(f, which, p) ? t.scratch(p.numel) : nullptr;
      T* dst = grad_in_backward(which == kernels::Operand::a ? a : b);
      kernels::binary_backward(f, which, p, g, pa, pb, py, dst, scratch);
    }
  });
  return out;
}

// Records a unary op whose forward and backward are kernels::unary[_backward].
template <class T>
Var<T> unary(const char* op, const Var<T>& x, kernels::Unary f, T p0 = T(0), T p1 = T(0)) {
  Tape<T>& tape = x.tape();
  const Node<T>& nx = tape.node(x);
  const T* px = nx.value;
  const Shape shape = nx.shape;  // a copy: make_node may move the nodes
  Var<T> out = tape.make_node(op, shape, {x});
  T* py = tape.mutable_value(out);
  const std::int64_t n = shape.numel();
  kernels::unary(f, px, py, n, p0, p1);
  // A node requires a gradient exactly when its one input does (and recording is on).
  tape.set_backward(out, [=] {
    kernels::unary_backward(f, grad_in_backward(out), px, py, grad_in_backward(x), n, p0, p1);
  });
  return out;
}

// Records a unary op y = forward(x) with dx = grad(g, x, y) from scalar lambdas, for formulas
// without a vector kernel (pow); runs in parallel chunks above the grain size.
template <class T, class Forward, class Grad>
Var<T> unary_scalar(const char* op, const Var<T>& x, Forward forward, Grad grad) {
  Tape<T>& tape = x.tape();
  const Node<T>& nx = tape.node(x);
  const T* px = nx.value;
  const Shape shape = nx.shape;  // a copy: make_node may move the nodes
  Var<T> out = tape.make_node(op, shape, {x});
  T* py = tape.mutable_value(out);
  const std::int64_t n = shape.numel();
  constexpr std::int64_t cost = kernels::cost::libm;
  kernels::parallel_elements(n, cost, [&](std::int64_t b, std::int64_t e) {
    for (std::int64_t i = b; i < e; ++i) py[i] = forward(px[i]);
  });
  tape.set_backward(out, [=] {
    const T* g = grad_in_backward(out);
    T* gx = grad_in_backward(x);
    kernels::parallel_elements(n, cost, [&](std::int64_t b, std::int64_t e) {
      for (std::int64_t i = b; i < e; ++i) gx[i] += grad(g[i], px[i], py[i]);
    });
  });
  return out;
}

}  // namespace tapeloop::detail
