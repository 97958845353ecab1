// Losses returning a scalar: mean squared error, binary cross-entropy on logits, cross-entropy.
#pragma once

#include <cstdint>
#include <span>

#include "tapeloop/var.hpp"

namespace tapeloop {

/// How a loss combines its per-element terms into the scalar it returns (shape []).
/// mean over zero terms is NaN, as PyTorch.
enum class Reduction { mean, sum };

/// Reduction of (pred - target)^2. pred and target must have the same shape (no broadcasting;
/// ShapeError otherwise). Both get a gradient if they require one.
template <class T>
Var<T> mse_loss(const Var<T>& pred, const Var<T>& target, Reduction reduction = Reduction::mean);

/// Reduction of -[t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))], evaluated as
/// max(x, 0) - x t + log1p(exp(-|x|)) so that it is finite and exact for any logit x.
/// logits and target must have the same shape (ShapeError otherwise). Gradients:
/// sigmoid(x) - t to the logits, -x to the target.
template <class T>
Var<T> binary_cross_entropy_with_logits(const Var<T>& logits, const Var<T>& target,
                                        Reduction reduction = Reduction::mean);

/// Reduction over the N rows of logsumexp(logits[i]) - logits[i][targets[i]]: softmax
/// cross-entropy with class-index targets. logits must be [N,C] (a single sample is [1,C]);
/// targets must hold N indices in [0, C): ShapeError for a wrong rank or count, ValueError for
/// an index out of range. The targets are copied, so the span need not outlive the call.
/// Gradient to the logits: softmax(logits[i]) - onehot(targets[i]).
template <class T>
Var<T> cross_entropy(const Var<T>& logits, std::span<const std::int64_t> targets,
                     Reduction reduction = Reduction::mean);

}  // namespace tapeloop
