// where(condition, a, b): three-way broadcasting select; the gradient follows the selection.
#include "tapeloop/ops/where.hpp"

#include <string>

#include "broadcast.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/rule.hpp"

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

// Chooses a where the condition is nonzero, else b. The condition is plain data of the rule,
// not an input: as an input it would make the output require a gradient that can never flow
// anywhere.
template <class T>
struct WhereRule {
  static constexpr const char* name = "where";
  static constexpr bool linear = true;  // backward reads no input's value
  const T* condition;
  Shape condition_shape;

  Shape check(InputShapes s) const { return where_shape(condition_shape, s[0], s[1]); }
  // visit(i, chosen, ia, ib) for every output element, chosen true where a is taken.
  template <class Visit>
  void for_each(const OpContext<T>& c, Visit visit) const {
    const T* pc = condition;
    detail::broadcast_for_each3(c.out_shape(), condition_shape, c.in_shape(0), c.in_shape(1),
                                [&](std::int64_t i, std::int64_t ic, std::int64_t ia,
                                    std::int64_t ib) { visit(i, pc[ic] != T(0), ia, ib); });
  }
  void forward(ForwardContext<T>& c) const {
    const T* pa = c.in(0);
    const T* pb = c.in(1);
    T* py = c.out();
    for_each(c, [=](std::int64_t i, bool take_a, std::int64_t ia, std::int64_t ib) {
      py[i] = take_a ? pa[ia] : pb[ib];
    });
  }
  void backward(BackwardContext<T>& c) const {
    const T* g = c.grad_out();
    T* ga = c.grad(0);
    T* gb = c.grad(1);
    for_each(c, [=](std::int64_t i, bool take_a, std::int64_t ia, std::int64_t ib) {
      if (take_a && ga) ga[ia] += g[i];
      if (!take_a && gb) gb[ib] += g[i];
    });
  }
  void tangent(TangentContext<T>& c) const {
    const T* ta = c.tangent(0);
    const T* tb = c.tangent(1);
    T* ty = c.tangent_out();
    for_each(c, [=](std::int64_t i, bool take_a, std::int64_t ia, std::int64_t ib) {
      if (take_a && ta) ty[i] += ta[ia];
      if (!take_a && tb) ty[i] += tb[ib];
    });
  }
};

}  // namespace

template <class T>
Var<T> where(const Var<T>& condition, const Var<T>& a, const Var<T>& b) {
  check_live("where", condition, a.tape());
  const TensorRef<const T> c = condition.value();
  return record(WhereRule<T>{c.data, c.shape}, a, b);
}

template Var<float> where(const Var<float>&, const Var<float>&, const Var<float>&);
template Var<double> where(const Var<double>&, const Var<double>&, const Var<double>&);

}  // namespace tapeloop
