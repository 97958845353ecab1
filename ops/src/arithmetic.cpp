// Elementwise arithmetic: each operator names its kernel (ops/src/kernels/binary.cpp, unary.cpp).
#include "tapeloop/ops/arithmetic.hpp"

#include "elementwise.hpp"

namespace tapeloop {

template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b) {
  return detail::binary("add", a, b, kernels::Binary::add);
}

template <class T>
Var<T> sub(const Var<T>& a, const Var<T>& b) {
  return detail::binary("sub", a, b, kernels::Binary::sub);
}

template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b) {
  return detail::binary("mul", a, b, kernels::Binary::mul);
}

template <class T>
Var<T> div(const Var<T>& a, const Var<T>& b) {
  // d(a/b)/db = -a/b^2 = -(a/b)/b: the kernel reuses the output.
  return detail::binary("div", a, b, kernels::Binary::div);
}

template <class T>
Var<T> neg(const Var<T>& x) {
  return detail::unary("neg", x, kernels::Unary::neg);
}

template <class T>
Var<T> add_scalar(const Var<T>& x, T s) {
  return detail::unary("add_scalar", x, kernels::Unary::add_scalar, s);
}

template <class T>
Var<T> mul_scalar(const Var<T>& x, T s) {
  return detail::unary("mul_scalar", x, kernels::Unary::mul_scalar, s);
}

template <class T>
Var<T> rsub_scalar(T s, const Var<T>& x) {
  return detail::unary("rsub_scalar", x, kernels::Unary::rsub_scalar, s);
}

template <class T>
Var<T> rdiv_scalar(T s, const Var<T>& x) {
  return detail::unary("rdiv_scalar", x, kernels::Unary::rdiv_scalar, s);
}

#define TAPELOOP_INSTANTIATE(T)                      \
  template Var<T> add(const Var<T>&, const Var<T>&); \
  template Var<T> sub(const Var<T>&, const Var<T>&); \
  template Var<T> mul(const Var<T>&, const Var<T>&); \
  template Var<T> div(const Var<T>&, const Var<T>&); \
  template Var<T> neg(const Var<T>&);                \
  template Var<T> add_scalar(const Var<T>&, T);      \
  template Var<T> mul_scalar(const Var<T>&, T);      \
  template Var<T> rsub_scalar(T, const Var<T>&);     \
  template Var<T> rdiv_scalar(T, const Var<T>&);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
