// Progress of a long loop: a bar (units done, a metric, rate, ETA) redrawn in place on a terminal,
// plain log lines (every tenth of the work) otherwise.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace tapeloop::models {

class Progress {
 public:
  /// `total` units (steps, seconds) of `what`, reported on `out` (a terminal or not, as isatty
  /// says), each update showing `metric`.
  Progress(std::string what, std::int64_t total, std::string unit = "steps",
           std::string metric = "loss", std::FILE* out = stdout);
  /// After `done` units (1-based) with this value of the metric.
  void update(std::int64_t done, double value);
  /// Ends the bar's line (or prints the last log line).
  void finish();

 private:
  void draw(std::int64_t done, double value, bool final);

  std::string what_, unit_, metric_;
  std::int64_t total_;
  std::FILE* out_;
  bool terminal_;
  std::chrono::steady_clock::time_point start_, last_draw_;
  std::int64_t next_log_ = 0, done_ = 0;
  double value_ = 0;
  bool finished_ = false;
};

}  // namespace tapeloop::models
