// load_words: a word list's lowercase words, split by a fixed hash into training and held-out.
#include "tapeloop/models/word_list.hpp"

#include <algorithm>
#include <cstdint>
#include <fstream>

#include "tapeloop/errors.hpp"

namespace tapeloop::models {
namespace {

// FNV-1a: a fixed hash, so the split is the same on every machine and standard library.
std::uint64_t fnv1a(const std::string& s) {
  std::uint64_t h = 1469598103934665603ull;
  for (char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

}  // namespace

WordList load_words(const std::filesystem::path& path, int min_letters, int max_letters) {
  std::ifstream in(path);
  if (!in) throw IoError("load_words: cannot open " + path.string());
  WordList out;
  for (std::string word; std::getline(in, word);) {
    const int n = static_cast<int>(word.size());
    if (n < min_letters || n > max_letters) continue;
    if (!std::all_of(word.begin(), word.end(), [](char c) { return c >= 'a' && c <= 'z'; }))
      continue;
    (fnv1a(word) % 10 == 0 ? out.held_out : out.train).push_back(word);
  }
  if (out.train.empty() || out.held_out.empty()) {
    throw ValueError("load_words: " + path.string() + " has no words of " +
                     std::to_string(min_letters) + " to " + std::to_string(max_letters) +
                     " letters a-z for both sets");
  }
  return out;
}

}  // namespace tapeloop::models
