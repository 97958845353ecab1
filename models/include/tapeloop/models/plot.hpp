// Plots as SVG text a browser opens: lines (optionally on a log axis) and labelled points.
#pragma once

#include <string>
#include <utility>
#include <vector>

namespace tapeloop::models {

/// One curve or point set of a plot.
struct Series {
  std::string label;
  std::vector<double> x, y;
  /// For scatter plots: the class of each point (colour), or empty for the series' colour.
  std::vector<int> classes;
};

/// A plot: axes, series, horizontal reference lines (a baseline), a log-scaled y axis.
struct Plot {
  Plot(std::string title, std::string x_label, std::string y_label, std::vector<Series> series = {})
      : title(std::move(title)),
        x_label(std::move(x_label)),
        y_label(std::move(y_label)),
        series(std::move(series)) {}

  std::string title, x_label, y_label;
  std::vector<Series> series;
  std::vector<std::pair<std::string, double>> reference_lines;  // label, y
  bool log_y = false;
  bool scatter = false;                  // points rather than lines
  std::vector<std::string> class_names;  // legend of the scatter classes
  int width = 760, height = 420;
};

/// `s` with <, > and & escaped, for SVG and HTML text.
std::string xml_escape(const std::string& s);

/// A number in a plot or a table: 4 significant digits, and 0 rather than -0.
std::string format_number(double v);

/// The plot as a standalone SVG document. Points that are not finite (or not positive on a
/// log axis) are left out of the line.
std::string to_svg(const Plot& plot);

}  // namespace tapeloop::models
