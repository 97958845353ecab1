// GradientAccumulator: micro-batch gradients summed in order, then divided by the term count.
#include "tapeloop/optim/gradient_accumulator.hpp"

#include <algorithm>
#include <string>
#include <utility>

#include "tapeloop/errors.hpp"

namespace tapeloop {

template <class T>
void divide_gradient(const T* sum, std::int64_t n, std::int64_t count, T* grad) {
  // A division, not a multiplication by 1 / count: one rounding, whatever the count.
  const T c = static_cast<T>(count);
  for (std::int64_t i = 0; i < n; ++i) grad[i] = sum[i] / c;
}

template <class T>
GradientAccumulator<T>::GradientAccumulator(std::vector<Parameter<T>*> params)
    : params_(std::move(params)) {
  sums_.reserve(params_.size());
  for (Parameter<T>* p : params_) {
    if (p == nullptr) throw ValueError("GradientAccumulator: a parameter is null");
    sums_.push_back(Tensor<T>::zeros(p->shape()));
  }
}

template <class T>
void GradientAccumulator<T>::add() {
  for (std::size_t k = 0; k < params_.size(); ++k) {
    Parameter<T>& p = *params_[k];
    if (!p.requires_grad()) continue;
    if (p.grad().shape() != sums_[k].shape()) {
      throw ShapeError("GradientAccumulator::add: parameter '" + p.name() + "' has shape " +
                       p.grad().shape().str() + ", not " + sums_[k].shape().str());
    }
    T* g = p.grad().data();
    T* s = sums_[k].data();
    const std::int64_t n = sums_[k].numel();
    if (added_ == 0) {
      std::copy(g, g + n, s);
    } else {
      for (std::int64_t i = 0; i < n; ++i) s[i] = s[i] + g[i];
    }
    std::fill(g, g + n, T(0));
  }
  ++added_;
}

template <class T>
void GradientAccumulator<T>::finish(std::int64_t count) {
  if (count < 1) {
    throw ValueError("GradientAccumulator::finish: count must be at least 1, got " +
                     std::to_string(count));
  }
  if (added_ == 0) throw ValueError("GradientAccumulator::finish: no micro-batch was added");
  for (std::size_t k = 0; k < params_.size(); ++k) {
    Parameter<T>& p = *params_[k];
    if (!p.requires_grad()) continue;
    divide_gradient(sums_[k].data(), sums_[k].numel(), count, p.grad().data());
  }
  added_ = 0;
}

template class GradientAccumulator<float>;
template class GradientAccumulator<double>;
template void divide_gradient<float>(const float*, std::int64_t, std::int64_t, float*);
template void divide_gradient<double>(const double*, std::int64_t, std::int64_t, double*);

}  // namespace tapeloop
