// Inverted dropout: a mask drawn from a Generator into tape scratch, applied forward and back.
#include "tapeloop/ops/dropout.hpp"

#include <sstream>

#include "tapeloop/rule.hpp"

namespace tapeloop {

namespace {

// y = x * mask, the mask 0 with probability p and 1 / (1 - p) otherwise, drawn in forward.
template <class T>
struct DropoutRule {
  static constexpr const char* name = "dropout";
  static constexpr bool linear = true;  // backward reads no input's value
  double p;
  Generator* rng;     // used in forward only
  T* mask = nullptr;  // kept for backward and tangent only when a gradient will flow

  Shape check(InputShapes s) const { return s[0]; }
  void forward(ForwardContext<T>& c) {
    const T* px = c.in(0);
    T* py = c.out();
    const std::int64_t n = c.out_shape().numel();
    const T scale = T(1) / (T(1) - static_cast<T>(p));
    if (c.needs_grad()) mask = c.scratch(n);  // the draws are made either way
    for (std::int64_t i = 0; i < n; ++i) {
      // Compared in double, the type of the draws, so float and double tapes drop alike.
      const T m = rng->uniform() < p ? T(0) : scale;
      py[i] = px[i] * m;
      if (mask) mask[i] = m;
    }
  }
  // dst += src * mask: backward and tangent alike (the Jacobian is diagonal).
  void apply(const T* src, T* dst, std::int64_t n) const {
    for (std::int64_t i = 0; i < n; ++i) dst[i] += src[i] * mask[i];
  }
  void backward(BackwardContext<T>& c) const {
    apply(c.grad_out(), c.grad(0), c.out_shape().numel());
  }
  void tangent(TangentContext<T>& c) const {
    apply(c.tangent(0), c.tangent_out(), c.out_shape().numel());
  }
};

}  // namespace

template <class T>
Var<T> dropout(const Var<T>& x, typename Var<T>::value_type p, Generator& rng) {
  const double pd = static_cast<double>(p);
  if (!(pd >= 0.0 && pd < 1.0)) {
    std::ostringstream s;
    s << "dropout: " << x.shape().str() << ": p = " << pd << " is outside [0, 1)";
    throw ValueError(s.str());
  }
  if (pd == 0.0) return x;
  return record(DropoutRule<T>{pd, &rng}, x);
}

template Var<float> dropout(const Var<float>&, float, Generator&);
template Var<double> dropout(const Var<double>&, double, Generator&);

}  // namespace tapeloop
