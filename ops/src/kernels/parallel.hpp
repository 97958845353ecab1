// When a kernel goes parallel, and how it cuts its work: grain sizes measured on the target
// machine (docs/threading.md) and a splitter that runs small work inline on the calling thread.
#pragma once

#include <algorithm>
#include <cstdint>

#include "tapeloop/threading.hpp"

namespace tapeloop::kernels {

/// Work is counted in elements of a streaming kernel (an add of two arrays = 1 per element);
/// the vector math costs more per element. Measured on the target with inputs spread over
/// [-3, 3] (tapeloop_bench, benchmarks/threading_probe; docs/threading.md): at 32K-64K floats
/// exp takes ~3x an add, sigmoid ~4x, tanh ~8x (xsimd's tanh evaluates both of its branches
/// when a batch mixes small and large inputs); log is taken to cost what exp does.
namespace cost {
inline constexpr std::int64_t streaming = 1;
inline constexpr std::int64_t exp = 3;
inline constexpr std::int64_t log = 3;
inline constexpr std::int64_t sigmoid = 4;
inline constexpr std::int64_t tanh = 8;
inline constexpr std::int64_t libm = 64;  // a scalar std:: call per element (pow)
}  // namespace cost

/// Below this much work a kernel runs inline: handing half of it to a second thread costs
/// more than it saves. On the 2-core target (benchmarks/threading_probe, docs/threading.md) two
/// chunks beat one from ~32K floats of add when the arena's worker is awake, and only from
/// ~128K-256K when it sleeps (waking it costs 3-30 us on this VM); at 64K two awake threads
/// are 1.5-2.4x faster. Operators mostly come in runs that keep the worker awake. Settable for
/// benchmarks.
inline std::int64_t& parallel_grain() {
  static std::int64_t grain = 65536;
  return grain;
}

/// Elements per chunk boundary: a cache line of float, so two threads never write one line.
inline constexpr std::int64_t chunk_align = 16;

/// Chunks per thread for large work: threads take chunks as they finish, so a core the
/// hypervisor or another process slows down holds up the others less (measured on the target:
/// 8 chunks on 2 threads beat 2 by 6-11% in median time of a 1M-float tanh, docs/threading.md).
inline constexpr std::int64_t chunks_per_thread = 4;

/// Runs fn(begin, end) over [0, count) items of `work_per_item` work each: inline when the
/// total is below the grain or there is one thread, else in equal contiguous chunks of at
/// least half a grain each, at most chunks_per_thread per thread. Items are whatever the kernel
/// makes them (elements, rows, column blocks); what each item computes must not depend on the
/// chunking.
template <class F>
void parallel_for(std::int64_t count, std::int64_t work_per_item, F&& fn) {
  if (count <= 0) return;
  const std::int64_t work = count * std::max<std::int64_t>(work_per_item, 1);
  const std::int64_t grain = parallel_grain();
  if (work < grain || count < 2) {
    fn(std::int64_t{0}, count);
    return;
  }
  const std::int64_t threads = num_threads();
  const std::int64_t chunks =
      std::min({chunks_per_thread * threads, count, std::max<std::int64_t>(1, 2 * work / grain)});
  if (chunks <= 1) {
    fn(std::int64_t{0}, count);
    return;
  }
  // Fully qualified: kernels has a detail namespace of its own.
  ::tapeloop::detail::parallel_run(
      chunks, [&](std::int64_t c) { fn(count * c / chunks, count * (c + 1) / chunks); });
}

/// parallel_for over the n elements of an elementwise kernel, chunk edges on cache lines.
template <class F>
void parallel_elements(std::int64_t n, std::int64_t work_per_element, F&& fn) {
  const std::int64_t lines = (n + chunk_align - 1) / chunk_align;
  parallel_for(lines, chunk_align * work_per_element, [&](std::int64_t b, std::int64_t e) {
    fn(b * chunk_align, std::min(n, e * chunk_align));
  });
}

}  // namespace tapeloop::kernels
