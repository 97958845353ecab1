// MetricsLog: a training run's numbers (loss, learning rate, ...) as CSV or JSON Lines, one line
// every N steps, each line flushed so that a crash loses nothing already logged.
#pragma once

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace tapeloop::models {

enum class MetricsFormat { csv, jsonl };

/// One named value of a logged line.
struct Metric {
  std::string_view name;
  double value;
};

struct MetricsLogOptions {
  MetricsFormat format = MetricsFormat::csv;
  /// Write the steps that are multiples of `every` (with every = 10: steps 0, 10, 20, ...).
  std::int64_t every = 1;
  /// Add to an existing file instead of replacing it. A CSV file that already has lines keeps
  /// its header, which the first logged line must then match.
  bool append = false;
};

/// Lines of "step" and named numbers:
///
///   MetricsLog log("run.csv", {.format = MetricsFormat::csv, .every = 10});
///   log.log(step, {{"loss", loss.item()}, {"lr", optimizer.learning_rate()}});
///
/// CSV: a header line "step,loss,lr" written with the first line, whose names then fix the
/// columns (a later line with other names, or in another order, throws ValueError); NaN and
/// infinities are written nan, inf and -inf. JSON Lines: one object per line,
/// {"step":10,"loss":0.25,"lr":0.001}, non-finite numbers as null; lines may differ in names.
/// Numbers are written with the fewest digits that read back as the same double. A line is
/// one write and one flush, and skipped steps cost a comparison of the names at most.
class MetricsLog {
 public:
  /// Opens (creates or, without append, truncates) `path`; throws IoError naming the path if
  /// it cannot, ValueError for every < 1.
  explicit MetricsLog(const std::string& path, const MetricsLogOptions& options = {});
  MetricsLog(const std::string& path, MetricsFormat format, std::int64_t every = 1,
             bool append = false)
      : MetricsLog(path, MetricsLogOptions{format, every, append}) {}

  /// Writes one line if `step` is a multiple of every and returns whether it did. Throws
  /// ValueError for no metrics, a duplicate name or a name "step", or (CSV) names other than
  /// the columns, and IoError naming the path if the write fails.
  bool log(std::int64_t step, std::span<const Metric> metrics);
  bool log(std::int64_t step, std::initializer_list<Metric> metrics) {
    return log(step, std::span<const Metric>(metrics.begin(), metrics.size()));
  }

  const std::string& path() const { return path_; }
  const MetricsLogOptions& options() const { return options_; }
  /// The CSV columns after "step" (empty before the first line, and for JSON Lines).
  const std::vector<std::string>& columns() const { return columns_; }
  /// Closes the file (the destructor does too); IoError if the last data cannot be written.
  void close();

 private:
  struct Closer {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };
  void check_names(std::span<const Metric> metrics) const;
  void check_columns(std::span<const Metric> metrics) const;
  void write_line();

  std::string path_;
  MetricsLogOptions options_;
  std::unique_ptr<std::FILE, Closer> file_;
  std::vector<std::string> columns_;
  std::string existing_header_;  // the first line of a CSV file appended to
  std::string line_;             // reused, so a line allocates only while it grows
};

}  // namespace tapeloop::models
