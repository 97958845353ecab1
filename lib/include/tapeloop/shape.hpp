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

  Shape() = default;
  Shape(std::initializer_list<std::int64_t> dims);
  /// Builds a shape from `rank` dims starting at `dims`.
  Shape(const std::int64_t* dims, int rank);

  int rank() const { return rank_; }
  std::int64_t operator[](int axis) const { return dims_[static_cast<std::size_t>(axis)]; }
  std::int64_t& operator[](int axis) { return dims_[static_cast<std::size_t>(axis)]; }
  const std::int64_t* begin() const { return dims_.data(); }
  const std::int64_t* end() const { return dims_.data() + rank_; }

  /// Number of elements (1 for a rank-0 shape).
  std::int64_t numel() const;
  /// Row-major stride of `axis`, in elements.
  std::int64_t stride(int axis) const;

  /// Appends a dimension; throws ShapeError past max_rank.
  void push_back(std::int64_t dim);

  /// "[2,3,4]"; "[]" for a scalar.
  std::string str() const;

  friend bool operator==(const Shape& a, const Shape& b);
  friend bool operator!=(const Shape& a, const Shape& b) { return !(a == b); }

 private:
  std::array<std::int64_t, max_rank> dims_{};
  int rank_ = 0;
};

/// Turns a possibly negative axis into [0, rank); throws ShapeError naming `op` if out of range.
int normalize_axis(const char* op, int axis, int rank);

}  // namespace tapeloop
