// Mini-batches of a data set of sequences: seeded shuffling (PyTorch's DataLoader with
// shuffle=True), padding to a [steps, batch] id buffer (pad_sequence) and length bucketing.
#pragma once

#include <cstdint>
#include <span>
#include <utility>
#include <vector>

#include "tapeloop/random.hpp"
#include "tapeloop/shape.hpp"

namespace tapeloop::models {

/// Fisher–Yates: for i = n-1 down to 1, swaps values[i] with values[gen.below(i + 1)]. Every
/// draw is specified, so the same generator state gives the same permutation on every machine.
void shuffle(std::span<std::int64_t> values, Generator& gen);

/// Shuffled mini-batches of the indices 0..size-1. The permutation lives in the sampler and a
/// batch is a view of it, so an epoch allocates nothing:
///
///   BatchSampler sampler(dataset_size, 32);
///   for (int epoch = 0; epoch < epochs; ++epoch) {
///     sampler.next_epoch(gen);
///     for (std::int64_t i = 0; i < sampler.num_batches(); ++i) train_on(sampler.batch(i));
///   }
///
/// Until the first next_epoch() the batches are in index order (shuffle=False).
class BatchSampler {
 public:
  /// Throws ValueError for a negative size or a batch_size below 1.
  BatchSampler(std::int64_t size, std::int64_t batch_size, bool drop_last = false);

  /// Draws a new permutation of the indices: shuffle() of 0..size-1, so an epoch depends on the
  /// generator's state alone (shuffled_batches with the same state gives the same batches).
  void next_epoch(Generator& gen);

  std::int64_t size() const { return static_cast<std::int64_t>(order_.size()); }
  std::int64_t batch_size() const { return batch_size_; }
  bool drop_last() const { return drop_last_; }
  /// size / batch_size, rounded up unless drop_last (then the short last batch is left out).
  std::int64_t num_batches() const;
  /// The indices of batch i of this epoch; a view valid until the next next_epoch(). Throws
  /// ValueError for i outside [0, num_batches()).
  std::span<const std::int64_t> batch(std::int64_t i) const;
  /// All the batches of this epoch as lists.
  std::vector<std::vector<std::int64_t>> batches() const;

 private:
  std::vector<std::int64_t> order_;
  std::int64_t batch_size_;
  bool drop_last_;
};

/// One epoch of BatchSampler(size, batch_size, drop_last) after next_epoch(gen).
std::vector<std::vector<std::int64_t>> shuffled_batches(std::int64_t size, std::int64_t batch_size,
                                                        Generator& gen, bool drop_last = false);

/// Batches of indices whose sequences have similar lengths, so little of a padded batch is
/// padding (torchtext's BucketIterator with its `pool`). Each epoch:
///
///  1. shuffles the indices 0..size-1 (shuffle());
///  2. cuts them into chunks of pool * batch_size and stable-sorts each chunk by length;
///  3. cuts each chunk into batches of batch_size (the last of a chunk may be short; with
///     drop_last every short batch is left out);
///  4. shuffles the order of the batches (Fisher–Yates, as shuffle()).
///
/// A larger pool gives batches of closer lengths and less random company. Until the first
/// next_epoch() the batches are those of steps 2 and 3 on the index order, in order: a fixed
/// arrangement for evaluation.
class BucketSampler {
 public:
  /// `lengths[i]` is the length of sequence i (copied). Throws ValueError for a batch_size or
  /// pool below 1 or a negative length.
  BucketSampler(std::vector<std::int64_t> lengths, std::int64_t batch_size, std::int64_t pool = 100,
                bool drop_last = false);
  /// The lengths of `sequences`.
  BucketSampler(std::span<const std::vector<std::int64_t>> sequences, std::int64_t batch_size,
                std::int64_t pool = 100, bool drop_last = false);

  /// Draws this epoch's batches. The chunks are sorted with std::stable_sort, which may take a
  /// buffer from the heap once per epoch; batches themselves are views.
  void next_epoch(Generator& gen);

  std::int64_t size() const { return static_cast<std::int64_t>(lengths_.size()); }
  std::int64_t batch_size() const { return batch_size_; }
  std::int64_t num_batches() const { return static_cast<std::int64_t>(spans_.size()); }
  /// The indices of batch i of this epoch (in ascending length). Throws ValueError for i outside
  /// [0, num_batches()).
  std::span<const std::int64_t> batch(std::int64_t i) const;
  std::vector<std::vector<std::int64_t>> batches() const;

 private:
  void arrange();  // steps 2 and 3 on order_

  std::vector<std::int64_t> lengths_, order_;
  std::vector<std::pair<std::int64_t, std::int64_t>> spans_;  // (start in order_, count)
  std::int64_t batch_size_, pool_;
  bool drop_last_;
};

/// One epoch of BucketSampler(lengths, batch_size, pool, drop_last) after next_epoch(gen).
std::vector<std::vector<std::int64_t>> bucket_batches(std::span<const std::int64_t> lengths,
                                                      std::int64_t batch_size, Generator& gen,
                                                      std::int64_t pool = 100,
                                                      bool drop_last = false);

struct PadOptions {
  /// The id written past each sequence's end.
  std::int64_t pad = 0;
  /// [batch, steps] instead of [steps, batch].
  bool batch_first = false;
};

/// A batch of sequences padded to the longest one, PyTorch's pad_sequence with the lengths
/// alongside. `lengths` is what the recurrent layers (RecurrentLayer::forward), scan and the
/// losses take for variable lengths: one int64 per batch entry, in batch order. They need not
/// be sorted (unlike pack_padded_sequence's enforce_sorted), so the batch keeps its order.
struct PaddedBatch {
  std::vector<std::int64_t> ids;      // [steps, batch], or [batch, steps] if batch_first
  std::vector<std::int64_t> lengths;  // [batch]
  std::int64_t steps = 0;             // the longest length
  std::int64_t batch = 0;
  bool batch_first = false;

  /// The shape of `ids`, for Embedding::forward(tape, ids, shape()).
  Shape shape() const { return batch_first ? Shape{batch, steps} : Shape{steps, batch}; }
  /// The id of batch entry b at time t.
  std::int64_t at(std::int64_t t, std::int64_t b) const {
    return ids[static_cast<std::size_t>(batch_first ? b * steps + t : t * batch + b)];
  }
};

/// Pads sequences[indices[0]], sequences[indices[1]], ... into a batch. Empty sequences are
/// allowed (length 0); an empty `indices` or an index outside [0, sequences.size()) throws
/// ValueError naming the function and the values.
PaddedBatch pad_batch(std::span<const std::vector<std::int64_t>> sequences,
                      std::span<const std::int64_t> indices, const PadOptions& options = {});
/// The same into `out`, reusing its buffers: once they have grown to the largest batch,
/// padding allocates nothing.
void pad_batch(std::span<const std::vector<std::int64_t>> sequences,
               std::span<const std::int64_t> indices, PaddedBatch& out,
               const PadOptions& options = {});

}  // namespace tapeloop::models
