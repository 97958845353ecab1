// Vocabulary, TokenCorpus and the truncated-BPTT streams.
#include "tapeloop/models/corpus.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <sstream>

#include "tapeloop/errors.hpp"

namespace tapeloop::models {

// ---- Vocabulary --------------------------------------------------------------------------------

Vocabulary::Vocabulary(std::vector<std::string> specials, std::string_view unknown) {
  for (auto& s : specials) {
    if (contains(s)) throw ValueError("Vocabulary: special token '" + s + "' is given twice");
    add(s);
  }
  specials_ = size();
  if (!unknown.empty()) {
    const auto it = ids_.find(unknown);
    if (it == ids_.end()) {
      throw ValueError("Vocabulary: the unknown token '" + std::string(unknown) +
                       "' is not one of the " + std::to_string(specials_) + " special tokens");
    }
    unknown_ = it->second;
  }
}

std::int64_t Vocabulary::add(std::string_view token) {
  const auto it = ids_.find(token);
  if (it != ids_.end()) return it->second;
  const std::int64_t id = size();
  tokens_.emplace_back(token);
  ids_.emplace(tokens_.back(), id);
  return id;
}

std::int64_t Vocabulary::id(std::string_view token) const {
  const auto it = ids_.find(token);
  if (it != ids_.end()) return it->second;
  if (unknown_ >= 0) return unknown_;
  throw ValueError("Vocabulary::id: token '" + std::string(token) +
                   "' is not in the vocabulary of " + std::to_string(size()) +
                   " tokens, which has no unknown token");
}

const std::string& Vocabulary::token(std::int64_t id) const {
  if (id < 0 || id >= size()) {
    throw ValueError("Vocabulary::token: id " + std::to_string(id) + " is outside [0, " +
                     std::to_string(size()) + ")");
  }
  return tokens_[static_cast<std::size_t>(id)];
}

std::vector<std::int64_t> Vocabulary::encode(std::span<const std::string> tokens) const {
  std::vector<std::int64_t> out;
  out.reserve(tokens.size());
  for (const auto& t : tokens) out.push_back(id(t));
  return out;
}

std::vector<std::string> Vocabulary::decode(std::span<const std::int64_t> ids) const {
  std::vector<std::string> out;
  out.reserve(ids.size());
  for (std::int64_t i : ids) out.push_back(token(i));
  return out;
}

// ---- tokens ------------------------------------------------------------------------------------

namespace {

bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

// Calls fn(token) for every token of `text`, as views into it (no string per token).
template <class Fn>
void for_each_token(std::string_view text, Tokenization mode, Fn&& fn) {
  if (mode == Tokenization::characters) {
    for (std::size_t i = 0; i < text.size(); ++i) fn(text.substr(i, 1));
    return;
  }
  std::size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && is_space(text[i])) ++i;
    const std::size_t start = i;
    while (i < text.size() && !is_space(text[i])) ++i;
    if (i > start) fn(text.substr(start, i - start));
  }
}

std::string read_file(const std::string& path, const char* who) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError(std::string(who) + ": cannot read " + path);
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw IoError(std::string(who) + ": error while reading " + path);
  return text.str();
}

}  // namespace

std::vector<std::string> tokenize(std::string_view text, Tokenization mode) {
  std::vector<std::string> tokens;
  for_each_token(text, mode, [&](std::string_view t) { tokens.emplace_back(t); });
  return tokens;
}

// ---- TokenCorpus -------------------------------------------------------------------------------

TokenCorpus TokenCorpus::from_text(std::string_view text, const CorpusOptions& options) {
  if (options.min_count > 1 && options.unknown.empty()) {
    throw ValueError("TokenCorpus: min_count " + std::to_string(options.min_count) +
                     " leaves tokens out, which needs an unknown token");
  }
  Vocabulary vocabulary(options.specials, options.unknown);
  // std::less<> orders bytes as unsigned char, the order CharCorpus gives its alphabet.
  std::map<std::string_view, std::int64_t, std::less<>> counts;
  for_each_token(text, options.tokenization, [&](std::string_view t) { ++counts[t]; });
  for (const auto& [token, count] : counts) {
    if (count >= options.min_count) vocabulary.add(token);
  }
  return from_text(text, std::move(vocabulary), options.tokenization);
}

TokenCorpus TokenCorpus::from_text(std::string_view text, Vocabulary vocabulary,
                                   Tokenization mode) {
  TokenCorpus corpus(std::move(vocabulary), mode);
  corpus.ids = corpus.encode(text);
  return corpus;
}

TokenCorpus TokenCorpus::from_file(const std::string& path, const CorpusOptions& options) {
  return from_text(read_file(path, "TokenCorpus"), options);
}

