// multinomial: inverse-CDF draws from each row's running sums (with replacement), or one draw
// at a time with the drawn category's weight then removed (without).
#include "tapeloop/ops/sampling.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <string>
#include <vector>

#include "tapeloop/errors.hpp"

namespace tapeloop {
namespace {

// The category whose share of [0, total) holds u: the first running sum above u. A zero-weight
// category has an empty share and is never found; if rounding made u reach the total, the
// last category with a non-zero weight (the first to reach the total) is taken.
std::int64_t search(const std::vector<double>& cumulative, double u) {
  auto it = std::upper_bound(cumulative.begin(), cumulative.end(), u);
  if (it == cumulative.end()) it = std::lower_bound(cumulative.begin(), cumulative.end(), u);
  return it - cumulative.begin();
}

template <class T>
Indices draw(TensorRef<const T> weights, std::int64_t num_samples, Generator& rng,
             bool replacement) {
  const Shape& shape = weights.shape;
  if (shape.rank() != 1 && shape.rank() != 2) {
    throw ShapeError("multinomial: weights " + shape.str() + ": expected [C] or [N,C]");
  }
  if (num_samples < 0) {
    throw ValueError("multinomial: num_samples = " + std::to_string(num_samples) + " is negative");
  }
  const std::int64_t rows = shape.rank() == 2 ? shape[0] : 1;
  const std::int64_t classes = shape[shape.rank() - 1];
  auto where = [&](std::int64_t r) {
    return shape.rank() == 2 ? " in row " + std::to_string(r) + " of " + shape.str()
                             : " in " + shape.str();
  };
  // Validate every row before drawing anything, so a bad row leaves the Generator untouched.
  for (std::int64_t r = 0; r < rows; ++r) {
    double total = 0;
    std::int64_t nonzero = 0;
    for (std::int64_t c = 0; c < classes; ++c) {
      const double w = weights.data[r * classes + c];
      if (!(w >= 0) || std::isinf(w)) {
        throw ValueError("multinomial: weight " + std::to_string(w) + " of category " +
                         std::to_string(c) + where(r) + ": weights must be finite and >= 0");
      }
      total += w;
      nonzero += w > 0;
    }
    if (!(total > 0)) throw ValueError("multinomial: the weights" + where(r) + " sum to 0");
    if (!replacement && num_samples > nonzero) {
      throw ValueError("multinomial: " + std::to_string(num_samples) +
                       " samples without replacement" + where(r) + ", which has only " +
                       std::to_string(nonzero) + " non-zero weights");
    }
  }
  Indices out;
  if (shape.rank() == 2) out.shape.push_back(rows);
  out.shape.push_back(num_samples);
  out.values.reserve(static_cast<std::size_t>(rows * num_samples));
  std::vector<double> w(static_cast<std::size_t>(classes)), cumulative(w.size());
  for (std::int64_t r = 0; r < rows; ++r) {
    std::copy(weights.data + r * classes, weights.data + (r + 1) * classes, w.begin());
    for (std::int64_t s = 0; s < num_samples; ++s) {
      // Running sums in double whatever T is: a float sum over a large vocabulary would make
      // the last categories' share inexact.
      if (s == 0 || !replacement) std::partial_sum(w.begin(), w.end(), cumulative.begin());
      const std::int64_t c = search(cumulative, rng.uniform() * cumulative.back());
      out.values.push_back(c);
      if (!replacement) w[static_cast<std::size_t>(c)] = 0;
    }
  }
  return out;
}

}  // namespace

Indices multinomial(TensorRef<const float> weights, std::int64_t num_samples, Generator& rng,
                    bool replacement) {
  return draw(weights, num_samples, rng, replacement);
}
Indices multinomial(TensorRef<const double> weights, std::int64_t num_samples, Generator& rng,
                    bool replacement) {
  return draw(weights, num_samples, rng, replacement);
}

}  // namespace tapeloop
