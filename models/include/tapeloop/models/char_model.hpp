// A character-level language model (embedding, multi-layer LSTM, linear readout) and the text
// corpus it trains on.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "tapeloop/models/char_corpus.hpp"
#include "tapeloop/models/layers.hpp"
#include "tapeloop/models/module.hpp"
#include "tapeloop/models/recurrent.hpp"

namespace tapeloop::models {

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
