// A report folder: sections of text, tables, claims and SVG plots, written as index.html (open it
// in a browser) and summary.md.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "tapeloop/models/plot.hpp"

namespace tapeloop::models {

class Report {
 public:
  /// Writes into `dir`, created if needed (IoError if it cannot be).
  explicit Report(std::filesystem::path dir, std::string title);

  /// A new section (one demo): a heading and an introduction.
  void section(const std::string& heading, const std::string& text);
  void paragraph(const std::string& text);
  void table(const std::vector<std::string>& header,
             const std::vector<std::vector<std::string>>& rows);
  /// A claim the run checked, shown met or not.
  void claim(const std::string& text, bool met);
  /// Writes `stem`.svg into the folder and shows it in the current section.
  void plot(const std::string& stem, const Plot& plot);

  /// Writes index.html and summary.md (again after every call: a report of an interrupted run
  /// is still readable). Returns the path of index.html.
  std::filesystem::path write() const;

  const std::filesystem::path& dir() const { return dir_; }
  int claims_met() const { return met_; }
  int claims() const { return claims_; }

 private:
  struct Block {
    enum Kind { heading, prose, grid, claim, image } kind;
    std::string text;
    std::vector<std::vector<std::string>> rows;  // table: header first
    bool met = false;
  };
  std::filesystem::path dir_;
  std::string title_;
  std::vector<Block> blocks_;
  int claims_ = 0, met_ = 0;
};

}  // namespace tapeloop::models
