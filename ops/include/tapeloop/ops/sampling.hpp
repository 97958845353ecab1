// Drawing class indices from categorical distributions: multinomial, as torch.multinomial.
#pragma once

#include <cstdint>

#include "tapeloop/indices.hpp"
#include "tapeloop/random.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop {

/// `num_samples` class indices from each row of `weights` ([C], or [N,C] for N independent
/// rows), category c drawn with probability weights[c] / sum(weights): the weights need not be
/// normalized (softmax's output, or anything non-negative). Without replacement each row's
/// draws are distinct. The result is [num_samples] or [N, num_samples]. The draws depend only
/// on the Generator's state, so a seed gives the same samples on every machine.
/// ValueError naming the row for a negative, NaN or infinite weight, a row summing to 0, a
/// negative num_samples, or, without replacement, more samples than non-zero weights;
/// ShapeError unless weights has rank 1 or 2.
Indices multinomial(TensorRef<const float> weights, std::int64_t num_samples, Generator& rng,
                    bool replacement = false);
Indices multinomial(TensorRef<const double> weights, std::int64_t num_samples, Generator& rng,
                    bool replacement = false);

}  // namespace tapeloop
