// The metrics log: CSV or JSON Lines written by hand (the models library does not link a JSON
// library, and the format needs only escaped names and round-tripping numbers).
#include "tapeloop/models/metrics_log.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fstream>

#include "tapeloop/errors.hpp"

namespace tapeloop::models {

namespace {

std::string reason() {
  return std::strerror(errno);
}

// Shortest digits that read back as the same double ("0.1", "1e+300", "-0").
void append_number(std::string& out, double value) {
  char buffer[32];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

void append_integer(std::string& out, std::int64_t value) {
  char buffer[24];
  const auto result = std::to_chars(buffer, buffer + sizeof buffer, value);
  out.append(buffer, result.ptr);
}

// RFC 4180: a field holding a separator, a quote or a line break is quoted, quotes doubled.
void append_csv_field(std::string& out, std::string_view name) {
  if (name.find_first_of(",\"\r\n") == std::string_view::npos) {
    out += name;
    return;
  }
  out += '"';
  for (char c : name) {
    if (c == '"') out += '"';
    out += c;
  }
  out += '"';
}

void append_json_string(std::string& out, std::string_view name) {
  static const char hex[] = "0123456789abcdef";
  out += '"';
  for (char c : name) {
    const auto u = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (u < 0x20) {
      out += "\\u00";
      out += hex[u >> 4];
      out += hex[u & 15];
    } else {
      out += c;
    }
  }
  out += '"';
}

}  // namespace

MetricsLog::MetricsLog(const std::string& path, const MetricsLogOptions& options)
    : path_(path), options_(options) {
  if (options.every < 1) {
    throw ValueError("MetricsLog: every must be at least 1, not " + std::to_string(options.every) +
                     " (" + path + ")");
  }
  if (options.append && options.format == MetricsFormat::csv) {
    std::ifstream existing(path, std::ios::binary);
    if (existing) std::getline(existing, existing_header_);
  }
  file_.reset(std::fopen(path.c_str(), options.append ? "ab" : "wb"));
  if (!file_) throw IoError("MetricsLog: cannot open " + path + ": " + reason());
}

void MetricsLog::check_names(std::span<const Metric> metrics) const {
  if (metrics.empty()) {
    throw ValueError("MetricsLog::log: no metrics to log (" + path_ + ")");
  }
  for (std::size_t i = 0; i < metrics.size(); ++i) {
    if (metrics[i].name == "step") {
      throw ValueError("MetricsLog::log: 'step' is the name of the step column (" + path_ + ")");
    }
    for (std::size_t j = 0; j < i; ++j) {
      if (metrics[j].name == metrics[i].name) {
        throw ValueError("MetricsLog::log: the name '" + std::string(metrics[i].name) +
                         "' is given twice (" + path_ + ")");
      }
    }
  }
}

void MetricsLog::check_columns(std::span<const Metric> metrics) const {
  bool same = metrics.size() == columns_.size();
  for (std::size_t i = 0; same && i < metrics.size(); ++i) same = metrics[i].name == columns_[i];
  if (same) return;
  std::string expected, got;
  for (const auto& c : columns_) (expected += ',') += c;
  for (const auto& m : metrics) (got += ',') += m.name;
  throw ValueError("MetricsLog::log: " + path_ + " has the columns step" + expected +
                   "; this line has step" + got);
}

bool MetricsLog::log(std::int64_t step, std::span<const Metric> metrics) {
  if (!file_) throw IoError("MetricsLog::log: " + path_ + " is closed");
  const bool csv = options_.format == MetricsFormat::csv;
  check_names(metrics);
  if (csv && !columns_.empty()) check_columns(metrics);
  if (step % options_.every != 0) return false;

  line_.clear();
  if (csv && columns_.empty()) {
    line_ += "step";
    for (const auto& m : metrics) {
      line_ += ',';
      append_csv_field(line_, m.name);
    }
    if (!existing_header_.empty() && existing_header_ != line_) {
      throw ValueError("MetricsLog::log: " + path_ + " has the columns " + existing_header_ +
                       "; this line has " + line_);
    }
    if (existing_header_.empty()) {
      line_ += '\n';
    } else {
      line_.clear();
    }
    for (const auto& m : metrics) columns_.emplace_back(m.name);
  }
  if (csv) {
    append_integer(line_, step);
    for (const auto& m : metrics) {
      line_ += ',';
      if (std::isnan(m.value)) {
        line_ += "nan";
      } else if (std::isinf(m.value)) {
        line_ += m.value > 0 ? "inf" : "-inf";
      } else {
        append_number(line_, m.value);
      }
    }
  } else {
    line_ += "{\"step\":";
    append_integer(line_, step);
    for (const auto& m : metrics) {
      line_ += ',';
      append_json_string(line_, m.name);
      line_ += ':';
      if (std::isfinite(m.value)) {
        append_number(line_, m.value);
      } else {
        line_ += "null";
      }
    }
    line_ += '}';
  }
  line_ += '\n';
  write_line();
  return true;
}

void MetricsLog::write_line() {
  // Handed to the operating system at once: a crash of the program after this loses nothing.
  if (std::fwrite(line_.data(), 1, line_.size(), file_.get()) != line_.size() ||
      std::fflush(file_.get()) != 0) {
    throw IoError("MetricsLog: cannot write " + path_ + ": " + reason());
  }
}

void MetricsLog::close() {
  if (!file_) return;
  std::FILE* f = file_.release();
  if (std::fclose(f) != 0) throw IoError("MetricsLog: cannot close " + path_ + ": " + reason());
}

}  // namespace tapeloop::models
