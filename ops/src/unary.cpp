// Elementwise math: each operator names its vector kernel (ops/src/kernels/unary.cpp); pow, which
// has none, states its value and derivative as scalar lambdas.
#include "tapeloop/ops/unary.hpp"

#include <cmath>
#include <sstream>

#include "elementwise.hpp"
#include "sigmoid.hpp"
#include "tapeloop/errors.hpp"

namespace tapeloop {

template <class T>
Var<T> exp(const Var<T>& x) {
  return detail::unary("exp", x, kernels::Unary::exp);
}

template <class T>
Var<T> log(const Var<T>& x) {
  return detail::unary("log", x, kernels::Unary::log);
}

template <class T>
Var<T> sqrt(const Var<T>& x) {
  return detail::unary("sqrt", x, kernels::Unary::sqrt);
}

template <class T>
Var<T> abs(const Var<T>& x) {
  return detail::unary("abs", x, kernels::Unary::abs);
}

template <class T>
Var<T> tanh(const Var<T>& x) {
  return detail::unary("tanh", x, kernels::Unary::tanh);
}

template <class T>
Var<T> sigmoid(const Var<T>& x) {
  // The kernel only ever exponentiates -|x|, so nothing overflows (kernels/simd.hpp).
  return detail::unary("sigmoid", x, kernels::Unary::sigmoid);
}

template <class T>
Var<T> relu(const Var<T>& x) {
  // y > 0 exactly when x > 0, so the derivative reads the output only.
  return detail::unary("relu", x, kernels::Unary::relu);
}

template <class T>
Var<T> pow(const Var<T>& x, typename Var<T>::value_type exponent) {
  const T e = exponent;
  // g * e * y / x would reuse the output but is NaN at x = 0; x^(e-1) is correct there.
  return detail::unary_scalar(
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
  return detail::unary("clamp", x, kernels::Unary::clamp, lo, hi);
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
