// Elementwise math: the operators of the unary kernel functions, made from their list, and the
// functions with no vector kernel (log1p, expm1, sin, cos, pow), whose rules are scalar loops.
#include "tapeloop/ops/unary.hpp"

#include <cmath>
#include <sstream>

#include "elementwise.hpp"
#include "kernels/parallel.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/ops/arithmetic.hpp"

namespace tapeloop {

// The operators of the plain kernel functions (kernels/elementwise.hpp), neg included.
#define TAPELOOP_UNARY_OPERATOR(name, Functor)     \
  template <class T>                               \
  Var<T> name(const Var<T>& x) {                   \
    return detail::unary<kernels::Unary::name>(x); \
  }                                                \
  template Var<float> name(const Var<float>&);     \
  template Var<double> name(const Var<double>&);
TAPELOOP_UNARY_PLAIN(TAPELOOP_UNARY_OPERATOR)
#undef TAPELOOP_UNARY_OPERATOR

namespace {

// A function of the C library applied elementwise, with no vector kernel: a scalar loop,
// parallel above the grain size. F gives the name, the value and the derivative (from x and y),
// and may hold a parameter (pow's exponent).
template <class T, class F>
struct LibmRule {
  static constexpr const char* name = F::name;
  F f;

  Shape check(InputShapes s) const { return s[0]; }
  void forward(ForwardContext<T>& c) const {
    const T* x = c.in(0);
    T* y = c.out();
    kernels::parallel_elements(c.out_shape().numel(), kernels::cost::libm,
                               [&](std::int64_t b, std::int64_t end) {
                                 for (std::int64_t i = b; i < end; ++i) y[i] = f.value(x[i]);
                               });
  }
  // dst += g * f'(x): the gradient in backward, the tangent in forward mode.
  void add_derivative(const T* g, const T* x, const T* y, T* dst, std::int64_t n) const {
    kernels::parallel_elements(n, kernels::cost::libm, [&](std::int64_t b, std::int64_t end) {
      for (std::int64_t i = b; i < end; ++i) dst[i] += g[i] * f.derivative(x[i], y[i]);
    });
  }
  void backward(BackwardContext<T>& c) const {
    add_derivative(c.grad_out(), c.in(0), c.out(), c.grad(0), c.out_shape().numel());
  }
  void tangent(TangentContext<T>& c) const {
    add_derivative(c.tangent(0), c.in(0), c.out(), c.tangent_out(), c.out_shape().numel());
  }
  void curvature(CurvatureContext<T>& c) const {
    detail::add_elementwise_curvature(c, [this](T x, T y) { return f.second_derivative(x, y); });
  }
};

template <class T>
struct Log1p {
  static constexpr const char* name = "log1p";
  T value(T x) const { return std::log1p(x); }
  T derivative(T x, T) const { return T(1) / (T(1) + x); }
  T second_derivative(T x, T) const { return -T(1) / ((T(1) + x) * (T(1) + x)); }
};
template <class T>
struct Expm1 {
  static constexpr const char* name = "expm1";
  T value(T x) const { return std::expm1(x); }
  T derivative(T, T y) const { return y + T(1); }
  T second_derivative(T, T y) const { return y + T(1); }
};
template <class T>
struct Sin {
  static constexpr const char* name = "sin";
  T value(T x) const { return std::sin(x); }
  T derivative(T x, T) const { return std::cos(x); }
  T second_derivative(T, T y) const { return -y; }
};
template <class T>
struct Cos {
  static constexpr const char* name = "cos";
  T value(T x) const { return std::cos(x); }
  T derivative(T x, T) const { return -std::sin(x); }
  T second_derivative(T, T y) const { return -y; }
};
// x^e. The derivative e * x^(e-1), not e * y / x, which would be NaN at x = 0; and exactly 0
// for e = 0 (rather than 0 * inf at x = 0, as PyTorch).
template <class T>
struct Pow {
  static constexpr const char* name = "pow";
  T e;
  T value(T x) const { return std::pow(x, e); }
  T derivative(T x, T) const { return e == T(0) ? T(0) : e * std::pow(x, e - T(1)); }
  T second_derivative(T x, T) const {
    return e == T(0) || e == T(1) ? T(0) : e * (e - T(1)) * std::pow(x, e - T(2));
  }
};

}  // namespace

#define TAPELOOP_LIBM_OPERATOR(name, Function)    \
  template <class T>                              \
  Var<T> name(const Var<T>& x) {                  \
    return record(LibmRule<T, Function<T>>{}, x); \
  }
TAPELOOP_LIBM_OPERATOR(log1p, Log1p)
TAPELOOP_LIBM_OPERATOR(expm1, Expm1)
TAPELOOP_LIBM_OPERATOR(sin, Sin)
TAPELOOP_LIBM_OPERATOR(cos, Cos)
#undef TAPELOOP_LIBM_OPERATOR

template <class T>
Var<T> pow(const Var<T>& x, typename Var<T>::value_type exponent) {
  return record(LibmRule<T, Pow<T>>{{exponent}}, x);
}

template <class T>
Var<T> clamp(const Var<T>& x, typename Var<T>::value_type low, typename Var<T>::value_type high) {
  if (!(low <= high)) {
    std::ostringstream s;
    s << "clamp: " << x.shape().str() << ": low " << low << " is not <= high " << high;
    throw ValueError(s.str());
  }
  // Gradient 1 on the closed interval [low, high], bounds included, as PyTorch's clamp.
  return detail::unary<kernels::Unary::clamp>(x, T(low), T(high));
}

#define TAPELOOP_INSTANTIATE(T)          \
  template Var<T> log1p(const Var<T>&);  \
  template Var<T> expm1(const Var<T>&);  \
  template Var<T> sin(const Var<T>&);    \
  template Var<T> cos(const Var<T>&);    \
  template Var<T> pow(const Var<T>&, T); \
  template Var<T> clamp(const Var<T>&, T, T);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
