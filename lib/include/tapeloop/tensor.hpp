// Tensor (owning, 64-byte aligned, contiguous row-major) and TensorRef (a non-owning view of one).
#pragma once

#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <memory>
#include <vector>

#include "tapeloop/random.hpp"
#include "tapeloop/scalar.hpp"
#include "tapeloop/shape.hpp"

namespace tapeloop {

/// Alignment of every tensor buffer, in bytes: one cache line, enough for any SIMD load.
inline constexpr std::size_t tensor_alignment = 64;

/// The most elements of T one buffer may hold: PTRDIFF_MAX bytes, the C++ limit on the size of
/// an object. A Tensor, a tape's leaf and every operator's output of more is refused with a
/// ShapeError (a size below it that the system cannot provide is std::bad_alloc).
template <class T>
inline constexpr std::int64_t max_buffer_elements = static_cast<std::int64_t>(PTRDIFF_MAX /
                                                                              sizeof(T));

// The message of check_buffer_size, out of line.
[[noreturn]] void throw_buffer_too_large(const char* who, const Shape& shape,
                                         std::size_t element_size);

/// Throws ShapeError naming `who` and `shape` when a buffer of `shape` elements of T would pass
/// max_buffer_elements<T>.
template <class T>
void check_buffer_size(const char* who, const Shape& shape) {
  if (shape.numel() > max_buffer_elements<T>) [[unlikely]] {
    throw_buffer_too_large(who, shape, sizeof(T));
  }
}

/// A contiguous row-major block of memory owned by someone else: a tape's arena, a Parameter,
/// a Tensor. Use `TensorRef<const T>` for read-only access.
template <class T>
struct TensorRef {
  T* data = nullptr;
  Shape shape;

  std::int64_t numel() const { return shape.numel(); }
  T* begin() const { return data; }
  T* end() const { return data + numel(); }
  T& operator[](std::int64_t i) const { return data[i]; }
  operator TensorRef<const T>() const { return {data, shape}; }
};

/// An owning tensor of `float` or `double`: contiguous, row-major, 64-byte aligned.
/// Copies are deep; moves are cheap.
template <class T = float>
class Tensor {
 public:
  using value_type = T;
  static_assert(Scalar<T>, "tapeloop::Tensor<T>: T must be float or double");

  /// An empty tensor: shape [0], no elements.
  Tensor() : shape_{0} {}
  /// Uninitialized storage of the given shape. More than max_buffer_elements<T> elements
  /// throws ShapeError.
  explicit Tensor(const Shape& shape);
  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);
  Tensor(Tensor&&) noexcept = default;
  Tensor& operator=(Tensor&&) noexcept = default;

  static Tensor zeros(const Shape& shape) { return full(shape, T(0)); }
  static Tensor ones(const Shape& shape) { return full(shape, T(1)); }
  static Tensor full(const Shape& shape, T value);
  /// Values in row-major order; their count must equal shape.numel().
  static Tensor from(const Shape& shape, std::initializer_list<T> values);
  static Tensor from(const Shape& shape, const std::vector<T>& values);
  /// Copies a view into a new tensor.
  static Tensor from(TensorRef<const T> ref);
  /// [start, start + step, ...) up to but excluding `stop`, as a 1-D tensor.
  static Tensor arange(T start, T stop, T step = T(1));
  static Tensor arange(std::int64_t n) { return arange(T(0), T(n)); }
  /// Uniform in [low, high) drawn from `rng` in row-major order.
  static Tensor uniform(const Shape& shape, T low, T high, Generator& rng);
  /// Normal(mean, stddev) drawn from `rng` in row-major order.
  static Tensor normal(const Shape& shape, T mean, T stddev, Generator& rng);

  const Shape& shape() const { return shape_; }
  int rank() const { return shape_.rank(); }
  std::int64_t numel() const { return shape_.numel(); }
  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  T* begin() { return data(); }
  T* end() { return data() + numel(); }
  const T* begin() const { return data(); }
  const T* end() const { return data() + numel(); }
  T& operator[](std::int64_t i) { return data_.get()[i]; }
  const T& operator[](std::int64_t i) const { return data_.get()[i]; }
  /// Element at a multi-index; throws ValueError when the index does not fit the shape.
  T& at(std::initializer_list<std::int64_t> index);
  const T& at(std::initializer_list<std::int64_t> index) const;

  TensorRef<T> ref() { return {data(), shape_}; }
  TensorRef<const T> ref() const { return {data(), shape_}; }
  operator TensorRef<const T>() const { return ref(); }

  void fill(T value);

 private:
  struct FreeDeleter {
    void operator()(T* p) const;
  };
  Shape shape_;
  std::unique_ptr<T[], FreeDeleter> data_;
};

/// 64-byte aligned storage for `count` elements of T (freed with std::free); never null.
/// ValueError for a count outside [0, max_buffer_elements<T>].
template <class T>
T* allocate_aligned(std::int64_t count);

extern template class Tensor<float>;
extern template class Tensor<double>;

}  // namespace tapeloop
