// Sampling from a language model: one token from logits (temperature, top-k), and text
// continued from a prompt by a CharModel, step by step on a tape that does not grow.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "tapeloop/models/char_model.hpp"
#include "tapeloop/random.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop::models {

struct SamplingOptions {
  /// Divides the logits before the softmax: below 1 sharper, above 1 flatter; 0 takes the most
  /// likely token (greedy decoding).
  double temperature = 1.0;
  /// Sample among the k most likely tokens only (0: all). Tokens tied with the k-th are kept.
  std::int64_t top_k = 0;
};

/// One token drawn from softmax(logits / temperature) restricted to the top_k largest logits,
/// as Hugging Face's and nanoGPT's sampling do; logits are [C]. ValueError for a negative or
/// NaN temperature, a negative top_k, non-finite logits, or C = 0.
std::int64_t sample_logits(TensorRef<const float> logits, const SamplingOptions& options,
                           Generator& rng);

/// Reads `prompt` (ids of the model's vocabulary, at least one) and then draws `length` more
/// ids, each fed back as the next input. Runs in evaluation mode under no_grad, one recording
/// per token on a tape cleared after each, the LSTM's state kept in a Carry: memory stays
/// constant however long the text. The model's train/eval mode is restored afterwards.
/// ValueError for an empty prompt, an id outside the vocabulary, or a negative length.
std::vector<std::int64_t> generate(CharModel& model, std::span<const std::int64_t> prompt,
                                   std::int64_t length, const SamplingOptions& options,
                                   Generator& rng);

}  // namespace tapeloop::models
