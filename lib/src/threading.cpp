// The threading policy: one thread count for the runner of tapeloop's kernels and the blocks of
// large GEMMs (runner/runner.hpp); OpenBLAS itself is kept single-threaded.
#include "tapeloop/threading.hpp"

#include <cblas.h>  // openblas_set_num_threads

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>

#include "runner/runner.hpp"
#include "tapeloop/errors.hpp"

namespace tapeloop {
namespace {

struct Policy {
  std::mutex mutex;             // serializes (re)configuration
  std::atomic<int> threads{0};  // 0 until first use
};

Policy& policy() {
  static Policy p;
  return p;
}

// TAPELOOP_NUM_THREADS if it is a positive integer, else the cores we may run on.
int initial_threads() {
  const int cores = detail::runner::cores();
  const char* text = std::getenv("TAPELOOP_NUM_THREADS");
  if (text == nullptr || *text == '\0') return cores;
  char* end = nullptr;
  const long n = std::strtol(text, &end, 10);
  if (*end != '\0' || n < 1 || n > 4096) {
    // A bad value must not stop a training run; say so once and use the default.
    std::fprintf(stderr, "tapeloop: ignoring TAPELOOP_NUM_THREADS=\"%s\" (want an integer >= 1)\n",
                 text);
    return cores;
  }
  return static_cast<int>(n);
}

// Caller holds the mutex. The runner is configured before the count is published, so a kernel
// that reads the new count finds the runner ready for it.
void apply(Policy& p, int n) {
  detail::runner::configure(n);
  // OpenBLAS runs single-threaded: matmul cuts large products into one block per thread on
  // the runner instead (docs/threading.md measures both ways). So there is one pool: OpenBLAS's
  // own threads never get work and sleep, instead of spinning next to the runner's.
  openblas_set_num_threads(1);
  p.threads.store(n, std::memory_order_release);
}

}  // namespace

void set_num_threads(int n) {
  if (n < 1) throw ValueError("set_num_threads: " + std::to_string(n) + " is not >= 1");
  Policy& p = policy();
  std::lock_guard<std::mutex> lock(p.mutex);
  apply(p, n);
}

int num_threads() {
  Policy& p = policy();
  const int n = p.threads.load(std::memory_order_acquire);
  if (n != 0) return n;
  std::lock_guard<std::mutex> lock(p.mutex);
  if (p.threads.load(std::memory_order_relaxed) == 0) apply(p, initial_threads());
  return p.threads.load(std::memory_order_relaxed);
}

namespace detail {

void parallel_run_erased(std::int64_t chunks, void (*call)(void*, std::int64_t), void* context) {
  if (chunks <= 0) return;
  if (chunks == 1 || num_threads() == 1) {
    for (std::int64_t c = 0; c < chunks; ++c) call(context, c);
    return;
  }
  runner::run(chunks, call, context);
}

}  // namespace detail
}  // namespace tapeloop
