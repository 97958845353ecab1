// Text as token ids for any model: a Vocabulary (token <-> id, special tokens), a TokenCorpus of
// characters or words, and the parallel streams of truncated BPTT ("batchify").
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace tapeloop::models {

/// Tokens and their ids, ids 0..size()-1 in the order the tokens were added. Special tokens
/// ("<pad>", "<unk>") are ordinary entries added first; one of them may be the unknown token,
/// which id() returns for a token not in the vocabulary (torchtext's set_default_index).
class Vocabulary {
 public:
  /// `specials` get ids 0, 1, ... in order; `unknown`, if not empty, must be one of them.
  /// Throws ValueError for a duplicate special or an unknown token that is not a special.
  explicit Vocabulary(std::vector<std::string> specials = {}, std::string_view unknown = {});

  /// The id of `token`, added at the end if it is new.
  std::int64_t add(std::string_view token);
  std::int64_t size() const { return static_cast<std::int64_t>(tokens_.size()); }
  bool contains(std::string_view token) const { return ids_.find(token) != ids_.end(); }
  /// The id of `token`; a token not in the vocabulary gets the unknown token's id, or throws
  /// ValueError naming it when there is no unknown token.
  std::int64_t id(std::string_view token) const;
  /// The token of `id`; throws ValueError for an id outside [0, size()).
  const std::string& token(std::int64_t id) const;
  /// The unknown token's id, or -1 when there is none.
  std::int64_t unknown_id() const { return unknown_; }
  /// How many of the first ids are special tokens.
  std::int64_t specials() const { return specials_; }
  const std::vector<std::string>& tokens() const { return tokens_; }

  std::vector<std::int64_t> encode(std::span<const std::string> tokens) const;
  std::vector<std::string> decode(std::span<const std::int64_t> ids) const;

 private:
  std::vector<std::string> tokens_;
  std::map<std::string, std::int64_t, std::less<>> ids_;
  std::int64_t unknown_ = -1;
  std::int64_t specials_ = 0;
};

/// What a token is: one byte of UTF-8 text (as CharCorpus; a multi-byte character is several
/// tokens), or a maximal run of non-whitespace bytes.
enum class Tokenization { characters, words };

/// Splits `text` into tokens.
std::vector<std::string> tokenize(std::string_view text, Tokenization mode);

struct CorpusOptions {
  Tokenization tokenization = Tokenization::characters;
  /// Given ids 0, 1, ... before the text's tokens, e.g. {"<pad>", "<unk>"}.
  std::vector<std::string> specials{};
  /// One of `specials`, for tokens that are not in the vocabulary (or empty).
  std::string unknown{};
  /// Tokens seen fewer times are left out of the vocabulary and encoded as `unknown` (which
  /// min_count > 1 therefore needs).
  std::int64_t min_count = 1;
};

/// The windows of truncated BPTT over `batch` parallel streams: the id stream, trimmed to a
/// multiple of `batch`, reshaped to [batch, length] (stream b is ids[b*length, (b+1)*length))
/// and read time-major in windows of `steps`, PyTorch's word_language_model batchify and
/// get_batch. Window w starts at time w*steps and has min(steps, length - 1 - w*steps) steps;
/// its targets are its inputs one step later, so the hidden state carries over from one window
/// to the next in every stream.
class StreamBatches {
 public:
  /// Throws ValueError for batch or steps below 1, or fewer than 2 * batch ids (no window).
  StreamBatches(std::span<const std::int64_t> ids, std::int64_t batch, std::int64_t steps);

  std::int64_t batch() const { return batch_; }
  std::int64_t steps() const { return steps_; }
  /// Ids per stream.
  std::int64_t length() const { return length_; }
  /// Windows available; the last may have fewer than steps() steps.
  std::int64_t windows() const { return (length_ - 1 + steps_ - 1) / steps_; }
  /// Windows of exactly steps() steps (for a model built for one shape).
  std::int64_t full_windows() const { return (length_ - 1) / steps_; }
  /// Steps of window w.
  std::int64_t window_steps(std::int64_t w) const;
  /// Fills inputs and targets ([window_steps(w), batch] time-major, each at least that long)
  /// with window w and returns its number of steps. Throws ValueError for w outside
  /// [0, windows()) or spans too short.
  std::int64_t window(std::int64_t w, std::span<std::int64_t> inputs,
                      std::span<std::int64_t> targets) const;
  /// Window w as new vectors (inputs, targets).
  std::pair<std::vector<std::int64_t>, std::vector<std::int64_t>> window(std::int64_t w) const;

 private:
  std::vector<std::int64_t> data_;  // [length, batch] time-major
  std::int64_t batch_, steps_, length_;
};

/// A text as token ids, with its vocabulary.
class TokenCorpus {
 public:
  /// Builds the vocabulary from `text`: the specials, then every distinct token seen at least
  /// min_count times, in byte order (so characters mode without specials gives CharCorpus's
  /// ids). Throws ValueError for min_count > 1 without an unknown token, or bad specials.
  static TokenCorpus from_text(std::string_view text, const CorpusOptions& options = {});
  /// Reads a whole file; throws IoError naming the path if it cannot.
  static TokenCorpus from_file(const std::string& path, const CorpusOptions& options = {});
  /// Encodes `text` with an existing vocabulary (a validation text with the training text's),
  /// mapping unknown tokens as Vocabulary::id does.
  static TokenCorpus from_text(std::string_view text, Vocabulary vocabulary, Tokenization mode);

  std::vector<std::int64_t> ids;

  const Vocabulary& vocabulary() const { return vocabulary_; }
  Tokenization tokenization() const { return mode_; }
  std::int64_t size() const { return static_cast<std::int64_t>(ids.size()); }

  /// Ids of a text under this corpus's tokenization and vocabulary.
  std::vector<std::int64_t> encode(std::string_view text) const;
  /// Text of ids: tokens concatenated (characters) or joined by single spaces (words).
  std::string decode(std::span<const std::int64_t> ids) const;

  /// The first round(fraction * size()) ids and the rest, both with this vocabulary. Throws
  /// ValueError for a fraction outside [0, 1].
  std::pair<TokenCorpus, TokenCorpus> split(double fraction) const;
  /// ids as `batch` parallel streams read in windows of `steps`.
  StreamBatches batchify(std::int64_t batch, std::int64_t steps) const {
    return StreamBatches(ids, batch, steps);
  }

 private:
  TokenCorpus(Vocabulary vocabulary, Tokenization mode)
      : vocabulary_(std::move(vocabulary)), mode_(mode) {}

  Vocabulary vocabulary_;
  Tokenization mode_ = Tokenization::characters;
};

}  // namespace tapeloop::models
