// The .jhf parser, strict about the format, and words written as pen trajectories in a random
// hand: glyphs joined, slanted, scaled, wobbling along the baseline, resampled by arc length.
#include "tapeloop/models/hershey.hpp"

#include <cctype>
#include <cmath>
#include <fstream>
#include <sstream>

#include "tapeloop/errors.hpp"

namespace tapeloop::models {
namespace {

constexpr int glyph_count = 96;  // ' ' to DEL
constexpr std::size_t wrap_width = 72;
// Coordinates are characters offset from 'R'; the fonts use ' ' (-50) to 'z' (+40) at most.
constexpr int lowest_coordinate = ' ' - 'R', highest_coordinate = '~' - 'R';

bool in_coordinate_range(int v) {
  return v >= lowest_coordinate && v <= highest_coordinate;
}

}  // namespace

const Glyph& HersheyFont::glyph(char c) const {
  const int index = static_cast<unsigned char>(c) - ' ';
  if (index < 0 || index >= static_cast<int>(glyphs.size())) {
    throw ValueError("HersheyFont: character " + std::to_string(static_cast<int>(c)) +
                     " is not in the font (printable ASCII only)");
  }
  return glyphs[static_cast<std::size_t>(index)];
}

HersheyFont parse_hershey(std::string_view text, const std::string& name) {
  std::vector<std::string> lines;
  {
    std::string line;
    std::istringstream in{std::string(text)};
    while (std::getline(in, line)) {
      if (!line.empty() && line.back() == '\r') line.pop_back();
      lines.push_back(line);
    }
  }
  HersheyFont font;
  std::size_t at = 0;  // the next line
  auto fail = [&](std::size_t line, const std::string& what) {
    throw FormatError(name + ": line " + std::to_string(line + 1) + ": " + what);
  };
  while (at < lines.size()) {
    const std::size_t first = at;
    std::string data = lines[at++];
    if (data.find_first_not_of(' ') == std::string::npos) continue;  // blank line
    if (data.size() < 10) fail(first, "too short for a glyph header (number, count, margins)");
    for (int i = 0; i < 5; ++i) {
      if (data[static_cast<std::size_t>(i)] != ' ' &&
          !std::isdigit(static_cast<unsigned char>(data[static_cast<std::size_t>(i)]))) {
        fail(first, "the glyph number '" + data.substr(0, 5) + "' is not a number");
      }
    }
    int count = 0;
    const std::string count_text = data.substr(5, 3);
    for (char c : count_text) {
      if (c == ' ') continue;
      if (!std::isdigit(static_cast<unsigned char>(c)))
        fail(first, "the count '" + count_text + "' is not a number");
      count = count * 10 + (c - '0');
    }
    if (count < 1)
      fail(first, "a glyph needs at least its margins (count " + std::to_string(count) + ")");
    std::string pairs = data.substr(8);
    // A long glyph continues on the next line when its line is full: the format wraps at 72
    // characters. A shorter line that still lacks pairs is an error, not a reason to take the
    // next glyph's line.
    for (std::size_t line_length = data.size();
         line_length == wrap_width && pairs.size() < static_cast<std::size_t>(2 * count) &&
         at < lines.size();) {
      line_length = lines[at].size();
      pairs += lines[at++];
    }
    if (pairs.size() != static_cast<std::size_t>(2 * count)) {
      fail(first, "glyph " + std::to_string(font.glyphs.size()) + " has " +
                      std::to_string(pairs.size()) + " coordinate characters, its count " +
                      std::to_string(count) + " says " + std::to_string(2 * count));
    }
    Glyph g;
    g.left = pairs[0] - 'R';
    g.right = pairs[1] - 'R';
    // Margins are coordinates too: a byte outside the range would make an absurd advance.
    if (!in_coordinate_range(g.left) || !in_coordinate_range(g.right)) {
      fail(first, "the margins '" + pairs.substr(0, 2) + "' are outside the coordinate range");
    }
    bool lift = true;
    for (int p = 1; p < count; ++p) {
      const char cx = pairs[static_cast<std::size_t>(2 * p)],
                 cy = pairs[static_cast<std::size_t>(2 * p + 1)];
      if (cx == ' ' && cy == 'R') {
        if (lift)
          fail(first, "a pen lift where no stroke was drawn (pair " + std::to_string(p) + ")");
        lift = true;
        continue;
      }
      const int x = cx - 'R', y = cy - 'R';
      if (!in_coordinate_range(x) || !in_coordinate_range(y)) {
        fail(first, "coordinate pair '" + std::string{cx, cy} + "' (pair " + std::to_string(p) +
                        ") is outside the coordinate range");
      }
      if (lift) g.strokes.emplace_back();
      g.strokes.back().push_back({x, y});
      lift = false;
    }
    font.glyphs.push_back(std::move(g));
  }
  if (font.glyphs.size() != static_cast<std::size_t>(glyph_count)) {
    throw FormatError(name + ": " + std::to_string(font.glyphs.size()) +
                      " glyphs, not the 96 printable ASCII characters");
  }
  return font;
}

HersheyFont load_hershey(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("load_hershey: cannot open " + path.string());
  std::ostringstream text;
  text << in.rdbuf();
  return parse_hershey(text.str(), path.string());
}

std::vector<PenPoint> write_word(const HersheyFont& font, std::string_view word,
                                 const HandStyle& style, Generator& rng) {
  // The word in font units: strokes, each saying whether it joins the one before (pen down).
  struct Stroke {
    std::vector<std::pair<double, double>> points;
    bool joins;
  };
  std::vector<Stroke> strokes;
  double cursor = 0;
  for (char c : word) {
    const Glyph& g = font.glyph(c);
    bool first = true;
    for (const auto& s : g.strokes) {
      Stroke out{{}, first && !strokes.empty()};  // letters join; strokes inside one lift
      for (const GlyphPoint& p : s) out.points.push_back({cursor + p.x - g.left, p.y});
      strokes.push_back(std::move(out));
      first = false;
    }
    cursor += g.right - g.left;
  }
  // The hand: slant, size, a wobbling baseline.
  constexpr double height = 21.0, baseline = 9.0;  // font units of a letter, and its baseline
  auto draw = [&](double range) { return rng.uniform(-range, range); };
  const double slant = draw(style.slant), sx = 1 + draw(style.scale), sy = 1 + draw(style.scale);
  const double wobble = draw(style.wobble) * height, phase = rng.uniform(0, 6.283185307179586);
  const double period = rng.uniform(40.0, 90.0);
  for (Stroke& s : strokes) {
    for (auto& [x, y] : s.points) {
      const double up = baseline - y;  // above the baseline
      x = (x + slant * up) * sx;
      y = (y + wobble * std::sin(6.283185307179586 * x / period + phase)) * sy;
    }
  }
  // The drawn length (joins included), then points every `spacing` along it, the spacing
  // varying smoothly (pen speed).
  double length = 0;
  for (std::size_t i = 0; i < strokes.size(); ++i) {
    const auto& pts = strokes[i].points;
    if (strokes[i].joins) {
      const auto& prev = strokes[i - 1].points.back();
      length += std::hypot(pts[0].first - prev.first, pts[0].second - prev.second);
    }
    for (std::size_t k = 1; k < pts.size(); ++k) {
      length += std::hypot(pts[k].first - pts[k - 1].first, pts[k].second - pts[k - 1].second);
    }
  }
  const double n = style.points_per_char * static_cast<double>(word.size());
  const double spacing = length > 0 ? length / n : 1.0;
  const double speed_phase = rng.uniform(0, 6.283185307179586);
  std::vector<std::pair<double, double>> points;
  std::vector<bool> lifted;
  double travelled = 0, next_at = 0;
  auto emit = [&](double x, double y, bool up) {
    points.push_back(
        {x + rng.normal() * style.jitter * height, y + rng.normal() * style.jitter * height});
    lifted.push_back(up);
  };
  for (std::size_t i = 0; i < strokes.size(); ++i) {
    auto pts = strokes[i].points;
    if (strokes[i].joins) pts.insert(pts.begin(), strokes[i - 1].points.back());
    if (!strokes[i].joins) {  // a new stroke starts where the pen comes down
      emit(pts[0].first, pts[0].second, true);
      next_at = travelled + spacing;
    }
    for (std::size_t k = 1; k < pts.size(); ++k) {
      const double ax = pts[k - 1].first, ay = pts[k - 1].second;
      const double seg = std::hypot(pts[k].first - ax, pts[k].second - ay);
      while (seg > 0 && next_at <= travelled + seg) {
        const double f = (next_at - travelled) / seg;
        emit(ax + f * (pts[k].first - ax), ay + f * (pts[k].second - ay), false);
        const double u = next_at / (length > 0 ? length : 1.0);
        next_at += spacing * (1 + style.speed * std::sin(6.283185307179586 * 2 * u + speed_phase));
      }
      travelled += seg;
    }
  }
  std::vector<PenPoint> out;
  double px = 0, py = 0;
  for (std::size_t i = 0; i < points.size(); ++i) {
    out.push_back({static_cast<float>((points[i].first - px) / height),
                   static_cast<float>((points[i].second - py) / height), lifted[i]});
    px = points[i].first;
    py = points[i].second;
  }
  return out;
}

}  // namespace tapeloop::models
