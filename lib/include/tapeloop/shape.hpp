// Shape: the dimensions of a tensor in a fixed-capacity array, so a shape never touches the heap.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <initializer_list>
#include <string>

namespace tapeloop {

/// The dimensions of a row-major tensor. Rank is at most `Shape::max_rank`.
class Shape {
 public:
  static constexpr int max_rank = 6;

  // The small members are inline: shapes are built, compared and counted several times per
  // recorded operator, which for one-element tensors is most of the operator's cost.
  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims) {
    for (std::int64_t d : dims) push_back(d);
  }
  /// Builds a shape from `rank` dims starting at `dims`.
  Shape(const std::int64_t* dims, int rank) {
    for (int i = 0; i < rank; ++i) push_back(dims[i]);
  }

  int rank() const { return rank_; }
  std::int64_t operator[](int axis) const { return dims_[static_cast<std::size_t>(axis)]; }
  /// Writing a dimension skips push_back's checks: the writer keeps within them.
  std::int64_t& operator[](int axis) { return dims_[static_cast<std::size_t>(axis)]; }
  const std::int64_t* begin() const { return dims_.data(); }
  const std::int64_t* end() const { return dims_.data() + rank_; }

  /// Number of elements (1 for a rank-0 shape).
  std::int64_t numel() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
    return n;
  }
  /// Row-major stride of `axis`, in elements.
  std::int64_t stride(int axis) const;

  /// The largest product of a shape's nonzero dimensions, so also the most elements.
  static constexpr std::int64_t max_numel = std::int64_t{1} << 62;

  /// Whether push_back(dim) keeps the shape valid, the rank limit aside: dim is not negative
  /// and the product of the nonzero dimensions stays within max_numel.
  bool can_append(std::int64_t dim) const {
    return dim >= 0 && (dim == 0 || nonzero_product() <= max_numel / dim);
  }

  /// Appends a dimension; throws ShapeError past max_rank, for a negative dimension, or when
  /// the product of the nonzero dimensions would pass max_numel.
  void push_back(std::int64_t dim) {
    // The zero dimensions are left out of the product, so that every partial product of the
    // dimensions (strides, the sizes around an axis) fits in int64 even for an empty shape:
    // [0, 2^40, 2^40] is refused, as a corrupt shape rather than a tensor.
    if (rank_ == max_rank || !can_append(dim)) [[unlikely]] {
      throw_bad_push(dim);
    }
    dims_[static_cast<std::size_t>(rank_++)] = dim;
  }

  /// "[2,3,4]"; "[]" for a scalar.
  std::string str() const;

  friend bool operator==(const Shape& a, const Shape& b) {
    if (a.rank_ != b.rank_) return false;
    for (int i = 0; i < a.rank_; ++i) {
      if (a[i] != b[i]) return false;
    }
    return true;
  }
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  std::array<std::int64_t, max_rank> dims_{};
  int rank_ = 0;

  std::int64_t nonzero_product() const {
    std::int64_t n = 1;
    for (int i = 0; i < rank_; ++i) {
      const std::int64_t d = dims_[static_cast<std::size_t>(i)];
      n *= d == 0 ? 1 : d;
    }
    return n;
  }

  // Throws the ShapeError saying why push_back(dim) is refused (out of line: the message).
  [[noreturn]] void throw_bad_push(std::int64_t dim) const;
};

/// Turns a possibly negative axis into [0, rank); throws ShapeError naming `op` if out of range.
int normalize_axis(const char* op, int axis, int rank);

}  // namespace tapeloop
