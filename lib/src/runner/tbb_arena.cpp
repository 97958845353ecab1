// The parallel runner on oneTBB (TAPELOOP_THREADS=tbb, the default): a task_arena of tapeloop's
// own.
#include <oneapi/tbb/info.h>
#include <oneapi/tbb/parallel_for.h>
#include <oneapi/tbb/partitioner.h>
#include <oneapi/tbb/task_arena.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <vector>

#include "runner.hpp"

namespace tapeloop::detail::runner {
namespace {

// Kernels run in a task_arena of their own rather than under a tbb::global_control:
// - global_control is process-wide: it would cap the host application's own TBB work at our
//   setting, and with several live objects the minimum wins, so two libraries would fight;
// - an arena's concurrency is exactly ours, and TBB's market shares one set of worker threads
//   among all arenas, so this adds no second pool next to the application's.
// Arenas are never destroyed while the process runs: a kernel on another thread may still be
// inside the previous one when set_num_threads() publishes a new one. A retired arena holds
// no thread, only a few hundred bytes.
struct Arenas {
  std::atomic<oneapi::tbb::task_arena*> current{nullptr};
  std::vector<std::unique_ptr<oneapi::tbb::task_arena>> all;  // current one is last
};

Arenas& arenas() {
  static Arenas a;
  return a;
}

}  // namespace

int cores() {
  return oneapi::tbb::info::default_concurrency();
}

void configure(int threads) {
  // Never more running threads than cores: TBB would not give an arena more workers than
  // cores - 1 anyway (and warns when asked). num_threads() still reports the setting, and
  // kernels and GEMMs cut their work for it.
  const int running = std::min(threads, cores());
  auto arena = std::make_unique<oneapi::tbb::task_arena>(running);
  arena->initialize();  // now, not lazily inside the first kernel
  Arenas& a = arenas();
  a.current.store(arena.get(), std::memory_order_release);
  a.all.push_back(std::move(arena));
}

void run(std::int64_t chunks, void (*call)(void*, std::int64_t), void* context) {
  oneapi::tbb::task_arena* arena = arenas().current.load(std::memory_order_acquire);
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

}  // namespace tapeloop::detail::runner
