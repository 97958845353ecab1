// Losses returning a scalar: mean squared error, binary cross-entropy on logits, and the
// classification losses cross_entropy and nll_loss.
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

/// The options of cross_entropy and nll_loss, PyTorch's arguments of the same names:
///
///   cross_entropy(logits, targets, {.ignore_index = pad, .label_smoothing = 0.1});
template <class T>
struct CrossEntropyOptions {
  Reduction reduction = Reduction::mean;
  /// Positions whose target is this value contribute nothing (padding); it may also be a valid
  /// class index, which is then never learned.
  std::int64_t ignore_index = -100;
  /// One weight per class scaling that class's terms, or empty for all 1. Copied by the call.
  /// With weights, mean divides by the sum of the weights of the kept targets, not by their
  /// number (so it is a weighted average).
  std::span<const T> weight = {};
  /// eps in [0, 1]: the target distribution becomes (1 - eps) onehot(y) + eps / C (cross_entropy
  /// only; nll_loss throws ValueError for a non-zero value).
  double label_smoothing = 0.0;
};

/// Softmax cross-entropy with class-index targets, as torch.nn.functional.cross_entropy.
/// logits are [N,C], [N,C,d1,...,dk] (classes along axis 1; a sequence [T,B,C] is given as
/// [T*B,C] through reshape, or permuted to [B,C,T]) or a single sample [C]; targets hold one
/// class index per position (N, N*d1*...*dk, or 1 values, row-major) and are copied, so the
/// span need not outlive the call. Each kept position contributes
/// (1 - eps) w[y] (logsumexp(x) - x[y]) + (eps / C) sum_c w[c] (logsumexp(x) - x[c]); mean
/// divides the sum by the total weight of the kept targets (their count without weights), and
/// is NaN when every target is ignored. Gradient to the logits, per kept position:
/// (1 - eps) w[y] (softmax(x) - onehot(y)) + (eps / C) (sum(w) softmax(x) - w).
/// ShapeError for a wrong rank, target count or weight count; ValueError for a target outside
/// [0, C) that is not ignore_index, or label_smoothing outside [0, 1].
template <class T>
Var<T> cross_entropy(const Var<T>& logits, std::span<const std::int64_t> targets,
                     const CrossEntropyOptions<T>& options);
/// The same with only a reduction given (no ignore_index in use, no weights, no smoothing).
template <class T>
Var<T> cross_entropy(const Var<T>& logits, std::span<const std::int64_t> targets,
                     Reduction reduction = Reduction::mean);

/// Negative log-likelihood of class-index targets given log-probabilities (log_softmax's
/// output), as torch.nn.functional.nll_loss: each kept position contributes -w[y] x[y], and
/// mean divides by the kept targets' total weight. Shapes, targets, ignore_index and weights
/// as cross_entropy; label_smoothing must be 0. Gradient: -w[y] at each kept target, scaled.
template <class T>
Var<T> nll_loss(const Var<T>& log_probs, std::span<const std::int64_t> targets,
                const CrossEntropyOptions<T>& options = {});

}  // namespace tapeloop
