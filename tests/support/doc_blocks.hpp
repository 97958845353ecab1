// Checks that the code blocks a test file marks appear verbatim in a document under docs/: the
// docs then show code that compiles and passes.
#pragma once

#include <boost/test/unit_test.hpp>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace tapeloop::testing {

/// Every block of `source` (a test file, __FILE__) between "// ---- <kind> block: <name> ----"
/// and "// ---- end of <kind> block ----", with the marker's indentation removed, must appear
/// in `doc` (a path under docs/) as a ```cpp block. Returns how many blocks were found.
inline int check_doc_blocks(const char* source, const char* doc, const std::string& kind) {
  auto read = [](const std::filesystem::path& path) {
    std::ifstream in(path);
    BOOST_REQUIRE_MESSAGE(in, "cannot open " << path);
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
  };
  const std::string self = read(source);
  const std::string text =
      read(std::filesystem::path(source).parent_path().parent_path() / "docs" / doc);
  // Spelled in pieces so these lines are not taken for markers themselves.
  const std::string begin = "// ---- " + kind + " block: ";
  const std::string end = "// ---- end of " + kind + " block ----";
  int blocks = 0;
  for (std::size_t at = self.find(begin); at != std::string::npos; at = self.find(begin, at + 1)) {
    const std::size_t body = self.find('\n', at) + 1;
    const std::size_t stop = self.rfind('\n', self.find(end, body)) + 1;
    std::string code = self.substr(body, stop - body);
    // Remove the indentation of the marker's line from every line of the block.
    const std::size_t line_start = self.rfind('\n', at) + 1;
    const std::size_t indent = at - line_start;
    std::string dedented;
    std::istringstream lines(code);
    for (std::string line; std::getline(lines, line);) {
      dedented += (line.size() >= indent ? line.substr(indent) : line) + "\n";
    }
    ++blocks;
    BOOST_CHECK_MESSAGE(text.find("```cpp\n" + dedented + "```") != std::string::npos,
                        "docs/" << doc << " is missing this block:\n"
                                << dedented);
  }
  return blocks;
}

}  // namespace tapeloop::testing
