// The one threading policy: how many threads tapeloop's kernels and GEMMs use, OpenBLAS included.
#pragma once

#include <cstdint>
#include <type_traits>
#include <utility>

namespace tapeloop {

/// Sets the number of threads tapeloop uses: the concurrency of the TBB arena (or, built with
/// TAPELOOP_THREADS=std, of the std::thread pool) that parallel kernels and the blocks of large
/// GEMMs run in. OpenBLAS is set to one thread at the same time (matmul parallelizes by calling
/// it on blocks; docs/threading.md), so there is one pool and nothing oversubscribes the cores.
/// n must be >= 1 (ValueError otherwise); 1 runs everything on the calling thread. More threads
/// than cores are not started (but two by the std::thread pool on one core), and kernels still
/// cut their work for n. Call it between computations, not while operators run on other threads
/// (those finish on the old setting; OpenBLAS's own setter is not safe against concurrent calls).
void set_num_threads(int n);

/// The number of threads tapeloop uses. Before any set_num_threads(), the first use reads the
/// environment variable TAPELOOP_NUM_THREADS, and falls back to the cores this process may run
/// on (its affinity mask).
int num_threads();

namespace detail {

/// Runs body(chunk) for every chunk in [0, chunks) on the kernel threads and returns when all
/// have finished. The caller decides the partition (so results never depend on the thread
/// count) and whether the work is worth it: this always wakes the threads, so kernels test
/// their grain size first and call the body inline below it. With num_threads() == 1 or one
/// chunk the body runs inline here. Safe from several threads at once and from inside a chunk.
/// The body must not throw.
template <class Body>
void parallel_run(std::int64_t chunks, Body&& body);

/// The type-erased form that parallel_run forwards to (no heap: a pointer and a function).
void parallel_run_erased(std::int64_t chunks, void (*call)(void*, std::int64_t), void* context);

template <class Body>
void parallel_run(std::int64_t chunks, Body&& body) {
  using B = std::remove_reference_t<Body>;
  parallel_run_erased(
      chunks, [](void* context, std::int64_t chunk) { (*static_cast<B*>(context))(chunk); },
      const_cast<void*>(static_cast<const void*>(&body)));
}

}  // namespace detail
}  // namespace tapeloop
