// Hershey vector fonts (the .jhf files of Debian's hershey-fonts-data) and online handwriting
// made from them: words written as pen trajectories with a random hand.
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "tapeloop/random.hpp"

namespace tapeloop::models {

/// A point of a glyph in font units (x right, y down, the baseline near y = 9).
struct GlyphPoint {
  int x, y;
};

/// One character: its left and right edges (the advance is right - left) and its strokes.
struct Glyph {
  int left = 0, right = 0;
  std::vector<std::vector<GlyphPoint>> strokes;
};

/// The 96 printable ASCII characters of a font, ' ' (32) to 127, in file order.
struct HersheyFont {
  std::vector<Glyph> glyphs;
  /// The glyph of `c`; ValueError for a character outside the font.
  const Glyph& glyph(char c) const;
};

/// Parses a .jhf file's text: per glyph a 5-character number, a 3-character count of coordinate
/// pairs (the margins included), then the pairs, each coordinate a character offset from 'R',
/// " R" lifting the pen; a glyph whose line is full (72 characters) continues on the next. Throws
/// FormatError naming `name` and the line for anything else (a bad count, a character outside the
/// coordinate range, a pen lift at the start of a stroke, a glyph cut short, not 96 glyphs).
HersheyFont parse_hershey(std::string_view text, const std::string& name);

/// Reads and parses a .jhf file (IoError if it cannot be read).
HersheyFont load_hershey(const std::filesystem::path& path);

/// One point of a pen trajectory: the move from the previous point, and whether the pen was
/// lifted for it (the first point of a stroke that does not join the previous one).
struct PenPoint {
  float dx, dy;
  bool pen_up;
};

/// How a word is written: every number drawn afresh per word from these ranges.
struct HandStyle {
  double slant = 0.3;           // shear x += slant * height, drawn in [-slant, slant]
  double scale = 0.15;          // width and height scaled by 1 +- scale, separately
  double wobble = 0.08;         // baseline wobble amplitude, in letter heights
  double speed = 0.3;           // pen speed varies along the word by +- this fraction
  double jitter = 0.01;         // Gaussian noise on every point, in letter heights
  double points_per_char = 11;  // the resampled trajectory's density
};

/// `word` written with `font` in a random hand: the glyphs joined (the pen stays down from one
/// letter to the next; strokes inside a letter, such as an i's dot, lift it), distorted as
/// `style` says, and resampled along the path to about points_per_char points per character.
/// Coordinates are in letter heights. ValueError for a character outside the font.
std::vector<PenPoint> write_word(const HersheyFont& font, std::string_view word,
                                 const HandStyle& style, Generator& rng);

}  // namespace tapeloop::models
