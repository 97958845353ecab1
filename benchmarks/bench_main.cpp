// The microbenchmark suite (Google Benchmark): kernels, GEMM at LSTM shapes, per-op overhead, the
// optimizers' step and the machine's limits, registered by name so the report script can pair them
// with PyTorch's.
#include "bench_common.hpp"
#include "tapeloop/ops/build_info.hpp"

int main(int argc, char** argv) {
  tapeloop::bench::register_machine_benchmarks();
  tapeloop::bench::register_kernel_benchmarks();
  tapeloop::bench::register_gemm_benchmarks();
  tapeloop::bench::register_overhead_benchmarks();
  tapeloop::bench::register_optim_benchmarks();
  // Named in every report next to the numbers (the JSON output's "context").
  benchmark::AddCustomContext("tapeloop_kernels", tapeloop::kernel_isa());
  benchmark::AddCustomContext("blas", tapeloop::blas_info());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
