// Shards of a global batch, and the seeds of what each shard draws (dropout masks), so that R
// ranks and one process over R shards see the same numbers.
#pragma once

#include <cstdint>

namespace tapeloop::distributed {

/// Items [begin, end) of a global batch.
struct Shard {
  std::int64_t begin = 0;
  std::int64_t end = 0;
  std::int64_t size() const { return end - begin; }
};

/// Shard `index` of `shards` over `total` items: contiguous, sizes differing by at most one, the
/// larger first; shards 0, 1, ... cover [0, total) in order. ValueError for shards < 1, an index
/// outside [0, shards) or total < 0.
Shard shard_of(std::int64_t total, int index, int shards);

/// A seed for what shard `index` draws at training step `step` (a Generator for its dropout
/// masks), from the run's `seed`: every process that handles that shard at that step — rank
/// `index` of a data-parallel run, or one process going through the shards in turn — draws the
/// same numbers, and no checkpoint needs the generator's state.
std::uint64_t shard_seed(std::uint64_t seed, std::int64_t step, int index);

}  // namespace tapeloop::distributed
