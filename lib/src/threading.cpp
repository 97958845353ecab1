// The threading policy: one thread count for tapeloop's TBB arena, which runs the kernels and
// the blocks of large GEMMs; OpenBLAS itself is kept single-threaded.
#include "tapeloop/threading.hpp"

#include <cblas.h>  // openblas_set_num_threads

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include "tapeloop/errors.hpp"

namespace tapeloop {
namespace {

// Kernels run in a task_arena of their own rather than under a tbb::global_control:
// - global_control is process-wide: it would cap the host application's own TBB work at our
//   setting, and with several live objects the minimum wins, so two libraries would fight;
// - an arena's concurrency is exactly ours, and TBB's market shares one set of worker threads
//   among all arenas, so this adds no second pool next to the application's.
// Arenas are never destroyed while the process runs: a kernel on another thread may still be
// inside the previous one when set_num_threads() publishes a new one. A retired arena holds
// no thread, only a few hundred bytes.
struct Policy {
  std::mutex mutex;             // serializes (re)configuration
  std::atomic<int> threads{0};  // 0 until first use
  std::atomic<oneapi::tbb::task_arena*> arena{nullptr};
  std::vector<std::unique_ptr<oneapi::tbb::task_arena>> arenas;  // current one is last
};

Policy& policy() {
  static Policy p;
  return p;
}

// TAPELOOP_NUM_THREADS if it is a positive integer, else the cores we may run on.
int initial_threads() {
  const int cores = oneapi::tbb::info::default_concurrency();
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

// Caller holds the mutex.
void apply(Policy& p, int n) {
  // Never more running threads than cores: TBB would not give an arena more workers than
  // cores - 1 anyway (and warns when asked). num_threads() still reports n, and kernels and
  // GEMMs cut their work for n.
  const int running = std::min(n, oneapi::tbb::info::default_concurrency());
  auto arena = std::make_unique<oneapi::tbb::task_arena>(running);
  arena->initialize();  // now, not lazily inside the first kernel
  p.arena.store(arena.get(), std::memory_order_release);
  p.arenas.push_back(std::move(arena));
  // OpenBLAS runs single-threaded: matmul cuts large products into one block per thread on
  // this arena instead (docs/threading.md measures both ways). So there is one pool: OpenBLAS's
  // own threads never get work and sleep, instead of spinning next to TBB's worker.
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
  oneapi::tbb::task_arena* arena = policy().arena.load(std::memory_order_acquire);
  const oneapi::tbb::blocked_range<std::int64_t> range(0, chunks, 1);
  auto body = [&](const oneapi::tbb::blocked_range<std::int64_t>& r) {
    for (std::int64_t c = r.begin(); c < r.end(); ++c) call(context, c);
  };
  arena->execute([&] {
    if (chunks <= arena->max_concurrency()) {
      // One chunk per thread: hand them out as they are, no stealing traffic.
      oneapi::tbb::parallel_for(range, body, oneapi::tbb::static_partitioner());
    } else {
      // More chunks than threads: each is a task, taken by whichever thread is free.
      oneapi::tbb::parallel_for(range, body, oneapi::tbb::simple_partitioner());
    }
  });
}

}  // namespace detail
}  // namespace tapeloop
