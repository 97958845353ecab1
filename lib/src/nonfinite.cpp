// The error raised for a gradient with NaN or infinite elements: what, where and how many.
#include "nonfinite.hpp"

#include <cmath>
#include <string>

#include "tapeloop/errors.hpp"

namespace tapeloop::detail {

template <class T>
void throw_nonfinite_grad(const char* who, std::size_t index, const Parameter<T>& p,
                          const char* consequence) {
  std::int64_t nans = 0, infs = 0, first = -1;
  const T* g = p.grad().data();
  for (std::int64_t i = 0; i < p.grad().numel(); ++i) {
    const bool nan = std::isnan(g[i]), inf = std::isinf(g[i]);
    nans += nan;
    infs += inf;
    if ((nan || inf) && first < 0) first = i;
  }
  const std::string name = p.name().empty()
                               ? "parameter " + std::to_string(index) + " (unnamed"
                               : "parameter " + std::to_string(index) + " ('" + p.name() + "'";
  throw NonFiniteError(std::string(who) + ": the gradient of " + name + ", shape " +
                           p.grad().shape().str() + ") has " + std::to_string(nans) + " NaN and " +
                           std::to_string(infs) + " infinite elements of " +
                           std::to_string(p.grad().numel()) + ", the first at flat index " +
                           std::to_string(first) + "; " + consequence,
                       index, nans, infs, first);
}

template void throw_nonfinite_grad(const char*, std::size_t, const Parameter<float>&, const char*);
template void throw_nonfinite_grad(const char*, std::size_t, const Parameter<double>&, const char*);

}  // namespace tapeloop::detail
