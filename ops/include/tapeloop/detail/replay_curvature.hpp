// The second-order term of a fused operator, from its forward recorded again with generic
// operators: the Hessian-vector product of <g, f> along the inputs' tangents.
#pragma once

#include <algorithm>
#include <vector>

#include "tapeloop/rule.hpp"

namespace tapeloop::detail {

// For a rule whose output is `generic(leaves)` (a function of generic operators, each with its
// own second-order rule): records it on the recompute tape over leaves of the inputs' values and
// adds hvp(<grad_out, output>) along the inputs' tangents — exactly the rule's second-order term
// d/de [J(x + e t)^T] g — into the inputs' gradient tangents. Costs a forward, a jvp and two
// reverse sweeps of the generic form: for Tape::hvp through fused operators, never for
// Tape::gnvp's network part.
template <class T, class Generic>
void curvature_by_replay(CurvatureContext<T>& c, Generic generic) {
  Tape<T>& sub = c.recompute_tape();
  sub.clear();
  struct Clear {
    Tape<T>& tape;
    ~Clear() { tape.clear(); }
  } clear{sub};
  const int count = c.inputs();
  std::vector<Var<T>> leaves, moving;
  std::vector<TensorRef<const T>> directions;
  std::vector<TensorRef<T>> products;
  std::vector<int> moving_input;
  for (int i = 0; i < count; ++i) {
    const Shape& shape = c.in_shape(i);
    const bool moves = c.tangent(i) || c.grad(i);
    // A leaf that moves gets a gradient buffer: that is what makes it an input of hvp.
    T* grad = moves ? record_scratch<T>(sub, shape.numel()) : nullptr;
    leaves.push_back(sub.external_leaf(c.in(i), grad, shape));
    if (!moves) continue;
    moving.push_back(leaves.back());
    moving_input.push_back(i);
    const T* t = c.tangent(i);
    if (!t) {
      T* zero = record_scratch<T>(sub, shape.numel());
      std::fill(zero, zero + shape.numel(), T(0));
      t = zero;
    }
    directions.push_back({t, shape});
    products.push_back({record_scratch<T>(sub, shape.numel()), shape});
  }
  const Var<T> out = generic(leaves);
  sub.hvp(out, TensorRef<const T>{c.grad_out(), c.out_shape()}, moving, directions, products);
  for (std::size_t k = 0; k < moving.size(); ++k) {
    if (T* dst = c.grad(moving_input[k])) {
      const T* src = products[k].data;
      for (std::int64_t e = 0, n = products[k].numel(); e < n; ++e) dst[e] += src[e];
    }
  }
}

}  // namespace tapeloop::detail
