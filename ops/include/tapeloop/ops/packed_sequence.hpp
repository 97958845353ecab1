// Packed sequences: a batch of variable-length sequences stored without padding, longest first,
// so that step t of a recurrence touches only the sequences still running (PyTorch's
// PackedSequence).
#pragma once

#include <cstdint>
#include <span>

#include "tapeloop/tape.hpp"
#include "tapeloop/var.hpp"

namespace tapeloop {

/// Where each step of each sequence lives when a time-major batch [T, B, ...] with per-sequence
/// lengths is packed. The sequences are sorted by length, longest first (equal lengths keep
/// their batch order); step t holds one row for each of the first batch_sizes[t] sorted
/// sequences, and the steps follow each other: packed row offsets[t] + j is step t of sequence
/// sorted_indices[j]. batch_sizes never increases, so the sequences running at step t are always
/// a prefix of the sorted batch — a recurrence shrinks its batch instead of masking it.
///
/// The spans point into the tape's arena (made by packed_layout) and live until it is cleared.
struct PackedLayout {
  std::int64_t steps = 0;                          ///< T
  std::int64_t batch = 0;                          ///< B
  std::int64_t rows = 0;                           ///< packed rows: the sum of the lengths
  std::span<const std::int64_t> batch_sizes;       ///< [T]: sequences longer than t
  std::span<const std::int64_t> offsets;           ///< [T]: step t's first packed row
  std::span<const std::int64_t> sorted_indices;    ///< [B]: the batch index at sorted position j
  std::span<const std::int64_t> unsorted_indices;  ///< [B]: the sorted position of sequence b
  bool sorted = true;  ///< the lengths were already non-increasing: no reordering
  std::span<const std::int64_t> pack_rows;    ///< [rows]: t * B + b of each packed row
  std::span<const std::int64_t> unpack_rows;  ///< [T * B]: the packed row of (t, b), or `rows`
};

/// The layout of a batch of `lengths.size()` sequences of at most `steps` steps. Throws
/// ValueError for a length outside [0, steps] and when steps or the batch is below 1. Its memory
/// is `tape`'s (no heap).
template <class T>
PackedLayout packed_layout(Tape<T>& tape, std::span<const std::int64_t> lengths,
                           std::int64_t steps);

/// x [T, B, ...] -> [rows, ...]: every sequence's steps before its length, in the layout's
/// order (a copy; backward scatters the gradient back, padding gets none). Throws ShapeError
/// unless x's first two axes are the layout's T and B.
template <class T>
Var<T> pack_sequence(const Var<T>& x, const PackedLayout& layout);

/// packed [rows, ...] -> [T, B, ...]: each row back at its step and sequence, and +0.0 past a
/// sequence's length (as PyTorch's pad_packed_sequence). Throws ShapeError unless packed has
/// the layout's rows.
template <class T>
Var<T> unpack_sequence(const Var<T>& packed, const PackedLayout& layout);

}  // namespace tapeloop
