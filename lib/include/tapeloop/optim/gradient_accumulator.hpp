// GradientAccumulator: gradients of several micro-batches summed in a fixed order, then divided
// by the number of terms their losses summed.
#pragma once

#include <cstdint>
#include <vector>

#include "tapeloop/parameter.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop {

/// Gradient accumulation with a fixed summation order. Each micro-batch's loss is a sum (not a
/// mean) over its terms; after its backward, add() moves the parameters' gradients into the
/// sums — the first copied, the next added: ((g_0 + g_1) + g_2) + ... — and zeroes them.
/// finish(count) writes sum / count into the gradients: the gradient of the mean over all
/// `count` terms, ready for an optimizer's step().
///
/// Adding each micro-batch's gradient as a whole, instead of letting backward() add into
/// gradients that already hold the earlier ones, fixes the order of every addition.
/// Data-parallel training over R ranks (tapeloop::distributed::DataParallel) sums the ranks'
/// gradients in this same order, so it gives the same bits as one process accumulating the same
/// R shards (docs/distributed.md).
///
/// Frozen parameters are left alone. The parameters must keep their shapes.
template <class T = float>
class GradientAccumulator {
 public:
  explicit GradientAccumulator(std::vector<Parameter<T>*> params);

  /// After a micro-batch's backward: adds the gradients into the sums and zeroes them.
  void add();
  /// grad = sum / count for every parameter, and the sums start again. ValueError if count is
  /// below 1 or nothing was added.
  void finish(std::int64_t count);
  /// Micro-batches added since the last finish().
  int added() const { return added_; }

 private:
  std::vector<Parameter<T>*> params_;
  std::vector<Tensor<T>> sums_;
  int added_ = 0;
};

/// Writes sum[i] / count into grad[i]: the division both GradientAccumulator and data-parallel
/// training end with (one rounding per element, the same in both).
template <class T>
void divide_gradient(const T* sum, std::int64_t n, std::int64_t count, T* grad);

}  // namespace tapeloop
