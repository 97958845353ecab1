// Indices: integer positions with a shape, as argmax, topk and multinomial return them.
#pragma once

#include <cstdint>
#include <vector>

#include "tapeloop/shape.hpp"

namespace tapeloop {

/// Row-major int64 positions of `shape`: PyTorch's LongTensor results (argmax, topk's indices,
/// multinomial's samples). They feed index_select, gather and cross_entropy's targets directly.
struct Indices {
  Shape shape;
  std::vector<std::int64_t> values;

  std::int64_t numel() const { return static_cast<std::int64_t>(values.size()); }
  std::int64_t operator[](std::int64_t i) const { return values[static_cast<std::size_t>(i)]; }
  const std::int64_t* begin() const { return values.data(); }
  const std::int64_t* end() const { return values.data() + values.size(); }
  /// The single value of a one-element result (argmax of a vector, one sample).
  std::int64_t item() const;
};

}  // namespace tapeloop
