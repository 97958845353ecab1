// Recording helpers for elementwise operators: a forward loop and a backward loop from two
// small lambdas, so each operator states only its formula and its derivative.
#pragma once

#include "broadcast.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop::detail {

// Records a broadcasting binary op. `forward(a, b)` gives the value; `grad_a(g, a, b, y)` and
// `grad_b(...)` give each input's contribution for one element, summed to the input's shape.
template <class T, class Forward, class GradA, class GradB>
Var<T> binary(const char* op, const Var<T>& a, const Var<T>& b, Forward forward, GradA grad_a,
              GradB grad_b) {
  Tape<T>& tape = a.tape();
  const Shape out_shape = detail::broadcast_shapes(op, a.shape(), b.shape());
  Var<T> out = tape.make_node(op, out_shape, {a, b});
  const T* pa = a.value().data;
  const T* pb = b.value().data;
  T* py = tape.mutable_value(out);
  detail::broadcast_for_each(
      out_shape, a.shape(), b.shape(),
      [=](std::int64_t i, std::int64_t ia, std::int64_t ib) { py[i] = forward(pa[ia], pb[ib]); });
  tape.set_backward(out, [=] {
    const T* g = out.grad().data;
    const T* y = out.value().data;
    const Shape& sa = a.shape();
    const Shape& sb = b.shape();
    if (a.requires_grad()) {
      T* ga = a.grad().data;
      detail::broadcast_for_each(out.shape(), sa, sb,
                                 [=](std::int64_t i, std::int64_t ia, std::int64_t ib) {
                                   ga[ia] += grad_a(g[i], pa[ia], pb[ib], y[i]);
                                 });
    }
    if (b.requires_grad()) {
      T* gb = b.grad().data;
      detail::broadcast_for_each(out.shape(), sa, sb,
                                 [=](std::int64_t i, std::int64_t ia, std::int64_t ib) {
                                   gb[ib] += grad_b(g[i], pa[ia], pb[ib], y[i]);
                                 });
    }
  });
  return out;
}

// Records a unary elementwise op y = forward(x) with dx = grad(g, x, y).
template <class T, class Forward, class Grad>
Var<T> unary(const char* op, const Var<T>& x, Forward forward, Grad grad) {
  Tape<T>& tape = x.tape();
  Var<T> out = tape.make_node(op, x.shape(), {x});
  const T* px = x.value().data;
  T* py = tape.mutable_value(out);
  const std::int64_t n = x.numel();
  for (std::int64_t i = 0; i < n; ++i) py[i] = forward(px[i]);
  tape.set_backward(out, [=] {
    if (!x.requires_grad()) return;
    const T* g = out.grad().data;
    T* gx = x.grad().data;
    for (std::int64_t i = 0; i < n; ++i) gx[i] += grad(g[i], px[i], py[i]);
  });
  return out;
}

}  // namespace tapeloop::detail
