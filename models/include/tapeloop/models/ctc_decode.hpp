// Reading a labelling off CTC outputs: best-path (greedy) and prefix beam search decoding, and
// the edit distance behind the character error rate.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tapeloop/tensor.hpp"

namespace tapeloop::models {

/// A decoded labelling and its log-probability under the decoder (for greedy: of the best
/// path; for beam search: of the labelling, summed over its alignments that the beam kept).
struct CtcHypothesis {
  std::vector<std::int64_t> labels;
  double log_prob = 0;
};

/// For every sequence b of `log_probs` [T, B, C], the most probable path over its first
/// input_lengths[b] frames, collapsed (repeats merged, blanks removed). Throws ShapeError /
/// ValueError as ctc_loss does for arguments that do not fit.
template <class T>
std::vector<CtcHypothesis> ctc_greedy_decode(TensorRef<const T> log_probs,
                                             std::span<const std::int64_t> input_lengths,
                                             std::int64_t blank = 0);

/// For every sequence, the labelling prefix beam search finds (Hannun et al., 2014): after each
/// frame only the `beam_width` most probable prefixes are kept, each with the probabilities of
/// ending in a blank and in its last label, so a labelling's alignments are summed rather than
/// only the best one counted. With a beam as wide as the number of prefixes it is exact: the
/// most probable labelling. beam_width must be >= 1 (ValueError).
template <class T>
std::vector<CtcHypothesis> ctc_beam_search(TensorRef<const T> log_probs,
                                           std::span<const std::int64_t> input_lengths,
                                           int beam_width, std::int64_t blank = 0);

/// The Levenshtein distance: the fewest insertions, deletions and substitutions that turn
/// `hypothesis` into `reference`.
std::int64_t edit_distance(std::span<const std::int64_t> hypothesis,
                           std::span<const std::int64_t> reference);

}  // namespace tapeloop::models
