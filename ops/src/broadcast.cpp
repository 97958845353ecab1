// Broadcasting: shape rules and stride maps.
#include "broadcast.hpp"

#include <string>

#include "tapeloop/errors.hpp"

namespace tapeloop::detail {

Shape broadcast_shapes(const char* op, const Shape& a, const Shape& b) {
  const int rank = a.rank() > b.rank() ? a.rank() : b.rank();
  std::int64_t dims[Shape::max_rank];
  for (int i = 0; i < rank; ++i) {
    const int ia = a.rank() - rank + i;
    const int ib = b.rank() - rank + i;
    const std::int64_t da = ia >= 0 ? a[ia] : 1;
    const std::int64_t db = ib >= 0 ? b[ib] : 1;
    if (da != db && da != 1 && db != 1) {
      throw ShapeError(std::string(op) + ": " + a.str() + " and " + b.str() +
                       ": cannot broadcast (axis " + std::to_string(i) +
                       " of the result: " + std::to_string(da) + " vs " + std::to_string(db) + ")");
    }
    dims[i] = da == 1 ? db : da;
  }
  return Shape(dims, rank);
}

std::array<std::int64_t, Shape::max_rank> broadcast_strides(const Shape& in, const Shape& out) {
  std::array<std::int64_t, Shape::max_rank> strides{};
  const int offset = out.rank() - in.rank();
  for (int i = 0; i < in.rank(); ++i) {
    strides[static_cast<std::size_t>(i + offset)] = in[i] == 1 ? 0 : in.stride(i);
  }
  return strides;
}

}  // namespace tapeloop::detail
