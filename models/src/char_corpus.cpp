// CharCorpus: a text's bytes as ids, its unigram entropy and random training windows.
#include "tapeloop/models/char_corpus.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "tapeloop/errors.hpp"

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
  if (begin > end || end > ids.size()) {
    throw ValueError("CharCorpus::unigram_entropy: ids [" + std::to_string(begin) + ", " +
                     std::to_string(end) + ") is not a range of the corpus's " +
                     std::to_string(ids.size()) + " ids");
  }
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
  const std::string range = "ids [" + std::to_string(begin) + ", " + std::to_string(end) + ")";
  if (steps < 1 || batch < 1) {
    throw ValueError("CharCorpus::sample: steps and batch must be at least 1, not " +
                     std::to_string(steps) + " and " + std::to_string(batch));
  }
  if (begin > end || end > ids.size()) {
    throw ValueError("CharCorpus::sample: " + range + " is not a range of the corpus's " +
                     std::to_string(ids.size()) + " ids");
  }
  // A window is steps + 1 ids (its targets run one past its inputs), started anywhere in
  // [begin, end - steps - 1): a short file must not make that range empty or negative.
  if (end - begin < static_cast<std::size_t>(steps) + 2) {
    throw ValueError("CharCorpus::sample: " + range + " holds " + std::to_string(end - begin) +
                     " ids, too few for windows of " + std::to_string(steps) +
                     " steps (at least steps + 2)");
  }
  if (static_cast<std::size_t>(batch) >
      std::min(inputs.size(), targets.size()) / static_cast<std::size_t>(steps)) {
    throw ValueError("CharCorpus::sample: [" + std::to_string(steps) + "," + std::to_string(batch) +
                     "] windows do not fit inputs of " + std::to_string(inputs.size()) +
                     " and targets of " + std::to_string(targets.size()) + " ids");
  }
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

}  // namespace tapeloop::models
