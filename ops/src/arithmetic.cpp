// Elementwise arithmetic: forward kernels and backward rules side by side.
#include "tapeloop/ops/arithmetic.hpp"

#include "elementwise.hpp"

namespace tapeloop {

template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b) {
  return detail::binary(
      "add", a, b, [](T x, T y) { return x + y; }, [](T g, T, T, T) { return g; },
      [](T g, T, T, T) { return g; });
}

template <class T>
Var<T> sub(const Var<T>& a, const Var<T>& b) {
  return detail::binary(
      "sub", a, b, [](T x, T y) { return x - y; }, [](T g, T, T, T) { return g; },
      [](T g, T, T, T) { return -g; });
}

template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b) {
  return detail::binary(
      "mul", a, b, [](T x, T y) { return x * y; }, [](T g, T, T y, T) { return g * y; },
      [](T g, T x, T, T) { return g * x; });
}

template <class T>
Var<T> div(const Var<T>& a, const Var<T>& b) {
  // d(a/b)/db = -a/b^2 = -(a/b)/b: reuse the output.
  return detail::binary(
      "div", a, b, [](T x, T y) { return x / y; }, [](T g, T, T y, T) { return g / y; },
      [](T g, T, T y, T out) { return -g * out / y; });
}

template <class T>
Var<T> neg(const Var<T>& x) {
  return detail::unary(
      "neg", x, [](T v) { return -v; }, [](T g, T, T) { return -g; });
}

template <class T>
Var<T> add_scalar(const Var<T>& x, T s) {
  return detail::unary(
      "add_scalar", x, [s](T v) { return v + s; }, [](T g, T, T) { return g; });
}

template <class T>
Var<T> mul_scalar(const Var<T>& x, T s) {
  return detail::unary(
      "mul_scalar", x, [s](T v) { return v * s; }, [s](T g, T, T) { return g * s; });
}

template <class T>
Var<T> rsub_scalar(T s, const Var<T>& x) {
  return detail::unary(
      "rsub_scalar", x, [s](T v) { return s - v; }, [](T g, T, T) { return -g; });
}

template <class T>
Var<T> rdiv_scalar(T s, const Var<T>& x) {
  return detail::unary(
      "rdiv_scalar", x, [s](T v) { return s / v; }, [](T g, T v, T y) { return -g * y / v; });
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
