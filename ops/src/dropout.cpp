// Inverted dropout: a mask drawn from a Generator into tape scratch, applied forward and back.
#include "tapeloop/ops/dropout.hpp"

#include <sstream>

#include "tapeloop/tape.hpp"

namespace tapeloop {

template <class T>
Var<T> dropout(const Var<T>& x, typename Var<T>::value_type p, Generator& rng) {
  Tape<T>& tape = x.tape();
  // Compared in double, the type of the draws, so float and double tapes drop the same elements.
  const double pd = static_cast<double>(p);
  if (!(pd >= 0.0 && pd < 1.0)) {
    std::ostringstream s;
    s << "dropout: " << x.shape().str() << ": p = " << pd << " is outside [0, 1)";
    throw ValueError(s.str());
  }
  if (pd == 0.0) return x;
  Var<T> out = tape.make_node("dropout", x.shape(), {x});
  const T* px = x.value().data;
  T* py = tape.mutable_value(out);
  const std::int64_t n = x.numel();
  const T scale = T(1) / (T(1) - p);
  // Backward needs the mask only when a gradient flows; the draws are made either way.
  T* mask = out.requires_grad() ? tape.scratch(n) : nullptr;
  for (std::int64_t i = 0; i < n; ++i) {
    const T m = rng.uniform() < pd ? T(0) : scale;
    py[i] = px[i] * m;
    if (mask) mask[i] = m;
  }
  tape.set_backward(out, [=] {
    if (!x.requires_grad()) return;
    const T* g = out.grad().data;
    T* gx = x.grad().data;
    for (std::int64_t i = 0; i < n; ++i) gx[i] += g[i] * mask[i];
  });
  return out;
}

template Var<float> dropout(const Var<float>&, float, Generator&);
template Var<double> dropout(const Var<double>&, double, Generator&);

}  // namespace tapeloop
