// Shape: construction, element counts and printing.
#include "tapeloop/shape.hpp"

#include "tapeloop/errors.hpp"

namespace tapeloop {

void Shape::throw_bad_push(std::int64_t dim) const {
  if (rank_ == max_rank) {
    throw ShapeError("shape " + str() + ": rank would exceed " + std::to_string(max_rank));
  }
  if (dim < 0) {
    throw ShapeError("shape " + str() + ": negative dimension " + std::to_string(dim));
  }
  throw ShapeError("shape " + str() + ": appending dimension " + std::to_string(dim) +
                   " overflows the element count (the product of the nonzero dimensions may "
                   "not exceed 2^62)");
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

int normalize_axis(const char* op, int axis, int rank) {
  int a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) {
    throw ShapeError(std::string(op) + ": axis " + std::to_string(axis) +
                     " is out of range for rank " + std::to_string(rank));
  }
  return a;
}

}  // namespace tapeloop
