// Elementwise math: the operators of the unary kernel functions, made from their list, and pow,
// whose rule is a scalar loop.
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

// x^e (std::pow), which has no vector kernel: a scalar loop, parallel above the grain size.
template <class T>
struct PowRule {
  static constexpr const char* name = "pow";
  T e;

  Shape check(InputShapes s) const { return s[0]; }
  void forward(ForwardContext<T>& c) const {
    const T* x = c.in(0);
    T* y = c.out();
    kernels::parallel_elements(c.out_shape().numel(), kernels::cost::libm,
                               [&](std::int64_t b, std::int64_t end) {
                                 for (std::int64_t i = b; i < end; ++i) y[i] = std::pow(x[i], e);
                               });
  }
  // g * e * x^(e-1): g * e * y / x would reuse the output but is NaN at x = 0. Exactly 0 for
  // e = 0 (rather than 0 * inf at x = 0, as PyTorch).
  void add_derivative(const T* g, const T* x, T* dst, std::int64_t n) const {
    kernels::parallel_elements(n, kernels::cost::libm, [&](std::int64_t b, std::int64_t end) {
      for (std::int64_t i = b; i < end; ++i) {
        dst[i] += e == T(0) ? T(0) : g[i] * e * std::pow(x[i], e - T(1));
      }
    });
  }
  void backward(BackwardContext<T>& c) const {
    add_derivative(c.grad_out(), c.in(0), c.grad(0), c.out_shape().numel());
  }
  void tangent(TangentContext<T>& c) const {
    add_derivative(c.tangent(0), c.in(0), c.tangent_out(), c.out_shape().numel());
  }
};

}  // namespace

template <class T>
Var<T> pow(const Var<T>& x, typename Var<T>::value_type exponent) {
  return record(PowRule<T>{exponent}, x);
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
  template Var<T> pow(const Var<T>&, T); \
  template Var<T> clamp(const Var<T>&, T, T);
TAPELOOP_INSTANTIATE(float)
TAPELOOP_INSTANTIATE(double)
#undef TAPELOOP_INSTANTIATE

}  // namespace tapeloop
