// The machine's limits: STREAM-style copy and triad bandwidth (cache-resident at 1M floats, as
// the 1M-element kernels are, and from memory at 32M), a large square sgemm, and the share of
// the two cores this run actually got (the machine is shared).
#include <cblas.h>
#include <time.h>

#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "bench_common.hpp"
#include "tapeloop/threading.hpp"

namespace tapeloop::bench {
namespace {

// c = a, or a = b + s c, split in `threads` contiguous halves on the kernel arena.
template <class T>
void stream(benchmark::State& state, bool triad, std::int64_t n, int threads) {
  set_num_threads(threads);
  std::vector<T> a(static_cast<std::size_t>(n), T(1)), b(a), c(a);
  T* pa = a.data();
  T* pb = b.data();
  T* pc = c.data();
  for (auto _ : state) {
    detail::parallel_run(threads, [&](std::int64_t t) {
      const std::int64_t lo = n * t / threads, hi = n * (t + 1) / threads;
      if (triad) {
        for (std::int64_t i = lo; i < hi; ++i) pa[i] = pb[i] + T(3) * pc[i];
      } else {
        for (std::int64_t i = lo; i < hi; ++i) pc[i] = pa[i];
      }
    });
    benchmark::ClobberMemory();
  }
  state.SetBytesProcessed(static_cast<std::int64_t>(state.iterations()) * n * (triad ? 3 : 2) *
                          static_cast<std::int64_t>(sizeof(T)));
}

void sgemm_peak(benchmark::State& state, int n, int threads) {
  set_num_threads(threads);
  openblas_set_num_threads(threads);  // OpenBLAS's own threads: the library's best
  std::vector<float> a(static_cast<std::size_t>(n) * n, 0.5f), b(a), c(a);
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.0f, a.data(), n, b.data(), n,
                0.0f, c.data(), n);
  }
  state.counters["FLOPS"] = benchmark::Counter(
      2.0 * n * n * n * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

double thread_cpu_seconds() {
  timespec t{};
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

// Two threads spin for 100 ms; CPU time received / wall time, per thread (1 = both cores ours).
void cpu_share(benchmark::State& state) {
  double share = 0;
  for (auto _ : state) {
    double got[2] = {0, 0};
    auto spin = [&](int k) {
      const double c0 = thread_cpu_seconds();
      const auto t0 = std::chrono::steady_clock::now();
      volatile double x = 0;
      while (std::chrono::steady_clock::now() - t0 < std::chrono::milliseconds(100)) x = x + 1;
      got[k] = (thread_cpu_seconds() - c0) / 0.1;
    };
    std::thread other(spin, 1);
    spin(0);
    other.join();
    share = (got[0] + got[1]) / 2;
  }
  state.counters["share"] = share;
}

}  // namespace

void register_machine_benchmarks() {
  // Floats at 1M (the 1M float kernels' working set, cache-resident) and 32M (from memory);
  // doubles at 1M (the 1M double kernels' working set, twice as large).
  const std::pair<const char*, std::int64_t> streams[] = {{"float", std::int64_t{1} << 20},
                                                          {"float", std::int64_t{32} << 20},
                                                          {"double", std::int64_t{1} << 20}};
  for (const auto& [dtype, n] : streams) {
    for (int threads : {1, 2}) {
      const bool dbl = std::string(dtype) == "double";
      for (bool triad : {false, true}) {
        register_benchmark(bench_name("machine", triad ? "triad" : "copy", dtype, n, threads),
                           [=, n = n](benchmark::State& s) {
                             if (dbl) {
                               stream<double>(s, triad, n, threads);
                             } else {
                               stream<float>(s, triad, n, threads);
                             }
                           });
      }
    }
  }
  for (int threads : {1, 2}) {
    register_benchmark(bench_name("machine", "sgemm", "float", 2048, threads),
                       [=](benchmark::State& s) { sgemm_peak(s, 2048, threads); });
  }
  benchmark::RegisterBenchmark("machine/cpu_share", cpu_share)->Iterations(3)->UseRealTime();
}

}  // namespace tapeloop::bench
