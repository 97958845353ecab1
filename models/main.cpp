// The main job: the lecture's recurrent net that learns binary addition (7c), trained by
// backpropagation through time on the tape; prints the loss falling and the accuracy rising.
#include <cstdio>
#include <cstdlib>
#include <string>

#include "tapeloop/models/binary_addition.hpp"
#include "tapeloop/ops/build_info.hpp"

int main() {
  using namespace tapeloop::models;
  if (const std::string missing = tapeloop::missing_cpu_features(); !missing.empty()) {
    std::fprintf(stderr,
                 "tapeloop-main: built for a CPU with %s, which this one lacks; rebuild it here "
                 "or with -DTAPELOOP_NATIVE=OFF (docs/kernels.md)\n",
                 missing.c_str());
    return EXIT_FAILURE;
  }
  BinaryAdditionConfig config;
  std::printf(
      "Binary addition RNN (lecture 7c): %d logistic hidden units, %d-bit numbers, batch %d\n"
      "reads one bit of each number per step, least significant first; BPTT over %d steps\n\n",
      config.hidden, config.bits, config.batch, config.bits + 1);
  std::printf("%6s  %10s  %12s  %12s\n", "step", "loss", "bits right", "sums right");
  const BinaryAdditionProgress final_progress =
      train_binary_addition(config, 250, [](const BinaryAdditionProgress& p) {
        std::printf("%6d  %10.5f  %11.2f%%  %11.2f%%\n", p.step, p.loss, 100.0 * p.bit_accuracy,
                    100.0 * p.sum_accuracy);
        std::fflush(stdout);
      });
  const bool learned = final_progress.sum_accuracy == 1.0f;
  std::printf("\n%s\n", learned ? "The net adds every held-out pair correctly."
                                : "The net has not learned addition yet.");
  return learned ? EXIT_SUCCESS : EXIT_FAILURE;
}
