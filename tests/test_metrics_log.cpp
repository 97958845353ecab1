// The metrics log's files read back byte for byte (CSV) and parsed (JSON Lines).
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>

#include "support/check.hpp"
#include "support/doc_blocks.hpp"
#include "support/files.hpp"
#include "tapeloop/models.hpp"

using namespace tapeloop;
using namespace tapeloop::models;
using tapeloop::testing::TempDir;

namespace {

std::string read_text(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) lines.push_back(line);
  return lines;
}

constexpr double infinity = std::numeric_limits<double>::infinity();
constexpr double not_a_number = std::numeric_limits<double>::quiet_NaN();

}  // namespace

BOOST_AUTO_TEST_SUITE(test_metrics_log)

BOOST_AUTO_TEST_CASE(csv_every_n_steps) {
  TempDir dir("metrics");
  const auto path = dir / "run.csv";
  MetricsLog log(path.string(), MetricsFormat::csv, 3);
  const double losses[] = {2.5, 1.0 / 3.0, 0.1, 1e-300, -0.0, 12345678.9, 7, 0.5};
  std::vector<bool> written;
  for (int step = 1; step <= 8; ++step) {
    written.push_back(log.log(step, {{"loss", losses[step - 1]}, {"lr", 0.001 * step}}));
    // Every line is on disk as soon as log returns.
    if (step == 3) BOOST_TEST(read_text(path) == "step,loss,lr\n3,0.1,0.003\n");
  }
  BOOST_TEST(written == (std::vector<bool>{false, false, true, false, false, true, false, false}));
  BOOST_TEST(read_text(path) == "step,loss,lr\n3,0.1,0.003\n6,12345678.9,0.006\n");
  BOOST_TEST(log.columns() == (std::vector<std::string>{"loss", "lr"}));
  log.close();
  log.close();  // a second close does nothing
}

BOOST_AUTO_TEST_CASE(csv_numbers_round_trip) {
  TempDir dir("metrics");
  const auto path = dir / "numbers.csv";
  {
    MetricsLog log(path.string());
    log.log(0, {{"a", 1.0 / 3.0}, {"b", 1e-300}, {"c", -0.0}});
    log.log(1, {{"a", not_a_number}, {"b", infinity}, {"c", -infinity}});
    log.log(2, {{"a", 0.1 + 0.2}, {"b", 1e22}, {"c", 5e-324}});
  }
  BOOST_TEST(read_text(path) ==
             "step,a,b,c\n"
             "0,0.3333333333333333,1e-300,-0\n"
             "1,nan,inf,-inf\n"
             "2,0.30000000000000004,1e+22,5e-324\n");
}

BOOST_AUTO_TEST_CASE(csv_columns_are_fixed) {
  TempDir dir("metrics");
  const auto path = dir / "fixed.csv";
  MetricsLog log(path.string(), {.every = 2});
  log.log(0, {{"loss", 1.0}, {"lr", 0.1}});
  TAPELOOP_CHECK_THROW_MESSAGE(log.log(2, {{"loss", 1.0}}), ValueError,
                               "MetricsLog::log: " + path.string() +
                                   " has the columns step,loss,lr; this line has step,loss");
  // Another order is other columns; a skipped step is checked too.
  TAPELOOP_CHECK_THROW_MESSAGE(log.log(3, {{"lr", 0.1}, {"loss", 1.0}}), ValueError,
                               "this line has step,lr,loss");
  TAPELOOP_CHECK_THROW_MESSAGE(log.log(4, {{"loss", 1.0}, {"loss", 2.0}}), ValueError,
                               "the name 'loss' is given twice");
  TAPELOOP_CHECK_THROW_MESSAGE(log.log(4, {{"step", 1.0}, {"lr", 2.0}}), ValueError,
                               "'step' is the name of the step column");
  TAPELOOP_CHECK_THROW_MESSAGE(log.log(4, std::span<const Metric>()), ValueError,
                               "no metrics to log");
  BOOST_TEST(read_text(path) == "step,loss,lr\n0,1,0.1\n");
}

BOOST_AUTO_TEST_CASE(csv_quotes_names) {
  TempDir dir("metrics");
  const auto path = dir / "quoted.csv";
  MetricsLog log(path.string());
  log.log(5, {{"a,b", 1.5}, {"say \"hi\"", 2}});
  BOOST_TEST(read_text(path) == "step,\"a,b\",\"say \"\"hi\"\"\"\n5,1.5,2\n");
}

