// Tensor: aligned storage, creation functions, element access.
#include "tapeloop/tensor.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <new>
#include <string>

#include "tapeloop/errors.hpp"

namespace tapeloop {

void throw_buffer_too_large(const char* who, const Shape& shape, std::size_t element_size) {
  throw ShapeError(std::string(who) + ": shape " + shape.str() + " has " +
                   std::to_string(shape.numel()) + " elements of " + std::to_string(element_size) +
                   " bytes, more than one buffer can hold (PTRDIFF_MAX bytes)");
}

template <class T>
T* allocate_aligned(std::int64_t count) {
  if (count < 0 || count > max_buffer_elements<T>) {
    throw ValueError("allocate_aligned: " + std::to_string(count) + " elements of " +
                     std::to_string(sizeof(T)) + " bytes is outside [0, PTRDIFF_MAX bytes]");
  }
  std::size_t bytes = static_cast<std::size_t>(std::max<std::int64_t>(count, 1)) * sizeof(T);
  bytes = (bytes + tensor_alignment - 1) / tensor_alignment * tensor_alignment;
  void* p = std::aligned_alloc(tensor_alignment, bytes);
  if (!p) throw std::bad_alloc();
  return static_cast<T*>(p);
}

template <class T>
void Tensor<T>::FreeDeleter::operator()(T* p) const {
  std::free(p);
}

template <class T>
Tensor<T>::Tensor(const Shape& shape) : shape_(shape) {
  check_buffer_size<T>("Tensor", shape);
  data_.reset(allocate_aligned<T>(shape.numel()));
}

template <class T>
Tensor<T>::Tensor(const Tensor& other) : Tensor(other.shape_) {
  std::copy(other.begin(), other.end(), begin());
}

template <class T>
Tensor<T>& Tensor<T>::operator=(const Tensor& other) {
  if (this == &other) return *this;
  if (shape_ == other.shape_ && data_) {
    std::copy(other.begin(), other.end(), begin());  // same shape: reuse the buffer, no allocation
  } else {
    *this = Tensor(other);
  }
  return *this;
}

template <class T>
Tensor<T> Tensor<T>::full(const Shape& shape, T value) {
  Tensor t(shape);
  t.fill(value);
  return t;
}

template <class T>
Tensor<T> Tensor<T>::from(const Shape& shape, std::initializer_list<T> values) {
  return from(shape, std::vector<T>(values));
}

template <class T>
Tensor<T> Tensor<T>::from(const Shape& shape, const std::vector<T>& values) {
  if (static_cast<std::int64_t>(values.size()) != shape.numel()) {
    throw ShapeError("Tensor::from: shape " + shape.str() + " holds " +
                     std::to_string(shape.numel()) + " values but " +
                     std::to_string(values.size()) + " were given");
  }
  Tensor t(shape);
  std::copy(values.begin(), values.end(), t.begin());
  return t;
}

template <class T>
Tensor<T> Tensor<T>::from(TensorRef<const T> ref) {
  Tensor t(ref.shape);
  std::copy(ref.data, ref.data + ref.numel(), t.begin());
  return t;
}

template <class T>
Tensor<T> Tensor<T>::arange(T start, T stop, T step) {
  if (step == T(0) || !std::isfinite(step) || !std::isfinite(start) || !std::isfinite(stop)) {
    throw ValueError("arange: start, stop and step must be finite and step nonzero");
  }
  const double count = std::ceil((static_cast<double>(stop) - start) / step);
  // Checked before the conversion, which is undefined for a double past int64's range.
  if (count > static_cast<double>(max_buffer_elements<T>)) {
    throw ValueError("arange: [" + std::to_string(start) + ", " + std::to_string(stop) +
                     ") in steps of " + std::to_string(step) + " has " + std::to_string(count) +
                     " elements, more than one buffer can hold");
  }
  const std::int64_t n = count > 0 ? static_cast<std::int64_t>(count) : 0;
  Tensor t(Shape{n});
  for (std::int64_t i = 0; i < n; ++i) t[i] = static_cast<T>(start + static_cast<double>(i) * step);
  return t;
}

template <class T>
Tensor<T> Tensor<T>::uniform(const Shape& shape, T low, T high, Generator& rng) {
  Tensor t(shape);
  for (T& v : t) v = static_cast<T>(rng.uniform(low, high));
  return t;
}

template <class T>
Tensor<T> Tensor<T>::normal(const Shape& shape, T mean, T stddev, Generator& rng) {
  Tensor t(shape);
  for (T& v : t) v = static_cast<T>(mean + stddev * rng.normal());
  return t;
}

template <class T>
T& Tensor<T>::at(std::initializer_list<std::int64_t> index) {
  if (static_cast<int>(index.size()) != rank()) {
    throw ValueError("Tensor::at: " + std::to_string(index.size()) + " indices for shape " +
                     shape_.str());
  }
  std::int64_t flat = 0;
  int axis = 0;
  for (std::int64_t i : index) {
    if (i < 0 || i >= shape_[axis]) {
      throw ValueError("Tensor::at: index " + std::to_string(i) + " out of range for axis " +
                       std::to_string(axis) + " of shape " + shape_.str());
    }
    flat = flat * shape_[axis] + i;
    ++axis;
  }
  return data_.get()[flat];
}

template <class T>
const T& Tensor<T>::at(std::initializer_list<std::int64_t> index) const {
  return const_cast<Tensor*>(this)->at(index);
}

template <class T>
void Tensor<T>::fill(T value) {
  std::fill(begin(), end(), value);
}

template float* allocate_aligned<float>(std::int64_t);
template double* allocate_aligned<double>(std::int64_t);
template class Tensor<float>;
template class Tensor<double>;

}  // namespace tapeloop
