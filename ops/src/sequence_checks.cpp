// The argument checks shared by scan, the recurrent layers and CTC.
#include "tapeloop/ops/sequence_checks.hpp"

#include <string>

#include "tapeloop/errors.hpp"

namespace tapeloop {

void check_truncation(const char* who, std::int64_t truncate, std::int64_t checkpoint) {
  if (truncate < 0 || checkpoint < 0 || (truncate > 0 && checkpoint > 0)) {
    throw ValueError(std::string(who) + ": checkpoint " + std::to_string(checkpoint) +
                     " and truncate " + std::to_string(truncate) +
                     ": neither may be negative, nor both set");
  }
}

void check_sequence_lengths(const char* who, std::span<const std::int64_t> lengths,
                            std::int64_t batch, std::int64_t steps, const char* what,
                            const Shape& shape) {
  if (lengths.empty()) return;
  auto input = [&] { return std::string(" (") + what + " " + shape.str() + ")"; };
  if (static_cast<std::int64_t>(lengths.size()) != batch) {
    throw ShapeError(std::string(who) + ": " + std::to_string(lengths.size()) +
                     " lengths for a batch of " + std::to_string(batch) + input());
  }
  for (std::size_t b = 0; b < lengths.size(); ++b) {
    if (lengths[b] < 0 || lengths[b] > steps) {
      throw ValueError(std::string(who) + ": length " + std::to_string(lengths[b]) +
                       " of sequence " + std::to_string(b) + " is outside [0, " +
                       std::to_string(steps) + "]" + input());
    }
  }
}

}  // namespace tapeloop
