// The main job's machinery: SVG plots, the report folder, and the lecture's demo list; two demos
// run into a report that lists them.
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "support/check.hpp"
#include "tapeloop/models/lecture.hpp"
#include "tapeloop/models/plot.hpp"
#include "tapeloop/models/report.hpp"

using namespace tapeloop;
using namespace tapeloop::models;

namespace {

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

std::filesystem::path fresh_dir(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("tapeloop_test_" + name);
  std::filesystem::remove_all(dir);
  return dir;
}

}  // namespace

BOOST_AUTO_TEST_SUITE(test_report)

BOOST_AUTO_TEST_CASE(plots_are_svg_and_skip_what_cannot_be_drawn) {
  Plot p("loss", "step", "value", {{"a", {0, 1, 2, 3}, {1.0, 0.1, NAN, 0.001}, {}}});
  p.log_y = true;
  p.reference_lines.push_back({"baseline", 0.5});
  const std::string svg = to_svg(p);
  BOOST_TEST(svg.rfind("<svg", 0) == 0);
  BOOST_TEST(svg.find("</svg>") != std::string::npos);
  BOOST_TEST(svg.find("<polyline") != std::string::npos);
  BOOST_TEST(svg.find("nan") == std::string::npos);
  BOOST_TEST(svg.find("baseline") != std::string::npos);
  // A log axis leaves out zero and negative values rather than drawing -inf.
  Plot q("q", "x", "y", {{"b", {0, 1}, {0.0, -1.0}, {}}});
  q.log_y = true;
  BOOST_TEST(to_svg(q).find("inf") == std::string::npos);
  // Labels are escaped.
  BOOST_TEST(to_svg(Plot("a < b", "x", "y")).find("a &lt; b") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_report_lists_its_sections_claims_and_plots) {
  const auto dir = fresh_dir("report");
  Report r(dir, "Title");
  r.section("First", "intro text");
  r.table({"a", "b"}, {{"1", "2"}});
  r.claim("holds", true);
  r.claim("fails", false);
  r.plot("curve", Plot("c", "x", "y", {{"s", {0, 1}, {0, 1}, {}}}));
  const auto index = r.write();
  BOOST_TEST(std::filesystem::exists(dir / "curve.svg"));
  const std::string html = read(index), md = read(dir / "summary.md");
  BOOST_TEST(html.find("<h2>First</h2>") != std::string::npos);
  BOOST_TEST(html.find("curve.svg") != std::string::npos);
  BOOST_TEST(md.find("Claims met: 1 of 2") != std::string::npos);
  BOOST_TEST(md.find("[NOT met] fails") != std::string::npos);
  BOOST_TEST(md.find("| 1 | 2 |") != std::string::npos);
  std::filesystem::remove_all(dir);
  // A folder that cannot be made is an IoError naming it.
  BOOST_CHECK_THROW(Report("/proc/no/such/place", "x"), IoError);
}

BOOST_AUTO_TEST_CASE(every_demo_has_a_name_and_runs_into_the_report) {
  std::set<std::string> names;
  for (const Demo& d : lecture_demos()) {
    BOOST_TEST(std::string(d.summary).size() > 10);
    BOOST_TEST(names.insert(d.name).second);
  }
  for (const char* name : {"hmm", "binary-addition", "gradient-flow", "adding-problem",
                           "hessian-free", "echo-state", "handwriting"}) {
    BOOST_TEST(names.count(name) == 1, name);
  }
  // The two quick ones, end to end.
  const auto dir = fresh_dir("demos");
  Report r(dir, "demos");
  gradient_flow_demo(r, {});
  echo_state_demo(r, {});
  const std::string html = read(r.write());
  BOOST_TEST(html.find("exploding and vanishing") != std::string::npos);
  BOOST_TEST(html.find("echo state") != std::string::npos);
  BOOST_TEST(std::filesystem::exists(dir / "gradient_flow.svg"));
  BOOST_TEST(std::filesystem::exists(dir / "echo_state.svg"));
  BOOST_TEST(r.claims() >= 6);
  BOOST_TEST(r.claims_met() == r.claims());
  std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()
