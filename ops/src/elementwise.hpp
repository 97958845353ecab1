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

// The backward rule of binary(): plain data, built in place in the arena.
template <class T>
struct BinaryRule {
  Var<T> out, a, b;
  const T* pa;
  const T* pb;
  const T* py;
  std::int64_t n;  // elements of the output
  kernels::Binary f;
  bool same;  // equal shapes: one flat loop, no broadcast plan
  bool grad_a, grad_b;

  void operator()() const {
    const T* g = grad_in_backward(out);
    if (same) {
      if (grad_a)
        kernels::binary_backward(f, kernels::Operand::a, g, pa, pb, py, grad_in_backward(a), n);
      if (grad_b)
        kernels::binary_backward(f, kernels::Operand::b, g, pa, pb, py, grad_in_backward(b), n);
      return;
    }
    // Broadcast: the plan is rebuilt from the shapes rather than stored in the rule.
    Tape<T>& t = *out.tape_ptr();
    const kernels::Broadcast p = kernels::plan_broadcast(out.shape(), a.shape(), b.shape());
    for (kernels::Operand which : {kernels::Operand::a, kernels::Operand::b}) {
      if (!(which == kernels::Operand::a ? grad_a : grad_b)) continue;
      T* scratch = kernels::binary_backward_scratch(f, which, p) ? t.scratch(p.numel) : nullptr;
      T* dst = grad_in_backward(which == kernels::Operand::a ? a : b);
      kernels::binary_backward(f, which, p, g, pa, pb, py, dst, scratch);
    }
  }
};

// Records a broadcasting binary op whose forward and backward are kernels::binary[_backward].
// Bookkeeping is kept minimal (values and flags read once at recording, no shape copied and no
// plan made for equal shapes, the rule built in place) because with small tensors it is the
// whole cost of the op.
template <class T>
Var<T> binary(const char* op, const Var<T>& a, const Var<T>& b, kernels::Binary f) {
  Tape<T>& tape = a.tape();
  tape.check_live(b, op);  // "add: the Var belongs to another tape", before node() checks
  // References into the tape: read what is needed before make_node, which may move the nodes.
  const Node<T>& na = tape.node(a);
  const Node<T>& nb = tape.node(b);
  const T* pa = na.value;
  const T* pb = nb.value;
  const bool grad_a = (na.flags & Node<T>::requires_grad) != 0;
  const bool grad_b = (nb.flags & Node<T>::requires_grad) != 0;
  const bool same = na.shape == nb.shape;
  Var<T> out;
  std::int64_t n;
  if (same) {
    n = na.shape.numel();
    out = tape.make_node(op, na.shape, a, b);
    kernels::binary(f, pa, pb, tape.mutable_value(out), n);
  } else {
    const Shape out_shape = detail::broadcast_shapes(op, na.shape, nb.shape);
    const kernels::Broadcast plan = kernels::plan_broadcast(out_shape, na.shape, nb.shape);
    n = plan.numel;
    out = tape.make_node(op, out_shape, a, b);
    kernels::binary(f, plan, pa, pb, tape.mutable_value(out));
  }
  if (!tape.grad_enabled() || !(grad_a || grad_b)) return out;  // no rule will be recorded
  const T* py = tape.mutable_value(out);
  tape.emplace_backward(out, [&] {
    return BinaryRule<T>{.out = out,
                         .a = a,
                         .b = b,
                         .pa = pa,
                         .pb = pb,
                         .py = py,
                         .n = n,
                         .f = f,
                         .same = same,
                         .grad_a = grad_a,
                         .grad_b = grad_b};
  });
  return out;
}

// The backward rule of unary().
template <class T>
struct UnaryRule {
  Var<T> out, x;
  const T* px;
  const T* py;
  std::int64_t n;
  T p0, p1;
  kernels::Unary f;

  void operator()() const {
    kernels::unary_backward(f, grad_in_backward(out), px, py, grad_in_backward(x), n, p0, p1);
  }
};

// Records a unary op whose forward and backward are kernels::unary[_backward].
template <class T>
Var<T> unary(const char* op, const Var<T>& x, kernels::Unary f, T p0 = T(0), T p1 = T(0)) {
  Tape<T>& tape = x.tape();
  const Node<T>& nx = tape.node(x);
  const T* px = nx.value;  // read before make_node, which may move the nodes
  const std::int64_t n = nx.shape.numel();
  Var<T> out = tape.make_node(op, nx.shape, x);
  T* py = tape.mutable_value(out);
  kernels::unary(f, px, py, n, p0, p1);
  // A node requires a gradient exactly when its one input does (and recording is on).
  tape.emplace_backward(out, [&] {
    return UnaryRule<T>{.out = out, .x = x, .px = px, .py = py, .n = n, .p0 = p0, .p1 = p1, .f = f};
  });
  return out;
}

// Records a unary op y = forward(x) with dx = grad(g, x, y) from scalar lambdas, for formulas
// without a vector kernel (pow); runs in parallel chunks above the grain size.
template <class T, class Forward, class Grad>
Var<T> unary_scalar(const char* op, const Var<T>& x, Forward forward, Grad grad) {
  Tape<T>& tape = x.tape();
  const Node<T>& nx = tape.node(x);
  const T* px = nx.value;  // read before make_node, which may move the nodes
  const std::int64_t n = nx.shape.numel();
  Var<T> out = tape.make_node(op, nx.shape, x);
  T* py = tape.mutable_value(out);
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
