// Elementwise math: each operator states its value and its derivative; detail::unary records both.
#include "tapeloop/ops/unary.hpp"

#include <cmath>
#include <sstream>

#include "elementwise.hpp"
#include "sigmoid.hpp"
#include "tapeloop/errors.hpp"

namespace tapeloop {

template <class T>
Var<T> exp(const Var<T>& x) {
  return detail::unary(
      "exp", x, [](T v) { return std::exp(v); }, [](T g, T, T y) { return g * y; });
}

template <class T>
Var<T> log(const Var<T>& x) {
  return detail::unary(
      "log", x, [](T v) { return std::log(v); }, [](T g, T v, T) { return g / v; });
}

template <class T>
Var<T> sqrt(const Var<T>& x) {
  return detail::unary(
      "sqrt", x, [](T v) { return std::sqrt(v); }, [](T g, T, T y) { return g / (T(2) * y); });
}

template <class T>
Var<T> abs(const Var<T>& x) {
  // sign(v) written with comparisons so that sign(0) = 0.
  return detail::unary(
      "abs", x, [](T v) { return std::abs(v); },
      [](T g, T v, T) { return v > T(0) ? g : (v < T(0) ? -g : T(0)); });
}

template <class T>
Var<T> tanh(const Var<T>& x) {
  return detail::unary(
      "tanh", x, [](T v) { return std::tanh(v); }, [](T g, T, T y) { return g * (T(1) - y * y); });
}

template <class T>
Var<T> sigmoid(const Var<T>& x) {
  return detail::unary(
      "sigmoid", x, [](T v) { return detail::stable_sigmoid(v); },
      [](T g, T, T y) { return g * y * (T(1) - y); });
}

template <class T>
Var<T> relu(const Var<T>& x) {
  // y > 0 exactly when x > 0, so the derivative reads the output only.
  return detail::unary(
      "relu", x, [](T v) { return v > T(0) ? v : T(0); },
      [](T g, T, T y) { return y > T(0) ? g : T(0); });
}

template <class T>
Var<T> pow(const Var<T>& x, typename Var<T>::value_type exponent) {
  const T e = exponent;
  // g * e * y / x would reuse the output but is NaN at x = 0; x^(e-1) is correct there.
  return detail::unary(
      "pow", x, [e](T v) { return std::pow(v, e); },
      [e](T g, T v, T) { return e == T(0) ? T(0) : g * e * std::pow(v, e - T(1)); });
}

template <class T>
Var<T> clamp(const Var<T>& x, typename Var<T>::value_type low, typename Var<T>::value_type high) {
  if (!(low <= high)) {
    std::ostringstream s;
    s << "clamp: " << x.shape().str() << ": low " << low << " is not <= high " << high;
    throw ValueError(s.str());
  }
  const T lo = low;
  const T hi = high;
  // Gradient 1 on the closed interval [low, high], bounds included, as PyTorch's clamp.
  return detail::unary(
      "clamp", x, [lo, hi](T v) { return v < lo ? lo : (v > hi ? hi : v); },
      [lo, hi](T g, T v, T) { return (v >= lo && v <= hi) ? g : T(0); });
}

#define TAPELOOP_INSTANTIATE(T)           \
  template Var<T> exp(const Var<T>&);     \
  template Var<T> log(const Var<T>&);     \
  template Var<T> sqrt(const Var<T>&);    \
  template Var<T> abs(const Var<T>&);     \
  template Var<T> tanh(const Var<T>&);    \
  template Var<T> sigmoid(const Var<T>&); \
  template Var<T> relu(const Var<T>&);    \
  template Var<T> pow(const Var<T>&, T);  \
  template Var<T> clamp(const Var<T>&, T, T);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
