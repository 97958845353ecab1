// What recurrent_bench and onednn_rnn share: the configurations, the command line, the data
// (so both build the same layer from the same seed), the timing loop and the JSON result line.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "tapeloop/models/recurrent.hpp"
#include "tapeloop/random.hpp"
#include "tapeloop/tensor.hpp"

namespace tapeloop::bench {

/// A command line that does not parse; main prints it with the usage text and exits with 2.
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// The configurations of docs/benchmarks/README.md, also in pytorch_rnn.py.
struct Config {
  const char* name;
  std::int64_t batch, steps, input, hidden;
};

inline constexpr Config configs[] = {
    {"S", 1, 100, 16, 32}, {"M", 32, 50, 128, 256}, {"L", 64, 100, 512, 512}};

/// A configuration by name: S, M, L, or any shape written B<batch>T<steps>I<input>H<hidden>
/// ("B32T1000I128H256", the scaling curves of run_scaling.py). Null for anything else.
inline const Config* find_config(std::string_view name) {
  for (const Config& c : configs) {
    if (name == c.name) return &c;
  }
  // Shapes named on the command line live as long as the program.
  static std::deque<std::string> names;
  static std::deque<Config> custom;
  std::int64_t dims[4];
  const char letters[] = "BTIH";
  std::size_t at = 0;
  for (int k = 0; k < 4; ++k) {
    if (at >= name.size() || name[at] != letters[k]) return nullptr;
    std::size_t end = ++at;
    while (end < name.size() && name[end] >= '0' && name[end] <= '9') ++end;
    if (end == at || end - at > 7) return nullptr;
    dims[k] = std::atoll(std::string(name.substr(at, end - at)).c_str());
    if (dims[k] < 1) return nullptr;
    at = end;
  }
  if (at != name.size()) return nullptr;
  names.emplace_back(name);
  custom.push_back(Config{names.back().c_str(), dims[0], dims[1], dims[2], dims[3]});
  return &custom.back();
}

enum class Task { train, inference, optimizer };

struct Options {
  models::RecurrentMode mode = models::RecurrentMode::lstm;
  Task task = Task::train;
  bool fused = true;
  int threads = 1;
  int repeats = 20;
  /// Per-sequence lengths drawn uniform in [T/2, T] (see sequence_lengths) instead of all T.
  bool uniform_lengths = false;
  /// recurrent_bench --checkpoint K: the layer's checkpointed scan, segments of K steps.
  int checkpoint = 0;
  bool build_info = false;
  /// recurrent_bench --dump FILE: write one training step's data and results, then stop.
  std::string dump;
  std::vector<const Config*> chosen;
};

inline const char* mode_name(models::RecurrentMode m) {
  switch (m) {
    case models::RecurrentMode::lstm:
      return "lstm";
    case models::RecurrentMode::gru:
      return "gru";
    default:
      return "rnn";
  }
}

inline const char* task_name(Task t) {
  return t == Task::train ? "train" : t == Task::inference ? "inference" : "optimizer";
}

/// Parses the shared command line. `with_cell` and `with_dump` say whether this program takes
/// --cell and --dump. Throws UsageError.
inline Options parse_options(int argc, char** argv, bool with_cell, bool with_dump) {
  Options o;
  auto value = [&](int& i) -> std::string_view {
    if (i + 1 >= argc) throw UsageError(std::string(argv[i]) + " needs a value");
    return argv[++i];
  };
  auto count = [&](int& i, int low) {
    const char* flag = argv[i];
    const std::string text(value(i));
    char* end = nullptr;
    const long n = std::strtol(text.c_str(), &end, 10);
    if (text.empty() || *end != '\0' || n < low || n > 100000) {
      throw UsageError(std::string(flag) + " " + text +
                       ": expected a whole number >= " + std::to_string(low));
    }
    return static_cast<int>(n);
  };
  for (int i = 1; i < argc; ++i) {
    const std::string_view arg = argv[i];
    if (arg == "--mode") {
      const std::string_view v = value(i);
      if (v == "lstm")
        o.mode = models::RecurrentMode::lstm;
      else if (v == "gru")
        o.mode = models::RecurrentMode::gru;
      else if (v == "rnn")
        o.mode = models::RecurrentMode::rnn_tanh;
      else
        throw UsageError("--mode " + std::string(v) + ": expected lstm, gru or rnn");
    } else if (arg == "--task") {
      const std::string_view v = value(i);
      if (v == "train")
        o.task = Task::train;
      else if (v == "inference")
        o.task = Task::inference;
      else if (v == "optimizer")
        o.task = Task::optimizer;
      else
        throw UsageError("--task " + std::string(v) + ": expected train, inference or optimizer");
    } else if (arg == "--cell" && with_cell) {
      const std::string_view v = value(i);
      if (v != "fused" && v != "generic") {
        throw UsageError("--cell " + std::string(v) + ": expected fused or generic");
      }
      o.fused = v == "fused";
    } else if (arg == "--lengths") {
      const std::string_view v = value(i);
      if (v != "full" && v != "uniform") {
        throw UsageError("--lengths " + std::string(v) + ": expected full or uniform");
      }
      o.uniform_lengths = v == "uniform";
    } else if (arg == "--checkpoint" && with_cell) {
      o.checkpoint = count(i, 0);
    } else if (arg == "--threads") {
      o.threads = count(i, 1);
    } else if (arg == "--repeats") {
      o.repeats = count(i, 1);
    } else if (arg == "--build-info") {
      o.build_info = true;
    } else if (arg == "--dump" && with_dump) {
      o.dump = value(i);
    } else {
      const Config* found = find_config(arg);
      if (!found) {
        throw UsageError("unknown argument '" + std::string(arg) +
                         "' (a configuration is S, M, L or B<n>T<n>I<n>H<n>)");
      }
      o.chosen.push_back(found);
    }
  }
  if (o.chosen.empty() && !o.build_info) throw UsageError("no configuration (S, M or L) given");
  if (!o.dump.empty() && o.chosen.size() != 1) {
    throw UsageError("--dump writes one configuration: give exactly one of S, M, L");
  }
  return o;
}

/// The layer and data of one benchmark, all drawn from Generator(0) in this order: the layer's
/// weights (PyTorch's order and initialization), then x [T,B,I] ~ N(0,1), then the target
/// [T,B,H] ~ N(0,1). onednn_rnn builds the same to check its results against tapeloop's.
struct Problem {
  models::RecurrentLayer<float> layer;
  Tensor<float> x;
  Tensor<float> target;
};

inline Problem make_problem(models::RecurrentMode mode, const Config& c, bool fused,
                            int checkpoint = 0, int layers = 1) {
  Generator rng(0);
  models::RecurrentOptions options;
  options.input_size = c.input;
  options.hidden_size = c.hidden;
  options.num_layers = layers;
  options.fused = fused;
  options.checkpoint = checkpoint;
  // Braced initialization evaluates left to right: weights, then x, then target.
  return Problem{models::RecurrentLayer<float>(mode, options, rng),
                 Tensor<float>::normal({c.steps, c.batch, c.input}, 0.0f, 1.0f, rng),
                 Tensor<float>::normal({c.steps, c.batch, c.hidden}, 0.0f, 1.0f, rng)};
}

/// --lengths uniform: one length per sequence, uniform in [T/2, T], from Generator(1) (its own
/// seed, so the weights and data stay those of Generator(0)). pytorch_rnn.py draws the same.
/// Empty with --lengths full.
inline std::vector<std::int64_t> sequence_lengths(const Config& c, bool uniform) {
  std::vector<std::int64_t> lengths;
  if (!uniform) return lengths;
  Generator rng(1);
  const std::int64_t low = c.steps / 2;
  for (std::int64_t b = 0; b < c.batch; ++b) {
    lengths.push_back(
        low + static_cast<std::int64_t>(rng.below(static_cast<std::uint64_t>(c.steps - low + 1))));
  }
  return lengths;
}

/// Resident memory of this process from /proc/self/status: "VmRSS" (now) or "VmHWM" (the
/// peak), in MiB; negative when it cannot be read.
inline double resident_mib(const char* field) {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (!f) return -1.0;
  char line[256];
  double kib = -1.0;
  const std::size_t n = std::strlen(field);
  while (std::fgets(line, sizeof line, f)) {
    if (std::strncmp(line, field, n) == 0 && line[n] == ':') kib = std::atof(line + n + 1);
  }
  std::fclose(f);
  return kib < 0 ? -1.0 : kib / 1024.0;
}

/// Makes VmHWM the current VmRSS (Linux's clear_refs "5"); false where that is not allowed.
inline bool reset_peak_resident() {
  std::FILE* f = std::fopen("/proc/self/clear_refs", "w");
  if (!f) return false;
  const bool ok = std::fputs("5", f) >= 0;
  return std::fclose(f) == 0 && ok;
}

/// The times of the timed steps in milliseconds, and the peak resident memory the steps added
/// to what the process held before them (MiB; negative when it could not be measured): the
/// activations, gradients and workspaces of a step, as the peers measure theirs.
struct Timing {
  std::vector<double> times;
  double peak_mib = -1.0;
};

/// Runs `step` 3 times to warm up (arenas, caches, thread pools reach their steady state), then
/// `repeats` times timed. The peak memory counts from `baseline` (MiB resident), by default
/// what the process holds when called; a program that sets up its buffers before (onednn_rnn)
/// passes what it held before that.
template <class Step>
Timing time_steps(int repeats, Step&& step, double baseline = resident_mib("VmRSS")) {
  Timing timing;
  const bool peak_reset = reset_peak_resident();
  for (int i = 0; i < 3; ++i) step();
  timing.times.reserve(static_cast<std::size_t>(repeats));
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    step();
    timing.times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  const double peak = resident_mib("VmHWM");
  if (peak_reset && baseline >= 0 && peak >= 0) timing.peak_mib = peak - baseline;
  return timing;
}

inline double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

/// The result line: {"mode", "task", "cell", "config", "threads", "lengths", "checkpoint",
/// "median_ms", "times_ms", "peak_mib"}, the same keys pytorch_rnn.py prints (plus its
/// "torch_version"); peak_mib is null where it could not be measured.
inline void print_result(const Options& o, const char* cell, const Config& c, const Timing& t) {
  std::string list;
  char buffer[32];
  for (double ms : t.times) {
    std::snprintf(buffer, sizeof buffer, "%.4f", ms);
    list += (list.empty() ? "" : ", ") + std::string(buffer);
  }
  char peak[32] = "null";
  if (t.peak_mib >= 0) std::snprintf(peak, sizeof peak, "%.1f", t.peak_mib);
  std::printf(
      "{\"mode\": \"%s\", \"task\": \"%s\", \"cell\": \"%s\", \"config\": \"%s\", "
      "\"threads\": %d, \"lengths\": \"%s\", \"checkpoint\": %d, \"median_ms\": %.4f, "
      "\"times_ms\": [%s], \"peak_mib\": %s}\n",
      mode_name(o.mode), task_name(o.task), cell, c.name, o.threads,
      o.uniform_lengths ? "uniform" : "full", o.checkpoint, median(t.times), list.c_str(), peak);
  std::fflush(stdout);
}

}  // namespace tapeloop::bench
