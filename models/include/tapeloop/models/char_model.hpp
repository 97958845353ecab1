// A character-level language model (embedding, multi-layer LSTM, linear readout) and the text
// corpus it trains on.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tapeloop/models/layers.hpp"
#include "tapeloop/models/module.hpp"
#include "tapeloop/models/recurrent.hpp"

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
  /// model that ignores context.
  double unigram_entropy(std::size_t begin, std::size_t end) const;
  /// Fills inputs and targets ([steps, batch] time-major) with `batch` windows starting at
  /// random offsets in ids[begin, end - steps - 1); targets are the inputs shifted by one.
  void sample(Generator& rng, std::size_t begin, std::size_t end, std::int64_t steps,
              std::int64_t batch, std::span<std::int64_t> inputs,
              std::span<std::int64_t> targets) const;
};

struct CharModelOptions {
  std::int64_t vocabulary = 0;
  std::int64_t embedding = 32;
  std::int64_t hidden = 128;
  int layers = 2;
  double dropout = 0.0;
};

/// What the stateful forward returns: logits [steps * batch, vocabulary] and the LSTM's final
/// state {h_n, c_n}, for a Carry to keep (carry.write(result.state)).
struct CharModelResult {
  Var<float> logits;
  State<float> state;
};

/// Embedding -> LSTM (layers deep) -> Linear: predicts the next character at every step.
class CharModel : public Module<float> {
 public:
  CharModel(const CharModelOptions& options, Generator& rng);

  /// Logits [steps * batch, vocabulary] for ids [steps, batch] (time-major), from a zero state.
  Var<float> forward(Tape<float>& tape, std::span<const std::int64_t> ids, std::int64_t steps,
                     std::int64_t batch);
  /// The same from `initial` (an LSTM state, such as a Carry's read()), also returning the
  /// final state: the step of stateful truncated BPTT and of generation.
  CharModelResult forward(Tape<float>& tape, std::span<const std::int64_t> ids, std::int64_t steps,
                          std::int64_t batch, const RecurrentState<float>& initial);
  /// A Carry for the LSTM's state over `batch` streams ({h, c}, zero).
  Carry<float> carry(std::int64_t batch) const { return lstm.carry(batch); }
  void visit(ModuleVisitor<float>& v) override;

  Embedding<float> embedding;
  LSTM<float> lstm;
  Linear<float> readout;
};

}  // namespace tapeloop::models