BOOST_AUTO_TEST_CASE(jsonl_parses_and_round_trips) {
  TempDir dir("metrics");
  const auto path = dir / "run.jsonl";
  const double values[] = {1.0 / 3.0, 0.1 + 0.2, 1e-300, 123456789.0, 2.5e-7, -4.75};
  {
    MetricsLog log(path.string(), {.format = MetricsFormat::jsonl, .every = 2});
    for (int step = 0; step < 6; ++step) log.log(step, {{"loss", values[step]}, {"lr", 0.5}});
    log.log(6,
            {{"loss", not_a_number}, {"valid \"loss\"\n", infinity}});  // other names are fine here
  }
  const std::vector<std::string> lines = lines_of(read_text(path));
  BOOST_REQUIRE(lines.size() == 4u);
  BOOST_TEST(lines[0] == "{\"step\":0,\"loss\":0.3333333333333333,\"lr\":0.5}");
  for (std::size_t i = 0; i < 3; ++i) {
    const nlohmann::json j = nlohmann::json::parse(lines[i]);
    BOOST_TEST(j.size() == 3u);
    BOOST_TEST(j.at("step").get<std::int64_t>() == static_cast<std::int64_t>(2 * i));
    BOOST_TEST(j.at("loss").get<double>() == values[2 * i]);  // bit for bit
    BOOST_TEST(j.at("lr").get<double>() == 0.5);
  }
  const nlohmann::json last = nlohmann::json::parse(lines[3]);
  BOOST_TEST(last.at("loss").is_null());
  BOOST_TEST(last.at("valid \"loss\"\n").is_null());
  BOOST_TEST(lines[3] == "{\"step\":6,\"loss\":null,\"valid \\\"loss\\\"\\u000a\":null}");
}

BOOST_AUTO_TEST_CASE(unwritable_path) {
  TempDir dir("metrics");
  const std::string missing = (dir / "no-such-dir" / "run.csv").string();
  TAPELOOP_CHECK_THROW_MESSAGE(MetricsLog{missing}, IoError,
                               "MetricsLog: cannot open " + missing + ": ");
  TAPELOOP_CHECK_THROW_MESSAGE(MetricsLog(dir.path().string()), IoError,
                               "cannot open " + dir.path().string());
  TAPELOOP_CHECK_THROW_MESSAGE(MetricsLog((dir / "x.csv").string(), MetricsFormat::csv, 0),
                               ValueError, "MetricsLog: every must be at least 1, not 0");
}

BOOST_AUTO_TEST_CASE(append) {
  TempDir dir("metrics");
  const auto path = dir / "append.csv";
  { MetricsLog(path.string()).log(0, {{"loss", 1.0}}); }
  {
    MetricsLog log(path.string(), {.append = true});
    log.log(1, {{"loss", 0.5}});  // the header is already there
    log.log(2, {{"loss", 0.25}});
  }
  BOOST_TEST(read_text(path) == "step,loss\n0,1\n1,0.5\n2,0.25\n");
  MetricsLog other(path.string(), {.append = true});
  TAPELOOP_CHECK_THROW_MESSAGE(other.log(3, {{"acc", 0.5}}), ValueError,
                               "has the columns step,loss; this line has step,acc");
  // A new file in append mode gets its header.
  const auto fresh = dir / "fresh.jsonl";
  {
    MetricsLog(fresh.string(), {.format = MetricsFormat::jsonl, .append = true}).log(0, {{"x", 1}});
  }
  {
    MetricsLog(fresh.string(), {.format = MetricsFormat::jsonl, .append = true}).log(1, {{"x", 2}});
  }
  BOOST_TEST(read_text(fresh) == "{\"step\":0,\"x\":1}\n{\"step\":1,\"x\":2}\n");
}

BOOST_AUTO_TEST_CASE(documented_example) {
  TempDir dir("metrics-doc");
  const std::string path = (dir / "train.csv").string();
  {
    // ---- training block: metrics ----
    MetricsLog log(path, {.format = MetricsFormat::csv, .every = 100});
    for (std::int64_t step = 0; step <= 300; ++step) {
      const double loss = 1.0 / static_cast<double>(step + 1);  // a training step's loss
      log.log(step, {{"loss", loss}, {"lr", 0.001}});
    }
    // ---- end of training block ----
  }
  BOOST_TEST(read_text(path) ==
             "step,loss,lr\n0,1,0.001\n100,0.009900990099009901,0.001\n"
             "200,0.004975124378109453,0.001\n300,0.0033222591362126247,0.001\n");
  BOOST_TEST(tapeloop::testing::check_doc_blocks(__FILE__, "training.md", "training") == 1);
}

BOOST_AUTO_TEST_SUITE_END()
