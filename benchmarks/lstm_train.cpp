// tapeloop's LSTM training step on the benchmark configurations S, M, L (shared with
// benchmarks/pytorch_lstm.py, which measures PyTorch's the same way).
//
// Usage: lstm_train --threads N --repeats R CONFIG...
// Prints one JSON object per configuration: {"config", "threads", "median_ms", "times_ms"}.
// A training step: forward over the whole sequence, MSE loss of all outputs against a fixed
// random target, backward to every parameter and to the input. No optimizer step.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "tapeloop/models/recurrent.hpp"
#include "tapeloop/ops/build_info.hpp"
#include "tapeloop/tapeloop.hpp"
#include "tapeloop/threading.hpp"

using namespace tapeloop;
using namespace tapeloop::models;

namespace {

struct Config {
  const char* name;
  std::int64_t batch, steps, input, hidden;
};

constexpr Config configs[] = {
    {"S", 1, 100, 16, 32}, {"M", 32, 50, 128, 256}, {"L", 64, 100, 512, 512}};

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
}

void measure(const Config& c, int threads, int repeats) {
  set_num_threads(threads);
  Generator rng(0);
  LSTM<float> lstm({.input_size = c.input, .hidden_size = c.hidden}, rng);
  const Tensor<float> x = Tensor<float>::normal({c.steps, c.batch, c.input}, 0.0f, 1.0f, rng);
  const Tensor<float> target = Tensor<float>::normal({c.steps, c.batch, c.hidden}, 0.0f, 1.0f, rng);
  Tape<float> tape;
  auto step = [&] {
    tape.clear();
    lstm.zero_grad();
    Var<float> xs = tape.input(x.ref(), /*requires_grad=*/true);
    Var<float> out = lstm.forward(tape, xs).output;
    tape.backward(mse_loss(out, tape.constant(target.ref())));
  };
  for (int i = 0; i < 3; ++i) step();  // warm-up: the arena reaches its size
  std::vector<double> times;
  for (int i = 0; i < repeats; ++i) {
    const auto start = std::chrono::steady_clock::now();
    step();
    times.push_back(
        std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - start)
            .count());
  }
  std::string list;
  for (double t : times) list += (list.empty() ? "" : ", ") + std::to_string(t);
  std::printf("{\"config\": \"%s\", \"threads\": %d, \"median_ms\": %.4f, \"times_ms\": [%s]}\n",
              c.name, threads, median(times), list.c_str());
  std::fflush(stdout);
}

}  // namespace

int main(int argc, char** argv) {
  int threads = 1, repeats = 20;
  std::vector<const Config*> chosen;
  for (int i = 1; i < argc; ++i) {
    if (!std::strcmp(argv[i], "--threads") && i + 1 < argc) {
      threads = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--repeats") && i + 1 < argc) {
      repeats = std::atoi(argv[++i]);
    } else if (!std::strcmp(argv[i], "--build-info")) {
      // What the numbers were measured with, for the report.
      std::printf("{\"kernel_isa\": \"%s\", \"blas\": \"%s\"}\n", kernel_isa().c_str(),
                  blas_info().c_str());
    } else {
      const Config* found = nullptr;
      for (const Config& c : configs) {
        if (!std::strcmp(c.name, argv[i])) found = &c;
      }
      if (!found) {
        std::fprintf(stderr,
                     "usage: lstm_train [--threads N] [--repeats R] [--build-info] S|M|L...\n");
        return 2;
      }
      chosen.push_back(found);
    }
  }
  for (const Config* c : chosen) measure(*c, threads, repeats);
}
