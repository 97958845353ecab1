// Shards of a global batch and the per-shard seeds.
#include "tapeloop/distributed/shard.hpp"

#include <algorithm>
#include <string>

#include "tapeloop/errors.hpp"

namespace tapeloop::distributed {

Shard shard_of(std::int64_t total, int index, int shards) {
  if (shards < 1 || index < 0 || index >= shards || total < 0) {
    throw ValueError("shard_of: shard " + std::to_string(index) + " of " + std::to_string(shards) +
                     " over " + std::to_string(total) +
                     " items; needs 0 <= index < shards and total >= 0");
  }
  const std::int64_t base = total / shards, extra = total % shards;
  const std::int64_t begin = base * index + std::min<std::int64_t>(index, extra);
  return {begin, begin + base + (index < extra ? 1 : 0)};
}

namespace {

std::uint64_t splitmix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

}  // namespace

std::uint64_t shard_seed(std::uint64_t seed, std::int64_t step, int index) {
  // Each input goes through a full mix before the next joins, so nearby (step, index) pairs give
  // unrelated seeds.
  std::uint64_t h = splitmix64(seed);
  h = splitmix64(h ^ static_cast<std::uint64_t>(step));
  return splitmix64(h ^ static_cast<std::uint64_t>(index));
}

}  // namespace tapeloop::distributed
