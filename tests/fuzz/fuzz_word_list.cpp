// Fuzzes load_words (the handwriting demo's word list): ValueError naming the file, or words of
// the asked lengths in a-z, none both trained on and held out.
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <set>
#include <string>

#include "input_file.hpp"
#include "property.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/models/word_list.hpp"

using namespace tapeloop;
using namespace tapeloop::models;
using tapeloop::fuzz::require;

namespace {

void check(const std::filesystem::path& path, int min_letters, int max_letters) {
  WordList words;
  try {
    words = load_words(path, min_letters, max_letters);
  } catch (const ValueError& e) {
    require(std::strstr(e.what(), path.c_str()) != nullptr, "a ValueError names the file");
    return;
  }
  require(!words.train.empty() && !words.held_out.empty(), "both sets have words");
  auto fits = [&](const std::string& w) {
    const int n = static_cast<int>(w.size());
    return n >= min_letters && n <= max_letters &&
           std::all_of(w.begin(), w.end(), [](char c) { return c >= 'a' && c <= 'z'; });
  };
  const std::set<std::string> train(words.train.begin(), words.train.end());
  for (const std::string& w : words.train) require(fits(w), "a training word fits");
  for (const std::string& w : words.held_out) {
    require(fits(w), "a held-out word fits");
    require(!train.count(w), "no held-out word is trained on");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static tapeloop::fuzz::InputFile input;
  const std::filesystem::path& path = input.write(data, size);
  check(path, 3, 8);  // the demo's lengths
  check(path, 1, 64);
  return 0;
}
