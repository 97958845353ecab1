// A text as character ids, with its alphabet: the corpus the character model trains on.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tapeloop/random.hpp"

namespace tapeloop::models {

/// A text as a sequence of character ids, with its alphabet.
struct CharCorpus {
  /// Maps every distinct byte of `text` to an id (in byte order).
  static CharCorpus from_text(const std::string& text);
  /// Reads a whole file; throws IoError if it cannot.
  static CharCorpus from_file(const std::string& path);

  std::vector<std::int64_t> ids;
  std::string alphabet;  // alphabet[id] is the character

  std::int64_t vocabulary() const { return static_cast<std::int64_t>(alphabet.size()); }
  /// Entropy of the character frequencies in ids[begin, end), in nats: the loss of the best
  /// model that ignores context (0 for an empty range). ValueError for a range outside ids.
  double unigram_entropy(std::size_t begin, std::size_t end) const;
  /// Fills inputs and targets ([steps, batch] time-major) with `batch` windows starting at
  /// random offsets in ids[begin, end - steps - 1); targets are the inputs shifted by one.
  /// Throws ValueError for steps or batch below 1, a range outside ids or shorter than
  /// steps + 2, or inputs or targets shorter than steps * batch.
  void sample(Generator& rng, std::size_t begin, std::size_t end, std::int64_t steps,
              std::int64_t batch, std::span<std::int64_t> inputs,
              std::span<std::int64_t> targets) const;
};

}  // namespace tapeloop::models
