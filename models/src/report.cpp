// The report folder: blocks rendered as HTML and as markdown, plots as SVG files beside them.
#include "tapeloop/models/report.hpp"

#include <cstdio>
#include <fstream>
#include <sstream>

#include "tapeloop/errors.hpp"

namespace tapeloop::models {
namespace {

// Writes `text` to `path` through a temporary and a rename, so a reader never sees half a file.
void write_file(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) throw IoError("report: cannot write " + tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) throw IoError("report: cannot rename " + tmp.string() + ": " + ec.message());
}

}  // namespace

Report::Report(std::filesystem::path dir, std::string title)
    : dir_(std::move(dir)), title_(std::move(title)) {
  std::error_code ec;
  std::filesystem::create_directories(dir_, ec);
  if (ec || !std::filesystem::is_directory(dir_)) {
    throw IoError("report: cannot create the folder " + dir_.string() + ": " + ec.message());
  }
}

void Report::section(const std::string& heading, const std::string& text) {
  blocks_.push_back({Block::heading, heading, {}, false});
  if (!text.empty()) paragraph(text);
}

void Report::paragraph(const std::string& text) {
  blocks_.push_back({Block::prose, text, {}, false});
}

void Report::table(const std::vector<std::string>& header,
                   const std::vector<std::vector<std::string>>& rows) {
  Block b{Block::grid, "", {header}, false};
  b.rows.insert(b.rows.end(), rows.begin(), rows.end());
  blocks_.push_back(std::move(b));
}

void Report::claim(const std::string& text, bool met) {
  blocks_.push_back({Block::claim, text, {}, met});
  ++claims_;
  met_ += met;
}

void Report::plot(const std::string& stem, const Plot& p) {
  write_file(dir_ / (stem + ".svg"), to_svg(p));
  blocks_.push_back({Block::image, stem + ".svg", {}, false});
}

std::filesystem::path Report::write() const {
  std::ostringstream html, md;
  html << "<!doctype html>\n<html><head><meta charset=\"utf-8\"><title>" << xml_escape(title_)
       << "</title>\n<style>body{font-family:sans-serif;max-width:900px;margin:2em auto;}"
          "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:3px 8px;}"
          ".met{color:#1a7f1a}.missed{color:#b00}</style></head><body>\n<h1>"
       << xml_escape(title_) << "</h1>\n<p>Claims met: " << met_ << " of " << claims_ << "</p>\n";
  md << "# " << title_ << "\n\nClaims met: " << met_ << " of " << claims_ << "\n";
  for (const Block& b : blocks_) {
    switch (b.kind) {
      case Block::heading:
        html << "<h2>" << xml_escape(b.text) << "</h2>\n";
        md << "\n## " << b.text << "\n";
        break;
      case Block::prose:
        html << "<p>" << xml_escape(b.text) << "</p>\n";
        md << "\n" << b.text << "\n";
        break;
      case Block::claim:
        html << "<p class=\"" << (b.met ? "met" : "missed") << "\">"
             << (b.met ? "&#10003; " : "&#10007; ") << xml_escape(b.text) << "</p>\n";
        md << "\n- " << (b.met ? "[met] " : "[NOT met] ") << b.text << "\n";
        break;
      case Block::image:
        html << "<p><img src=\"" << b.text << "\" alt=\"" << b.text << "\"></p>\n";
        md << "\n![" << b.text << "](" << b.text << ")\n";
        break;
      case Block::grid:
        html << "<table>\n";
        md << "\n";
        for (std::size_t r = 0; r < b.rows.size(); ++r) {
          html << "<tr>";
          md << "|";
          for (const std::string& cell : b.rows[r]) {
            html << (r == 0 ? "<th>" : "<td>") << xml_escape(cell) << (r == 0 ? "</th>" : "</td>");
            md << " " << cell << " |";
          }
          html << "</tr>\n";
          md << "\n";
          if (r == 0) {
            md << "|";
            for (std::size_t c = 0; c < b.rows[0].size(); ++c) md << " --- |";
            md << "\n";
          }
        }
        html << "</table>\n";
        break;
    }
  }
  html << "</body></html>\n";
  write_file(dir_ / "index.html", html.str());
  write_file(dir_ / "summary.md", md.str());
  return dir_ / "index.html";
}

}  // namespace tapeloop::models
