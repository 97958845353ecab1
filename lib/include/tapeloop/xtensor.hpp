// xtensor views over tapeloop memory (no copy), for expressive access from user code and tests.
#pragma once

#include <array>
#include <cstddef>
#include <vector>

#include <xtensor/xadapt.hpp>

#include "tapeloop/tensor.hpp"

namespace tapeloop {

/// An xtensor adaptor over the same memory as `ref` (no copy); valid as long as that memory.
template <class T>
auto as_xtensor(TensorRef<T> ref) {
  std::vector<std::size_t> shape(ref.shape.begin(), ref.shape.end());
  return xt::adapt(ref.data, static_cast<std::size_t>(ref.numel()), xt::no_ownership(), shape);
}

template <class T>
auto as_xtensor(Tensor<T>& tensor) {
  return as_xtensor(tensor.ref());
}

template <class T>
auto as_xtensor(const Tensor<T>& tensor) {
  return as_xtensor(tensor.ref());
}

}  // namespace tapeloop
