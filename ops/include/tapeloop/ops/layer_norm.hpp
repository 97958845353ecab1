// Layer normalization over the trailing axes, with an optional elementwise affine map.
#pragma once

#include "tapeloop/shape.hpp"
#include "tapeloop/var.hpp"

namespace tapeloop {

/// torch.nn.functional.layer_norm: each slice over the last normalized_shape.rank() axes of x
/// (which must end in normalized_shape) is shifted to mean 0 and scaled to variance 1, the
/// biased variance over the slice plus eps under the square root:
///   y = (x - mean) / sqrt(var + eps) * weight + bias.
/// weight and bias are Vars of normalized_shape, or empty Vars for none (weight alone is
/// allowed, as PyTorch's bias=False). One node with a fused backward: for each slice,
/// dx = rstd (g w - mean(g w) - xhat mean(g w xhat)) with xhat the normalized x; dweight and
/// dbias sum g xhat and g over the slices. ShapeError naming the shapes when x does not end in
/// normalized_shape or weight/bias have another shape; ValueError for eps < 0 or NaN, or a bias
/// without a weight.
template <class T>
Var<T> layer_norm(const Var<T>& x, const Shape& normalized_shape, const Var<T>& weight = {},
                  const Var<T>& bias = {}, double eps = 1e-5);

}  // namespace tapeloop
