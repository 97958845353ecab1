// The parallel runner behind detail::parallel_run, one of two chosen at configure time
// (TAPELOOP_THREADS): a oneTBB task arena (tbb_arena.cpp) or a std::thread pool (thread_pool.cpp).
#pragma once

#include <cstdint>

namespace tapeloop::detail::runner {

/// The cores this process may run on: the default thread count.
int cores();

/// Makes later runs use `threads` (>= 1) threads, the caller's included. Called by the
/// threading policy under its lock, so never twice at once, but possibly while runs started
/// earlier on other threads are still going: those must finish correctly.
void configure(int threads);

/// Runs call(context, c) for every c in [0, chunks), chunks >= 2, on the configured threads and
/// returns when all have finished. Safe to call from several threads at once and from inside a
/// chunk. call must not throw.
void run(std::int64_t chunks, void (*call)(void*, std::int64_t), void* context);

}  // namespace tapeloop::detail::runner
