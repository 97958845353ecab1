// The progress bar: at most ten redraws a second, so reporting never slows the loop it reports.
#include "tapeloop/models/progress.hpp"

#include <unistd.h>

namespace tapeloop::models {

Progress::Progress(std::string what, std::int64_t total, std::string unit, std::string metric,
                   std::FILE* out)
    : what_(std::move(what)),
      unit_(std::move(unit)),
      metric_(std::move(metric)),
      total_(total > 0 ? total : 1),
      out_(out),
      terminal_(::isatty(::fileno(out)) != 0),
      start_(std::chrono::steady_clock::now()),
      last_draw_(start_) {}

void Progress::update(std::int64_t done, double value) {
  done_ = done;
  value_ = value;
  const auto now = std::chrono::steady_clock::now();
  if (terminal_) {
    if (now - last_draw_ >= std::chrono::milliseconds(100) || done == total_) {
      last_draw_ = now;
      draw(done, value, false);
    }
  } else if (done >= next_log_) {
    draw(done, value, false);
    next_log_ = done + total_ / 10;
  }
}

void Progress::finish() {
  if (finished_) return;
  finished_ = true;
  draw(done_, value_, true);
}

void Progress::draw(std::int64_t done, double value, bool final) {
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double rate = seconds > 0 ? static_cast<double>(done) / seconds : 0.0;
  const double eta = rate > 0 ? static_cast<double>(total_ - done) / rate : 0.0;
  if (terminal_) {
    constexpr int width = 30;
    const int filled = static_cast<int>(width * done / total_);
    std::fprintf(out_, "\r  %-22s [%.*s%*s] %6lld/%lld %s  %s %-9.4g %7.1f %s/s  ETA %4.0fs",
                 what_.c_str(), filled, "##############################", width - filled, "",
                 static_cast<long long>(done), static_cast<long long>(total_), unit_.c_str(),
                 metric_.c_str(), value, rate, unit_.c_str(), eta);
    if (final) std::fprintf(out_, "\n");
  } else {
    std::fprintf(out_, "  %s: %lld/%lld %s, %s %.4g, %.1f %s/s, ETA %.0fs\n", what_.c_str(),
                 static_cast<long long>(done), static_cast<long long>(total_), unit_.c_str(),
                 metric_.c_str(), value, rate, unit_.c_str(), eta);
  }
  std::fflush(out_);
}

}  // namespace tapeloop::models
