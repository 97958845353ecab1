// Shape: construction, element counts and printing.
#include "tapeloop/shape.hpp"

#include "tapeloop/errors.hpp"

namespace tapeloop {

Shape::Shape(std::initializer_list<std::int64_t> dims) {
  for (std::int64_t d : dims) push_back(d);
}

Shape::Shape(const std::int64_t* dims, int rank) {
  for (int i = 0; i < rank; ++i) push_back(dims[i]);
}

void Shape::push_back(std::int64_t dim) {
  if (rank_ == max_rank) {
    throw ShapeError("shape " + str() + ": rank would exceed " + std::to_string(max_rank));
  }
  if (dim < 0) {
    throw ShapeError("shape " + str() + ": negative dimension " + std::to_string(dim));
  }
  // Keep numel() within int64: a product past 2^62 elements is a corrupt shape, not a tensor.
  if (dim > 0 && numel() > (std::int64_t{1} << 62) / dim) {
    throw ShapeError("shape " + str() + ": appending dimension " + std::to_string(dim) +
                     " overflows the element count");
  }
  dims_[static_cast<std::size_t>(rank_++)] = dim;
}

std::int64_t Shape::numel() const {
  std::int64_t n = 1;
  for (int i = 0; i < rank_; ++i) n *= dims_[static_cast<std::size_t>(i)];
  return n;
}

std::int64_t Shape::stride(int axis) const {
  std::int64_t s = 1;
  for (int i = rank_ - 1; i > axis; --i) s *= dims_[static_cast<std::size_t>(i)];
  return s;
}

std::string Shape::str() const {
  std::string s = "[";
  for (int i = 0; i < rank_; ++i) {
    if (i) s += ',';
    s += std::to_string(dims_[static_cast<std::size_t>(i)]);
  }
  return s + "]";
}

bool operator==(const Shape& a, const Shape& b) {
  if (a.rank_ != b.rank_) return false;
  for (int i = 0; i < a.rank_; ++i) {
    if (a[i] != b[i]) return false;
  }
  return true;
}

int normalize_axis(const char* op, int axis, int rank) {
  int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    throw ShapeError(std::string(op) + ": axis " + std::to_string(axis) +
                     " is out of range for rank " + std::to_string(rank));
  }
  return a;
}

}  // namespace tapeloop
