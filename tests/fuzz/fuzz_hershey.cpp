// Fuzzes load_hershey (.jhf fonts) and writing with an accepted font: FormatError naming the
// file, or 96 glyphs inside the coordinate range that write every character as finite pen moves.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <string>

#include "input_file.hpp"
#include "property.hpp"
#include "tapeloop/errors.hpp"
#include "tapeloop/models/hershey.hpp"

using namespace tapeloop;
using namespace tapeloop::models;
using tapeloop::fuzz::require;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static tapeloop::fuzz::InputFile input;
  const std::filesystem::path& path = input.write(data, size);
  HersheyFont font;
  try {
    font = load_hershey(path);
  } catch (const FormatError& e) {
    require(std::strstr(e.what(), path.c_str()) != nullptr, "a FormatError names the file");
    return 0;
  }
  require(font.glyphs.size() == 96, "a font has the 96 printable ASCII characters");
  // The coordinate range of the format: characters ' ' to '~', as offsets from 'R'.
  auto in_range = [](int v) { return v >= ' ' - 'R' && v <= '~' - 'R'; };
  std::string every_character;
  for (int c = ' '; c < ' ' + 96; ++c) {
    const Glyph& g = font.glyph(static_cast<char>(c));
    require(in_range(g.left) && in_range(g.right), "margins are inside the coordinate range");
    for (const auto& stroke : g.strokes) {
      require(!stroke.empty(), "a stroke has points");
      for (const GlyphPoint& p : stroke) {
        require(in_range(p.x) && in_range(p.y), "points are inside the coordinate range");
      }
    }
    every_character += static_cast<char>(c);
  }
  Generator rng(size);
  for (const std::string& word : {every_character, std::string("fuzz"), std::string(" ")}) {
    for (const PenPoint& p : write_word(font, word, HandStyle{}, rng)) {
      require(std::isfinite(p.dx) && std::isfinite(p.dy), "a written word's moves are finite");
    }
  }
  return 0;
}
