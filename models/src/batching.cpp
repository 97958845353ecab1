// Shuffled and length-bucketed mini-batches of indices, and padding of a batch of sequences.
#include "tapeloop/models/batching.hpp"

#include <algorithm>
#include <numeric>
#include <string>

#include "tapeloop/errors.hpp"

namespace tapeloop::models {

namespace {

void check_batch_size(const char* who, std::int64_t batch_size) {
  if (batch_size < 1) {
    throw ValueError(std::string(who) + ": batch_size must be at least 1, not " +
                     std::to_string(batch_size));
  }
}

void check_batch_index(const char* who, std::int64_t i, std::int64_t count) {
  if (i < 0 || i >= count) {
    throw ValueError(std::string(who) + ": batch " + std::to_string(i) + " is outside [0, " +
                     std::to_string(count) + ")");
  }
}

// Every batch of an epoch of `sampler` as its own list.
template <class Sampler>
std::vector<std::vector<std::int64_t>> copy_batches(const Sampler& sampler) {
  std::vector<std::vector<std::int64_t>> out;
  for (std::int64_t i = 0; i < sampler.num_batches(); ++i) {
    const auto b = sampler.batch(i);
    out.emplace_back(b.begin(), b.end());
  }
  return out;
}

template <class T>
void fisher_yates(std::span<T> values, Generator& gen) {
  for (std::size_t i = values.size(); i > 1; --i) {
    const auto j = static_cast<std::size_t>(gen.below(i));
    std::swap(values[i - 1], values[j]);
  }
}

}  // namespace

void shuffle(std::span<std::int64_t> values, Generator& gen) {
  fisher_yates(values, gen);
}

// ---- BatchSampler ------------------------------------------------------------------------------

BatchSampler::BatchSampler(std::int64_t size, std::int64_t batch_size, bool drop_last)
    : batch_size_(batch_size), drop_last_(drop_last) {
  if (size < 0) {
    throw ValueError("BatchSampler: size must not be negative, not " + std::to_string(size));
  }
  check_batch_size("BatchSampler", batch_size);
  order_.resize(static_cast<std::size_t>(size));
  std::iota(order_.begin(), order_.end(), std::int64_t{0});
}

void BatchSampler::next_epoch(Generator& gen) {
  // From 0..n-1 each time, as torch.randperm: an epoch depends on the generator alone, not on
  // the epochs before it.
  std::iota(order_.begin(), order_.end(), std::int64_t{0});
  shuffle(order_, gen);
}

std::int64_t BatchSampler::num_batches() const {
  return drop_last_ ? size() / batch_size_ : (size() + batch_size_ - 1) / batch_size_;
}

std::span<const std::int64_t> BatchSampler::batch(std::int64_t i) const {
  check_batch_index("BatchSampler::batch", i, num_batches());
  const std::int64_t start = i * batch_size_;
  return {order_.data() + start, static_cast<std::size_t>(std::min(batch_size_, size() - start))};
}

std::vector<std::vector<std::int64_t>> BatchSampler::batches() const {
  return copy_batches(*this);
}

std::vector<std::vector<std::int64_t>> shuffled_batches(std::int64_t size, std::int64_t batch_size,
                                                        Generator& gen, bool drop_last) {
  BatchSampler sampler(size, batch_size, drop_last);
  sampler.next_epoch(gen);
  return sampler.batches();
}

// ---- BucketSampler -----------------------------------------------------------------------------

BucketSampler::BucketSampler(std::vector<std::int64_t> lengths, std::int64_t batch_size,
                             std::int64_t pool, bool drop_last)
    : lengths_(std::move(lengths)), batch_size_(batch_size), pool_(pool), drop_last_(drop_last) {
  check_batch_size("BucketSampler", batch_size);
  if (pool < 1) {
    throw ValueError("BucketSampler: pool must be at least 1, not " + std::to_string(pool));
  }
  for (std::size_t i = 0; i < lengths_.size(); ++i) {
    if (lengths_[i] < 0) {
      throw ValueError("BucketSampler: length " + std::to_string(lengths_[i]) + " of sequence " +
                       std::to_string(i) + " is negative");
    }
  }
  order_.resize(lengths_.size());
  std::iota(order_.begin(), order_.end(), std::int64_t{0});
  // Every chunk is a whole number of batches but the last, so at most one batch is short.
  spans_.reserve((lengths_.size() + static_cast<std::size_t>(batch_size) - 1) /
                 static_cast<std::size_t>(batch_size));
  arrange();
}

namespace {

std::vector<std::int64_t> lengths_of(std::span<const std::vector<std::int64_t>> sequences) {
  std::vector<std::int64_t> lengths;
  lengths.reserve(sequences.size());
  for (const auto& s : sequences) lengths.push_back(static_cast<std::int64_t>(s.size()));
  return lengths;
}

}  // namespace

BucketSampler::BucketSampler(std::span<const std::vector<std::int64_t>> sequences,
                             std::int64_t batch_size, std::int64_t pool, bool drop_last)
    : BucketSampler(lengths_of(sequences), batch_size, pool, drop_last) {}

void BucketSampler::arrange() {
  const std::int64_t n = size();
  const std::int64_t chunk = pool_ * batch_size_;
  spans_.clear();
  for (std::int64_t begin = 0; begin < n; begin += chunk) {
    const std::int64_t end = std::min(n, begin + chunk);
    std::stable_sort(
        order_.begin() + begin, order_.begin() + end, [&](std::int64_t a, std::int64_t b) {
          return lengths_[static_cast<std::size_t>(a)] < lengths_[static_cast<std::size_t>(b)];
        });
    for (std::int64_t start = begin; start < end; start += batch_size_) {
      const std::int64_t count = std::min(batch_size_, end - start);
      if (count == batch_size_ || !drop_last_) spans_.emplace_back(start, count);
    }
  }
}

void BucketSampler::next_epoch(Generator& gen) {
  std::iota(order_.begin(), order_.end(), std::int64_t{0});
  shuffle(order_, gen);
  arrange();
  fisher_yates(std::span(spans_), gen);
}

std::span<const std::int64_t> BucketSampler::batch(std::int64_t i) const {
  check_batch_index("BucketSampler::batch", i, num_batches());
  const auto [start, count] = spans_[static_cast<std::size_t>(i)];
  return {order_.data() + start, static_cast<std::size_t>(count)};
}

std::vector<std::vector<std::int64_t>> BucketSampler::batches() const {
  return copy_batches(*this);
}

std::vector<std::vector<std::int64_t>> bucket_batches(std::span<const std::int64_t> lengths,
                                                      std::int64_t batch_size, Generator& gen,
                                                      std::int64_t pool, bool drop_last) {
  BucketSampler sampler(std::vector<std::int64_t>(lengths.begin(), lengths.end()), batch_size, pool,
                        drop_last);
  sampler.next_epoch(gen);
  return sampler.batches();
}

// ---- padding -----------------------------------------------------------------------------------

void pad_batch(std::span<const std::vector<std::int64_t>> sequences,
               std::span<const std::int64_t> indices, PaddedBatch& out, const PadOptions& options) {
  if (indices.empty()) throw ValueError("pad_batch: the batch has no indices");
  const auto n = static_cast<std::int64_t>(sequences.size());
  std::int64_t steps = 0;
  for (std::size_t b = 0; b < indices.size(); ++b) {
    const std::int64_t i = indices[b];
    if (i < 0 || i >= n) {
      throw ValueError("pad_batch: index " + std::to_string(i) + " (entry " + std::to_string(b) +
                       " of the batch) is outside [0, " + std::to_string(n) + ")");
    }
    steps =
        std::max(steps, static_cast<std::int64_t>(sequences[static_cast<std::size_t>(i)].size()));
  }
  const auto batch = static_cast<std::int64_t>(indices.size());
  out.steps = steps;
  out.batch = batch;
  out.batch_first = options.batch_first;
  out.ids.assign(static_cast<std::size_t>(steps * batch), options.pad);
  out.lengths.resize(indices.size());
  for (std::int64_t b = 0; b < batch; ++b) {
    const auto& s = sequences[static_cast<std::size_t>(indices[static_cast<std::size_t>(b)])];
    const auto length = static_cast<std::int64_t>(s.size());
    out.lengths[static_cast<std::size_t>(b)] = length;
    // Strided by batch (time-major) or contiguous (batch-first).
    const std::int64_t base = options.batch_first ? b * steps : b;
    const std::int64_t stride = options.batch_first ? 1 : batch;
    for (std::int64_t t = 0; t < length; ++t) {
      out.ids[static_cast<std::size_t>(base + t * stride)] = s[static_cast<std::size_t>(t)];
    }
  }
}

PaddedBatch pad_batch(std::span<const std::vector<std::int64_t>> sequences,
                      std::span<const std::int64_t> indices, const PadOptions& options) {
  PaddedBatch out;
  pad_batch(sequences, indices, out, options);
  return out;
}

}  // namespace tapeloop::models
