// Connectionist temporal classification: the loss of a labelling summed over every alignment.
#pragma once

#include <cstdint>
#include <span>

#include "tapeloop/ops/loss.hpp"  // Reduction
#include "tapeloop/var.hpp"

namespace tapeloop {

/// How ctc_loss treats its inputs.
struct CtcOptions {
  /// The class index of the blank label.
  std::int64_t blank = 0;
  /// mean: each sequence's loss divided by its target length (at least 1), averaged over the
  /// batch (PyTorch's); sum: summed over the batch; none is ctc_loss_per_sequence.
  Reduction reduction = Reduction::mean;
  /// A sequence that no alignment can produce (too short for its target) has an infinite loss;
  /// with zero_infinity its loss and gradient are 0 instead (PyTorch's option).
  bool zero_infinity = false;
};

/// -log p(target | input) for every sequence of a batch, by the forward-backward algorithm of
/// Graves et al. (2006) in log space: `log_probs` [T, B, C] are per-frame log-probabilities
/// (log_softmax of a network's outputs), sequence b uses its first input_lengths[b] frames;
/// `targets` holds every sequence's labels one after the other (target_lengths[b] of them for
/// sequence b, none equal to blank), as PyTorch's concatenated form. Returns [B].
///
/// The gradient is d(-log p)/d log_probs itself, correct for any log_probs; through
/// log_softmax it equals PyTorch's. Frames past a sequence's length get zero gradient. Throws
/// ShapeError for a log_probs that is not [T, B, C] or lengths that do not fit the batch, and
/// ValueError for a length outside [0, T], a negative target length, a target length sum that is
/// not the number of targets, or a label outside [0, C) or equal to blank; before recording.
template <class T>
Var<T> ctc_loss_per_sequence(const Var<T>& log_probs, std::span<const std::int64_t> targets,
                             std::span<const std::int64_t> input_lengths,
                             std::span<const std::int64_t> target_lengths,
                             const CtcOptions& options = {});

/// ctc_loss_per_sequence reduced as options.reduction says (a scalar []).
template <class T>
Var<T> ctc_loss(const Var<T>& log_probs, std::span<const std::int64_t> targets,
                std::span<const std::int64_t> input_lengths,
                std::span<const std::int64_t> target_lengths, const CtcOptions& options = {});

}  // namespace tapeloop
