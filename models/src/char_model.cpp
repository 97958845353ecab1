// The character-level language model and its corpus.
#include "tapeloop/models/char_model.hpp"

#include <cmath>
#include <fstream>
#include <sstream>

#include "tapeloop/errors.hpp"
#include "tapeloop/ops.hpp"

namespace tapeloop::models {

CharCorpus CharCorpus::from_text(const std::string& text) {
  CharCorpus corpus;
  std::int64_t id_of[256];
  bool seen[256] = {};
  for (unsigned char c : text) seen[c] = true;
  for (int c = 0; c < 256; ++c) {
    if (seen[c]) {
      id_of[c] = static_cast<std::int64_t>(corpus.alphabet.size());
      corpus.alphabet.push_back(static_cast<char>(c));
    }
  }
  corpus.ids.reserve(text.size());
  for (unsigned char c : text) corpus.ids.push_back(id_of[c]);
  return corpus;
}

CharCorpus CharCorpus::from_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("CharCorpus: cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  return from_text(text.str());
}

double CharCorpus::unigram_entropy(std::size_t begin, std::size_t end) const {
  std::vector<double> counts(alphabet.size(), 0.0);
  for (std::size_t i = begin; i < end; ++i) counts[static_cast<std::size_t>(ids[i])] += 1.0;
  const double n = static_cast<double>(end - begin);
  double entropy = 0.0;
  for (double c : counts) {
    if (c > 0) entropy -= c / n * std::log(c / n);
  }
  return entropy;
}

void CharCorpus::sample(Generator& rng, std::size_t begin, std::size_t end, std::int64_t steps,
                        std::int64_t batch, std::span<std::int64_t> inputs,
                        std::span<std::int64_t> targets) const {
  const std::uint64_t room = end - begin - static_cast<std::size_t>(steps) - 1;
  for (std::int64_t b = 0; b < batch; ++b) {
    const std::size_t start = begin + static_cast<std::size_t>(rng.below(room));
    for (std::int64_t t = 0; t < steps; ++t) {
      inputs[static_cast<std::size_t>(t * batch + b)] = ids[start + static_cast<std::size_t>(t)];
      targets[static_cast<std::size_t>(t * batch + b)] =
          ids[start + static_cast<std::size_t>(t) + 1];
    }
  }
}

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
