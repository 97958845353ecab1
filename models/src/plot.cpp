// SVG line and scatter plots: axes with round ticks, a legend, lines or coloured points.
#include "tapeloop/models/plot.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>

namespace tapeloop::models {
namespace {

const char* const palette[] = {"#1f77b4", "#d62728", "#2ca02c", "#ff7f0e",
                               "#9467bd", "#8c564b", "#e377c2", "#17becf"};

// About `count` round tick values covering [lo, hi].
std::vector<double> ticks(double lo, double hi, int count) {
  const double raw = (hi - lo) / count;
  const double magnitude = std::pow(10.0, std::floor(std::log10(raw)));
  double step = magnitude;
  for (double m : {1.0, 2.0, 5.0, 10.0}) {
    if (m * magnitude >= raw) {
      step = m * magnitude;
      break;
    }
  }
  std::vector<double> out;
  for (double v = std::ceil(lo / step) * step; v <= hi + step * 1e-9; v += step) out.push_back(v);
  return out;
}

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<') {
      out += "&lt;";
    } else if (c == '>') {
      out += "&gt;";
    } else if (c == '&') {
      out += "&amp;";
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_number(double v) {
  if (v == 0) v = 0;  // no "-0" from a tick computed as -0.0
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.4g", v);
  return buf;
}

std::string to_svg(const Plot& p) {
  // The legend's width from its longest label (about 7 px a character at 12 px).
  std::size_t longest = 0;
  for (const Series& s : p.series) longest = std::max(longest, s.label.size());
  for (const auto& r : p.reference_lines) longest = std::max(longest, r.first.size());
  for (const std::string& c : p.class_names) longest = std::max(longest, c.size());
  const double left = 70, right = 50 + 7.0 * static_cast<double>(longest), top = 40, bottom = 50;
  const double w = p.width - left - right, h = p.height - top - bottom;
  auto usable = [&](double y) { return std::isfinite(y) && (!p.log_y || y > 0); };
  auto ty = [&](double y) { return p.log_y ? std::log10(y) : y; };
  double x0 = std::numeric_limits<double>::infinity(), x1 = -x0, y0 = x0, y1 = -x0;
  for (const Series& s : p.series) {
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!usable(s.y[i]) || !std::isfinite(s.x[i])) continue;
      x0 = std::min(x0, s.x[i]);
      x1 = std::max(x1, s.x[i]);
      y0 = std::min(y0, ty(s.y[i]));
      y1 = std::max(y1, ty(s.y[i]));
    }
  }
  for (const auto& [label, y] : p.reference_lines) {
    if (usable(y)) {
      y0 = std::min(y0, ty(y));
      y1 = std::max(y1, ty(y));
    }
  }
  if (!(x0 <= x1)) x0 = 0, x1 = 1;
  if (!(y0 <= y1)) y0 = 0, y1 = 1;
  if (x0 == x1) x0 -= 1, x1 += 1;
  if (y0 == y1) y0 -= 1, y1 += 1;
  const double pad = (y1 - y0) * 0.05;
  y0 -= pad;
  y1 += pad;
  if (p.scatter) {  // points, unlike lines, should not sit on the frame
    const double xpad = (x1 - x0) * 0.05;
    x0 -= xpad;
    x1 += xpad;
  }
  auto sx = [&](double x) { return left + (x - x0) / (x1 - x0) * w; };
  auto sy = [&](double y) { return top + (1 - (ty(y) - y0) / (y1 - y0)) * h; };

