// The shape check shared by linear and RecurrentLinear: rows, in and out features of a call.
#pragma once

#include <cstdint>

#include "tapeloop/shape.hpp"

namespace tapeloop::detail {

/// Rows (the input's leading dims flattened), in and out features, and the output's shape.
struct LinearDims {
  std::int64_t rows, in, out;
  Shape out_shape;
};

/// The dims of x W^T + b for these shapes (bias may be null); throws ShapeError naming `op` and
/// the shapes otherwise, e.g. "linear: input [32,128] and weight [256,512]: input features 128
/// and 512 differ".
LinearDims check_linear(const char* op, const Shape& x, const Shape& weight, const Shape* bias);

}  // namespace tapeloop::detail
