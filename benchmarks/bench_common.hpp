// Shared by the benchmark files: registration with the settings every benchmark uses.
#pragma once

#include <benchmark/benchmark.h>

#include <cstdio>
#include <string>
#include <utility>

namespace tapeloop::bench {

/// "prefix/op/dtype/n/threads:t", the name the report script parses. (Built with snprintf:
/// GCC 12 warns falsely about chains of std::string operator+ at -O3.)
inline std::string bench_name(const char* prefix, const char* op, const char* dtype, long n,
                              int threads) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%s/%s/%s/%ld/threads:%d", prefix, op, dtype, n, threads);
  return buf;
}

/// Registers `fn` as benchmark `name`, timed by the wall clock: parallel kernels do their work
/// on other threads too, which the main thread's CPU time would not count.
template <class Fn>
void register_benchmark(const std::string& name, Fn fn) {
  benchmark::RegisterBenchmark(name.c_str(), std::move(fn))->UseRealTime();
}

void register_kernel_benchmarks();
void register_gemm_benchmarks();
void register_overhead_benchmarks();
void register_machine_benchmarks();
void register_optim_benchmarks();

}  // namespace tapeloop::bench
