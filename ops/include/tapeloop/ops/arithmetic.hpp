// Elementwise arithmetic with numpy broadcasting: add, sub, mul, div, neg, and their scalar forms.
#pragma once

#include "tapeloop/var.hpp"

namespace tapeloop {

/// a + b, broadcast. Backward sums the gradient down to each input's shape.
template <class T>
Var<T> add(const Var<T>& a, const Var<T>& b);
template <class T>
Var<T> sub(const Var<T>& a, const Var<T>& b);
template <class T>
Var<T> mul(const Var<T>& a, const Var<T>& b);
template <class T>
Var<T> div(const Var<T>& a, const Var<T>& b);
template <class T>
Var<T> neg(const Var<T>& x);

/// x + s, x * s, x / s, s - x, s / x for a number s. x / s divides (the same bits as the
/// division written out), it does not multiply by 1 / s.
template <class T>
Var<T> add_scalar(const Var<T>& x, T s);
template <class T>
Var<T> mul_scalar(const Var<T>& x, T s);
template <class T>
Var<T> div_scalar(const Var<T>& x, T s);
template <class T>
Var<T> rsub_scalar(T s, const Var<T>& x);
template <class T>
Var<T> rdiv_scalar(T s, const Var<T>& x);

template <class T>
Var<T> operator+(const Var<T>& a, const Var<T>& b) {
  return add(a, b);
}
template <class T>
Var<T> operator-(const Var<T>& a, const Var<T>& b) {
  return sub(a, b);
}
template <class T>
Var<T> operator*(const Var<T>& a, const Var<T>& b) {
  return mul(a, b);
}
template <class T>
Var<T> operator/(const Var<T>& a, const Var<T>& b) {
  return div(a, b);
}
template <class T>
Var<T> operator-(const Var<T>& x) {
  return neg(x);
}

// Scalar forms. The number is taken as T so `x * 2.0` works on a Var<float> too.
template <class T>
Var<T> operator+(const Var<T>& x, typename Var<T>::value_type s) {
  return add_scalar(x, s);
}
template <class T>
Var<T> operator+(typename Var<T>::value_type s, const Var<T>& x) {
  return add_scalar(x, s);
}
template <class T>
Var<T> operator-(const Var<T>& x, typename Var<T>::value_type s) {
  return add_scalar(x, -s);
}
template <class T>
Var<T> operator-(typename Var<T>::value_type s, const Var<T>& x) {
  return rsub_scalar(s, x);
}
template <class T>
Var<T> operator*(const Var<T>& x, typename Var<T>::value_type s) {
  return mul_scalar(x, s);
}
template <class T>
Var<T> operator*(typename Var<T>::value_type s, const Var<T>& x) {
  return mul_scalar(x, s);
}
template <class T>
Var<T> operator/(const Var<T>& x, typename Var<T>::value_type s) {
  return div_scalar(x, s);
}
template <class T>
Var<T> operator/(typename Var<T>::value_type s, const Var<T>& x) {
  return rdiv_scalar(s, x);
}

}  // namespace tapeloop
