// where(condition, a, b): three-way broadcasting select; the gradient follows the selection.
#include "tapeloop/ops/where.hpp"

#include <string>

#include "broadcast.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/tape.hpp"

namespace tapeloop {
namespace {

// Broadcasts the three shapes, naming all of them on failure (a pairwise message would show
// an intermediate shape the caller never wrote).
Shape where_shape(const Shape& c, const Shape& a, const Shape& b) {
  try {
    return detail::broadcast_shapes("where", detail::broadcast_shapes("where", c, a), b);
  } catch (const ShapeError&) {
    throw ShapeError("where: condition " + c.str() + ", a " + a.str() + ", b " + b.str() +
                     ": cannot broadcast");
  }
}

}  // namespace

template <class T>
Var<T> where(const Var<T>& condition, const Var<T>& a, const Var<T>& b) {
  Tape<T>& tape = a.tape();
  // The condition is checked here rather than passed to make_node: as an input there it
  // would make the output require a gradient that can never flow anywhere.
  tape.check_live(condition, "where");
  const Shape& sc = condition.shape();
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  const Shape out_shape = where_shape(sc, sa, sb);
  Var<T> out = tape.make_node("where", out_shape, {a, b});
  const T* pc = condition.value().data;
  const T* pa = a.value().data;
  const T* pb = b.value().data;
  T* py = tape.mutable_value(out);
  detail::broadcast_for_each3(out_shape, sc, sa, sb,
                              [=](std::int64_t i, std::int64_t ic, std::int64_t ia,
                                  std::int64_t ib) { py[i] = pc[ic] != T(0) ? pa[ia] : pb[ib]; });
  tape.set_backward(out, [=] {
    const T* g = out.grad().data;
    const Shape& so = out.shape();
    const Shape& c_shape = condition.shape();
    const Shape& a_shape = a.shape();
    const Shape& b_shape = b.shape();
    if (a.requires_grad()) {
      T* ga = a.grad().data;
      detail::broadcast_for_each3(
          so, c_shape, a_shape, b_shape,
          [=](std::int64_t i, std::int64_t ic, std::int64_t ia, std::int64_t) {
            if (pc[ic] != T(0)) ga[ia] += g[i];
          });
    }
    if (b.requires_grad()) {
      T* gb = b.grad().data;
      detail::broadcast_for_each3(
          so, c_shape, a_shape, b_shape,
          [=](std::int64_t i, std::int64_t ic, std::int64_t, std::int64_t ib) {
            if (pc[ic] == T(0)) gb[ib] += g[i];
          });
    }
  });
  return out;
}

template Var<float> where(const Var<float>&, const Var<float>&, const Var<float>&);
template Var<double> where(const Var<double>&, const Var<double>&, const Var<double>&);

}  // namespace tapeloop
