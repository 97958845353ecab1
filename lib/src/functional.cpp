// jvp, vjp and hvp of a function of tensors: the function recorded on a tape of its own, one
// product run on it, and the results copied out.
#include "tapeloop/functional.hpp"

#include <string>

#include "tapeloop/errors.hpp"

namespace tapeloop {
namespace {

// f recorded on a tape of its own, over one leaf per input tensor.
template <class T>
struct Recording {
  Tape<T> tape;
  std::vector<Var<T>> leaves;
  Var<T> y;

  Recording(const TensorFunction<T>& f, const std::vector<Tensor<T>>& x) {
    for (const Tensor<T>& t : x) leaves.push_back(tape.input(t.ref(), true));
    y = f(tape, leaves);
    if (y.empty() || &y.tape() != &tape) {
      throw ValueError("the function must return a Var recorded on the tape it is given");
    }
  }
};

template <class T>
void check_directions(const char* who, const std::vector<Tensor<T>>& x,
                      const std::vector<Tensor<T>>& v) {
  if (v.size() != x.size()) {
    throw ValueError(std::string(who) + ": " + std::to_string(x.size()) + " inputs but " +
                     std::to_string(v.size()) + " directions");
  }
  for (std::size_t i = 0; i < x.size(); ++i) {
    if (v[i].shape() != x[i].shape()) {
      throw ShapeError(std::string(who) + ": direction " + std::to_string(i) + " of shape " +
                       v[i].shape().str() + " for an input of shape " + x[i].shape().str());
    }
  }
}

template <class T>
std::vector<TensorRef<const T>> refs(const std::vector<Tensor<T>>& v) {
  std::vector<TensorRef<const T>> out;
  for (const Tensor<T>& t : v) out.push_back(t.ref());
  return out;
}

}  // namespace

template <class T>
JvpResult<T> jvp(const TensorFunction<T>& f, const std::vector<Tensor<T>>& x,
                 const std::vector<Tensor<T>>& v) {
  check_directions("jvp", x, v);
  Recording<T> rec(f, x);
  const Var<T>& y = rec.y;
  JvpResult<T> r{y.to_tensor(), Tensor<T>::zeros(y.shape())};
  if (y.requires_grad()) {
    rec.tape.jvp(rec.leaves, refs(v));
    r.jvp = Tensor<T>::from(rec.tape.tangent(y));
  }
  return r;
}

template <class T>
VjpResult<T> vjp(const TensorFunction<T>& f, const std::vector<Tensor<T>>& x, const Tensor<T>& u) {
  Recording<T> rec(f, x);
  const Var<T>& y = rec.y;
  if (u.shape() != y.shape()) {
    throw ShapeError("vjp: u of shape " + u.shape().str() + " for an output of shape " +
                     y.shape().str());
  }
  VjpResult<T> r{y.to_tensor(), {}};
  if (y.requires_grad()) rec.tape.backward(y, u.ref());
  for (const Var<T>& leaf : rec.leaves) {
    r.vjp.push_back(y.requires_grad() ? Tensor<T>::from(TensorRef<const T>(leaf.grad()))
                                      : Tensor<T>::zeros(leaf.shape()));
  }
  return r;
}

template <class T>
HvpResult<T> hvp(const TensorFunction<T>& f, const std::vector<Tensor<T>>& x,
                 const std::vector<Tensor<T>>& v) {
  check_directions("hvp", x, v);
  Recording<T> rec(f, x);
  const Var<T>& y = rec.y;
  if (y.numel() != 1) {
    throw ShapeError("hvp: the function's output has shape " + y.shape().str() +
                     ": expected one value");
  }
  HvpResult<T> r{y.item(), {}};
  std::vector<TensorRef<T>> products;
  for (const Tensor<T>& t : x) r.hvp.push_back(Tensor<T>::zeros(t.shape()));
  for (Tensor<T>& t : r.hvp) products.push_back(t.ref());
  if (y.requires_grad()) rec.tape.hvp(y, rec.leaves, refs(v), products);
  return r;
}

#define TAPELOOP_INSTANTIATE(T)                                                      \
  template JvpResult<T> jvp(const TensorFunction<T>&, const std::vector<Tensor<T>>&, \
                            const std::vector<Tensor<T>>&);                          \
  template VjpResult<T> vjp(const TensorFunction<T>&, const std::vector<Tensor<T>>&, \
                            const Tensor<T>&);                                       \
  template HvpResult<T> hvp(const TensorFunction<T>&, const std::vector<Tensor<T>>&, \
                            const std::vector<Tensor<T>>&);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
