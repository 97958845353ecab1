// Elementwise arithmetic: binary operators under broadcasting, and the forms with a number.
#include "tapeloop/ops/arithmetic.hpp"

#include "elementwise.hpp"

namespace tapeloop {

template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b) {
  return detail::binary<kernels::Binary::add>(a, b);
}

template <class T>
Var<T> sub(const Var<T>& a, const Var<T>& b) {
  return detail::binary<kernels::Binary::sub>(a, b);
}

template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b) {
  return detail::binary<kernels::Binary::mul>(a, b);
}

template <class T>
Var<T> div(const Var<T>& a, const Var<T>& b) {
  // d(a/b)/db = -a/b^2 = -(a/b)/b: the kernel reuses the output.
  return detail::binary<kernels::Binary::div>(a, b);
}

template <class T>
Var<T> add_scalar(const Var<T>& x, T s) {
  return detail::unary<kernels::Unary::add_scalar>(x, s);
}

template <class T>
Var<T> mul_scalar(const Var<T>& x, T s) {
  return detail::unary<kernels::Unary::mul_scalar>(x, s);
}

template <class T>
Var<T> div_scalar(const Var<T>& x, T s) {
  return detail::unary<kernels::Unary::div_scalar>(x, s);
}

template <class T>
Var<T> rsub_scalar(T s, const Var<T>& x) {
  return detail::unary<kernels::Unary::rsub_scalar>(x, s);
}

template <class T>
Var<T> rdiv_scalar(T s, const Var<T>& x) {
  return detail::unary<kernels::Unary::rdiv_scalar>(x, s);
}

#define TAPELOOP_INSTANTIATE(T)                      \
  template Var<T> add(const Var<T>&, const Var<T>&); \
  template Var<T> sub(const Var<T>&, const Var<T>&); \
  template Var<T> mul(const Var<T>&, const Var<T>&); \
  template Var<T> div(const Var<T>&, const Var<T>&); \
  template Var<T> add_scalar(const Var<T>&, T);      \
  template Var<T> mul_scalar(const Var<T>&, T);      \
  template Var<T> div_scalar(const Var<T>&, T);      \
  template Var<T> rsub_scalar(T, const Var<T>&);     \
  template Var<T> rdiv_scalar(T, const Var<T>&);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
