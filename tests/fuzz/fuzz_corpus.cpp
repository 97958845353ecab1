// Fuzzes the text-corpus readers, TokenCorpus::from_file and CharCorpus::from_file, and what a
// training loop does next with the text (stream windows, random windows): ValueError or ids
// that decode to the text.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "input_file.hpp"
#include "property.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/models/char_corpus.hpp"
#include "tapeloop/models/corpus.hpp"

using namespace tapeloop;
using namespace tapeloop::models;
using tapeloop::fuzz::require;

namespace {

// The options a program might read the text with, picked by the text's first byte so that one
// input explores them all: tokenization, specials, min_count, and the window shape.
struct Choice {
  CorpusOptions options;
  std::int64_t batch, steps;
};
Choice choose(std::string_view text) {
  const unsigned bits = text.empty() ? 0 : static_cast<unsigned char>(text[0]);
  Choice c;
  c.options.tokenization = bits & 1 ? Tokenization::words : Tokenization::characters;
  if (bits & 2) {
    c.options.specials = {"<pad>", "<unk>"};
    c.options.unknown = "<unk>";
  }
  c.options.min_count = 1 + (bits >> 2 & 3);
  c.batch = 1 + (bits >> 4 & 3);
  c.steps = 1 + (bits >> 6 & 3);
  return c;
}

void check_token_corpus(const std::string& path, std::string_view text, const Choice& c) {
  std::optional<TokenCorpus> read;
  try {
    read.emplace(TokenCorpus::from_file(path, c.options));
  } catch (const ValueError&) {
    // Only one choice is refused: leaving tokens out with no unknown token to stand for them.
    require(c.options.min_count > 1 && c.options.unknown.empty(),
            "a corpus is refused only for min_count without an unknown token");
    return;
  }
  const TokenCorpus& corpus = *read;
  const std::int64_t vocabulary = corpus.vocabulary().size();
  for (std::int64_t id : corpus.ids) require(id >= 0 && id < vocabulary, "ids are in range");
  require(corpus.encode(text) == corpus.ids, "encoding the text again gives the same ids");
  if (c.options.min_count == 1) {
    std::string expected;
    if (c.options.tokenization == Tokenization::characters) {
      expected = text;
    } else {
      for (const std::string& t : tokenize(text, Tokenization::words)) {
        if (!expected.empty()) expected += ' ';
        expected += t;
      }
    }
    require(corpus.decode(corpus.ids) == expected, "every token decodes to itself");
  }
  const auto [first, second] = corpus.split(0.5);
  require(first.size() + second.size() == corpus.size(), "a split keeps every id");

  if (corpus.size() < 2 * c.batch) {
    try {
      corpus.batchify(c.batch, c.steps);
    } catch (const ValueError&) {
      return;
    }
    require(false, "too short a text for one window is refused");
  }
  const StreamBatches streams = corpus.batchify(c.batch, c.steps);
  for (std::int64_t w = 0; w < streams.windows(); ++w) {
    const auto [inputs, targets] = streams.window(w);
    const auto n = static_cast<std::int64_t>(inputs.size());
    require(n == streams.window_steps(w) * c.batch && targets.size() == inputs.size(),
            "a window has window_steps x batch ids");
    for (std::int64_t i = 0; i + c.batch < n; ++i) {
      require(targets[static_cast<std::size_t>(i)] == inputs[static_cast<std::size_t>(i + c.batch)],
              "a window's targets are its inputs one step later");
    }
  }
}

void check_char_corpus(const std::string& path, std::string_view text, const Choice& c) {
  const CharCorpus corpus = CharCorpus::from_file(path);
  require(corpus.ids.size() == text.size(), "one id per byte");
  for (std::size_t i = 0; i < text.size(); ++i) {
    const std::int64_t id = corpus.ids[i];
    require(id >= 0 && id < corpus.vocabulary() &&
                corpus.alphabet[static_cast<std::size_t>(id)] == text[i],
            "each id names its byte");
  }
  const double entropy = corpus.unigram_entropy(0, corpus.ids.size());
  require(std::isfinite(entropy) && entropy >= 0 &&
              entropy <= std::log(std::max(1.0, static_cast<double>(corpus.vocabulary()))) + 1e-9,
          "the unigram entropy is between 0 and log(alphabet)");

  const auto n = static_cast<std::size_t>(c.steps * c.batch);
  std::vector<std::int64_t> inputs(n), targets(n);
  Generator rng(text.size());
  try {
    corpus.sample(rng, 0, corpus.ids.size(), c.steps, c.batch, inputs, targets);
  } catch (const ValueError&) {
    require(corpus.ids.size() < static_cast<std::size_t>(c.steps) + 2,
            "sample refuses only a text too short for its windows");
    return;
  }
  for (std::size_t i = 0; i + static_cast<std::size_t>(c.batch) < n; ++i) {
    require(targets[i] == inputs[i + static_cast<std::size_t>(c.batch)],
            "a sample's targets are its inputs one step later");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static tapeloop::fuzz::InputFile input;
  const std::string path = input.write(data, size).string();
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  const Choice c = choose(text);
  check_token_corpus(path, text, c);
  check_char_corpus(path, text, c);
  return 0;
}
