// Word lists for the handwriting demo: lowercase words of a file, split into training and
// held-out words for good.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

namespace tapeloop::models {

/// Lowercase words of a word list (one per line; others skipped), split for good: a word is
/// held out when a hash of it says so (one in ten), so held-out words are never trained on.
struct WordList {
  std::vector<std::string> train, held_out;
};
/// Words of `min_letters` to `max_letters` letters a-z from `path` (IoError if it cannot be read,
/// ValueError if no word fits).
WordList load_words(const std::filesystem::path& path, int min_letters, int max_letters);

}  // namespace tapeloop::models