  std::ostringstream o;
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << p.width << "\" height=\"" << p.height
    << "\" font-family=\"sans-serif\" font-size=\"12\">\n"
    << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
    << "<text x=\"" << left + w / 2 << "\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">"
    << xml_escape(p.title) << "</text>\n";
  // Axes, ticks and grid.
  o << "<rect x=\"" << left << "\" y=\"" << top << "\" width=\"" << w << "\" height=\"" << h
    << "\" fill=\"none\" stroke=\"black\"/>\n";
  for (double v : ticks(x0, x1, 6)) {
    o << "<line x1=\"" << sx(v) << "\" y1=\"" << top << "\" x2=\"" << sx(v) << "\" y2=\"" << top + h
      << "\" stroke=\"#ddd\"/>\n<text x=\"" << sx(v) << "\" y=\"" << top + h + 16
      << "\" text-anchor=\"middle\">" << format_number(v) << "</text>\n";
  }
  for (double v : ticks(y0, y1, 6)) {
    const double y = top + (1 - (v - y0) / (y1 - y0)) * h;
    o << "<line x1=\"" << left << "\" y1=\"" << y << "\" x2=\"" << left + w << "\" y2=\"" << y
      << "\" stroke=\"#ddd\"/>\n<text x=\"" << left - 6 << "\" y=\"" << y + 4
      << "\" text-anchor=\"end\">" << format_number(p.log_y ? std::pow(10.0, v) : v)
      << "</text>\n";
  }
  o << "<text x=\"" << left + w / 2 << "\" y=\"" << p.height - 12 << "\" text-anchor=\"middle\">"
    << xml_escape(p.x_label) << "</text>\n<text transform=\"translate(16," << top + h / 2
    << ") rotate(-90)\" text-anchor=\"middle\">" << xml_escape(p.y_label) << "</text>\n";
  // Reference lines, then the series.
  int legend = 0;
  auto legend_entry = [&](const std::string& label, const std::string& colour, const char* dash) {
    if (label.empty()) return;  // an unlabelled series (a pen stroke of a drawing)
    const double y = top + 10 + 18 * legend++;
    o << "<line x1=\"" << left + w + 10 << "\" y1=\"" << y << "\" x2=\"" << left + w + 30
      << "\" y2=\"" << y << "\" stroke=\"" << colour << "\" stroke-width=\"2\""
      << (dash ? std::string(" stroke-dasharray=\"") + dash + "\"" : std::string())
      << "/>\n<text x=\"" << left + w + 35 << "\" y=\"" << y + 4 << "\">" << xml_escape(label)
      << "</text>\n";
  };
  // Reference lines: grey, each with its own dash pattern.
  const char* const dashes[] = {"6,3", "2,3", "10,3,2,3"};
  const char* const greys[] = {"#777", "#333", "#aaa"};
  for (std::size_t r = 0; r < p.reference_lines.size(); ++r) {
    const double y = p.reference_lines[r].second;
    if (!usable(y)) continue;
    o << "<line x1=\"" << left << "\" y1=\"" << sy(y) << "\" x2=\"" << left + w << "\" y2=\""
      << sy(y) << "\" stroke=\"" << greys[r % 3] << "\" stroke-width=\"1.5\" stroke-dasharray=\""
      << dashes[r % 3] << "\"/>\n";
    legend_entry(p.reference_lines[r].first, greys[r % 3], dashes[r % 3]);
  }
  for (std::size_t k = 0; k < p.series.size(); ++k) {
    const Series& s = p.series[k];
    const std::string colour = palette[k % 8];
    if (p.scatter) {
      for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
        if (!usable(s.y[i])) continue;
        const std::string c = s.classes.empty() ? colour : palette[s.classes[i] % 8];
        o << "<circle cx=\"" << sx(s.x[i]) << "\" cy=\"" << sy(s.y[i]) << "\" r=\"2.5\" fill=\""
          << c << "\" fill-opacity=\"0.6\"/>\n";
      }
      if (s.classes.empty()) legend_entry(s.label, colour, nullptr);
      continue;
    }
    o << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"1.8\" points=\"";
    for (std::size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (usable(s.y[i]) && std::isfinite(s.x[i])) o << sx(s.x[i]) << "," << sy(s.y[i]) << " ";
    }
    o << "\"/>\n";
    legend_entry(s.label, colour, nullptr);
  }
  for (std::size_t c = 0; c < p.class_names.size(); ++c)
    legend_entry(p.class_names[c], palette[c % 8], nullptr);
  o << "</svg>\n";
  return o.str();
}

}  // namespace tapeloop::models
