// The character-level language model (its corpus, CharCorpus, is in char_corpus.cpp).
#include "tapeloop/models/char_model.hpp"

#include "tapeloop/ops.hpp"

namespace tapeloop::models {

namespace {

RecurrentOptions lstm_options(const CharModelOptions& o) {
  RecurrentOptions r;
  r.input_size = o.embedding;
  r.hidden_size = o.hidden;
  r.num_layers = o.layers;
  r.dropout = o.dropout;
  return r;
}

}  // namespace

CharModel::CharModel(const CharModelOptions& options, Generator& rng)
    : embedding(options.vocabulary, options.embedding, rng),
      lstm(lstm_options(options), rng),
      readout(options.hidden, options.vocabulary, rng) {}

Var<float> CharModel::forward(Tape<float>& tape, std::span<const std::int64_t> ids,
                              std::int64_t steps, std::int64_t batch) {
  Var<float> x = embedding.forward(tape, ids, Shape{steps, batch});    // [T,B,E]
  Var<float> h = lstm.forward(tape, x).output;                         // [T,B,H]
  return readout.forward(reshape(h, Shape{steps * batch, h.dim(2)}));  // [T*B,V]
}

CharModelResult CharModel::forward(Tape<float>& tape, std::span<const std::int64_t> ids,
                                   std::int64_t steps, std::int64_t batch,
                                   const RecurrentState<float>& initial) {
  Var<float> x = embedding.forward(tape, ids, Shape{steps, batch});
  const RecurrentResult<float> r = lstm.forward(tape, x, initial);
  Var<float> logits = readout.forward(reshape(r.output, Shape{steps * batch, r.output.dim(2)}));
  return {logits, r.state()};
}

void CharModel::visit(ModuleVisitor<float>& v) {
  v.module("embedding", embedding);
  v.module("lstm", lstm);
  v.module("readout", readout);
}

}  // namespace tapeloop::models
