// Temperature and top-k sampling, and generation with a carried LSTM state.
#include "tapeloop/models/generate.hpp"

#include <algorithm>
#include <cmath>
#include <string>

#include "tapeloop/errors.hpp"
#include "tapeloop/ops/sampling.hpp"
#include "tapeloop/ops/select.hpp"

namespace tapeloop::models {

std::int64_t sample_logits(TensorRef<const float> logits, const SamplingOptions& options,
                           Generator& rng) {
  const std::int64_t classes = logits.numel();
  if (logits.shape.rank() != 1 || classes == 0) {
    throw ValueError("sample_logits: logits " + logits.shape.str() + ": expected [C], C >= 1");
  }
  if (!(options.temperature >= 0.0)) {
    throw ValueError("sample_logits: temperature " + std::to_string(options.temperature) +
                     " must be >= 0");
  }
  if (options.top_k < 0) {
    throw ValueError("sample_logits: top_k " + std::to_string(options.top_k) + " must be >= 0");
  }
  for (std::int64_t c = 0; c < classes; ++c) {
    if (!std::isfinite(logits[c])) {
      throw ValueError("sample_logits: logit " + std::to_string(logits[c]) + " of token " +
                       std::to_string(c) + " is not finite");
    }
  }
  if (options.temperature == 0.0) return argmax(logits, 0).item();
  // The k-th largest logit: everything below it is out.
  std::vector<double> w(logits.begin(), logits.end());
  double threshold = -INFINITY;
  if (options.top_k > 0 && options.top_k < classes) {
    std::vector<double> sorted = w;
    std::nth_element(sorted.begin(), sorted.begin() + (options.top_k - 1), sorted.end(),
                     std::greater<>());
    threshold = sorted[static_cast<std::size_t>(options.top_k - 1)];
  }
  const double top = *std::max_element(w.begin(), w.end());
  for (double& v : w) v = v >= threshold ? std::exp((v - top) / options.temperature) : 0.0;
  return multinomial(TensorRef<const double>{w.data(), Shape{classes}}, 1, rng).item();
}

std::vector<std::int64_t> generate(CharModel& model, std::span<const std::int64_t> prompt,
                                   std::int64_t length, const SamplingOptions& options,
                                   Generator& rng) {
  const std::int64_t vocabulary = model.embedding.num_embeddings();
  if (prompt.empty()) throw ValueError("generate: the prompt is empty");
  if (length < 0) {
    throw ValueError("generate: length " + std::to_string(length) + " is negative");
  }
  // The options are checked before anything runs, so that an error names generate's call.
  if (!(options.temperature >= 0.0) || options.top_k < 0) {
    throw ValueError("generate: temperature " + std::to_string(options.temperature) +
                     " and top_k " + std::to_string(options.top_k) +
                     ": expected temperature >= 0 and top_k >= 0");
  }
  for (std::int64_t id : prompt) {
    if (id < 0 || id >= vocabulary) {
      throw ValueError("generate: prompt id " + std::to_string(id) +
                       " is outside the vocabulary [0," + std::to_string(vocabulary) + ")");
    }
  }
  const bool was_training = model.training();
  model.eval();
  std::vector<std::int64_t> out;
  out.reserve(static_cast<std::size_t>(length));
  try {
    Tape<float> tape;
    const auto no_grad = tape.no_grad();
    Carry<float> carry = model.carry(1);
    // The whole prompt in one recording; then one token per recording.
    std::span<const std::int64_t> input = prompt;
    for (std::int64_t i = 0; i < length; ++i) {
      tape.clear();
      const auto steps = static_cast<std::int64_t>(input.size());
      const CharModelResult r = model.forward(tape, input, steps, 1, carry.read(tape));
      const TensorRef<const float> all = r.logits.value();
      const std::int64_t next =
          sample_logits({all.data + (steps - 1) * vocabulary, Shape{vocabulary}}, options, rng);
      carry.write(r.state);
      out.push_back(next);
      input = std::span<const std::int64_t>(&out.back(), 1);
    }
  } catch (...) {
    model.train(was_training);
    throw;
  }
  model.train(was_training);
  return out;
}

}  // namespace tapeloop::models