std::vector<std::int64_t> TokenCorpus::encode(std::string_view text) const {
  std::vector<std::int64_t> out;
  if (mode_ == Tokenization::characters) {
    out.reserve(text.size());
    // One lookup per distinct byte rather than per character of a long text.
    std::int64_t id_of[256];
    bool known[256] = {};
    for (unsigned char c : text) {
      if (!known[c]) {
        const char ch = static_cast<char>(c);
        id_of[c] = vocabulary_.id(std::string_view(&ch, 1));
        known[c] = true;
      }
      out.push_back(id_of[c]);
    }
    return out;
  }
  for_each_token(text, mode_, [&](std::string_view t) { out.push_back(vocabulary_.id(t)); });
  return out;
}

std::string TokenCorpus::decode(std::span<const std::int64_t> ids) const {
  std::string text;
  for (std::size_t i = 0; i < ids.size(); ++i) {
    if (i > 0 && mode_ == Tokenization::words) text += ' ';
    text += vocabulary_.token(ids[i]);
  }
  return text;
}

std::pair<TokenCorpus, TokenCorpus> TokenCorpus::split(double fraction) const {
  if (!(fraction >= 0.0 && fraction <= 1.0)) {
    throw ValueError("TokenCorpus::split: fraction " + std::to_string(fraction) +
                     " is outside [0, 1]");
  }
  const auto cut =
      static_cast<std::ptrdiff_t>(std::llround(fraction * static_cast<double>(size())));
  std::pair<TokenCorpus, TokenCorpus> parts{TokenCorpus(vocabulary_, mode_),
                                            TokenCorpus(vocabulary_, mode_)};
  parts.first.ids.assign(ids.begin(), ids.begin() + cut);
  parts.second.ids.assign(ids.begin() + cut, ids.end());
  return parts;
}

// ---- StreamBatches -----------------------------------------------------------------------------

StreamBatches::StreamBatches(std::span<const std::int64_t> ids, std::int64_t batch,
                             std::int64_t steps)
    : batch_(batch), steps_(steps), length_(0) {
  if (batch < 1 || steps < 1) {
    throw ValueError("StreamBatches: batch and steps must be at least 1, not " +
                     std::to_string(batch) + " and " + std::to_string(steps));
  }
  length_ = static_cast<std::int64_t>(ids.size()) / batch;
  if (length_ < 2) {
    throw ValueError("StreamBatches: " + std::to_string(ids.size()) + " ids make " +
                     std::to_string(batch) + " streams of " + std::to_string(length_) +
                     " ids; a window needs streams of at least 2");
  }
  data_.resize(static_cast<std::size_t>(length_ * batch));
  for (std::int64_t b = 0; b < batch; ++b) {
    for (std::int64_t t = 0; t < length_; ++t) {
      data_[static_cast<std::size_t>(t * batch + b)] =
          ids[static_cast<std::size_t>(b * length_ + t)];
    }
  }
}

std::int64_t StreamBatches::window_steps(std::int64_t w) const {
  if (w < 0 || w >= windows()) {
    throw ValueError("StreamBatches: window " + std::to_string(w) + " is outside [0, " +
                     std::to_string(windows()) + ")");
  }
  return std::min(steps_, length_ - 1 - w * steps_);
}

std::int64_t StreamBatches::window(std::int64_t w, std::span<std::int64_t> inputs,
                                   std::span<std::int64_t> targets) const {
  const std::int64_t steps = window_steps(w);
  const auto n = static_cast<std::size_t>(steps * batch_);
  if (inputs.size() < n || targets.size() < n) {
    throw ValueError("StreamBatches::window: window " + std::to_string(w) + " needs " +
                     std::to_string(n) + " ids ([" + std::to_string(steps) + "," +
                     std::to_string(batch_) + "]); inputs hold " + std::to_string(inputs.size()) +
                     " and targets " + std::to_string(targets.size()));
  }
  // Time-major storage: a window is one contiguous run, its targets the run one row later.
  const auto start = data_.begin() + static_cast<std::ptrdiff_t>(w * steps_ * batch_);
  std::copy(start, start + static_cast<std::ptrdiff_t>(n), inputs.begin());
  std::copy(start + batch_, start + batch_ + static_cast<std::ptrdiff_t>(n), targets.begin());
  return steps;
}

std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> StreamBatches::window(
    std::int64_t w) const {
  const auto n = static_cast<std::size_t>(window_steps(w) * batch_);
  std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> out{std::vector<std::int64_t>(n),
                                                                      std::vector<std::int64_t>(n)};
  window(w, out.first, out.second);
  return out;
}

}  // namespace tapeloop::models
